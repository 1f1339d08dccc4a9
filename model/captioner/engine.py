"""The contract every captioning engine keeps (PyTorch in torch_engine.py, ONNX Runtime in onnx_engine.py),
and what its encoder hands on: one typed batch the describer reads without reaching back into the engine.

    engine.encode(photos) -> Encoded(regions (B, P, C), logits (B, K) or None); .pooled (B, C)
    engine.n_best(encoded, beam_size) -> per photo, the beam's finished captions, best first
    engine.caption(photos) -> the best caption of each photo

Engines time nothing: whoever asks for a caption measures what it waits for (the describer, a benchmark).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..images import ImageLike
from .caption import Caption
from .config import CaptionerConfig
from .vocabulary import Vocabulary


@dataclass(frozen=True, eq=False)
class Encoded:
    """A batch of photos as an engine's encoder sees them, in NumPy."""

    regions: np.ndarray  # (B, P, C) float32: what the decoder attends over
    logits: np.ndarray | None  # (B, K) the encoder's own ImageNet head; None when it has none

    def __len__(self) -> int:
        return len(self.regions)

    @property
    def pooled(self) -> np.ndarray:
        """The mean region feature (B, C): the input of the encoder's head and of the person probe."""
        return self.regions.mean(axis=1)


@runtime_checkable
class Engine(Protocol):
    """What the describer, training's evaluation and the benchmarks may ask of a captioner."""

    vocabulary: Vocabulary
    metadata: dict[str, Any]
    no_repeat_ngram: int  # the repeat blocking its search uses when a caller names none

    @property
    def config(self) -> CaptionerConfig: ...

    @property
    def encoder_name(self) -> str: ...

    @property
    def feature_channels(self) -> int: ...

    @property
    def classes(self) -> int: ...  # ImageNet classes its encoder's head scores (0: none)

    def grid_size(self) -> tuple[int, int]: ...

    def encode(self, images: Sequence[ImageLike]) -> Encoded: ...

    def n_best(self, features: Encoded, beam_size: int = 3, *, length_penalty: float | None = None,
               no_repeat_ngram: int | None = None) -> list[list[Caption]]: ...

    def caption(self, images: Sequence[ImageLike], beam_size: int = 3, *, length_penalty: float | None = None,
                no_repeat_ngram: int | None = None) -> list[Caption]: ...


class Captions:
    """What both engines derive the same way from their own encode() and n_best()."""

    def caption(self: Engine, images: Sequence[ImageLike], beam_size: int = 3, *,
                length_penalty: float | None = None, no_repeat_ngram: int | None = None) -> list[Caption]:
        """Caption photos (paths, PIL images or RGB arrays), one Caption each, in order; ImageError for an
        unreadable one."""
        if not images:
            return []
        return self.caption_features(self.encode(images), beam_size, length_penalty=length_penalty,
                                     no_repeat_ngram=no_repeat_ngram)

    def caption_features(self: Engine, features: Encoded, beam_size: int = 3, *, length_penalty: float | None = None,
                         no_repeat_ngram: int | None = None) -> list[Caption]:
        """The best caption of each photo from its encoded features."""
        return [c[0] for c in self.n_best(features, beam_size, length_penalty=length_penalty,
                                          no_repeat_ngram=no_repeat_ngram)]
