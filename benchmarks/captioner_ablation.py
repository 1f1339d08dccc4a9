"""Captioner recipes side by side on Flickr8k, several seeds each: which change to the bundled recipe helps.

    python benchmarks/captioner_ablation.py [--variants additive multihead scst lite2 contrastive]
        [--seeds 0 1 2] [--parallel 6] [--work runs/ablation] [--out benchmarks/results/captioner_ablation_<cpu|gpu>.json]

Every run is configs/flickr8k-default.toml with the variant's changes and its seed; runs go in parallel
processes (on one GPU, they share it; on a CPU, they share its cores). A run already in --work resumes
(a finished one is only read), and every finished run of a chosen variant in --work counts, so seeds can be
added a session at a time. The table holds each variant's validation scores at its best epoch (from the
metadata of its best.pt), median and spread over the seeds. Validation picks recipes; test scores come from
`seesay evaluate` on the checkpoints this leaves in --work/<variant>-seed<N>/best.pt.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import torch
from report import add_data_argument, fmt, save, show, spread

from model import build_model, load_checkpoint
from training.config import TrainConfig
from training.data import train_and_val_records
from training.feature_cache import build_feature_cache

VARIANTS = {
    "additive": {},  # the bundled recipe as it is
    "multihead": {"model.attention": "multihead"},
    "scst": {"scst_epochs": 15, "select_metric": "CIDEr"},
    "lite2": {"model.encoder": "efficientnet-lite2", "model.image_size": 260},
    "contrastive": {"contrastive_epochs": 5},  # the seed's contrastive sentence stage before cross-entropy
}
ROOT = Path(__file__).resolve().parents[1]


def run_config(base: TrainConfig, variant: str, seed: int, work: Path) -> TrainConfig:
    return base.override(**VARIANTS[variant], seed=seed, out_dir=str(work / f"{variant}-seed{seed}"))


def fit_one(job: tuple[TrainConfig, int]) -> None:
    from training.loop import fit

    cfg, threads = job
    torch.set_num_threads(threads)  # the runs share the machine's cores
    fit(cfg, resume=True)


def finished_runs(work: Path, variant: str) -> list[dict]:
    """Every run of the variant in work that has a best.pt: its seed, best epoch, scores and training time."""
    runs = []
    for best in sorted(work.glob(f"{variant}-seed*/best.pt")):
        meta = load_checkpoint(best).metadata
        log = [json.loads(line) for line in (best.parent / "log.jsonl").read_text().splitlines() if line.strip()]
        runs.append({"out_dir": str(best.parent), "seed": meta["seed"], "best_epoch": meta["epoch"],
                     "epochs": len(log), "val_scores": meta["val_scores"],
                     "seconds": sum(row.get("seconds", 0.0) for row in log)})
    return runs


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
    parallel = min(args.parallel, len(configs))
    threads = 2 if device.type == "cuda" else max(1, (os.cpu_count() or 1) // parallel)
    with mp.get_context("spawn").Pool(parallel) as pool:
        pool.map(fit_one, [(cfg, threads) for cfg in configs], chunksize=1)
    rows = []
    for variant in args.variants:
        runs = finished_runs(Path(args.work), variant)
        rows.append({"variant": variant, "changes": VARIANTS[variant], "seeds": [r["seed"] for r in runs],
                     **{k: spread([r["val_scores"][k] for r in runs]) for k in ("BLEU-4", "CIDEr", "ROUGE-L")},
                     "train_seconds": spread([r["seconds"] for r in runs]), "runs": runs})
    cols = ["variant", "seeds", "val BLEU-4", "val CIDEr", "val ROUGE-L", "train s"]
    show("Flickr8k val, best epoch, median (min-max) over seeds", cols,
         ([r["variant"], ",".join(map(str, r["seeds"])), fmt(r["BLEU-4"], 4), fmt(r["CIDEr"], 4),
           fmt(r["ROUGE-L"], 4), fmt(r["train_seconds"])] for r in rows))
    out = args.out or f"benchmarks/results/captioner_ablation_{'gpu' if device.type == 'cuda' else 'cpu'}.json"
    save(out, device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
         feature_cache_seconds=cache_seconds, rows=rows)
    print(json.dumps({r["variant"]: r["CIDEr"]["median"] for r in rows}))


if __name__ == "__main__":
    main()
