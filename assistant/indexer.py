"""Describing photo files into the index: `seesay index`, and the folder watcher's work.

Unchanged files are passed over by (path, size, mtime), then known content by hash (a renamed or copied
photo is linked, not described again). Each file is read once: its bytes are hashed and those same bytes
decoded, so the hash stored is always that of the picture described (hashing the file and then decoding it
stored a picture written over it in between under the old picture's hash). Each batch is one transaction,
so an interrupted run loses at most the batch in flight and a rerun carries on without duplicates. A file
that cannot be read is recorded with the reason and tried again only once it changes. A photo that fails
while being described is that photo's failure alone: the batch is described again one photo at a time, the
one that fails is recorded and tried again on the next run, and the rest go on (issue 27). Files gone from
an indexed folder are forgotten, but only from folders that were read: an unreadable folder keeps what the
index holds in it.
Photos are read, hashed and decoded on a worker thread while the previous batch is being described, and as
soon as a batch is decoded the object detector (the longest part of describing) starts on it on a thread of
its own, so that it works while the previous batch is captioned, composed, embedded and stored (its own
thread rather than the describer's, which the app's camera shares: a frame never waits behind a batch of
photos).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from model.images import FileChangedError, ImageError, load_image_bytes, read_image_file
from model.sentence_embedder import SentenceEmbedder
from store import Entry, Failed, FileInfo, Link, Store

from .folders import index_names, recorded_under, regular_file, walk_photos

PHASES = ("decode", "describe", "embed", "database")
# A file written while its bytes were being read: they may be part old, part new, so they are not described.
CHANGED = "changed while being read; read again on the next run"
# The most bytes of files read and hashed before the index is asked which of them it knows: one question for a
# batch of small photos (asked photo by photo, the questions cost more than reading and decoding a 224 px
# photo), while a batch of 15 MB photos is never all in memory at once.
READ_AHEAD_BYTES = 32 * 2**20


@dataclass
class IndexReport:
    """What one indexing run did, and where its time went."""

    seen: int = 0
    described: int = 0
    unchanged: int = 0
    linked: int = 0  # known photos under a new name, or copies
    forgotten: int = 0  # files gone from the folders since the last run
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), this run's new failures
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, what was left out), e.g. its text
    added: list[tuple[Path, object]] = field(default_factory=list)  # (path, Description), in order
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))


def model_identity(describer) -> tuple[str, str]:
    """(name, hash) of what describes photos: the checkpoint's recorded name, a hash of its metadata and
    config, and the describer's own version (a new way of composing sentences is a new model version)."""
    captioner = describer.captioner
    meta = captioner.metadata
    name = str(meta.get("name") or meta.get("training_data") or "captioner")
    h = hashlib.sha256(repr(sorted((k, str(v)) for k, v in meta.items())).encode())
    h.update(repr(captioner.config.to_dict()).encode())
    h.update(str(getattr(describer, "version", "")).encode())
    h.update(b"reads text" if getattr(describer, "reader", None) is not None else b"")
    return name, h.hexdigest()


def index_folders(
    store: Store, describer, folders: Sequence[str | Path], *, embedder: SentenceEmbedder | None = None,
    batch_size: int = 16, beam_size: int = 3, on_progress: Callable[[int, int], None] | None = None,
    source: str = "folder",
) -> IndexReport:
    """Describe every new or changed photo under folders, and forget the files that are gone."""
    listed = list(walk_photos(folders))
    present = {info.path for _, info, _ in listed if info is not None}
    unread = [n for path, info, _ in listed if info is None for n in index_names(path)]  # not known to be gone
    report = index_files(store, describer, listed, embedder=embedder, batch_size=batch_size, beam_size=beam_size,
                         on_progress=on_progress, source=source)
    t = time.perf_counter()  # after the new names are linked, so that a renamed photo keeps its description
    report.forgotten = store.forget_missing(recorded_under(store, folders), present, keep=unread)
    store.drop_orphans()
    report.seconds["database"] += time.perf_counter() - t
    return report


def forget_folders(store: Store, folders: Sequence[str | Path]) -> int:
    """Forget every file recorded under folders (a folder deleted, or no longer wanted); returns how many."""
    count = store.forget(sorted(recorded_under(store, folders)))
    store.drop_orphans()
    return count


def index_paths(store: Store, describer, paths: Sequence[Path], **kwargs) -> IndexReport:
    """index_files for paths named one by one (the watcher's settled files)."""
    return index_files(store, describer, [(p, *regular_file(p)) for p in paths], **kwargs)


