"""The training loop as importable functions: fit -> (contrastive stage) -> train_one_epoch / validate.

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
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from model import Captioner, CaptionModel, Vocabulary, build_model, checkpoint_data, load_checkpoint, save_checkpoint

from . import distributed
from .config import TrainConfig
from .contrastive import caption_embeddings, pretrain_image_embedding
from .data import CaptionPairs, ImageRecord, load_records, pad_captions, select_split
from .feature_cache import FeatureCache, build_feature_cache
from .loss import caption_loss, reinforce_loss
from .metrics import score_captions

VAL_METRICS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr")  # METEOR is slow; test-time only


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


class PhotosWithCaptions(Dataset):
    """(preprocessed photo, caption) pairs, for when region features are not cached."""

    def __init__(self, pairs: CaptionPairs, records: Sequence[ImageRecord], model: CaptionModel) -> None:
        self.pairs, self.records, self.encoder = pairs, records, model.encoder

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        idx, cap = self.pairs[i]
        return self.encoder.preprocess(self.records[idx].path), cap


def _collate_photos(batch):
    images = torch.stack([b[0] for b in batch])
    return images, pad_captions([(0, b[1]) for b in batch])[1]


def seed_everything(seed: int) -> None:
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


def train_one_epoch(
    step_fn: Callable[[Any], tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]],
    loader: DataLoader, optimizer: torch.optim.Optimizer, scheduler, params: list[torch.nn.Parameter],
    cfg: TrainConfig, state: RunState, *, show: bool,
) -> dict[str, float]:
    """One pass over the loader; step_fn(batch) -> (loss, ce, penalty, images, tokens)."""
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
            loss, ce, penalty, b, t = step_fn(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            state.step += 1
            totals["loss"] += float(loss.detach())
            totals["ce"] += float(ce)
            totals["penalty"] += float(penalty)
            n_batches += 1
            images += b
            tokens += t
            elapsed = time.perf_counter() - start
            bar.update(task, advance=1, loss=totals["loss"] / n_batches, speed=images / elapsed)
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


def _datasets(cfg: TrainConfig) -> tuple[list[ImageRecord], list[ImageRecord], str]:
    records = load_records(cfg.annotations, cfg.images)
    train = select_split(records, "train")
    if cfg.val_annotations:
        val = load_records(cfg.val_annotations, cfg.val_images or cfg.images)
        val = select_split(val, "val") or val
    else:
        val = select_split(records, "val")
    if not train:
        raise ValueError(f"no training images in {cfg.annotations}")
    if not val:  # no split information: hold out every tenth photo, deterministically
        val, train = train[::10], [r for i, r in enumerate(train) if i % 10]
    if cfg.eval_max_images:
        val = val[: cfg.eval_max_images]
    return train, val, Path(cfg.annotations).name


def fit(cfg: TrainConfig, *, resume: bool = True) -> RunState:
    """Train a captioner as cfg says, resuming from out_dir/last.pt when it exists; best.pt is kept."""
    dist_info, device = distributed.setup(cfg.device)
    try:
        return _fit(cfg, dist_info, device, resume)
    finally:
        distributed.teardown(dist_info)


def _fit(cfg: TrainConfig, d: distributed.Dist, device: torch.device, resume: bool) -> RunState:
    out = Path(cfg.out_dir)
    last_path, best_path, log_path = out / "last.pt", out / "best.pt", out / "log.jsonl"
    seed_everything(cfg.seed)
    train_recs, val_recs, source = _datasets(cfg)

    resumed = load_checkpoint(last_path) if resume and last_path.is_file() else None
    if resumed is not None:
        vocab = Vocabulary(resumed.vocabulary)
    else:
        vocab = Vocabulary.build((c for r in train_recs for c in r.captions), cfg.min_word_count)
    model = build_model(cfg.model, len(vocab)).to(device)
    use_cache = cfg.cache_features and not cfg.fine_tune_encoder
    state = RunState()
    if resumed is not None:
        model.load_state_dict(resumed.state_dict, strict=False)
        state = RunState(**resumed.extra["run_state"])

    # Region features: cached once with the frozen encoder (rank 0 builds, the others wait and read).
    train_cache = val_cache = None
    if use_cache:
        for rank_turn in (True, False):
            if d.is_main == rank_turn:
                train_cache = build_feature_cache(train_recs, model.encoder, cfg.cache_dir, device=device,
                                                  num_workers=cfg.num_workers, progress=cfg.progress and d.is_main)
                val_cache = build_feature_cache(val_recs, model.encoder, cfg.cache_dir, device=device,
                                                num_workers=cfg.num_workers, progress=cfg.progress and d.is_main)
            distributed.barrier(d)
        keep = np.flatnonzero(train_cache.ok)
        if len(keep) < len(train_recs):
            print(f"skipping {len(train_recs) - len(keep)} unreadable training photos")

    def features_of(idx: torch.Tensor) -> torch.Tensor:
        if train_cache is not None:
            return train_cache.batch(idx)
        batch = torch.stack([model.encoder.preprocess(train_recs[i].path) for i in idx.tolist()]).to(device)
        with torch.no_grad():
            return model.encoder(batch)

    if cfg.contrastive_epochs and not state.contrastive_losses and resumed is None:
        emb, owner = caption_embeddings(train_recs, cfg.cache_dir, device)
        state.contrastive_losses = pretrain_image_embedding(
            model.decoder, features_of, emb, owner, epochs=cfg.contrastive_epochs, batch_size=256,
            lr=cfg.contrastive_lr, temperature=cfg.contrastive_temperature, seed=cfg.seed, device=device,
        )  # every rank runs the same seeded stage, so their weights agree without communication

    model.encoder.requires_grad_(cfg.fine_tune_encoder)
    trainable = model if cfg.fine_tune_encoder else model.decoder
    wrapped = DDP(trainable) if d.enabled else trainable
    groups = [{"params": list(model.decoder.parameters()), "lr": cfg.lr}]
    if cfg.fine_tune_encoder:
        groups.append({"params": list(model.encoder.parameters()), "lr": cfg.encoder_lr})
    params = [p for g in groups for p in g["params"]]
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

    pairs = CaptionPairs(train_recs, vocab, cfg.model.max_length)
    if use_cache:
        pairs.pairs = [p for p in pairs.pairs if train_cache.ok[p[0]]]
        dataset, collate = pairs, pad_captions
    else:
        dataset, collate = PhotosWithCaptions(pairs, train_recs, model), _collate_photos
    sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank, shuffle=True, seed=cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.batch_size, sampler=sampler, collate_fn=collate, drop_last=True,
                        num_workers=0 if use_cache else cfg.num_workers)
    total_steps = cfg.epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.warmup_steps, total_steps))
    if resumed is not None:
        optimizer.load_state_dict(resumed.extra["optimizer"])
        scheduler.load_state_dict(resumed.extra["scheduler"])
        torch.set_rng_state(resumed.extra["rng"][d.rank % len(resumed.extra["rng"])])

    def step_fn(batch):
        with autocast(cfg, device):
            if use_cache:
                idx, caps = batch
                feats, caps = train_cache.batch(idx).to(device, non_blocking=True), caps.to(device)
                out = wrapped(feats, caps)
            elif cfg.fine_tune_encoder:
                images, caps = (x.to(device) for x in batch)
                out = wrapped(images, caps)
            else:
                images, caps = (x.to(device) for x in batch)
                with torch.no_grad():
                    feats = model.encoder(images)
                out = wrapped(feats, caps)
            targets = caps[:, 1:]
            loss, ce, pen = caption_loss(out.logits, targets, out.alphas, pad_id=vocab.pad_id, alpha_c=cfg.alpha_c,
                                         label_smoothing=cfg.label_smoothing)
            if out.regions is not None:
                policy, reward = reinforce_loss(out.logits, targets, out.alphas, out.regions,
                                                state.reinforce_baseline, pad_id=vocab.pad_id)
                loss = loss + policy
                state.reinforce_baseline = 0.9 * state.reinforce_baseline + 0.1 * reward if state.step else reward
        return loss, ce, pen, caps.size(0), int((targets != vocab.pad_id).sum())

    captioner = Captioner(model, vocab, device=device)
    metadata_base = {
        "training_data": source, "train_images": len(train_recs), "val_images": len(val_recs), "seed": cfg.seed,
        "encoder": cfg.model.encoder, "fine_tuned_encoder": cfg.fine_tune_encoder,
        "contrastive_epochs": cfg.contrastive_epochs, "train_config": cfg.to_dict(),
        "torch": torch.__version__,
    }
    model.train()
    if cfg.fine_tune_encoder is False:
        model.encoder.eval()  # frozen BatchNorm statistics
    while state.epoch < cfg.epochs and not (cfg.max_steps and state.step >= cfg.max_steps):
        sampler.set_epoch(state.epoch)
        stats = train_one_epoch(step_fn, loader, optimizer, scheduler, params, cfg, state,
                                show=cfg.progress and d.is_main)
        state.epoch += 1
        scores = {}
        if d.is_main:
            scores, _ = validate(captioner, val_recs, val_cache, beam_size=cfg.eval_beam_size)
            model.train()
            if not cfg.fine_tune_encoder:
                model.encoder.eval()
        scores = distributed.broadcast_object(d, scores)
        score = scores.get("BLEU-4", 0.0)
        improved = score > state.best_score
        if improved:
            state.best_score, state.best_epoch, state.bad_epochs = score, state.epoch, 0
        else:
            state.bad_epochs += 1
        row = {"epoch": state.epoch, "step": state.step, "lr": scheduler.get_last_lr()[0], "world_size": d.world_size,
               **{k: round(v, 5) for k, v in stats.items()}, **{f"val_{k}": round(v, 5) for k, v in scores.items()}}
        state.history.append(row)
        rng = _gather_rng(d)
        if d.is_main:
            meta = {**metadata_base, "epoch": state.epoch, "val_scores": scores}
            if improved:
                save_checkpoint(best_path, checkpoint_data(model, vocab, meta))
            ckpt = checkpoint_data(model, vocab, meta, include_encoder=cfg.fine_tune_encoder or None)
            ckpt.extra = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                          "run_state": dict(state.__dict__), "rng": rng}
            save_checkpoint(last_path, ckpt)
            with log_path.open("a") as f:
                f.write(json.dumps(row) + "\n")
            if cfg.progress:
                print(json.dumps(row))
        distributed.barrier(d)
        if state.bad_epochs >= cfg.patience:
            break
    return state


def _gather_rng(d: distributed.Dist) -> list[torch.Tensor]:
    """Every rank's CPU RNG state, so a resumed run draws the same dropout masks."""
    mine = torch.get_rng_state()
    if not d.enabled:
        return [mine]
    out = [None] * d.world_size
    torch.distributed.all_gather_object(out, mine)
    return out
