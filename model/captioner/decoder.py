"""LSTM decoder with soft attention and the gating scalar of Show, Attend and Tell (section 4.2.1).

Shapes: B batch, P regions, E encoder channels, H hidden size, T caption steps, V vocabulary size,
S sentence-embedding size, D word-embedding size, A attention size.

Decoding one word at batch 1 reads the LSTM's and the output layer's weights (about 22 MB) for a few
rows of input, so on a CPU it runs at memory speed, not arithmetic speed. With additive attention, at
inference, step() reads less by linearity: the LSTM's input is [embedding(word), beta * sum_p alpha_p f_p],
so its input gates are  W_D embedding(word) + beta * sum_p alpha_p (W_E f_p) + biases,  where W_E f_p is
computed once per photo (`StepMemory.region_gates`, (B, P, 4H)) and W_D embedding(word) + biases once
per set of weights for every word (a (V, 4H) table). Same numbers up to float rounding, about half the time.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .attention import AdditiveAttention, build_attention
from .config import CaptionerConfig


class DecoderState(NamedTuple):
    """LSTM memory between steps."""

    h: torch.Tensor  # (B, H)
    c: torch.Tensor  # (B, H)


class StepMemory(NamedTuple):
    """What step() needs from the image, computed once per caption rather than once per word."""

    keys: torch.Tensor  # (B*R, P, A) the attention's per-region part, one row per caption being written
    region_gates: torch.Tensor | None = None  # (B, P, 4H) each region's share of the LSTM's input gates
    repeats: int = 1  # R: captions written per image (beams, samples); region_gates is not copied R times
    word_gates: torch.Tensor | None = None  # (V, 4H) each word's share, with the biases (with region_gates)

    def repeat_interleave(self, n: int) -> StepMemory:
        """Each image's memory n times over (for n beams or n samples per image)."""
        return StepMemory(self.keys.repeat_interleave(n, dim=0), self.region_gates, self.repeats * n,
                          self.word_gates)


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
        self._word_gates_cache: tuple | None = None  # step()'s word table at inference, with its weights' key

    def embed_image(self, features: torch.Tensor) -> torch.Tensor:
        """Whole-image embedding in the sentence space (B, S), from the mean region feature."""
        return self.image_embed(features.mean(dim=1))

    def init_state(self, features: torch.Tensor) -> DecoderState:
        """Initial LSTM memory from the image embedding."""
        s = torch.tanh(self.embed_image(features))  # (B, S)
        return DecoderState(torch.tanh(self.init_h(s)), torch.tanh(self.init_c(s)))

    def project(self, features: torch.Tensor) -> StepMemory:
        """What every step needs from these features (B, P, E); pass it to step()."""
        keys = self.attention.project(features)  # (B, P, A)
        if not self._reads_regions_linearly():
            return StepMemory(keys)
        w_regions = self.lstm.weight_ih[:, self.embedding.embedding_dim :]  # (4H, E)
        return StepMemory(keys, features @ w_regions.T, word_gates=self._word_gates())  # (B, P, 4H), (V, 4H)

    def _reads_regions_linearly(self) -> bool:
        """Whether step() may use the region gates: additive attention, at inference (no gradients, no
        dropout), where it saves reading weights; training keeps the plain path."""
        return isinstance(self.attention, AdditiveAttention) and not self.training and not torch.is_grad_enabled()

    def _word_gates(self) -> torch.Tensor:
        """W_D embedding(v) + both LSTM biases for every word v (V, 4H), in the weights' own dtype (never
        autocast's), kept until a weight changes in place (optimizer steps, load_state_dict and .to() do; a
        write through `.data` does not, so such code must call invalidate_inference_cache()). While the
        search is being exported (training/onnx_export.py) the table is a node of the graph, made once per
        search, since an exported tensor has no storage to key a cache on."""
        if torch.compiler.is_exporting():
            return self._word_table()
        params = (self.embedding.weight, self.lstm.weight_ih, self.lstm.bias_ih, self.lstm.bias_hh)
        key = tuple((p.data_ptr(), p._version, p.dtype, p.device) for p in params)
        cached = self._word_gates_cache
        if cached is None or cached[0] != key:
            self._word_gates_cache = cached = (key, self._word_table())
        return cached[1]

    def _word_table(self) -> torch.Tensor:
        w_words = self.lstm.weight_ih[:, : self.embedding.embedding_dim]  # (4H, D)
        with torch.autocast(self.embedding.weight.device.type, enabled=False):
            return torch.addmm(self.lstm.bias_ih + self.lstm.bias_hh, self.embedding.weight, w_words.T)  # (V, 4H)

    def invalidate_inference_cache(self) -> None:
        """Forget the word table step() keeps (see _word_gates)."""
        self._word_gates_cache = None

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
        self, tokens: torch.Tensor, state: DecoderState, features: torch.Tensor, memory: StepMemory
    ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One word: previous tokens (B,) -> logits (B, V), new state, attention (B, P).

        Always the expected (soft) context: hard-attention models decode with it too, as the paper does.
        memory: project(features), made in the same mode (its region gates only at inference).
        """
        if memory.region_gates is None or not self._reads_regions_linearly():
            context, alpha = self.attend(state, features, memory.keys)
            logits, state = self.advance(tokens, state, context)
            return logits, state, alpha
        alpha = self.attention.weights(memory.keys, state.h)  # (B, P)
        beta = torch.sigmoid(self.gate(state.h))  # (B, 1)
        R = memory.repeats
        regions = torch.bmm(alpha.view(-1, R, alpha.size(1)), memory.region_gates).view(alpha.size(0), -1)  # (B*R, 4H)
        words = memory.word_gates if memory.word_gates is not None else self._word_gates()  # (V, 4H)
        gates = torch.addmm(words[tokens] + beta * regions, state.h, self.lstm.weight_hh.T)  # (B, 4H)
        i, f, g, o = gates.chunk(4, dim=1)  # nn.LSTMCell's gate order
        c = torch.sigmoid(f) * state.c + torch.sigmoid(i) * torch.tanh(g)  # (B, H)
        h = torch.sigmoid(o) * torch.tanh(c)  # (B, H)
        return self.out(h), DecoderState(h, c), alpha

    def forward(self, features: torch.Tensor, captions: torch.Tensor) -> DecoderOutput:
        """Teacher forcing: captions (B, T+1) from BOS -> outputs for predicting captions[:, 1:].

        Padded positions are computed too; the loss masks them. A hard-attention decoder in training
        mode samples one region per step from its attention (Xu et al. 2015, eq. 8).
        """
        state = self.init_state(features)
        keys = self.attention.project(features)  # (B, P, A)
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
