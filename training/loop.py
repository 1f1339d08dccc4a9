"""The training loop as importable functions: fit -> build_parts -> train_one_epoch -> end_of_epoch.

Shapes: B batch, T caption steps, P regions, E channels, V vocabulary.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from model import Captioner, CaptionModel, Vocabulary, build_model, checkpoint_data, load_checkpoint, save_checkpoint
from model.checkpoint import CheckpointData

from . import distributed
from .config import TrainConfig
from .contrastive import caption_embeddings, pretrain_image_embedding
from .data import ImageRecord, train_and_val_records, train_loader
from .feature_cache import FeatureCache, FeaturesByIndex, build_rank_caches
from .loss import caption_loss, reinforce_loss
from .metrics import score_captions

VAL_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr")  # METEOR is slow; test-time only

Log = Callable[[str], None]


@dataclass
class RunState:
    """Progress of a run, saved in every epoch checkpoint."""

    epoch: int = 0  # epochs finished
    step: int = 0  # optimiser steps taken
    best_score: float = -1.0
    best_epoch: int = 0
    bad_epochs: int = 0
    contrastive_losses: list[float] = field(default_factory=list)
    reinforce_baseline: float = 0.0  # moving average of the hard-attention reward
    history: list[dict[str, Any]] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    """Linear warm-up then cosine decay to 10% of the base rate."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast on CUDA when enabled; nothing on CPU."""
    if cfg.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def set_train_mode(model: CaptionModel, cfg: TrainConfig) -> None:
    """Train mode, except a frozen encoder keeps its BatchNorm statistics."""
    model.train()
    if not cfg.fine_tune_encoder:
        model.encoder.eval()


def build_model_and_vocabulary(
    cfg: TrainConfig, train_recs: Sequence[ImageRecord], device: torch.device, resumed: CheckpointData | None,
) -> tuple[CaptionModel, Vocabulary, RunState]:
    """A fresh model and vocabulary, or the ones in resumed (last.pt) with its run state."""
    if resumed is not None:
        vocab = Vocabulary(resumed.vocabulary)
    else:
        vocab = Vocabulary.build((c for r in train_recs for c in r.captions), cfg.min_word_count)
    model = build_model(cfg.model, len(vocab)).to(device)
    if resumed is None:
        return model, vocab, RunState()
    model.load_state_dict(resumed.state_dict, strict=False)
    return model, vocab, RunState(**resumed.extra["run_state"])


def contrastive_stage(cfg: TrainConfig, model: CaptionModel, train_recs: Sequence[ImageRecord],
                      features: FeaturesByIndex, device: torch.device) -> list[float]:
    """Pre-train the decoder's image embedding against sentence embeddings; the per-epoch losses."""
    emb, owner = caption_embeddings(train_recs, cfg.cache_dir, device)
    return pretrain_image_embedding(
        model.decoder, features, emb, owner, epochs=cfg.contrastive_epochs, batch_size=256,
        lr=cfg.contrastive_lr, temperature=cfg.contrastive_temperature, seed=cfg.seed, device=device,
    )  # every rank runs the same seeded stage, so their weights agree without communication


def build_optimizer(
    cfg: TrainConfig, model: CaptionModel, d: distributed.Dist,
) -> tuple[torch.nn.Module, torch.optim.Optimizer, list[torch.nn.Parameter]]:
    """The module to call (DDP-wrapped on several ranks), AdamW over the trainable parts, and their parameters."""
    model.encoder.requires_grad_(cfg.fine_tune_encoder)
    trainable = model if cfg.fine_tune_encoder else model.decoder
    wrapped = DDP(trainable) if d.enabled else trainable
    groups = [{"params": list(model.decoder.parameters()), "lr": cfg.lr}]
    if cfg.fine_tune_encoder:
        groups.append({"params": list(model.encoder.parameters()), "lr": cfg.encoder_lr})
    params = [p for g in groups for p in g["params"]]
    return wrapped, torch.optim.AdamW(groups, weight_decay=cfg.weight_decay), params


def build_scheduler(cfg: TrainConfig, optimizer: torch.optim.Optimizer, batches_per_epoch: int):
    """Warm-up and cosine decay over all the run's steps."""
    total_steps = cfg.epochs * batches_per_epoch
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.warmup_steps, total_steps))


