"""Region features computed once with a frozen encoder, kept on disk as fp16 and memory-mapped.

Shapes: N photos, P regions, E channels.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import DataLoader

from model.captioner.encoder import Encoder

from . import distributed
from .data import ImageFiles, ImageRecord, records_digest


class FeatureCache:
    """Features (N, P, E) of a list of photos, in the list's order, plus which photos could be read."""

    def __init__(self, features: np.ndarray, ok: np.ndarray) -> None:
        self.features = features  # (N, P, E) float16, usually a read-only memmap
        self.ok = ok  # (N,) bool

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Features of these photos as float32 (B, P, E)."""
        idx = indices.numpy()
        order = np.argsort(idx)  # memmaps read fastest in file order
        rows = self.features[idx[order]]
        out = np.empty_like(rows)
        out[order] = rows
        return torch.from_numpy(out.astype(np.float32))


def cache_path(cache_dir: Path, encoder: Encoder, records: Sequence[ImageRecord]) -> Path:
    return Path(cache_dir) / f"{encoder.name}-{encoder.image_size}px-{len(records)}-{records_digest(records)}.npy"


def build_feature_cache(
    records: Sequence[ImageRecord], encoder: Encoder, cache_dir: str | Path, *, device: torch.device,
    batch_size: int = 64, num_workers: int = 2, progress: bool = True,
) -> FeatureCache:
    """Load the cache for these photos and this encoder, computing it first if absent or incomplete."""
    path = cache_path(Path(cache_dir), encoder, records)
    meta = path.with_suffix(".json")
    if path.is_file() and meta.is_file():
        info = json.loads(meta.read_text())
        if info.get("complete"):
            return FeatureCache(np.load(path, mmap_mode="r"), np.asarray(info["ok"], dtype=bool))
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = encoder.grid_size()
    tmp = path.with_suffix(f".{os.getpid()}.partial.npy")  # two processes filling one cache dir each finish theirs
    try:
        ok = _fill(tmp, records, encoder, (len(records), h * w, encoder.out_channels), device=device,
                   batch_size=batch_size, num_workers=num_workers, progress=progress)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)  # a run that failed or was interrupted leaves no full-size partial file
    bad = [str(r.path) for r, g in zip(records, ok) if not g]
    info = json.dumps({"complete": True, "ok": ok.tolist(), "unreadable": bad, "encoder": encoder.name})
    meta_tmp = meta.with_suffix(f".{os.getpid()}.partial.json")
    meta_tmp.write_text(info)
    meta_tmp.replace(meta)  # whole: another process may be waiting to read it
    return FeatureCache(np.load(path, mmap_mode="r"), ok)


def _fill(tmp: Path, records: Sequence[ImageRecord], encoder: Encoder, shape: tuple[int, int, int], *,
          device: torch.device, batch_size: int, num_workers: int, progress: bool) -> np.ndarray:
    """Encode every photo into a new fp16 file at tmp; which photos could be read (N,)."""
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
    ok = np.zeros(len(records), dtype=bool)
    loader = DataLoader(ImageFiles(records, encoder), batch_size=batch_size, num_workers=num_workers)
    encoder = encoder.to(device).eval()
    done = 0
    with Progress(
        TextColumn("caching features"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(), disable=not progress,
    ) as bar:
        task = bar.add_task("cache", total=len(records))
        for images, good in loader:
            with torch.inference_mode():
                feats = encoder(images.to(device))  # (B, P, E)
            out[done : done + len(images)] = feats.half().cpu().numpy()
            ok[done : done + len(images)] = good.numpy()
            done += len(images)
            bar.update(task, advance=len(images))
    out.flush()
    del out
    return ok


def build_rank_caches(
    records: Sequence[Sequence[ImageRecord]], encoder: Encoder, cache_dir: str | Path, d: distributed.Dist, *,
    device: torch.device, num_workers: int = 2, progress: bool = True,
) -> list[FeatureCache]:
    """One cache per list of records, on every rank: rank 0 builds them while the others wait, then reads."""
    caches: list[FeatureCache] = []
    for rank_turn in (True, False):
        if d.is_main == rank_turn:
            caches = [build_feature_cache(r, encoder, cache_dir, device=device, num_workers=num_workers,
                                          progress=progress and d.is_main) for r in records]
        distributed.barrier(d)
    return caches


class FeaturesByIndex:
    """Region features (B, P, E) of photos by index: from a cache, else through the (frozen) encoder."""

    def __init__(self, encoder: Encoder, records: Sequence[ImageRecord], cache: FeatureCache | None,
                 device: torch.device) -> None:
        self.encoder, self.records, self.cache, self.device = encoder, records, cache, device

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        if self.cache is not None:
            return self.cache.batch(idx)
        photos = [self.encoder.preprocess(self.records[i].path) for i in idx.tolist()]
        with torch.no_grad():
            return self.encoder(torch.stack(photos).to(self.device))  # (B, 3, H, W) -> (B, P, E)