def index_files(
    store: Store, describer, files: Sequence[tuple[Path, FileInfo | None, str | None]], *,
    embedder: SentenceEmbedder | None = None, batch_size: int = 16, beam_size: int = 3,
    on_progress: Callable[[int, int], None] | None = None, source: str = "folder",
) -> IndexReport:
    """Describe and store the files that are new or changed: (path, FileInfo, reason to skip or None) each."""
    report = IndexReport(seen=len(files))
    t = time.perf_counter()
    model_id = store.model_id(*model_identity(describer))
    unchanged = store.unchanged([info for _, info, _ in files if info is not None], model_id)
    report.seconds["database"] += time.perf_counter() - t
    work = _Batches(store, describer, model_id, embedder, beam_size, source, report)
    with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="seesay-decode") as decoder,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="seesay-detect-ahead") as ahead):
        work.decoder = decoder
        if (detections := getattr(describer, "detections", None)) is not None:
            work.detect = lambda images: ahead.submit(detections, images)
        for done, (path, info, why) in enumerate(files, start=1):
            if info is not None and info.path in unchanged:
                report.unchanged += 1
            elif why is not None or info is None:
                if info is not None:
                    work.fail(path, info, why or "cannot be read")
                else:
                    report.failed.append((str(path), why or "cannot be read"))
            else:
                work.take(path, info)
            if len(work.pending) >= batch_size:
                work.flush()
            if on_progress:
                on_progress(done, len(files))
        work.flush()
        work.finish()
    return report


class _Batches:
    """Collects files into batches; decodes a batch on the worker thread while the last one is described."""

    def __init__(self, store, describer, model_id, embedder, beam_size, source, report: IndexReport) -> None:
        self.store, self.describer, self.model_id, self.embedder = store, describer, model_id, embedder
        self.beam_size, self.source, self.report = beam_size, source, report
        self.pending: list[tuple[Path, FileInfo]] = []
        self.links: list[Link] = []
        self.failures: list[Failed] = []
        self.decoder: ThreadPoolExecutor | None = None
        self.detect: Callable[[list], Future] | None = None  # starts the detector on decoded photos
        self.decoding: tuple[list, Future] | None = None

    def fail(self, path: Path, info: FileInfo, why: str, *, retry: bool = False) -> None:
        self.failures.append(Failed(info, why, retry=retry))
        self.report.failed.append((str(path), why))

    def take(self, path: Path, info: FileInfo) -> None:
        self.pending.append((path, info))

    def known(self, shas: list[str]) -> set[str]:
        """The hashes among shas whose content this model has described (asked from the decoding thread)."""
        return self.store.described(shas, self.model_id) if shas else set()

    def flush(self) -> None:
        """Start reading and decoding the pending batch; describe and store the one decoded before it."""
        todo, self.pending = self.pending, []
        decoding = self.decoder.submit(_decode, todo, self.known, self.detect) if todo else None
        previous, self.decoding = self.decoding, (todo, decoding) if todo else None
        if previous is not None:
            self._describe(*previous)
        elif self.links or self.failures:
            self._store([])

    def finish(self) -> None:
        if self.decoding is not None:
            previous, self.decoding = self.decoding, None
            self._describe(*previous)
        elif self.links or self.failures:
            self._store([])

    def _describe(self, todo: list, decoding: Future) -> None:
        decoded, seconds, detections = decoding.result()  # waits only when decoding is slower than describing
        self.report.seconds["decode"] += seconds
        good = []
        for (path, info), read in zip(todo, decoded):
            if isinstance(read, str):
                self.fail(path, info, read, retry=read == CHANGED)
            elif read[1] is None:  # content described before, under another name or in another file
                self.links.append(Link(info, read[0], self.source))
                self.report.linked += 1
            else:
                good.append((path, info, *read))
        reader = getattr(self.describer, "reader", None)
        for path, _, _, image in good if hasattr(reader, "unreadable") else []:
            if why := reader.unreadable(image.size):
                self.report.notes.append((str(path), why))
        t = time.perf_counter()
        good, descriptions = self._described(good, detections)
        self.report.seconds["describe"] += time.perf_counter() - t
        t = time.perf_counter()
        # Semantic search reads the caption the describer kept (its objects supported, its unsure details too:
        # ranking is not saying) or else the sentence; never a caption the describer rejected. Flickr8k test,
        # precision@20 (benchmarks/search_precision.py): semantic 0.52 against 0.39 for the terse sentence.
        texts = [d.kept_caption or d.sentence for d in descriptions]
        vectors = self.embedder.embed(texts) if self.embedder is not None and texts else None
        self.report.seconds["embed"] += time.perf_counter() - t
        entries = []
        for i, ((path, info, sha, image), d) in enumerate(zip(good, descriptions)):
            entries.append(Entry(
                info, sha, image.width, image.height, d.caption.text, d.caption.confidence, sentence=d.sentence,
                objects="; ".join(d.index_terms()), reading="\n".join(d.text_lines),
                embedding=vectors[i].tobytes() if vectors is not None else None, source=self.source))
            self.report.added.append((path, d))
        self._store(entries)

    def _described(self, good: list, detections: Future | None = None) -> tuple[list, list]:
        """(photos, descriptions) of those photos that could be described; one that raises is its own
        failure, recorded to be tried again on the next run, and the others are described one by one.
        detections: the detector's work on exactly these photos, started when they were decoded; where it
        fails, it fails inside describe, as the batch's failure."""
        if not good:
            return [], []
        try:
            ahead = {"detections": detections} if detections is not None else {}  # any describer: only ours runs ahead
            return good, self.describer.describe([g[3] for g in good], beam_size=self.beam_size, **ahead)
        except Exception as exc:  # noqa: BLE001 - whatever one photo does to a model, the batch goes on
            if len(good) == 1:
                path, info, _, _ = good[0]
                self.fail(path, info, f"could not be described ({type(exc).__name__}: {exc})", retry=True)
                return [], []
        out, descriptions = [], []
        for g in good:
            kept, said = self._described([g])
            out += kept
            descriptions += said
        return out, descriptions

    def _store(self, entries: list[Entry]) -> None:
        t = time.perf_counter()
        added = self.store.add(self.model_id, entries, self.links, self.failures)
        self.report.described += added
        self.report.linked += len(entries) - added  # copies in one batch, or described meanwhile by another run
        self.links, self.failures = [], []
        self.report.seconds["database"] += time.perf_counter() - t


