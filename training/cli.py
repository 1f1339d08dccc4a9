"""The training commands, `seesay train`, `seesay evaluate`, `seesay pack` and `seesay export-onnx` (also
`python -m training`).

seesay finds them through the entry-point group `seesay.commands` (see pyproject.toml): TRAIN, EVALUATE,
PACK and EXPORT_ONNX each have HELP, add_arguments and run, like the assistant's own commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console
from rich.table import Table


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
    p.add_argument("--model", help="checkpoint file (default: the bundled model)")
    p.add_argument("--annotations", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--split", default="test", help="train, val, test, or all (default test)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--results", help="write the captions here in COCO results format")
    p.add_argument("--max-images", type=int, default=0)
    p.add_argument("--cache-dir", default="cache")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument("--no-truth", dest="truth", action="store_false",
                   help="skip the hallucination measures (which describe every photo with the describer)")


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
    from .data import data_root

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
    state = fit(cfg, resume=args.resume, on_log=None if args.quiet else print)
    print(f"best validation {cfg.select_metric} {state.best_score:.4f} at epoch {state.best_epoch}; "
          f"checkpoint: {Path(cfg.out_dir) / 'best.pt'}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from model.captioner.torch_engine import DEFAULT_CHECKPOINT

    from .evaluate import evaluate_checkpoint

    args.model = args.model or str(DEFAULT_CHECKPOINT)
    ev = evaluate_checkpoint(args.model, args.annotations, args.images, split=args.split, beam_size=args.beam,
                             cache_dir=args.cache_dir, device=args.device, results=args.results,
                             max_images=args.max_images, truth=args.truth)
    if args.json:
        print(json.dumps({"split": ev.split, "images": ev.images, "beam_size": ev.beam_size,
                          "no_repeat_ngram": ev.no_repeat_ngram, "tokenizer": ev.tokenizer, **ev.scores}))
        return 0
    table = Table(title=f"{Path(args.model).name} on {ev.split} ({ev.images} photos, beam {ev.beam_size}"
                  + (f", no repeated {ev.no_repeat_ngram}-word runs" if ev.no_repeat_ngram else "") + ")")
    for name in ev.scores:
        table.add_column(name, justify="right")
    table.add_row(*(f"{v:.4f}" for v in ev.scores.values()))
    Console().print(table)
    return 0


def _guarded(run):
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (ValueError, FileNotFoundError) as exc:
            print(f"seesay: {exc}", file=sys.stderr)
            return 2

    return guarded


def _pack_arguments(p: argparse.ArgumentParser) -> None:
    from .pack import add_arguments

    add_arguments(p)


def _run_pack(args: argparse.Namespace) -> int:
    from .pack import run

    return run(args)


TRAIN = SimpleNamespace(HELP="train a captioner on COCO-format data", add_arguments=add_train_arguments,
                        run=_guarded(run_train))
EVALUATE = SimpleNamespace(HELP="score a checkpoint on a held-out split: BLEU, METEOR, ROUGE-L, CIDEr, hallucination",
                           add_arguments=add_evaluate_arguments, run=_guarded(run_evaluate))
PACK = SimpleNamespace(HELP="pack a trained checkpoint to ship: float16, no training state, its scores recorded",
                       add_arguments=_pack_arguments, run=_guarded(_run_pack))


def _export_arguments(p: argparse.ArgumentParser) -> None:
    from .onnx_export import add_arguments

    add_arguments(p)


def _run_export(args: argparse.Namespace) -> int:
    from .onnx_export import run

    return run(args)


EXPORT_ONNX = SimpleNamespace(HELP="compile a checkpoint for ONNX Runtime, which describes photos without PyTorch",
                              add_arguments=_export_arguments, run=_guarded(_run_export))
COMMANDS = {"train": TRAIN, "evaluate": EVALUATE, "pack": PACK, "export-onnx": EXPORT_ONNX}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.HELP)
        command.add_arguments(p)
        p.set_defaults(run=command.run)
    args = parser.parse_args(argv)
    return args.run(args)
