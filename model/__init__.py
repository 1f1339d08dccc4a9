"""seesay's captioner: a CNN encoder and an LSTM decoder with soft attention (Show, Attend and Tell).

Names load on first use (PEP 562), so that `from model import load_image` or the ONNX Runtime engine never
imports PyTorch: on a CPU build of seesay's default path, `import torch` alone is most of a cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_WHERE = {
    "Caption": "caption", "NoModelError": "caption",
    "Captioner": "captioner", "CaptionModel": "captioner", "build_model": "captioner", "checkpoint_data": "captioner",
    "CheckpointData": "checkpoint", "CheckpointError": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "CaptionerConfig": "config",
    "MissingWeightsError": "encoder", "build_encoder": "encoder",
    "ImageError": "images", "from_bgr_frame": "images", "load_image": "images",
    "Vocabulary": "vocabulary", "tokenize": "vocabulary",
}
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
    from .caption import Caption, NoModelError
    from .captioner import Captioner, CaptionModel, build_model, checkpoint_data
    from .checkpoint import CheckpointData, CheckpointError, load_checkpoint, save_checkpoint
    from .config import CaptionerConfig
    from .encoder import MissingWeightsError, build_encoder
    from .images import ImageError, from_bgr_frame, load_image
    from .vocabulary import Vocabulary, tokenize