def _decode(todo: list, known: Callable[[list[str]], set[str]], detect: Callable[[list], Future] | None = None,
            ) -> tuple[list, float, Future | None]:
    """Each file read once: (hash, RGB image) of its bytes, (hash, None) where known(hashes) says that content is
    described already, or the reason it cannot be read; the seconds it took; and the detector's work on the
    images, started by detect, or None. The bytes hashed are the bytes decoded."""
    t = time.perf_counter()
    out = []
    for group in _read_ahead(todo):
        out += _decode_group(group, known)
    seconds = time.perf_counter() - t
    images = [r[1] for r in out if not isinstance(r, str) and r[1] is not None]
    return out, seconds, detect(images) if detect is not None and images else None


def _read_ahead(todo: list) -> Iterator[list]:
    """todo in runs of files whose sizes, as listed, add up to at most READ_AHEAD_BYTES (or of one file)."""
    group, size = [], 0
    for path, info in todo:
        if group and size + info.size > READ_AHEAD_BYTES:
            yield group
            group, size = [], 0
        group.append((path, info))
        size += info.size
    if group:
        yield group


def _decode_group(group: list, known: Callable[[list[str]], set[str]]) -> list:
    """_decode of one run of files: all read and hashed, the index asked once, then each decoded in turn."""
    read = [_read(path) for path, _ in group]  # (hash, bytes), or the reason
    described = known([r[0] for r in read if not isinstance(r, str)])
    out = []
    for i, (path, _) in enumerate(group):
        r, read[i] = read[i], None  # a file's bytes are let go as soon as it is decoded
        out.append(r if isinstance(r, str) else (r[0], None) if r[0] in described else _image(path, *r))
    return out


def _read(path: Path) -> tuple[str, bytes] | str:
    """(hash, bytes) of one file, or the reason it cannot be read; a link put in its place since it was listed
    is refused."""
    try:
        data = read_image_file(path, follow_links=False)
    except FileChangedError:
        return CHANGED
    except ImageError as exc:
        return _reason(exc, path)
    return hashlib.sha256(data).hexdigest(), data


def _image(path: Path, sha: str, data: bytes) -> tuple[str, object] | str:
    """(hash, RGB image) of the bytes read from path, or the reason they are not a photo."""
    try:
        return sha, load_image_bytes(data, path)
    except ImageError as exc:
        return _reason(exc, path)


def _reason(exc: ImageError, path: Path) -> str:
    """The reason alone, as the index records it (the message names the file)."""
    return str(exc).split(": ", 1)[-1] if str(exc).startswith(os.fspath(path)) else str(exc)
