"""Scoring a checkpoint on a held-out split with beam search: the only source of reported scores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from model import Captioner

from .data import load_records, select_split
from .feature_cache import build_feature_cache
from .loop import validate
from .metrics import METRICS, java_available


@dataclass(frozen=True)
class Evaluation:
    """Scores of one checkpoint on one split, and the captions behind them."""

    scores: dict[str, float]
    captions: dict[int, str]
    split: str
    images: int
    beam_size: int
    tokenizer: str


def evaluate_checkpoint(
    model: str | Path, annotations: str | Path, images: str | Path, *, split: str = "test", beam_size: int = 3,
    cache_dir: str | Path | None = "cache", device: str = "cpu", results: str | Path | None = None,
    max_images: int = 0,
) -> Evaluation:
    """Caption every photo of split with beam search and score against all its references.

    split "all" takes every photo of the file (for a file with no split field, such as COCO val2017).
    Region features are cached when the checkpoint's encoder is the frozen packaged one.
    results: where to write the captions in COCO results format ([{"image_id", "caption"}]).
    """
    captioner = Captioner.from_checkpoint(model, device=device)
    records = select_split(load_records(annotations, images), split)
    if not records:
        raise ValueError(f"split {split!r} of {annotations} has no images (use --split all for a file without splits)")
    if max_images:
        records = records[:max_images]
    features = None
    if cache_dir and captioner.encoder.packaged_weights and not captioner.metadata.get("fine_tuned_encoder"):
        features = build_feature_cache(records, captioner.encoder, cache_dir, device=torch.device(device), progress=False)
    scores, hyps = validate(captioner, records, features, beam_size=beam_size, metrics=METRICS)
    if results:
        Path(results).parent.mkdir(parents=True, exist_ok=True)
        Path(results).write_text(json.dumps([{"image_id": k, "caption": v} for k, v in hyps.items()], indent=0))
    return Evaluation(scores, hyps, split, len(records), beam_size, "PTB (Java)" if java_available() else "seesay (no Java)")
