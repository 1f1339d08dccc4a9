"""Watching folders: photos that appear or change are captioned, announced and indexed once.

watchdog reports file events; a file is only read once its size and mtime have stopped changing for
`settle` seconds, so a photo still being copied is not read half-written. Hidden and temporary files are
ignored, and a photo already in the store (same path, size and mtime, or same content) is not captioned
again. At start, a catch-up scan indexes whatever changed while seesay was not running.

Nothing is dropped (issue 27): photos that could not be saved (the index locked by another program, say)
go back to waiting and are saved once it can be written; a catch-up scan or a forgetting that failed is
tried again; and no single file or event, a link to itself included, can end the worker thread.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from model.sentence_embedder import SentenceEmbedder
from store import Store, StoreError

from .folders import index_names, is_photo_name, recorded_under
from .indexer import IndexReport, index_folders, index_paths
from .live import Observation

RETRY_SECONDS = 5.0  # how often a catch-up scan that could not use the index is tried again


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("deleted", "moved"):  # gone from here: the index forgets it (or all under it)
            self.watcher.gone(_path(event.src_path), folder=event.is_directory)
        if event.is_directory or event.event_type not in ("created", "modified", "moved", "closed"):
            return
        self.watcher.notice(_path(getattr(event, "dest_path", "") or event.src_path))


def _path(p: str | bytes) -> Path:
    return Path(p if isinstance(p, str) else p.decode(errors="surrogateescape"))


class FolderWatcher:
    """Watches folders and indexes settled photos on a worker thread."""

    def __init__(
        self, store: Store, describer, folders: Sequence[str | Path], *,
        on_description: Callable[[Observation], None] | None = None,
        on_status: Callable[[str], None] | None = None, embedder: SentenceEmbedder | None = None,
        settle: float = 1.0, beam_size: int = 3, catch_up: bool = True,
    ) -> None:
        self.store = store
        self.describer = describer
        self.folders = [Path(os.path.abspath(f)) for f in folders]  # events and the index speak absolute paths
        self.on_description = on_description or (lambda d: None)
        self.on_status = on_status or (lambda message: None)
        self.embedder = embedder
        self.settle = settle
        self.beam_size = beam_size
        self.catch_up = catch_up
        self._pending: dict[Path, tuple[tuple[int, float], float, float]] = {}  # path: (size, mtime), since, noticed
        self._gone: list[tuple[Path, bool]] = []  # (path, is a folder) deleted or moved away, to forget
        self._tidy = False  # files were forgotten: photos may be left without a file
        self._catch_up_due = catch_up  # the catch-up scan has yet to succeed
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer = Observer()
        self._thread = threading.Thread(target=self._run, name="seesay-watch", daemon=True)
        self.described = 0
        self.failed: list[tuple[str, str]] = []
        self.ready = threading.Event()  # set once the catch-up scan is done and events are being handled

    def start(self) -> FolderWatcher:
        for folder in self.folders:
            if not folder.is_dir():
                self.on_status(f"Cannot watch {folder}: it is not a folder.")
                continue
            self._observer.schedule(_Events(self), str(folder), recursive=True)
        self._observer.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._observer.stop()
        self._observer.join(timeout=5)
        self._thread.join(timeout=30)

    def notice(self, path: Path) -> None:
        """A file event: (re)start its settling clock."""
        if is_photo_name(path.name) and not self._in_hidden_folder(path):
            with self._lock:
                noticed = self._pending.get(path, (None, 0.0, time.time()))[2]
                self._pending[path] = ((-1, -1.0), time.monotonic(), noticed)

    def gone(self, path: Path, folder: bool = False) -> None:
        """A file or folder deleted or moved away: forget it (on the worker thread, which owns the writes)."""
        with self._lock:
            self._pending.pop(path, None)
            self._gone.append((path, folder))

    def _forget_gone(self) -> None:
        with self._lock:
            gone, self._gone = self._gone, []
        if not gone:
            return
        files = [n for p, folder in gone if not folder and not p.exists() for n in index_names(p)]
        folders = [p for p, folder in gone if folder and not p.exists()]
        try:
            count = self.store.forget(files)
            if folders:
                count += self.store.forget(sorted(recorded_under(self.store, folders)))
        except StoreError as exc:
            self.on_status(f"Could not update the photo index: {exc}; will try again.")
            with self._lock:
                self._gone[:0] = gone
            return
        if count:
            self._tidy = True
            self.on_status(f"{count} photo{'s' * (count > 1)} gone from the watched folders and forgotten.")

    def _drop_orphans(self) -> None:
        """Once nothing is waiting to be read, forget photos no file holds (a rename has been linked by now)."""
        if self._tidy and self.pending == 0:
            self._tidy = False
            try:
                self.store.drop_orphans()
            except StoreError as exc:
                self.on_status(f"Could not update the photo index: {exc}")

    def _in_hidden_folder(self, path: Path) -> bool:
        for folder in self.folders:
            try:
                return any(part.startswith(".") for part in path.relative_to(folder).parts[:-1])
            except ValueError:
                continue
        return False

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _settled(self) -> list[tuple[Path, float]]:
        """Pending files whose size and mtime have not changed for `settle` seconds."""
        now, out = time.monotonic(), []
        with self._lock:
            for path, (stamp, since, noticed) in list(self._pending.items()):
                try:
                    st = os.lstat(path)  # a link is not followed (a link to itself raised here, issue 27)
                except OSError:  # deleted or renamed away before it settled, or no longer reachable
                    del self._pending[path]
                    continue
                current = (st.st_size, st.st_mtime)
                if current != stamp:
                    self._pending[path] = (current, now, noticed)
                elif now - since >= self.settle and (st.st_size > 0 or not stat.S_ISREG(st.st_mode)):
                    # an empty file may still be being written; a FIFO or socket is said to be skipped
                    out.append((path, noticed))
                    del self._pending[path]
        return out

    def _retry_later(self, settled: list[tuple[Path, float]]) -> None:
        """Photos that could not be saved wait again, to be read once more after they settle."""
        now = time.monotonic()
        with self._lock:
            for path, noticed in settled:
                self._pending.setdefault(path, ((-1, -1.0), now, noticed))

    def _report(self, report: IndexReport, noticed: dict[Path, float]) -> None:
        self.described += len(report.added)
        self.failed += report.failed
        for path, reason in report.failed:
            self.on_status(f"Could not read {Path(path).name}: {reason}")
        for path, note in report.notes:
            self.on_status(f"{Path(path).name}: {note}")
        for path, description in report.added:
            self.on_description(Observation(description, str(path), None, noticed.get(path, time.time()), time.time()))

    def _catch_up(self) -> None:
        try:
            report = index_folders(self.store, self.describer, [f for f in self.folders if f.is_dir()],
                                   embedder=self.embedder, beam_size=self.beam_size, source="watch")
        except StoreError as exc:
            self.on_status(f"The photo index cannot be used now: {exc}; will try again.")
            return
        except Exception:
            self._catch_up_due = False  # not the index's state: another try would fail the same way
            raise
        self._catch_up_due = False
        self._report(report, {})
        if report.added:
            self.on_status(f"Caught up: {len(report.added)} new photos described.")

    def _run(self) -> None:
        if self._catch_up_due:
            self._guarded(self._catch_up)
        self.ready.set()
        retry_at = time.monotonic() + RETRY_SECONDS
        while not self._stop.wait(0.2):
            if self._catch_up_due and time.monotonic() >= retry_at:
                retry_at = time.monotonic() + RETRY_SECONDS
                self._guarded(self._catch_up)
            self._guarded(self._step)

    def _guarded(self, work: Callable[[], None]) -> None:
        """Run one piece of the worker's work; whatever it raises is said and the watch goes on."""
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - no single file or event may end the watch
            self.on_status(f"Watching hit a problem and goes on: {type(exc).__name__}: {exc}")

    def _step(self) -> None:
        """Forget what went, then read and save the photos that have settled."""
        self._forget_gone()
        settled = self._settled()
        if not settled:
            self._drop_orphans()
            return
        try:
            report = index_paths(self.store, self.describer, [p for p, _ in settled], embedder=self.embedder,
                                 beam_size=self.beam_size, source="watch")
        except StoreError as exc:  # locked or damaged database: say so, keep the photos, try again
            self.on_status(f"Could not save to the photo index: {exc}; {len(settled)} photo"
                           f"{'s' * (len(settled) > 1)} will be tried again.")
            self._retry_later(settled)
            return
        self._tidy = True  # an overwritten file leaves its old photo without a file
        self._report(report, dict(settled))
