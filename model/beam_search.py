"""Batched beam search over AttentionDecoder.step: the only decoding loop in seesay.

Shapes: B images, K beams, P regions, E channels, V vocabulary, T steps so far.
Beam size 1 is greedy decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .decoder import AttentionDecoder


@dataclass(frozen=True)
class Hypothesis:
    """The best caption found for one image."""

    tokens: list[int]  # word ids, without BOS and EOS
    token_log_probs: list[float]  # log p of each word, then of EOS (len(tokens) + 1 values)
    attention: torch.Tensor  # (len(tokens), P): where the decoder looked for each word
    score: float  # sum of token_log_probs, divided by length ** length_penalty


@torch.inference_mode()
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
) -> list[Hypothesis]:
    """Best caption for each image in features (B, P, E); a beam ends when it emits EOS.

    Finished beams carry on with EOS at no cost, so all beams share one tensor. Every caption ends with
    EOS by max_length words at the latest. length_penalty > 0 favours longer captions when picking the
    best finished beam (score / length ** length_penalty); 0 ranks by total log-probability.
    banned: word ids never emitted (padding, BOS, unknown-word).
    """
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size!r}")
    B, P, _ = features.shape
    K = beam_size
    device = features.device
    feats = features.repeat_interleave(K, dim=0)  # (B*K, P, E)
    keys = decoder.project(feats)
    state = decoder.init_state(feats)
    tokens = torch.full((B * K,), bos_id, dtype=torch.long, device=device)

    scores = torch.zeros(B, K, device=device)
    scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    words = torch.empty(B, K, 0, dtype=torch.long, device=device)
    word_lp = torch.empty(B, K, 0, device=device)
    alphas = torch.empty(B, K, 0, P, device=device)
    finished = torch.zeros(B, K, dtype=torch.bool, device=device)
    base = (torch.arange(B, device=device) * K).unsqueeze(1)  # (B, 1)

    for t in range(max_length + 1):
        logits, state, alpha = decoder.step(tokens, state, feats, keys)
        logp = logits.float().log_softmax(dim=-1).view(B, K, -1)  # (B, K, V)
        V = logp.size(-1)
        if banned:
            logp[..., list(banned)] = float("-inf")
        eos_only = torch.full_like(logp, float("-inf"))
        eos_only[..., eos_id] = 0.0
        logp = torch.where(finished.unsqueeze(-1), eos_only, logp)  # a finished beam only repeats EOS
        if t == max_length:  # out of room: every open beam ends here
            forced = torch.full_like(logp, float("-inf"))
            forced[..., eos_id] = logp[..., eos_id]
            logp = forced
        top, flat = (scores.unsqueeze(-1) + logp).view(B, K * V).topk(K, dim=1)  # (B, K)
        src = torch.div(flat, V, rounding_mode="floor")  # (B, K) beam each candidate extends
        word = flat % V  # (B, K)

        def pick(x: torch.Tensor) -> torch.Tensor:
            return x.gather(1, src.view(B, K, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:]))

        step_lp = logp.gather(1, src.unsqueeze(-1).expand(-1, -1, V)).gather(2, word.unsqueeze(-1))  # (B, K, 1)
        was_finished = pick(finished)
        words = torch.cat([pick(words), word.unsqueeze(-1)], dim=2)
        word_lp = torch.cat([pick(word_lp), step_lp], dim=2)
        alphas = torch.cat([pick(alphas), pick(alpha.view(B, K, 1, P))], dim=2)
        finished = was_finished | (word == eos_id)
        rows = (base + src).view(-1)  # (B*K,) rows of the state each beam continues
        state = type(state)(state.h[rows], state.c[rows])
        tokens = word.view(-1)
        scores = top
        if bool(finished.all()):
            break

    lengths = (words != eos_id).sum(dim=2) + 1  # words + the EOS (B, K)
    ranked = scores / lengths.float() ** length_penalty if length_penalty else scores
    best = ranked.argmax(dim=1)  # (B,)
    out = []
    for b in range(B):
        k = int(best[b])
        n = int(lengths[b, k]) - 1
        out.append(
            Hypothesis(
                tokens=words[b, k, :n].tolist(),
                token_log_probs=word_lp[b, k, : n + 1].tolist(),
                attention=alphas[b, k, :n].cpu(),
                score=float(ranked[b, k]),
            )
        )
    return out