def restore_training_state(resumed: CheckpointData, optimizer: torch.optim.Optimizer, scheduler,
                           d: distributed.Dist) -> None:
    """Optimiser, scheduler and this rank's RNG state from last.pt, so the run continues exactly."""
    optimizer.load_state_dict(resumed.extra["optimizer"])
    scheduler.load_state_dict(resumed.extra["scheduler"])
    torch.set_rng_state(resumed.extra["rng"][d.rank % len(resumed.extra["rng"])])


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


def validate(
    captioner: Captioner, records: Sequence[ImageRecord], features: FeatureCache | None, *, beam_size: int,
    metrics: Sequence[str] = VAL_METRICS, batch_size: int = 64,
) -> tuple[dict[str, float], dict[int, str]]:
    """Beam-search captions for records (from cached features when given) and their scores."""
    hyps: dict[int, str] = {}
    was_training = captioner.model.training
    captioner.model.eval()
    try:
        for lo in range(0, len(records), batch_size):
            chunk = records[lo : lo + batch_size]
            if features is not None:
                caps = captioner.caption_features(features.batch(torch.arange(lo, lo + len(chunk))), beam_size)
            else:
                caps = captioner.caption([r.path for r in chunk], beam_size)
            hyps.update({r.image_id: c.text for r, c in zip(chunk, caps)})
    finally:
        captioner.model.train(was_training)
    refs = {r.image_id: list(r.captions) for r in records}
    return score_captions(refs, hyps, metrics=metrics), hyps


@dataclass
class Parts:
    """The running pieces of one fit, built once by build_parts and used every epoch."""

    model: CaptionModel
    vocab: Vocabulary
    step: TrainStep
    optimizer: torch.optim.Optimizer
    scheduler: Any  # torch.optim.lr_scheduler.LambdaLR
    params: list[torch.nn.Parameter]
    loader: DataLoader
    sampler: DistributedSampler
    captioner: Captioner
    val_records: list[ImageRecord]
    val_cache: FeatureCache | None
    metadata: dict[str, Any]


def run_metadata(cfg: TrainConfig, source: str, n_train: int, n_val: int) -> dict[str, Any]:
    """What every checkpoint of this run records about how it was trained."""
    return {
        "training_data": source, "train_images": n_train, "val_images": n_val, "seed": cfg.seed,
        "encoder": cfg.model.encoder, "fine_tuned_encoder": cfg.fine_tune_encoder,
        "contrastive_epochs": cfg.contrastive_epochs, "train_config": cfg.to_dict(), "torch": torch.__version__,
    }


def build_parts(
    cfg: TrainConfig, d: distributed.Dist, device: torch.device, resume: bool, log: Log,
) -> tuple[Parts, RunState]:
    """Data, model, caches, contrastive stage, optimiser and loader, resumed from out_dir/last.pt if asked."""
    seed_everything(cfg.seed)
    train_recs, val_recs, source = train_and_val_records(cfg)
    last_path = Path(cfg.out_dir) / "last.pt"
    resumed = load_checkpoint(last_path) if resume and last_path.is_file() else None
    model, vocab, state = build_model_and_vocabulary(cfg, train_recs, device, resumed)
    train_cache = val_cache = None
    if cfg.cache_features and not cfg.fine_tune_encoder:  # region features cached once, by the frozen encoder
        train_cache, val_cache = build_rank_caches([train_recs, val_recs], model.encoder, cfg.cache_dir, d,
                                                   device=device, num_workers=cfg.num_workers, progress=cfg.progress)
    if train_cache is not None and (bad := int((~train_cache.ok).sum())):
        log(f"skipping {bad} unreadable training photos")
    if cfg.contrastive_epochs and not state.contrastive_losses and resumed is None:
        features = FeaturesByIndex(model.encoder, train_recs, train_cache, device)
        state.contrastive_losses = contrastive_stage(cfg, model, train_recs, features, device)
    wrapped, optimizer, params = build_optimizer(cfg, model, d)
    loader, sampler = train_loader(cfg, d, train_recs, vocab, model.encoder,
                                   None if train_cache is None else train_cache.ok)
    scheduler = build_scheduler(cfg, optimizer, len(loader))
    if resumed is not None:
        restore_training_state(resumed, optimizer, scheduler, d)
    parts = Parts(
        model, vocab, TrainStep(model, wrapped, vocab, cfg, device, train_cache), optimizer, scheduler, params,
        loader, sampler, Captioner(model, vocab, device=device), val_recs, val_cache,
        run_metadata(cfg, source, len(train_recs), len(val_recs)),
    )
    return parts, state


