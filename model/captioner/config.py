"""The captioner's architecture, as one frozen dataclass stored inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class CaptionerConfig:
    """Hyper-parameters that define a captioner's shape; everything needed to rebuild it."""

    encoder: str = "efficientnet-lite0"  # or resnet18 / resnet34 / resnet50 / resnet101 / resnet152
    image_size: int = 224
    embed_dim: int = 256  # word embedding size
    hidden_dim: int = 512  # LSTM hidden size
    attention_dim: int = 256  # additive attention projection size
    attention: str = "additive"  # "additive" (Show, Attend and Tell) or "multihead"
    num_heads: int = 4  # only for attention == "multihead"
    hard_attention: bool = False  # stochastic "hard" attention trained with REINFORCE (Xu et al. 4.1)
    sentence_dim: int = 384  # image-embedding size shared with the sentence encoder (MiniLM: 384)
    dropout: float = 0.5
    max_length: int = 20  # longest caption generated, in words (EOS not counted)

    def __post_init__(self) -> None:
        if self.attention not in ("additive", "multihead"):
            raise ValueError(f"attention must be 'additive' or 'multihead', got {self.attention!r}")
        if self.attention == "multihead" and self.attention_dim % self.num_heads:
            raise ValueError(
                f"attention_dim must divide by num_heads, got {self.attention_dim} and {self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaptionerConfig:
        """Rebuild from a checkpoint's dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
