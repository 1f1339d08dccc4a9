"""Batched beam search over AttentionDecoder.step: the only decoding loop in seesay.

Shapes: B images, K beams, P regions, E channels, V vocabulary, T steps so far.
Beam size 1 is greedy decoding. `search` runs the loop and returns the beams; `n_best_search` ranks them
into captions (model/captioner/hypotheses.py). The ONNX Runtime engine runs this same `search`, compiled by
training/onnx_export.py, so every operation here is one an exported graph can hold: no step depends on a
tensor's value through Python except the early stop, which the compiled graph leaves out.
"""

from __future__ import annotations

import torch

from .decoder import AttentionDecoder
from .hypotheses import Beams, Hypothesis, rank_beams

__all__ = ["Hypothesis", "beam_search", "n_best_search", "search"]


def beam_search(
    decoder: AttentionDecoder,
    features: torch.Tensor,
    *,
    bos_id: int,
    eos_id: int,
    beam_size: int = 3,
    max_length: int = 20,
    length_penalty: float = 0.0,
    banned: tuple[int, ...] = (),
    no_repeat_ngram: int = 0,
) -> list[Hypothesis]:
    """Best caption for each image in features (B, P, E); see n_best_search for the arguments."""
    return [hyps[0] for hyps in n_best_search(
        decoder, features, bos_id=bos_id, eos_id=eos_id, beam_size=beam_size, max_length=max_length,
        length_penalty=length_penalty, banned=banned, no_repeat_ngram=no_repeat_ngram,
    )]


@torch.inference_mode()
def n_best_search(
    decoder: AttentionDecoder,
    features: torch.Tensor,
    *,
    bos_id: int,
    eos_id: int,
    beam_size: int = 3,
    max_length: int = 20,
    length_penalty: float = 0.0,
    banned: tuple[int, ...] = (),
    no_repeat_ngram: int = 0,
) -> list[list[Hypothesis]]:
    """All beam_size finished captions for each image in features (B, P, E), best first.

    A beam ends when it emits EOS. Finished beams carry on with EOS at no cost, so all beams share one
    tensor. Every caption ends with EOS by max_length words at the latest. length_penalty > 0 favours
    longer captions when ranking finished beams (score / length ** length_penalty); 0 ranks by total
    log-probability. banned: word ids never emitted (padding, BOS, unknown-word). no_repeat_ngram = n > 0
    never repeats a run of n words within a caption ("riding a bike on a bike" with n = 2).
    """
    found = search(decoder, features, bos_id=bos_id, eos_id=eos_id, beam_size=beam_size, max_length=max_length,
                   banned=banned, no_repeat_ngram=no_repeat_ngram)
    return rank_beams(Beams(*(t.cpu().numpy() for t in found)), eos_id=eos_id, length_penalty=length_penalty)


def search(
    decoder: AttentionDecoder,
    features: torch.Tensor,
    *,
    bos_id: int,
    eos_id: int,
    beam_size: int = 3,
    max_length: int = 20,
    banned: tuple[int, ...] = (),
    no_repeat_ngram: int = 0,
    stop_early: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The beams of every image in features (B, P, E) once all have ended: (scores (B, K), words (B, K, T),
    word log-probabilities (B, K, T), attention (B, K, T, P)), the fields of hypotheses.Beams.

    stop_early=False takes all max_length + 1 steps even after every beam has ended, as a compiled graph
    must (it cannot stop on a value): an ended beam only adds EOS at no cost, so the beams come out the same.
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size!r}")
    if no_repeat_ngram < 0:
        raise ValueError(f"no_repeat_ngram must be >= 0, got {no_repeat_ngram!r}")
    B, P, _ = features.shape
    K = beam_size
    device = features.device
    feats = features.repeat_interleave(K, dim=0)  # (B*K, P, E)
    memory = decoder.project(features).repeat_interleave(K)  # per image, then per beam
    state = decoder.init_state(feats)
    tokens = torch.full((B * K,), bos_id, dtype=torch.long, device=device)
    beams = _Beams(B, K, P, device)
    base = (torch.arange(B, device=device) * K).unsqueeze(1)  # (B, 1)
    for t in range(max_length + 1):
        logits, state, alpha = decoder.step(tokens, state, feats, memory)
        logp = logits.float().log_softmax(dim=-1).view(B, K, -1)  # (B, K, V)
        _mask(logp, beams, t, eos_id=eos_id, banned=banned, no_repeat_ngram=no_repeat_ngram, last=t == max_length)
        src, word = beams.extend(logp, alpha.view(B, K, 1, P), eos_id)
        rows = (base + src).view(-1)  # (B*K,) rows of the state each beam continues
        state = type(state)(state.h[rows], state.c[rows])
        tokens = word.view(-1)
        if stop_early and bool(beams.finished.all()):
            break
    return beams.scores, beams.words, beams.word_lp, beams.alphas


