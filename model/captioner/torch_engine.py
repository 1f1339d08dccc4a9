"""The captioner: encoder + decoder as one module, and the Captioner facade every caller uses.

Shapes: B images, P regions, E channels.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..images import ImageLike
from .beam_search import n_best_search
from .caption import Caption, NoModelError
from .checkpoint import CheckpointData, CheckpointError, load_checkpoint
from .config import CaptionerConfig
from .decoder import AttentionDecoder, DecoderOutput
from .encoder import Encoder, build_encoder
from .vocabulary import Vocabulary

DEFAULT_CHECKPOINT = Path(__file__).parents[1] / "weights" / "flickr8k-default.pt"


class CaptionModel(nn.Module):
    """Encoder and attention decoder; forward is teacher-forced."""

    def __init__(self, config: CaptionerConfig, vocab_size: int, encoder: Encoder) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.decoder = AttentionDecoder(config, vocab_size, encoder.out_channels)

    def forward(self, images: torch.Tensor, captions: torch.Tensor) -> DecoderOutput:
        return self.decoder(self.encoder(images), captions)


def build_model(
    config: CaptionerConfig, vocab_size: int, *, pretrained: bool = True, encoder_weights: str | None = None
) -> CaptionModel:
    """A fresh model; pretrained loads the encoder's ImageNet weights from disk."""
    encoder = build_encoder(config.encoder, config.image_size, pretrained=pretrained, weights=encoder_weights)
    return CaptionModel(config, vocab_size, encoder)


def checkpoint_data(
    model: CaptionModel, vocabulary: Vocabulary, metadata: dict[str, Any], *, include_encoder: bool | None = None
) -> CheckpointData:
    """Plain data for a checkpoint. The encoder's weights are left out when an installed package can
    rebuild them and they were not fine-tuned (include_encoder=None decides that from the encoder)."""
    if include_encoder is None:
        include_encoder = not model.encoder.packaged_weights or bool(metadata.get("fine_tuned_encoder"))
    state = {k: v for k, v in model.state_dict().items() if include_encoder or not k.startswith("encoder.")}
    return CheckpointData(model.config.to_dict(), vocabulary.words, state, dict(metadata))


