"""The captioner on ONNX Runtime: describing photos without importing PyTorch (issue 15).

Shapes: B images, P regions, C channels, K ImageNet classes.

On a CPU, `import torch` is most of a cold start (about 1.2 of 2.6 seconds on 2 cores) and most of the
memory (a CUDA build maps over 600 MB before any model is loaded), while the model itself is small. The
graphs this engine runs are seesay's PyTorch modules, compiled by training/onnx_export.py: the encoder's
inference copy with its ImageNet head, and model/captioner/beam_search.py's `search`, unrolled over every step at the
beam size the describer is calibrated for. model/captioner/hypotheses.py ranks the beams for both engines and
model/images.py prepares the photos for both, so the two compute the same captions up to float rounding
(tests/test_onnx_engine.py). PyTorch stays the engine for training, for a GPU, for other beam sizes and for
checkpoints that have not been compiled.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..images import ImageLike, model_input
from ..onnx_runtime import cpu_session, first_line, load_errors
from .caption import Caption, NoModelError
from .config import CaptionerConfig
from .engine import Captions, Encoded
from .hypotheses import Beams, rank_beams
from .vocabulary import Vocabulary

ENCODER_SUFFIX = ".encoder.onnx"
SEARCH_SUFFIX = ".search.onnx"
METADATA_KEY = "seesay"  # the search graph's metadata entry that training/onnx_export.py writes
FORMAT = 1  # the version of that entry's layout this engine reads
DEFAULT_PREFIX = Path(__file__).parents[1] / "weights" / "flickr8k-default"  # beside flickr8k-default.pt


def onnx_files(prefix: str | os.PathLike = DEFAULT_PREFIX) -> tuple[Path, Path]:
    """(encoder graph, search graph) of the compiled checkpoint at prefix (its path without .pt)."""
    return Path(f"{prefix}{ENCODER_SUFFIX}"), Path(f"{prefix}{SEARCH_SUFFIX}")


def onnx_engine_available(prefix: str | os.PathLike = DEFAULT_PREFIX) -> bool:
    """Whether the compiled graphs are installed and ONNX Runtime can be imported."""
    import importlib.util

    return all(p.is_file() for p in onnx_files(prefix)) and importlib.util.find_spec("onnxruntime") is not None


def compiled_checkpoint_matches(captioner: OnnxCaptioner, checkpoint: str | os.PathLike) -> bool:
    """Whether the graphs were compiled from this checkpoint file as it is now (SHA-256; a checkpoint that is
    not there cannot contradict them). A retrained checkpoint beside stale graphs must not be described by
    the old weights."""
    path = Path(checkpoint)
    if not path.is_file():
        return True
    return checkpoint_sha256(path) == captioner.source.get("checkpoint_sha256")


def checkpoint_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 a compiled captioner records of its checkpoint file (training/onnx_export.py)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _expect_inputs(session: Any, name: str) -> None:
    """ValueError unless the graph takes exactly one input of this name (a graph in the wrong slot)."""
    names = [i.name for i in session.get_inputs()]
    if names != [name]:
        raise ValueError(f"its inputs are {names}, not [{name!r}]")


class OnnxCaptioner(Captions):
    """The engine contract (engine.Engine) on the graphs training/onnx_export.py wrote; CPU only."""

    device = "cpu"

    def __init__(self, prefix: str | os.PathLike = DEFAULT_PREFIX, *, threads: int | None = None) -> None:
        """threads: ONNX Runtime's intra-op threads (None: one per core)."""
        encoder_path, search_path = onnx_files(prefix)
        missing = [p for p in (encoder_path, search_path) if not p.is_file()]
        if missing:
            raise NoModelError(f"the compiled captioner is missing {missing[0]}: run 'python -m training "
                               f"export-onnx --model {prefix}.pt', or use the PyTorch engine (--engine torch)")
        broken = (*load_errors(), KeyError, TypeError, ValueError)  # or a graph without seesay's metadata
        path = search_path
        try:
            self._search = cpu_session(path, threads)
            _expect_inputs(self._search, "features")
            meta = json.loads(self._search.get_modelmeta().custom_metadata_map[METADATA_KEY])
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this seesay reads {FORMAT}")
            self._read(meta)
            path = encoder_path
            self._encoder = cpu_session(path, threads)
            _expect_inputs(self._encoder, "images")
        except broken as exc:
            raise NoModelError(f"the compiled captioner {path.name} cannot be loaded ({first_line(exc)})") from None

    def _read(self, meta: dict[str, Any]) -> None:
        """The checkpoint's description that training/onnx_export.py stored in the search graph."""
        self.source = meta
        self.config = CaptionerConfig.from_dict(meta["config"])
        self.vocabulary = Vocabulary(meta["vocabulary"])
        self.metadata: dict[str, Any] = dict(meta["metadata"])
        self.beam_size = int(meta["beam_size"])  # the only beam size the search graph runs
        self.no_repeat_ngram = int(meta["no_repeat_ngram"])
        enc = meta["encoder"]
        self.encoder_name: str = enc["name"]
        self.feature_channels: int = int(enc["channels"])
        self.classes: int = int(enc["classes"])
        self._side, self._mean, self._std = int(enc["image_size"]), tuple(enc["mean"]), tuple(enc["std"])
        self._grid = (int(enc["grid"][0]), int(enc["grid"][1]))
        self.micro_batch = int(enc["micro_batch"])

    @classmethod
    def default(cls, *, threads: int | None = None) -> OnnxCaptioner:
        """The bundled captioner, compiled; NoModelError saying what is missing otherwise."""
        return cls(DEFAULT_PREFIX, threads=threads)

    def grid_size(self) -> tuple[int, int]:
        """(h, w) of the feature grid: the attention maps' shape."""
        return self._grid

    def encode(self, images: Sequence[ImageLike]) -> Encoded:
        """Region features and ImageNet logits for a batch of photos; raises ImageError for an unreadable one.
        The encoder runs in micro-batches (the size PyTorch's encoder uses on a CPU), so its activations stay
        in the caches whatever the batch."""
        batch = np.stack([model_input(img, self._side, self._mean, self._std) for img in images])  # (B, 3, S, S)
        parts = [self._encoder.run(None, {"images": batch[i : i + self.micro_batch]})
                 for i in range(0, len(batch), self.micro_batch)]
        regions = np.concatenate([p[0] for p in parts])  # (B, P, C)
        logits = np.concatenate([p[1] for p in parts]) if self.classes else None  # (B, K)
        return Encoded(regions, logits)

    def n_best(self, features: Encoded, beam_size: int = 3, *, length_penalty: float | None = None,
               no_repeat_ngram: int | None = None) -> list[list[Caption]]:
        """All beam_size finished captions per photo, best first; ValueError for a beam size or repeat
        blocking the search graph was not compiled for (the PyTorch engine runs any)."""
        if len(features.regions) == 0:
            return []
        repeat = self.no_repeat_ngram if no_repeat_ngram is None else no_repeat_ngram
        if beam_size != self.beam_size or repeat != self.no_repeat_ngram:
            raise ValueError(f"the compiled search runs beam {self.beam_size} with no_repeat_ngram "
                             f"{self.no_repeat_ngram}, got beam {beam_size!r} and {repeat!r}")
        if length_penalty is None:
            length_penalty = float(self.metadata.get("length_penalty", 0.0))
        beams = Beams(*self._search.run(None, {"features": np.ascontiguousarray(features.regions, np.float32)}))
        hyps = rank_beams(beams, eos_id=self.vocabulary.eos_id, length_penalty=length_penalty)
        return [[Caption.from_hypothesis(h, self.vocabulary, self._grid) for h in per_image]
                for per_image in hyps]
