"""The finished beams of a search, ranked into captions: the last step of model/captioner/beam_search.py, in NumPy so
that the ONNX Runtime engine (model/captioner/onnx_engine.py), which runs the same search compiled, shares it.

Shapes: B images, K beams, T steps, P regions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np


class Beams(NamedTuple):
    """Every image's K beams when the search ends: what the search computes, as the torch search or its
    compiled graph returns it."""

    scores: np.ndarray  # (B, K) total log-probability, -inf for a beam that never became possible
    words: np.ndarray  # (B, K, T) word ids, EOS repeated after a beam ended
    word_lp: np.ndarray  # (B, K, T) log p of each word
    alphas: np.ndarray  # (B, K, T, P) attention of each word


@dataclass(frozen=True)
class Hypothesis:
    """One caption found for one image."""

    tokens: list[int]  # word ids, without BOS and EOS
    token_log_probs: list[float]  # log p of each word, then of EOS (len(tokens) + 1 values)
    attention: np.ndarray  # (len(tokens), P): where the decoder looked for each word
    score: float  # sum of token_log_probs, divided by length ** length_penalty


def rank_beams(beams: Beams, *, eos_id: int, length_penalty: float = 0.0) -> list[list[Hypothesis]]:
    """Every image's finished beams, best first (at least one, even if every beam was impossible).

    length_penalty > 0 favours longer captions (score / length ** length_penalty); 0 ranks by total
    log-probability.
    """
    scores = np.asarray(beams.scores, dtype=np.float32)
    lengths = (beams.words != eos_id).sum(axis=2) + 1  # words + the EOS (B, K)
    ranked = scores / lengths.astype(np.float32) ** np.float32(length_penalty) if length_penalty else scores
    order = np.argsort(-ranked, axis=1, kind="stable")  # (B, K)
    out = []
    for b in range(len(order)):
        # Fewer than K distinct captions can exist (tiny vocabularies): those beams score -inf.
        keep = [k for k in order[b].tolist() if np.isfinite(ranked[b, k])] or order[b].tolist()[:1]
        out.append([_hypothesis(beams, b, k, int(lengths[b, k]) - 1, float(ranked[b, k])) for k in keep])
    return out


def _hypothesis(beams: Beams, b: int, k: int, n: int, score: float) -> Hypothesis:
    return Hypothesis(tokens=beams.words[b, k, :n].tolist(), token_log_probs=beams.word_lp[b, k, : n + 1].tolist(),
                      attention=np.array(beams.alphas[b, k, :n]), score=score)