class Captioner:
    """Loads a checkpoint and captions photos. The one entry point for inference."""

    def __init__(
        self, model: CaptionModel, vocabulary: Vocabulary, *, metadata: dict[str, Any] | None = None,
        device: str | torch.device = "cpu", no_repeat_ngram: int = 0,
    ) -> None:
        """no_repeat_ngram: the repeat blocking a search uses when its caller names none (0: off); the
        describer passes the one it is calibrated for, as the ONNX Runtime engine has it compiled in."""
        self.device = torch.device(device)
        self.no_repeat_ngram = int(no_repeat_ngram)
        self.model = model.to(self.device).eval()
        self.vocabulary = vocabulary
        self.metadata = dict(metadata or {})
        # Below this confidence a caption is phrased as a guess; calibrated on validation (training/calibrate.py).
        self.threshold = float(self.metadata.get("confidence_threshold", 0.0))

    @property
    def config(self) -> CaptionerConfig:
        return self.model.config

    @property
    def encoder(self) -> Encoder:
        return self.model.encoder

    @property
    def encoder_name(self) -> str:
        return self.encoder.name

    @property
    def feature_channels(self) -> int:
        return self.encoder.out_channels

    @property
    def classes(self) -> int:
        """ImageNet classes the encoder's own head scores (0: no real head, e.g. a ResNet encoder)."""
        return 0 if self._head() is None else self._head().out_features

    def _head(self) -> nn.Linear | None:
        head = getattr(getattr(self.encoder, "net", None), "_fc", None)
        ok = isinstance(head, nn.Linear) and head.in_features == self.encoder.out_channels
        return head if ok else None

    def class_logits(self, features: torch.Tensor) -> np.ndarray:
        """ImageNet logits (B, K) of the encoder's head over region features (B, P, C): average pooling then
        the classifier, as the encoder was trained; no second pass over the photo."""
        head = self._head()
        if head is None:
            raise ValueError(f"the {self.encoder.name} encoder has no ImageNet head")
        with torch.inference_mode():
            return head.eval()(features.float().mean(dim=1)).cpu().numpy()  # (B, K)

    def pooled_features(self, features: torch.Tensor) -> np.ndarray:
        """The mean region feature (B, C), which the person probe reads."""
        return features.float().mean(dim=1).cpu().numpy()

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, device: str | torch.device = "cpu", *,
                        no_repeat_ngram: int = 0) -> Captioner:
        """Rebuild a captioner from a checkpoint file; CheckpointError if it cannot."""
        data = load_checkpoint(path)
        try:
            config = CaptionerConfig.from_dict(data.config)
            vocabulary = Vocabulary(data.vocabulary)
            has_encoder = any(k.startswith("encoder.") for k in data.state_dict)
            model = build_model(config, len(vocabulary), pretrained=not has_encoder)
            missing, unexpected = model.load_state_dict(data.state_dict, strict=False)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise CheckpointError(f"{path} does not match this seesay's model ({exc})") from None
        missing = [k for k in missing if has_encoder or not k.startswith("encoder.")]
        if missing or unexpected:
            raise CheckpointError(
                f"{path} does not match the model: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return cls(model, vocabulary, metadata=data.metadata, device=device, no_repeat_ngram=no_repeat_ngram)

    @classmethod
    def default(cls, device: str | torch.device = "cpu", *, no_repeat_ngram: int = 0) -> Captioner:
        """The captioner installed with seesay, or NoModelError saying how to get one."""
        if not DEFAULT_CHECKPOINT.is_file():
            raise NoModelError(
                "no captioning model is installed. Pass --model PATH to a checkpoint made by "
                "'seesay train', or reinstall seesay with its bundled model (model/weights/flickr8k-default.pt)."
            )
        return cls.from_checkpoint(DEFAULT_CHECKPOINT, device=device, no_repeat_ngram=no_repeat_ngram)

    def encode(self, images: Sequence[ImageLike]) -> torch.Tensor:
        """Region features (B, P, E) for a batch of photos; raises ImageError for an unreadable one."""
        batch = torch.stack([self.encoder.preprocess(img) for img in images]).to(self.device)  # (B, 3, S, S)
        with torch.inference_mode():
            return self.encoder(batch)

    def caption(
        self, images: Sequence[ImageLike], beam_size: int = 3, *, length_penalty: float | None = None,
        no_repeat_ngram: int | None = None,
    ) -> list[Caption]:
        """Caption photos (paths, PIL images or RGB arrays), one Caption each, in order."""
        if not images:
            return []
        start = time.perf_counter()
        features = self.encode(images)
        return self.caption_features(features, beam_size, length_penalty=length_penalty,
                                     no_repeat_ngram=no_repeat_ngram, started=start)

    def caption_features(
        self, features: torch.Tensor, beam_size: int = 3, *, length_penalty: float | None = None,
        no_repeat_ngram: int | None = None, started: float | None = None,
    ) -> list[Caption]:
        """Caption from region features (B, P, E), e.g. a training feature cache."""
        return [c[0] for c in self.n_best(features, beam_size, length_penalty=length_penalty,
                                          no_repeat_ngram=no_repeat_ngram, started=started)]

    def search_arguments(self) -> dict[str, Any]:
        """The words a search starts and ends with and never says, and its longest caption: the same for
        this engine's search and the one training/onnx_export.py compiles."""
        v = self.vocabulary
        return {"bos_id": v.bos_id, "eos_id": v.eos_id, "max_length": self.config.max_length,
                "banned": (v.pad_id, v.bos_id, v.unk_id)}

    def n_best(
        self, features: torch.Tensor, beam_size: int = 3, *, length_penalty: float | None = None,
        no_repeat_ngram: int | None = None, started: float | None = None,
    ) -> list[list[Caption]]:
        """All beam_size finished captions for region features (B, P, E), best first, per photo.

        no_repeat_ngram: never repeat a run of this many words (0: off); None takes this captioner's own.
        """
        start = time.perf_counter() if started is None else started
        if len(features) == 0:
            return []
        if length_penalty is None:
            length_penalty = float(self.metadata.get("length_penalty", 0.0))
        if no_repeat_ngram is None:
            no_repeat_ngram = self.no_repeat_ngram
        with torch.inference_mode():
            hyps = n_best_search(
                self.model.decoder, features.to(self.device).float(), beam_size=beam_size,
                length_penalty=length_penalty, no_repeat_ngram=no_repeat_ngram, **self.search_arguments(),
            )
        share = (time.perf_counter() - start) / len(hyps)
        grid = self.encoder.grid_size()
        return [[Caption.from_hypothesis(h, self.vocabulary, grid, self.threshold, share) for h in per_image]
                for per_image in hyps]