def validate_on_main(cfg: TrainConfig, d: distributed.Dist, parts: Parts) -> dict[str, float]:
    """Validation scores computed on rank 0 and shared with every rank."""
    scores: dict[str, float] = {}
    if d.is_main:
        scores, _ = validate(parts.captioner, parts.val_records, parts.val_cache, beam_size=cfg.eval_beam_size)
        set_train_mode(parts.model, cfg)
    return distributed.broadcast_object(d, scores)


def record_score(state: RunState, score: float) -> bool:
    """Early-stopping bookkeeping for the epoch just finished; True when score is the best so far."""
    if score > state.best_score:
        state.best_score, state.best_epoch, state.bad_epochs = score, state.epoch, 0
        return True
    state.bad_epochs += 1
    return False


def save_epoch(cfg: TrainConfig, parts: Parts, state: RunState, scores: dict[str, float], improved: bool,
               rng: list[torch.Tensor]) -> None:
    """best.pt when validation BLEU-4 improved; last.pt always, with what resuming needs."""
    out = Path(cfg.out_dir)
    meta = {**parts.metadata, "epoch": state.epoch, "val_scores": scores}
    if improved:
        save_checkpoint(out / "best.pt", checkpoint_data(parts.model, parts.vocab, meta))
    ckpt = checkpoint_data(parts.model, parts.vocab, meta, include_encoder=cfg.fine_tune_encoder or None)
    ckpt.extra = {"optimizer": parts.optimizer.state_dict(), "scheduler": parts.scheduler.state_dict(),
                  "run_state": dict(state.__dict__), "rng": rng}
    save_checkpoint(out / "last.pt", ckpt)


def end_of_epoch(cfg: TrainConfig, d: distributed.Dist, parts: Parts, state: RunState,
                 stats: dict[str, float], log: Log) -> None:
    """Validate, keep score, save checkpoints and append the epoch's row to out_dir/log.jsonl."""
    scores = validate_on_main(cfg, d, parts)
    improved = record_score(state, scores.get("BLEU-4", 0.0))
    row = {"epoch": state.epoch, "step": state.step, "lr": parts.scheduler.get_last_lr()[0],
           "world_size": d.world_size, **{k: round(v, 5) for k, v in stats.items()},
           **{f"val_{k}": round(v, 5) for k, v in scores.items()}}
    state.history.append(row)
    rng = _gather_rng(d)
    if d.is_main:
        save_epoch(cfg, parts, state, scores, improved, rng)
        with (Path(cfg.out_dir) / "log.jsonl").open("a") as f:
            f.write(json.dumps(row) + "\n")
        if cfg.progress:
            log(json.dumps(row))
    distributed.barrier(d)


def train(cfg: TrainConfig, d: distributed.Dist, device: torch.device, *, resume: bool, log: Log) -> RunState:
    """Build the parts, then train epoch by epoch until cfg.epochs, cfg.max_steps or early stopping."""
    parts, state = build_parts(cfg, d, device, resume, log)
    set_train_mode(parts.model, cfg)
    while state.epoch < cfg.epochs and not (cfg.max_steps and state.step >= cfg.max_steps):
        parts.sampler.set_epoch(state.epoch)
        stats = train_one_epoch(parts.step, parts.loader, parts.optimizer, parts.scheduler, parts.params, cfg,
                                state, show=cfg.progress and d.is_main)
        state.epoch += 1
        end_of_epoch(cfg, d, parts, state, stats, log)
        if state.bad_epochs >= cfg.patience:
            break
    return state


def fit(cfg: TrainConfig, *, resume: bool = True, on_log: Log | None = None) -> RunState:
    """Train a captioner as cfg says, resuming from out_dir/last.pt when it exists; best.pt is kept.

    on_log receives the lines a command shows (each epoch's JSON row when cfg.progress, skipped photos);
    library code never prints, so the command passes print.
    """
    dist_info, device = distributed.setup(cfg.device)
    try:
        return train(cfg, dist_info, device, resume=resume, log=on_log or (lambda line: None))
    finally:
        distributed.teardown(dist_info)


def _gather_rng(d: distributed.Dist) -> list[torch.Tensor]:
    """Every rank's CPU RNG state, so a resumed run draws the same dropout masks."""
    mine = torch.get_rng_state()
    if not d.enabled:
        return [mine]
    out = [None] * d.world_size
    torch.distributed.all_gather_object(out, mine)
    return out
