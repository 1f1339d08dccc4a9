"""The `seesay` command: one sub-command per job. Heavy imports happen inside each job."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _caption(args: argparse.Namespace) -> int:
    from model import Captioner, CheckpointError, ImageError, MissingWeightsError, NoModelError, load_image
    from model.attention_map import render_attention

    try:
        captioner = Captioner.from_checkpoint(args.model, args.device) if args.model else Captioner.default(args.device)
    except (NoModelError, CheckpointError, MissingWeightsError) as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 2
    if args.attention_dir:
        Path(args.attention_dir).mkdir(parents=True, exist_ok=True)
    done = 0
    for path in args.images:
        try:
            image = load_image(path)
        except ImageError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            continue
        cap = captioner.caption([image], beam_size=args.beam)[0]
        done += 1
        if args.json:
            print(json.dumps({"path": str(path), "caption": cap.text, "sentence": cap.sentence,
                              "confidence": round(cap.confidence, 4), "uncertain": cap.uncertain,
                              "seconds": round(cap.seconds, 4)}), flush=True)
        else:
            print(f"{path}\t{cap.sentence}\t(confidence {cap.confidence:.2f})", flush=True)
        if args.attention_dir and cap.words:
            out = Path(args.attention_dir) / f"{Path(path).stem}.attention.png"
            render_attention(image, cap.words, cap.attention).save(out)
    return 0 if done else 1


def _training(command: str):
    def run(args: argparse.Namespace) -> int:
        from training import cli  # loaded only for these two commands

        try:
            return cli.run_train(args) if command == "train" else cli.run_evaluate(args)
        except (ValueError, FileNotFoundError) as exc:
            print(f"seesay: {exc}", file=sys.stderr)
            return 2

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seesay", description="Describe photos and camera frames, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("caption", help="describe photo files")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("--model", help="checkpoint file (default: the bundled model)")
    p.add_argument("--beam", type=int, default=3, help="beam size (1 = greedy)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--attention-dir", help="write a PNG per photo showing where each word looked")
    p.add_argument("--device", default="cpu")
    p.set_defaults(run=_caption)

    from training.cli import add_evaluate_arguments, add_train_arguments  # argument lists only

    p = sub.add_parser("train", help="train a captioner on COCO-format data")
    add_train_arguments(p)
    p.set_defaults(run=_training("train"))
    p = sub.add_parser("evaluate", help="score a checkpoint on a held-out split")
    add_evaluate_arguments(p)
    p.set_defaults(run=_training("evaluate"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
