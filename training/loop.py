"""The training loop as importable functions: fit -> build_parts -> train_one_epoch (steps.py) -> end_of_epoch,
then the optional self-critical stage (scst.py).

Shapes: B batch, T caption steps, P regions, E channels, V vocabulary.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from model import Captioner, CaptionModel, Vocabulary, build_model, checkpoint_data, load_checkpoint, save_checkpoint
from model.captioner.checkpoint import CheckpointData

from . import distributed
from .config import TrainConfig
from .contrastive import caption_embeddings, pretrain_image_embedding
from .data import ImageRecord, train_and_val_records, train_loader
from .feature_cache import FeatureCache, FeaturesByIndex, build_rank_caches
from .scst import CorpusCider, self_critical_epoch
from .steps import RunState, TrainStep, train_one_epoch
from .validation import VAL_METRICS, validate

Log = Callable[[str], None]


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
    train_records: list[ImageRecord]
    val_records: list[ImageRecord]
    val_cache: FeatureCache | None
    metadata: dict[str, Any]


def run_metadata(cfg: TrainConfig, source: str, n_train: int, n_val: int) -> dict[str, Any]:
    """What every checkpoint of this run records about how it was trained."""
    return {
        "training_data": source, "train_images": n_train, "val_images": n_val, "seed": cfg.seed,
        "encoder": cfg.model.encoder, "fine_tuned_encoder": cfg.fine_tune_encoder,
        "contrastive_epochs": cfg.contrastive_epochs, "scst_epochs": cfg.scst_epochs, "train_config": cfg.to_dict(), "torch": torch.__version__,
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
        loader, sampler, Captioner(model, vocab, device=device), train_recs, val_recs, val_cache,
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


def record_score(state: RunState, metric: str, score: float) -> bool:
    """Early-stopping bookkeeping for the epoch just finished; True when score is the best so far.

    A run resumed with another select_metric cannot compare the new metric with the old best: the choice
    of best.pt and the patience count start again from this epoch.
    """
    if state.best_metric and state.best_metric != metric:
        state.best_score, state.bad_epochs = -1.0, 0
    state.best_metric = metric
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
    improved = record_score(state, cfg.select_metric, scores.get(cfg.select_metric, 0.0))
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
    if cfg.select_metric not in VAL_METRICS:
        raise ValueError(f"select_metric must be one of {VAL_METRICS}, got {cfg.select_metric!r}")
    parts, state = build_parts(cfg, d, device, resume, log)
    set_train_mode(parts.model, cfg)
    while (state.stage == "cross-entropy" and state.epoch < cfg.epochs and state.bad_epochs < cfg.patience
           and not (cfg.max_steps and state.step >= cfg.max_steps)):
        parts.sampler.set_epoch(state.epoch)
        stats = train_one_epoch(parts.step, parts.loader, parts.optimizer, parts.scheduler, parts.params, cfg,
                                state, show=cfg.progress and d.is_main)
        state.epoch += 1
        end_of_epoch(cfg, d, parts, state, stats, log)
        if state.bad_epochs >= cfg.patience:
            break
    if cfg.scst_epochs:
        self_critical_stage(cfg, d, parts, state, log)
    return state


def self_critical_stage(cfg: TrainConfig, d: distributed.Dist, parts: Parts, state: RunState, log: Log) -> None:
    """Self-critical epochs from the best cross-entropy weights, at a constant learning rate, each validated
    and saved like a cross-entropy epoch (training/scst.py)."""
    if d.enabled or parts.step.cache is None:
        raise ValueError("self-critical training needs cached features and one process (not torchrun)")
    if state.stage == "cross-entropy":
        parts.model.load_state_dict(load_checkpoint(Path(cfg.out_dir) / "best.pt").state_dict, strict=False)
        state.stage, state.scst_from_epoch, state.bad_epochs = "self-critical", state.epoch, 0
    for group in parts.optimizer.param_groups:
        group["lr"] = cfg.scst_lr
    cider = CorpusCider([r.captions for r in parts.train_records])
    photos = np.flatnonzero(parts.step.cache.ok)
    while state.epoch < state.scst_from_epoch + cfg.scst_epochs and state.bad_epochs < cfg.patience:
        parts.model.decoder.train()
        stats = self_critical_epoch(parts.model.decoder, parts.step.cache, photos, parts.vocab, cider,
                                    parts.optimizer, parts.params, cfg, state)
        state.epoch += 1
        end_of_epoch(cfg, d, parts, state, stats, log)


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
