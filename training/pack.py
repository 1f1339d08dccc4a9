"""Packing a trained checkpoint to ship: weights stored as float16, the training state (optimizer, scheduler)
dropped, the held-out scores `seesay evaluate` wrote recorded in its metadata.

    seesay pack --model runs/flickr8k-default/best.pt --scores test_scores.json \
        --out model/weights/flickr8k-default.pt

What is said of a caption is not decided here: the describer's thresholds come from
`python -m training.calibrate_recognition` and `python -m training.calibrate_objects`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from model import load_checkpoint, save_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="the trained checkpoint")
    p.add_argument("--out", required=True, help="where to write the packed checkpoint (fp16)")
    p.add_argument("--scores", help="JSON file of held-out scores (seesay evaluate --out) to record in its metadata")


def run(args: argparse.Namespace) -> int:
    """Pack and report in one line."""
    data = load_checkpoint(args.model)
    if args.scores:
        data.metadata["test_scores"] = json.loads(Path(args.scores).read_text())
    data.extra = {}
    save_checkpoint(args.out, data, half=True)
    size = Path(args.out).stat().st_size / 1e6
    print(f"wrote {args.out} ({size:.1f} MB, float16{', with its scores' if args.scores else ''})")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.pack")
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
