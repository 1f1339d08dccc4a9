"""The captioning loss: cross-entropy on real words plus the doubly stochastic attention penalty.

Shapes: B batch, T steps, V vocabulary, P regions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def caption_loss(
    logits: torch.Tensor, targets: torch.Tensor, alphas: torch.Tensor, *, pad_id: int = 0,
    alpha_c: float = 1.0, label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, cross-entropy, penalty) for logits (B, T, V), targets (B, T), alphas (B, T, P).

    The penalty, alpha_c * mean_i (1 - sum_t alpha_ti)^2 (Xu et al. 2015, eq. 14), pushes the decoder to
    look at every region over the course of a caption; padded steps are left out of both terms.
    """
    mask = targets != pad_id  # (B, T)
    ce = F.cross_entropy(logits[mask].float(), targets[mask], label_smoothing=label_smoothing)
    coverage = (alphas.float() * mask.unsqueeze(-1)).sum(dim=1)  # (B, P)
    penalty = alpha_c * ((1.0 - coverage) ** 2).mean()
    return ce + penalty, ce.detach(), penalty.detach()
