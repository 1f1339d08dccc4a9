"""seesay's captioner: a CNN encoder and an LSTM decoder with soft attention (Show, Attend and Tell)."""

from .captioner import Caption, Captioner, CaptionModel, NoModelError, build_model, checkpoint_data
from .checkpoint import CheckpointData, CheckpointError, load_checkpoint, save_checkpoint
from .config import CaptionerConfig
from .encoder import MissingWeightsError, build_encoder
from .images import ImageError, from_bgr_frame, load_image
from .vocabulary import Vocabulary, tokenize

__all__ = [
    "Caption", "Captioner", "CaptionModel", "CaptionerConfig", "CheckpointData", "CheckpointError",
    "ImageError", "MissingWeightsError", "NoModelError", "Vocabulary", "build_encoder", "build_model",
    "checkpoint_data", "from_bgr_frame", "load_checkpoint", "load_image", "save_checkpoint", "tokenize",
]
