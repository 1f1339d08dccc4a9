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


def reinforce_loss(
    logits: torch.Tensor, targets: torch.Tensor, alphas: torch.Tensor, regions: torch.Tensor, baseline: float, *,
    pad_id: int = 0, entropy_weight: float = 0.01,
) -> tuple[torch.Tensor, float]:
    """REINFORCE term for hard attention (Xu et al. 2015, eq. 12), and the batch's mean reward.

    The reward of a sampled sequence of regions is the log-likelihood of the caption given them; a
    moving-average baseline reduces the variance, and an entropy bonus keeps the attention exploring.
    regions (B, T) are the sampled region indices; the other shapes as in caption_loss.
    """
    mask = (targets != pad_id).float()  # (B, T)
    token_lp = -F.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")  # (B, T)
    reward = (token_lp * mask).sum(1).detach()  # (B,)
    log_alpha = torch.log(alphas.float().clamp_min(1e-12))  # (B, T, P)
    picked = log_alpha.gather(2, regions.unsqueeze(-1)).squeeze(-1)  # (B, T)
    entropy = -(alphas.float() * log_alpha).sum(-1)  # (B, T)
    n = mask.sum().clamp_min(1.0)
    policy = -((reward - baseline).unsqueeze(1) * picked * mask).sum() / n
    return policy - entropy_weight * (entropy * mask).sum() / n, float(reward.mean())
