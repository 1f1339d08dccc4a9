"""TrainConfig: every knob of a training run, loaded from TOML and overridden from the command line."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from model import CaptionerConfig


@dataclass(frozen=True)
class TrainConfig:
    """A training run: data, model shape, optimisation, and where to write."""

    annotations: str = ""
    images: str = ""
    val_annotations: str = ""  # separate validation file (official COCO layout); else the "val" split
    val_images: str = ""
    out_dir: str = "runs/captioner"
    cache_dir: str = "cache"
    model: CaptionerConfig = field(default_factory=CaptionerConfig)
    min_word_count: int = 5
    epochs: int = 10
    batch_size: int = 64
    lr: float = 4e-4
    encoder_lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_steps: int = 200
    grad_clip: float = 5.0
    alpha_c: float = 1.0  # weight of the doubly stochastic attention penalty (Xu et al. eq. 14)
    label_smoothing: float = 0.0
    patience: int = 3  # epochs without a better validation score (select_metric) before stopping
    select_metric: str = "BLEU-4"  # the validation score that picks best.pt
    fine_tune_encoder: bool = False
    cache_features: bool = True  # ignored when fine-tuning the encoder
    contrastive_epochs: int = 0  # 0 turns the contrastive sentence-embedding stage off
    contrastive_lr: float = 1e-3
    contrastive_temperature: float = 0.05
    scst_epochs: int = 0  # self-critical epochs (CIDEr-D reward) after cross-entropy; 0 turns them off
    scst_lr: float = 5e-5  # Rennie et al. 2017
    scst_samples: int = 5  # captions sampled per photo; the others' mean reward is each one's baseline
    eval_beam_size: int = 3
    eval_max_images: int = 0  # 0: the whole validation split
    max_steps: int = 0  # stop after this many optimiser steps in total (0: no limit); for smoke tests
    seed: int = 0
    num_workers: int = 2
    amp: bool = True  # bf16 autocast on CUDA; ignored on CPU
    compile: bool = False  # torch.compile the decoder step on CUDA
    device: str = "auto"
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.scst_epochs and self.scst_samples < 2:
            raise ValueError(f"scst_samples must be >= 2, got {self.scst_samples!r}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """From a plain dict (a TOML file's [train] and [model] tables, or a checkpoint)."""
        data = dict(data)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training settings: {sorted(unknown)}")
        if isinstance(data.get("model"), dict):
            data["model"] = CaptionerConfig.from_dict(data["model"])
        return cls(**data)

    @classmethod
    def from_toml(cls, path: str | Path) -> TrainConfig:
        """Read [train] and [model] tables. Data paths are kept as written; the command resolves relative
        ones against training.data.data_root()."""
        raw = tomllib.loads(Path(path).read_text())
        data = dict(raw.get("train", {}))
        if "model" in raw:
            data["model"] = raw["model"]
        return cls.from_dict(data)

    def override(self, **changes: Any) -> TrainConfig:
        """A copy with changes; model.* keys go to the model config. None values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        model_changes = {k[len("model."):]: changes.pop(k) for k in list(changes) if k.startswith("model.")}
        cfg = replace(self, **changes)
        return replace(cfg, model=replace(cfg.model, **model_changes)) if model_changes else cfg
