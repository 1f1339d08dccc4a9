"""`seesay index`: caption new or changed photos in folders and record them in the store.

Unchanged files are skipped by (path, size, mtime), then by content hash; each batch is committed in
one transaction, so an interrupted run (Ctrl-C, kill -9) loses at most the batch in flight and a rerun
carries on without duplicates. Unreadable files are recorded with the reason and retried when changed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from model import Caption, Captioner, ImageError, load_image
from store import Store
from store.photos import (
    NewCaption, add_captions, file_sha256, get_or_add_model, has_caption, image_files, is_unchanged,
    record_failure, touch_photo,
)

from .embedder import SentenceEmbedder


@dataclass
class IndexReport:
    """What one indexing run did, and where its time went."""

    seen: int = 0
    captioned: int = 0
    unchanged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    added: list[tuple[Path, Caption]] = field(default_factory=list)  # what was captioned, in order
    seconds: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "caption": 0.0, "embed": 0.0, "database": 0.0})


def model_identity(captioner: Captioner) -> tuple[str, str]:
    """(name, hash) of a captioner: its checkpoint's recorded name and a hash of its weights' metadata."""
    meta = captioner.metadata
    name = str(meta.get("name") or meta.get("training_data") or "captioner")
    h = hashlib.sha256(repr(sorted((k, str(v)) for k, v in meta.items())).encode())
    h.update(repr(captioner.config.to_dict()).encode())
    return name, h.hexdigest()


def index_folders(
    store: Store, captioner: Captioner, folders: Sequence[str | Path], *, embedder: SentenceEmbedder | None = None,
    batch_size: int = 16, beam_size: int = 3, on_progress: Callable[[int, int], None] | None = None,
    source: str = "folder",
) -> IndexReport:
    """Caption and store every new or changed photo under folders."""
    return index_files(store, captioner, image_files(list(folders)), embedder=embedder, batch_size=batch_size,
                       beam_size=beam_size, on_progress=on_progress, source=source)


def index_files(
    store: Store, captioner: Captioner, files: Sequence[Path], *, embedder: SentenceEmbedder | None = None,
    batch_size: int = 16, beam_size: int = 3, on_progress: Callable[[int, int], None] | None = None,
    source: str = "folder",
) -> IndexReport:
    """Caption and store the photo files among files that are new or changed."""
    report = IndexReport()
    name, digest = model_identity(captioner)
    with store.write() as s:
        model_id = get_or_add_model(s, name, digest).id
    report.seen = len(files)
    pending: list[tuple[Path, str, int, float]] = []
    done = 0

    def flush() -> None:
        nonlocal pending
        if pending:
            _caption_batch(store, captioner, embedder, model_id, pending, beam_size, report, source)
        pending = []

    for path in files:
        done += 1
        try:
            st = path.stat()
        except FileNotFoundError:  # vanished between listing and reading
            continue
        t = time.perf_counter()
        with store.read() as s:
            unchanged = is_unchanged(s, str(path), st.st_size, st.st_mtime)
        if unchanged:
            report.unchanged += 1
            report.seconds["database"] += time.perf_counter() - t
        else:
            sha = file_sha256(path)
            with store.read() as s:
                known = has_caption(s, sha, model_id)
            if known:  # same bytes under a new name, or touched: no need to caption again
                with store.write() as s:
                    touch_photo(s, sha, str(path), st.st_size, st.st_mtime)
                report.unchanged += 1
            else:
                pending.append((path, sha, st.st_size, st.st_mtime))
            report.seconds["database"] += time.perf_counter() - t
        if len(pending) >= batch_size:
            flush()
        if on_progress:
            on_progress(done, len(files))
    flush()
    return report


def _caption_batch(store, captioner, embedder, model_id, pending, beam_size, report, source) -> None:
    t = time.perf_counter()
    images, good = [], []
    failures = []
    for path, sha, size, mtime in pending:
        try:
            images.append(load_image(path))
            good.append((path, sha, size, mtime))
        except ImageError as exc:
            failures.append((str(path), size, mtime, str(exc).split(": ", 1)[-1]))
    report.seconds["decode"] += time.perf_counter() - t
    t = time.perf_counter()
    caps = captioner.caption(images, beam_size=beam_size) if images else []
    report.seconds["caption"] += time.perf_counter() - t
    t = time.perf_counter()
    vectors = embedder.embed([c.text for c in caps]) if embedder and caps else None
    report.seconds["embed"] += time.perf_counter() - t
    items = [
        NewCaption(str(path), sha, size, mtime, img.width, img.height, cap.text, cap.confidence,
                   vectors[i].tobytes() if vectors is not None else None, source)
        for i, ((path, sha, size, mtime), img, cap) in enumerate(zip(good, images, caps))
    ]
    t = time.perf_counter()
    with store.write() as s:  # one transaction per batch
        report.captioned += add_captions(s, model_id, items)
        for f in failures:
            record_failure(s, *f)
    report.seconds["database"] += time.perf_counter() - t
    report.failed += [(f[0], f[3]) for f in failures]
    report.added += [(path, cap) for (path, *_), cap in zip(good, caps)]
