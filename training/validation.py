"""Beam-search captions for validation photos, scored: what picks a run's best epoch."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from model import Captioner

from .data import ImageRecord
from .feature_cache import FeatureCache
from .metrics import score_captions

VAL_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr")  # METEOR is slow; test-time only


def validate(
    captioner: Captioner, records: Sequence[ImageRecord], features: FeatureCache | None, *, beam_size: int,
    metrics: Sequence[str] = VAL_METRICS, batch_size: int = 64, no_repeat_ngram: int | None = None,
) -> tuple[dict[str, float], dict[int, str]]:
    """Beam-search captions for records (from cached features when given) and their scores.

    no_repeat_ngram: the repeat blocking of the search (None: the checkpoint's own setting)."""
    hyps: dict[int, str] = {}
    was_training = captioner.model.training
    captioner.model.eval()
    try:
        for lo in range(0, len(records), batch_size):
            chunk = records[lo : lo + batch_size]
            if features is not None:
                caps = captioner.caption_features(features.batch(torch.arange(lo, lo + len(chunk))), beam_size,
                                                  no_repeat_ngram=no_repeat_ngram)
            else:
                caps = captioner.caption([r.path for r in chunk], beam_size, no_repeat_ngram=no_repeat_ngram)
            hyps.update({r.image_id: c.text for r, c in zip(chunk, caps)})
    finally:
        captioner.model.train(was_training)
    refs = {r.image_id: list(r.captions) for r in records}
    return score_captions(refs, hyps, metrics=metrics), hyps
