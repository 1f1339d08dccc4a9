"""The captioner: encoder + decoder as one module, and the Captioner facade every caller uses.

Shapes: B images, P regions, E channels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..images import ImageLike
from .beam_search import n_best_search
from .caption import Caption, NoModelError
from .checkpoint import CheckpointData, CheckpointError, load_checkpoint
from .config import CaptionerConfig
from .decoder import AttentionDecoder, DecoderOutput
from .encoder import Encoder, build_encoder
from .engine import Captions, Encoded
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


class Captioner(Captions):
    """A checkpoint on PyTorch: the engine contract (engine.Engine) for training, evaluation and any device."""

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

    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the feature grid: the attention maps' shape."""
        return self.encoder.grid_size()

    def _head(self) -> nn.Linear | None:
        head = getattr(getattr(self.encoder, "net", None), "_fc", None)
        ok = isinstance(head, nn.Linear) and head.in_features == self.encoder.out_channels
        return head if ok else None

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

    def encode_regions(self, images: Sequence[ImageLike]) -> torch.Tensor:
        """Region features (B, P, E) as a tensor on this captioner's device, for training and tracing; raises
        ImageError for an unreadable photo."""
        batch = torch.stack([self.encoder.preprocess(img) for img in images]).to(self.device)  # (B, 3, S, S)
        with torch.inference_mode():
            return self.encoder(batch)

    def encode(self, images: Sequence[ImageLike]) -> Encoded:
        """Region features and, where the encoder has its ImageNet head, its logits: average pooling then the
        classifier, as the encoder was trained, over the very features the decoder attends over."""
        regions = self.encode_regions(images)
        head = self._head()
        with torch.inference_mode():
            logits = None if head is None else head.eval()(regions.float().mean(dim=1)).cpu().numpy()  # (B, K)
        return Encoded(regions.float().cpu().numpy(), logits)

    def search_arguments(self) -> dict[str, Any]:
        """The words a search starts and ends with and never says, and its longest caption: the same for
        this engine's search and the one training/onnx_export.py compiles."""
        v = self.vocabulary
        return {"bos_id": v.bos_id, "eos_id": v.eos_id, "max_length": self.config.max_length,
                "banned": (v.pad_id, v.bos_id, v.unk_id)}

    def n_best(
        self, features: Encoded | torch.Tensor, beam_size: int = 3, *, length_penalty: float | None = None,
        no_repeat_ngram: int | None = None,
    ) -> list[list[Caption]]:
        """All beam_size finished captions per photo, best first, from encode()'s features or from region
        features (B, P, E) as a tensor (a training feature cache).

        no_repeat_ngram: never repeat a run of this many words (0: off); None takes this captioner's own.
        """
        regions = torch.from_numpy(features.regions) if isinstance(features, Encoded) else features
        if len(regions) == 0:
            return []
        if length_penalty is None:
            length_penalty = float(self.metadata.get("length_penalty", 0.0))
        if no_repeat_ngram is None:
            no_repeat_ngram = self.no_repeat_ngram
        with torch.inference_mode():
            hyps = n_best_search(
                self.model.decoder, regions.to(self.device).float(), beam_size=beam_size,
                length_penalty=length_penalty, no_repeat_ngram=no_repeat_ngram, **self.search_arguments(),
            )
        grid = self.grid_size()
        return [[Caption.from_hypothesis(h, self.vocabulary, grid) for h in per_image]
                for per_image in hyps]
