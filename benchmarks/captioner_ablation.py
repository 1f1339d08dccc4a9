"""Captioner recipes side by side on Flickr8k, several seeds each: which change to the bundled recipe helps.

    python benchmarks/captioner_ablation.py [--variants additive multihead scst lite2] [--seeds 0 1 2]
        [--parallel 6] [--work runs/ablation] [--out benchmarks/results/captioner_ablation_<cpu|gpu>.json]

Every run is configs/flickr8k-default.toml with the variant's changes and its seed; runs go in parallel
processes (on one GPU, they share it). The table holds each variant's validation scores at its best epoch,
median and spread over the seeds. Validation picks recipes; test scores come from `seesay evaluate` on the
checkpoints this leaves in --work/<variant>-seed<N>/best.pt.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import torch
from report import add_data_argument, fmt, save, show, spread

from model import build_model
from training.config import TrainConfig
from training.data import train_and_val_records
from training.feature_cache import build_feature_cache

VARIANTS = {
    "additive": {},  # the bundled recipe as it is
    "multihead": {"model.attention": "multihead"},
    "scst": {"scst_epochs": 15, "select_metric": "CIDEr"},
    "lite2": {"model.encoder": "efficientnet-lite2", "model.image_size": 260},
}
ROOT = Path(__file__).resolve().parents[1]


def run_config(base: TrainConfig, variant: str, seed: int, work: Path) -> TrainConfig:
    return base.override(**VARIANTS[variant], seed=seed, out_dir=str(work / f"{variant}-seed{seed}"))


def fit_one(cfg: TrainConfig) -> dict:
    from training.loop import fit

    torch.set_num_threads(2)  # the runs share the machine's cores
    start = time.perf_counter()
    state = fit(cfg, resume=False)
    return {"out_dir": cfg.out_dir, "seconds": time.perf_counter() - start, "history": state.history,
            "best_epoch": state.best_epoch}


def warm_caches(configs: list[TrainConfig], device: torch.device) -> None:
    """Features of each encoder computed once, before the parallel runs read them."""
    done = set()
    for cfg in configs:
        if (cfg.model.encoder, cfg.model.image_size) in done:
            continue
        done.add((cfg.model.encoder, cfg.model.image_size))
        encoder = build_model(cfg.model, 8).encoder.to(device)
        for recs in train_and_val_records(cfg)[:2]:
            build_feature_cache(recs, encoder, cfg.cache_dir, device=device, batch_size=256, num_workers=8,
                                progress=False)


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--parallel", type=int, default=6)
    p.add_argument("--annotations", help="caption file (default: <data>/flickr8k/captions_flickr8k.json)")
    p.add_argument("--work", default="runs/ablation")
    p.add_argument("--out")
    args = p.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    flickr = Path(args.data) / "flickr8k"
    base = TrainConfig.from_toml(ROOT / "configs/flickr8k-default.toml").override(
        annotations=args.annotations or str(flickr / "captions_flickr8k.json"), images=str(flickr / "images"),
        progress=False, device=device.type, num_workers=0, cache_dir=str(Path(args.work) / "cache"),
    )
    configs = [run_config(base, v, s, Path(args.work)) for v in args.variants for s in args.seeds]
    start = time.perf_counter()
    warm_caches(configs, device)
    cache_seconds = time.perf_counter() - start
    with mp.get_context("spawn").Pool(min(args.parallel, len(configs))) as pool:
        results = pool.map(fit_one, configs, chunksize=1)
    rows = []
    for variant in args.variants:
        runs = [r for r in results if Path(r["out_dir"]).name.startswith(f"{variant}-seed")]
        best = [next(h for h in r["history"] if h["epoch"] == r["best_epoch"]) for r in runs]
        rows.append({"variant": variant, "changes": VARIANTS[variant], "seeds": args.seeds,
                     **{k: spread([b[f"val_{k}"] for b in best]) for k in ("BLEU-4", "CIDEr", "ROUGE-L")},
                     "train_seconds": spread([r["seconds"] for r in runs]), "runs": runs})
    cols = ["variant", "val BLEU-4", "val CIDEr", "val ROUGE-L", "train s"]
    show(f"Flickr8k val, best epoch, median (min-max) over seeds {args.seeds}", cols,
         ([r["variant"], fmt(r["BLEU-4"], 4), fmt(r["CIDEr"], 4), fmt(r["ROUGE-L"], 4), fmt(r["train_seconds"])]
          for r in rows))
    out = args.out or f"benchmarks/results/captioner_ablation_{'gpu' if device.type == 'cuda' else 'cpu'}.json"
    save(out, device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
         feature_cache_seconds=cache_seconds, rows=rows)
    print(json.dumps({r["variant"]: r["CIDEr"]["median"] for r in rows}))


if __name__ == "__main__":
    main()
