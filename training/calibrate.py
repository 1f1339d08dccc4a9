"""Calibrating the confidence below which a caption is spoken as a guess, and packing a checkpoint to ship.

A caption's quality is measured as its content-word precision: the share of its content words (nouns,
verbs, colours... anything not in STOPWORDS) that appear in some reference caption of the photo. Sorted by
confidence and cut into ten equal bins, the captions grow more precise as confidence rises; the threshold
is where the bins start to get at least half of their content words right. Captions below it are the ones a
listener should hear as uncertain.

    python -m training.calibrate --model runs/flickr8k-default/best.pt \
        --annotations .../captions_flickr8k.json --images .../images --out model/weights/flickr8k-default.pt
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np
import torch

from model import Captioner, load_checkpoint, save_checkpoint, tokenize

from .data import ImageRecord, load_records, select_split
from .feature_cache import build_feature_cache

STOPWORDS = frozenset(
    "a an the is are was were be been being of in on at to for with by from and or but his her its their "
    "some two three four five one other another another's this that these those into onto near while up "
    "down out over under through there it he she they them who which as has have had does do".split()
)


def content_words(text: str) -> set[str]:
    return {w for w in tokenize(text) if w not in STOPWORDS}


def content_precision(caption: str, references: Sequence[str]) -> float:
    """Share of the caption's content words found in any reference (0 for a caption with none)."""
    words = content_words(caption)
    if not words:
        return 0.0
    ref = set().union(*(content_words(r) for r in references))
    return len(words & ref) / len(words)


def calibrate_threshold(
    confidences: Sequence[float], qualities: Sequence[float], target: float = 0.5, bins: int = 10
) -> float:
    """Lowest confidence from which captions are right more often than not.

    The captions are sorted by confidence and cut into `bins` equal-count bins; the threshold is the lowest
    confidence of the first bin from which every bin upwards averages a quality of at least `target`. Below
    it, the captions a listener hears get fewer than `target` of their content words right.
    """
    order = np.argsort(confidences)
    conf = np.asarray(confidences, dtype=float)[order]
    qual = np.asarray(qualities, dtype=float)[order]
    chunks = np.array_split(np.arange(len(conf)), min(bins, len(conf)))
    means = np.array([qual[c].mean() for c in chunks])
    good = means >= target
    if good.all():
        return 0.0
    if not good[-1]:
        return float(conf[-1]) + 1e-6  # even the most confident captions are mostly wrong: hedge them all
    first = len(good) - int(np.argmin(good[::-1]))  # first bin of the trailing run of good bins
    return float(conf[chunks[first][0]])


def caption_records(captioner: Captioner, records: Sequence[ImageRecord], cache_dir: str, beam_size: int = 3):
    """(confidences, content precisions) of beam-search captions for records."""
    feats = build_feature_cache(records, captioner.encoder, cache_dir, device=captioner.device, progress=False)
    conf, qual = [], []
    for lo in range(0, len(records), 64):
        chunk = records[lo : lo + 64]
        caps = captioner.caption_features(feats.batch(torch.arange(lo, lo + len(chunk))), beam_size)
        conf += [c.confidence for c in caps]
        qual += [content_precision(c.text, r.captions) for c, r in zip(caps, chunk)]
    return np.asarray(conf), np.asarray(qual)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="checkpoint to calibrate")
    p.add_argument("--annotations", required=True, help="COCO-format caption file with a validation split")
    p.add_argument("--images", required=True, help="folder of the photos it names")
    p.add_argument("--split", default="val", help="the split to calibrate on (default: val; never test)")
    p.add_argument("--cache-dir", default="cache", help="feature cache folder (default: cache)")
    p.add_argument("--out", required=True, help="where to write the calibrated checkpoint (fp16)")
    p.add_argument("--scores", help="JSON file of test scores to record in the metadata")


def run(args: argparse.Namespace) -> int:
    """Calibrate, pack and report in one line."""
    captioner = Captioner.from_checkpoint(args.model)
    records = select_split(load_records(args.annotations, args.images), args.split)
    conf, qual = caption_records(captioner, records, args.cache_dir)
    threshold = calibrate_threshold(conf, qual)
    data = load_checkpoint(args.model)
    data.metadata.update(
        confidence_threshold=threshold, calibrated_on=f"{args.split} ({len(records)} photos)",
        uncertain_share=float((conf < threshold).mean()), mean_content_precision=float(qual.mean()),
    )
    if args.scores:
        import json

        data.metadata["test_scores"] = json.loads(open(args.scores).read())
    data.extra = {}
    save_checkpoint(args.out, data, half=True)
    print(f"threshold {threshold:.3f}: {100 * (conf < threshold).mean():.0f}% of {args.split} captions hedged; "
          f"mean content-word precision {qual.mean():.3f}; wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate")
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
