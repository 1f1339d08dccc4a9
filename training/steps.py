"""One optimisation step and one cross-entropy epoch, and the run state they move: forward pass, loss, back-propagation.

Shapes: B batch, T caption steps, P regions, E channels, V vocabulary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader

from model import CaptionModel, Vocabulary

from .config import TrainConfig
from .feature_cache import FeatureCache
from .loss import caption_loss, reinforce_loss


@dataclass
class RunState:
    """Progress of a run, saved in every epoch checkpoint."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimiser steps taken
    best_score: float = -1.0
    best_metric: str = ""  # the validation score best_score is (TrainConfig.select_metric); "" before any
    best_epoch: int = 0
    bad_epochs: int = 0
    contrastive_losses: list[float] = field(default_factory=list)
    reinforce_baseline: float = 0.0  # moving average of the hard-attention reward
    stage: str = "cross-entropy"  # then "self-critical"
    scst_from_epoch: int = 0  # the epoch the self-critical stage started after
    history: list[dict[str, Any]] = field(default_factory=list)


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast on CUDA when enabled; nothing on CPU."""
    if cfg.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


class StepResult(NamedTuple):
    """One batch's loss to back-propagate, its parts, and how many images and tokens it held."""

    loss: torch.Tensor
    ce: torch.Tensor
    penalty: torch.Tensor
    images: int
    tokens: int


class TrainStep:
    """The forward pass and loss of one batch: cached features, photos through a frozen or a tuned encoder."""

    def __init__(self, model: CaptionModel, wrapped: torch.nn.Module, vocab: Vocabulary, cfg: TrainConfig,
                 device: torch.device, cache: FeatureCache | None) -> None:
        self.model, self.wrapped, self.vocab, self.cfg = model, wrapped, vocab, cfg
        self.device, self.cache = device, cache

    def forward(self, batch):
        """(decoder output, captions (B, T)) for a batch from data.train_loader."""
        if self.cache is not None:
            idx, caps = batch
            feats, caps = self.cache.batch(idx).to(self.device, non_blocking=True), caps.to(self.device)  # (B, P, E)
            return self.wrapped(feats, caps), caps
        images, caps = (x.to(self.device) for x in batch)  # (B, 3, H, W), (B, T)
        if self.cfg.fine_tune_encoder:
            return self.wrapped(images, caps), caps
        with torch.no_grad():
            feats = self.model.encoder(images)  # (B, P, E)
        return self.wrapped(feats, caps), caps

    def __call__(self, batch, state: RunState) -> StepResult:
        """Loss of one batch; hard attention adds REINFORCE and moves state.reinforce_baseline."""
        pad = self.vocab.pad_id
        with autocast(self.cfg, self.device):
            out, caps = self.forward(batch)
            targets = caps[:, 1:]  # (B, T-1)
            loss, ce, pen = caption_loss(out.logits, targets, out.alphas, pad_id=pad, alpha_c=self.cfg.alpha_c,
                                         label_smoothing=self.cfg.label_smoothing)
            if out.regions is not None:
                policy, reward = reinforce_loss(out.logits, targets, out.alphas, out.regions,
                                                state.reinforce_baseline, pad_id=pad)
                loss = loss + policy
                state.reinforce_baseline = 0.9 * state.reinforce_baseline + 0.1 * reward if state.step else reward
        return StepResult(loss, ce, pen, caps.size(0), int((targets != pad).sum()))


def optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scheduler,
                   params: list[torch.nn.Parameter], grad_clip: float) -> None:
    """Back-propagate, clip, step the optimiser and the learning-rate schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def train_one_epoch(
    step: Callable[[Any, RunState], StepResult], loader: DataLoader, optimizer: torch.optim.Optimizer, scheduler,
    params: list[torch.nn.Parameter], cfg: TrainConfig, state: RunState, *, show: bool,
) -> dict[str, float]:
    """One pass over the loader (or up to cfg.max_steps); mean losses and throughput."""
    totals = {"loss": 0.0, "ce": 0.0, "penalty": 0.0}
    n_batches = images = tokens = 0
    start = time.perf_counter()
    with Progress(
        TextColumn(f"epoch {state.epoch + 1}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}  {task.fields[speed]:.0f} img/s"), TimeElapsedColumn(),
        disable=not show,
    ) as bar:
        task = bar.add_task("train", total=len(loader), loss=float("nan"), speed=0.0)
        for batch in loader:
            r = step(batch, state)
            optimizer_step(r.loss, optimizer, scheduler, params, cfg.grad_clip)
            state.step += 1
            totals["loss"] += float(r.loss.detach())
            totals["ce"] += float(r.ce)
            totals["penalty"] += float(r.penalty)
            n_batches, images, tokens = n_batches + 1, images + r.images, tokens + r.tokens
            bar.update(task, advance=1, loss=totals["loss"] / n_batches, speed=images / (time.perf_counter() - start))
            if cfg.max_steps and state.step >= cfg.max_steps:
                break
    seconds = time.perf_counter() - start
    out = {k: v / max(n_batches, 1) for k, v in totals.items()}
    out.update(images_per_s=images / seconds, tokens_per_s=tokens / seconds, seconds=seconds, batches=n_batches)
    return out
