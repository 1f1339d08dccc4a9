"""LSTM decoder with soft attention and the gating scalar of Show, Attend and Tell (section 4.2.1).

Shapes: B batch, P regions, E encoder channels, H hidden size, T caption steps, V vocabulary size,
S sentence-embedding size.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .attention import build_attention
from .config import CaptionerConfig


class DecoderState(NamedTuple):
    """LSTM memory between steps."""

    h: torch.Tensor  # (B, H)
    c: torch.Tensor  # (B, H)


class AttentionDecoder(nn.Module):
    """Writes a caption word by word, attending over region features at every word."""

    def __init__(self, config: CaptionerConfig, vocab_size: int, encoder_dim: int) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.encoder_dim = encoder_dim
        self.embedding = nn.Embedding(vocab_size, config.embed_dim, padding_idx=0)
        self.attention = build_attention(config, encoder_dim)
        # The image side of the sentence-embedding space; the contrastive stage trains it, and the
        # decoder's initial memory is read from it (training/contrastive.py).
        self.image_embed = nn.Linear(encoder_dim, config.sentence_dim)
        self.init_h = nn.Linear(config.sentence_dim, config.hidden_dim)
        self.init_c = nn.Linear(config.sentence_dim, config.hidden_dim)
        self.gate = nn.Linear(config.hidden_dim, 1)  # beta_t = sigmoid(f_beta(h_{t-1})), a scalar
        self.lstm = nn.LSTMCell(config.embed_dim + encoder_dim, config.hidden_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden_dim, vocab_size)

    def embed_image(self, features: torch.Tensor) -> torch.Tensor:
        """Whole-image embedding in the sentence space (B, S), from the mean region feature."""
        return self.image_embed(features.mean(dim=1))

    def init_state(self, features: torch.Tensor) -> DecoderState:
        """Initial LSTM memory from the image embedding."""
        s = torch.tanh(self.embed_image(features))  # (B, S)
        return DecoderState(torch.tanh(self.init_h(s)), torch.tanh(self.init_c(s)))

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Attention keys for these features; pass them to every step."""
        return self.attention.project(features)

    def step(
        self, tokens: torch.Tensor, state: DecoderState, features: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One word: previous tokens (B,) -> logits (B, V), new state, attention (B, P)."""
        context, alpha = self.attention(features, keys, state.h)  # (B, E), (B, P)
        context = torch.sigmoid(self.gate(state.h)) * context  # (B, E)
        x = torch.cat([self.embedding(tokens), context], dim=1)  # (B, D + E)
        h, c = self.lstm(x, state)
        logits = self.out(self.dropout(h))  # (B, V)
        return logits, DecoderState(h, c), alpha

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: captions (B, T+1) from BOS -> logits (B, T, V) for captions[:, 1:], alphas (B, T, P).

        Padded positions are computed too; the loss masks them.
        """
        state = self.init_state(features)
        keys = self.project(features)
        logits, alphas = [], []
        for t in range(captions.size(1) - 1):
            step_logits, state, alpha = self.step(captions[:, t], state, features, keys)
            logits.append(step_logits)
            alphas.append(alpha)
        return torch.stack(logits, dim=1), torch.stack(alphas, dim=1)
