"""Command line for `seesay train` and `seesay evaluate` (also `python -m training`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table


def data_root() -> Path:
    """The shared data folder: $SEESAY_DATA, or ../shared/data beside the checkout."""
    return Path(os.environ.get("SEESAY_DATA", "../shared/data"))


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML file with [train] and [model] tables")
    p.add_argument("--annotations", help="COCO-format caption file, or Karpathy's dataset_*.json")
    p.add_argument("--images", help="folder of the photos the annotation file names")
    p.add_argument("--val-annotations", help="separate validation caption file (official COCO layout)")
    p.add_argument("--val-images")
    p.add_argument("--out", dest="out_dir", help="run folder for checkpoints and the log (default runs/captioner)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--contrastive-epochs", type=int, help="epochs of contrastive pre-training (0: off)")
    p.add_argument("--fine-tune-encoder", action="store_true", default=None)
    p.add_argument("--no-cache", dest="cache_features", action="store_false", default=None)
    p.add_argument("--cache-dir")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--eval-max-images", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--num-workers", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other setting, e.g. --set model.hidden_dim=256 --set alpha_c=0.5")
    p.add_argument("--no-resume", dest="resume", action="store_false", help="start over even if a run exists")
    p.add_argument("--quiet", action="store_true")


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint file")
    p.add_argument("--annotations", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--split", default="test", help="train, val, test, or all (default test)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--results", help="write the captions here in COCO results format")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")


def _parse_value(text: str):
    import tomllib

    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def train_config(args: argparse.Namespace):
    from .config import TrainConfig

    cfg = TrainConfig.from_toml(args.config) if args.config else TrainConfig()
    names = ("annotations", "images", "val_annotations", "val_images", "out_dir", "epochs", "batch_size", "lr",
             "contrastive_epochs", "fine_tune_encoder", "cache_features", "cache_dir", "max_steps",
             "eval_max_images", "seed", "device", "num_workers")
    changes = {n: getattr(args, n) for n in names}
    for item in args.set:
        key, _, value = item.partition("=")
        changes[key.strip()] = _parse_value(value.strip())
    if args.quiet:
        changes["progress"] = False
    cfg = cfg.override(**changes)
    root = data_root()
    for name in ("annotations", "images", "val_annotations", "val_images"):  # config paths are data-root relative
        value = getattr(cfg, name)
        if value and not Path(value).exists() and (root / value).exists():
            cfg = cfg.override(**{name: str(root / value)})
    if not cfg.annotations or not cfg.images:
        raise ValueError("training needs --annotations FILE and --images DIR (or a --config that names them)")
    return cfg


def run_train(args: argparse.Namespace) -> int:
    from .loop import fit

    cfg = train_config(args)
    state = fit(cfg, resume=args.resume)
    print(f"best validation BLEU-4 {state.best_score:.4f} at epoch {state.best_epoch}; "
          f"checkpoint: {Path(cfg.out_dir) / 'best.pt'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_checkpoint

    ev = evaluate_checkpoint(args.model, args.annotations, args.images, split=args.split, beam_size=args.beam,
                             cache_dir=args.cache_dir, device=args.device, results=args.results,
                             max_images=args.max_images)
    if args.json:
        print(json.dumps({"split": ev.split, "images": ev.images, "beam_size": ev.beam_size,
                          "tokenizer": ev.tokenizer, **ev.scores}))
        return 0
    table = Table(title=f"{Path(args.model).name} on {ev.split} ({ev.images} photos, beam {ev.beam_size})")
    for name in ev.scores:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.4f}" for v in ev.scores.values()))
    Console().print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train a captioner"))
    add_evaluate_arguments(sub.add_parser("evaluate", help="score a checkpoint on a held-out split"))
    args = parser.parse_args(argv)
    try:
        return run_train(args) if args.command == "train" else run_evaluate(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