class _Beams:
    """The K beams of every image: words, their log-probabilities and attention, scores, which have ended."""

    def __init__(self, B: int, K: int, P: int, device: torch.device) -> None:
        self.scores = torch.zeros(B, K, device=device)
        self.scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
        self.words = torch.empty(B, K, 0, dtype=torch.long, device=device)
        self.word_lp = torch.empty(B, K, 0, device=device)
        self.alphas = torch.empty(B, K, 0, P, device=device)
        self.finished = torch.zeros(B, K, dtype=torch.bool, device=device)

    def extend(self, logp: torch.Tensor, alpha: torch.Tensor, eos_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keep the K best one-word extensions (logp (B, K, V), alpha (B, K, 1, P)); (source beam, word) each."""
        B, K, V = logp.shape
        top, flat = (self.scores.unsqueeze(-1) + logp).view(B, K * V).topk(K, dim=1)  # (B, K)
        src = torch.div(flat, V, rounding_mode="floor")  # (B, K) beam each candidate extends
        word = flat % V  # (B, K)

        def pick(x: torch.Tensor) -> torch.Tensor:
            return x.gather(1, src.view(B, K, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:]))

        step_lp = logp.gather(1, src.unsqueeze(-1).expand(-1, -1, V)).gather(2, word.unsqueeze(-1))  # (B, K, 1)
        was_finished = pick(self.finished)
        self.words = torch.cat([pick(self.words), word.unsqueeze(-1)], dim=2)
        self.word_lp = torch.cat([pick(self.word_lp), step_lp], dim=2)
        self.alphas = torch.cat([pick(self.alphas), pick(alpha)], dim=2)
        self.finished = was_finished | (word == eos_id)
        self.scores = top
        return src, word


def _mask(logp: torch.Tensor, beams: _Beams, t: int, *, eos_id: int, banned: tuple[int, ...], no_repeat_ngram: int,
          last: bool) -> None:
    """Rule out, in place, what a beam may not say next: banned words, repeats, anything after EOS."""
    if banned:
        logp[..., list(banned)] = float("-inf")
    if no_repeat_ngram and t >= no_repeat_ngram:
        _block_repeats(logp, beams.words, no_repeat_ngram)
    eos_only = torch.full_like(logp, float("-inf"))
    eos_only[..., eos_id] = 0.0
    logp.copy_(torch.where(beams.finished.unsqueeze(-1), eos_only, logp))  # a finished beam only repeats EOS
    if last:  # out of room: every open beam ends here
        eos = logp[..., eos_id].clone()
        logp.fill_(float("-inf"))
        logp[..., eos_id] = eos


def _block_repeats(logp: torch.Tensor, words: torch.Tensor, n: int) -> None:
    """Ban, in place, every word that would complete an n-gram already in its beam's words (B, K, T).

    Dense (a scatter, no nonzero) so that an exported graph holds it with the batch size left open."""
    T = words.size(2)
    J = T - n + 1  # n-grams so far
    grams = torch.stack([words[:, :, i : i + J] for i in range(n)], dim=-1)  # (B, K, J, n)
    prefix = words[:, :, J:]  # (B, K, n-1) the last n-1 words
    match = (grams[..., :-1] == prefix.unsqueeze(2)).all(dim=-1)  # (B, K, J) n-grams sharing that prefix
    hits = torch.zeros_like(logp).scatter_add_(2, grams[..., -1], match.to(logp.dtype))  # (B, K, V)
    logp.masked_fill_(hits > 0, float("-inf"))
