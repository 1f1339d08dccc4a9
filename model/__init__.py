"""Pixels to words, in two rooms a reader can tell apart:

- model.captioner: the captioner (Show, Attend and Tell): encoders, attention, decoder, beam search,
  checkpoints, vocabulary, and its two engines (PyTorch, ONNX Runtime). It knows nothing of describing.
- model.describing: what seesay says of a photo and with what evidence: recognition, object detection,
  people, text and codes, colour and light, phrasing, calibration, and the describer that composes them.

Beside them: model.images (reading photos and frames into pixels, shared by both), model.onnx_runtime
(the session every shipped graph runs in) and model.sentence_embedder (sentence vectors for search).

Names load on first use (PEP 562), so that `from model import load_image` or the ONNX Runtime engine never
imports PyTorch: on a CPU build of seesay's default path, `import torch` alone is most of a cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_CAPTIONER = {
    "caption": ("Caption", "NoModelError"),
    "torch_engine": ("Captioner", "CaptionModel", "build_model", "checkpoint_data"),
    "checkpoint": ("CheckpointData", "CheckpointError", "load_checkpoint", "save_checkpoint"),
    "config": ("CaptionerConfig",),
    "encoder": ("MissingWeightsError", "build_encoder"),
    "vocabulary": ("Vocabulary", "tokenize"),
}
_WHERE = {name: f"captioner.{module}" for module, names in _CAPTIONER.items() for name in names}
_WHERE.update({"ImageError": "images", "from_bgr_frame": "images", "load_image": "images"})
__all__ = [
    "Caption", "CaptionModel", "Captioner", "CaptionerConfig", "CheckpointData", "CheckpointError", "ImageError",
    "MissingWeightsError", "NoModelError", "Vocabulary", "build_encoder", "build_model", "checkpoint_data",
    "from_bgr_frame", "load_checkpoint", "load_image", "save_checkpoint", "tokenize",
]


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .captioner.caption import Caption, NoModelError
    from .captioner.checkpoint import CheckpointData, CheckpointError, load_checkpoint, save_checkpoint
    from .captioner.config import CaptionerConfig
    from .captioner.encoder import MissingWeightsError, build_encoder
    from .captioner.torch_engine import Captioner, CaptionModel, build_model, checkpoint_data
    from .captioner.vocabulary import Vocabulary, tokenize
    from .images import ImageError, from_bgr_frame, load_image
