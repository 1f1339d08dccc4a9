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


class DecoderOutput(NamedTuple):
    """Teacher-forced outputs: logits (B, T, V), attention (B, T, P), and for hard attention in training the
    region sampled at each step (B, T), else None."""

    logits: torch.Tensor
    alphas: torch.Tensor
    regions: torch.Tensor | None = None


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

    def attend(
        self, state: DecoderState, features: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft attention from the current state: context (B, E), attention (B, P)."""
        return self.attention(features, keys, state.h)

    def advance(
        self, tokens: torch.Tensor, state: DecoderState, context: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState]:
        """Gate the context, feed it with the previous tokens (B,) to the LSTM: logits (B, V), new state."""
        context = torch.sigmoid(self.gate(state.h)) * context  # (B, E)
        x = torch.cat([self.embedding(tokens), context], dim=1)  # (B, D + E)
        h, c = self.lstm(x, state)
        return self.out(self.dropout(h)), DecoderState(h, c)  # (B, V)

    def step(
        self, tokens: torch.Tensor, state: DecoderState, features: torch.Tensor, keys: torch.Tensor
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One word: previous tokens (B,) -> logits (B, V), new state, attention (B, P).

        Always the expected (soft) context: hard-attention models decode with it too, as the paper does.
        """
        context, alpha = self.attend(state, features, keys)
        logits, state = self.advance(tokens, state, context)
        return logits, state, alpha

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> DecoderOutput:
        """Teacher forcing: captions (B, T+1) from BOS -> outputs for predicting captions[:, 1:].

        Padded positions are computed too; the loss masks them. A hard-attention decoder in training
        mode samples one region per step from its attention (Xu et al. 2015, eq. 8).
        """
        state = self.init_state(features)
        keys = self.project(features)
        hard = self.config.hard_attention and self.training
        rows = torch.arange(features.size(0), device=features.device)
        logits, alphas, regions = [], [], []
        for t in range(captions.size(1) - 1):
            context, alpha = self.attend(state, features, keys)
            if hard:  # read one region, drawn from the attention (B,)
                region = torch.multinomial(alpha.detach(), 1).squeeze(1)
                context = features[rows, region]  # (B, E)
                regions.append(region)
            step_logits, state = self.advance(captions[:, t], state, context)
            logits.append(step_logits)
            alphas.append(alpha)
        return DecoderOutput(
            torch.stack(logits, dim=1), torch.stack(alphas, dim=1), torch.stack(regions, dim=1) if hard else None
        )
