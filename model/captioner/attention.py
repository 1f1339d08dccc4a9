"""Soft attention over image regions (Xu et al. 2015, "Show, Attend and Tell", section 4.2).

Shapes: B batch, P regions, E encoder channels, H decoder hidden size, A attention size.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import CaptionerConfig


class AdditiveAttention(nn.Module):
    """Deterministic soft attention: alpha = softmax(w . tanh(W_a a_i + W_h h)), context = sum alpha_i a_i."""

    def __init__(self, encoder_dim: int, hidden_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.key = nn.Linear(encoder_dim, attention_dim)
        self.query = nn.Linear(hidden_dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Per-image part of the scores, computed once per caption rather than once per word."""
        return self.key(features)  # (B, P, A)

    def weights(self, keys: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The attention alone (B, P): the context is a linear function of it (see AttentionDecoder.step)."""
        scores = self.score(torch.tanh(keys + self.query(hidden).unsqueeze(1))).squeeze(2)  # (B, P)
        return scores.softmax(dim=1)  # (B, P)

    def forward(
        self, features: torch.Tensor, keys: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        alpha = self.weights(keys, hidden)  # (B, P)
        context = torch.bmm(alpha.unsqueeze(1), features).squeeze(1)  # (B, E)
        return context, alpha


class MultiHeadAttention(nn.Module):
    """Several additive-style heads, each reading its own slice of the channels.

    Head j attends with its own query over the regions and pools channels j*E/n .. (j+1)*E/n, so the
    context keeps size E with no value projection. The returned map is the mean over heads.
    """

    def __init__(self, encoder_dim: int, hidden_dim: int, attention_dim: int, num_heads: int) -> None:
        super().__init__()
        if encoder_dim % num_heads:
            raise ValueError(f"encoder channels {encoder_dim} must divide by num_heads {num_heads}")
        self.heads = num_heads
        self.key = nn.Linear(encoder_dim, attention_dim)
        self.query = nn.Linear(hidden_dim, attention_dim)
        self.scale = (attention_dim // num_heads) ** -0.5

    def project(self, features: torch.Tensor) -> torch.Tensor:
        return self.key(features)  # (B, P, A)

    def forward(
        self, features: torch.Tensor, keys: torch.Tensor, hidden: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        B, P, E = features.shape
        n = self.heads
        k = keys.view(B, P, n, -1)  # (B, P, n, A/n)
        q = self.query(hidden).view(B, 1, n, -1)  # (B, 1, n, A/n)
        alpha = ((k * q).sum(-1) * self.scale).softmax(dim=1)  # (B, P, n)
        v = features.view(B, P, n, E // n)  # (B, P, n, E/n)
        context = (alpha.unsqueeze(-1) * v).sum(1).reshape(B, E)  # (B, E)
        return context, alpha.mean(-1)  # (B, E), (B, P)


def build_attention(config: CaptionerConfig, encoder_dim: int) -> nn.Module:
    """The attention module the config names."""
    if config.attention == "multihead":
        return MultiHeadAttention(encoder_dim, config.hidden_dim, config.attention_dim, config.num_heads)
    return AdditiveAttention(encoder_dim, config.hidden_dim, config.attention_dim)
