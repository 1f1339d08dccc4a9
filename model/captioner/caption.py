"""A caption as every engine returns it (torch_engine.py with PyTorch, onnx_engine.py with ONNX
Runtime): words, confidence, word probabilities and attention maps. Imports neither engine's runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hypotheses import Hypothesis
from .vocabulary import Vocabulary


class NoModelError(FileNotFoundError):
    """No captioning model is installed or given."""


@dataclass(frozen=True)
class Caption:
    """One photo's caption, how sure the model is of it and of each word, and where it looked for each word.
    Whether any of it is said is the describer's decision (model.describing), not the caption's."""

    words: list[str]
    confidence: float  # exp(mean log-probability of the words and EOS): geometric-mean token probability
    log_prob: float  # total log-probability of the caption
    attention: np.ndarray  # (len(words), h, w), each map sums to 1
    word_probs: tuple[float, ...] = ()  # p of each word given the words before it (len(words) values)

    @property
    def text(self) -> str:
        """The caption as the model wrote it."""
        return " ".join(self.words)

    @classmethod
    def from_hypothesis(cls, hyp: Hypothesis, vocabulary: Vocabulary, grid: tuple[int, int]) -> Caption:
        """The caption a beam-search hypothesis spells, its attention as (h, w) maps on the feature grid."""
        h, w = grid
        lp = np.asarray(hyp.token_log_probs, dtype=np.float64)
        confidence = float(np.exp(lp.mean()))
        attention = hyp.attention.reshape(len(hyp.tokens), h, w) if hyp.tokens else np.zeros((0, h, w))
        return cls(
            words=vocabulary.decode(hyp.tokens), confidence=confidence, log_prob=float(lp.sum()),
            attention=attention,
            word_probs=tuple(float(p) for p in np.exp(lp[:-1])),
        )
