"""The Store: one index file, everything written to it and the three kinds of search.

Writes are a small repository API, each call one transaction: which files need describing, add a batch
of descriptions (with the files that turned out to hold photos already described, and the failures),
forget files that are gone. Callers never see a session.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from . import embedding_cache
from .database import StoreError, open_engines, reason
from .schema import CaptionRecord, Failure, File, ModelVersion, Photo, utcnow
from .search import EmbeddingIndex, Hit, Match, fuse, text_search

RETRY_SIZE = -1  # the size recorded with a failure that is to be tried again, whatever the file's size


@dataclass(frozen=True)
class FileInfo:
    """A file as seen on disk: where, how big, when last changed."""

    path: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Entry:
    """A described photo, ready to store."""

    file: FileInfo
    sha256: str
    width: int | None
    height: int | None
    caption: str
    confidence: float
    sentence: str = ""
    objects: str = ""
    reading: str = ""
    embedding: bytes | None = None
    source: str = "folder"


@dataclass(frozen=True)
class Link:
    """A file whose content is a photo already described: a rename, a copy, or a file touched."""

    file: FileInfo
    sha256: str
    source: str = "folder"


@dataclass(frozen=True)
class Failed:
    """A file that could not be described, and why; retry: try it again on the next run even unchanged
    (it failed in the describing, not in the file)."""

    file: FileInfo
    reason: str
    retry: bool = False


class Store:
    """A seesay index file.

    writable=False opens it for searching only (a read-only folder is fine); create=False refuses to make
    a new one (NoIndexError), so that a search never leaves an empty index behind.
    """

    def __init__(self, path: str | os.PathLike, *, writable: bool = True, create: bool = True) -> None:
        self.path = Path(path)
        self._reader, self._writer = open_engines(self.path, writable=writable, create=create)
        self._embeddings: tuple[bytes, EmbeddingIndex] | None = None  # (token, index)
        self._identity = self._file_identity()

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def close(self) -> None:
        self._reader.dispose()
        if self._writer is not None:
            self._writer.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._writer is None:
            raise StoreError(f"{self.path} was opened for searching only")
        # SQLite goes on writing into a file deleted or replaced under it, and every row would be lost
        # with it: such a write is refused instead (issue 27: "2000 described", nothing saved).
        self._check_file()
        try:
            with self._writer.begin() as conn:
                yield conn
                self._check_file()  # deleted during this transaction: roll it back and say so
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(f"could not write to {self.path}: {reason(exc)}") from None

    def _check_file(self) -> None:
        if self._file_identity() != self._identity:
            raise StoreError(f"{self.path} was deleted or replaced while in use; nothing more is saved to it")

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with Session(self._reader) as session:
                yield session
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(f"could not read {self.path}: {reason(exc)}") from None

    # --- writing -------------------------------------------------------------------------------------

    def model_id(self, name: str, sha256: str) -> int:
        """The id of the model with this weights hash, recorded now if new."""
        with self._write() as conn:
            conn.execute(insert(ModelVersion).values(name=name, sha256=sha256, created=utcnow())
                         .on_conflict_do_nothing(index_elements=["sha256"]))
            return conn.execute(select(ModelVersion.id).where(ModelVersion.sha256 == sha256)).scalar_one()

    def unchanged(self, files: Sequence[FileInfo], model_id: int) -> set[str]:
        """Paths among files already described by this model, or already failed, at the same size and mtime."""
        paths = [f.path for f in files]
        with self._read() as s:
            done = {(r.path, r.size, r.mtime) for r in s.execute(
                select(File.path, File.size, File.mtime).join(CaptionRecord, CaptionRecord.photo_id == File.photo_id)
                .where(File.path.in_(paths), CaptionRecord.model_id == model_id))}
            done |= {(r.path, r.size, r.mtime) for r in s.execute(
                select(Failure.path, Failure.size, Failure.mtime).where(Failure.path.in_(paths)))}
        return {f.path for f in files if (f.path, f.size, f.mtime) in done}

    def described(self, sha256s: Iterable[str], model_id: int) -> set[str]:
        """The content hashes among sha256s that this model has described."""
        with self._read() as s:
            return set(s.scalars(select(Photo.sha256).join(CaptionRecord)
                                 .where(Photo.sha256.in_(list(sha256s)), CaptionRecord.model_id == model_id)))

    def add(self, model_id: int, entries: Sequence[Entry] = (), links: Sequence[Link] = (),
            failures: Sequence[Failed] = ()) -> int:
        """Store a batch in one transaction; returns how many new descriptions were added.

        A file now holding other content than before (overwritten) is moved to its new photo; a photo left with
        no file is forgotten by drop_orphans().
        """
        added = 0
        with self._write() as conn:
            for e in entries:
                conn.execute(insert(Photo).values(sha256=e.sha256, width=e.width, height=e.height,
                                                  first_seen=utcnow()).on_conflict_do_nothing(index_elements=["sha256"]))
                photo_id = conn.execute(select(Photo.id).where(Photo.sha256 == e.sha256)).scalar_one()
                added += conn.execute(
                    insert(CaptionRecord).values(
                        photo_id=photo_id, model_id=model_id, text=e.caption, confidence=e.confidence,
                        sentence=e.sentence, objects=e.objects, reading=e.reading, embedding=e.embedding,
                        created=utcnow(),
                    ).on_conflict_do_nothing(index_elements=["photo_id", "model_id"])
                ).rowcount
            all_links = [*links, *(Link(e.file, e.sha256, e.source) for e in entries)]
            self._link(conn, all_links)
            for f in failures:
                size = RETRY_SIZE if f.retry else f.file.size  # never matches the file: `unchanged` passes it
                conn.execute(insert(Failure).values(path=f.file.path, size=size, mtime=f.file.mtime,
                                                    reason=f.reason, seen=utcnow())
                             .on_conflict_do_update(index_elements=["path"], set_={
                                 "size": size, "mtime": f.file.mtime, "reason": f.reason, "seen": utcnow()}))
            if failures:  # a file that fails now no longer holds the photo it held
                self._unlink(conn, [f.file.path for f in failures])
        return added

    def _link(self, conn: Connection, links: Sequence[Link]) -> None:
        if not links:
            return
        paths = [link.file.path for link in links]
        for link in links:
            photo_id = conn.execute(select(Photo.id).where(Photo.sha256 == link.sha256)).scalar_one()
            values = {"photo_id": photo_id, "size": link.file.size, "mtime": link.file.mtime, "last_seen": utcnow()}
            conn.execute(insert(File).values(path=link.file.path, source=link.source, **values)
                         .on_conflict_do_update(index_elements=["path"], set_=values))
        conn.execute(delete(Failure).where(Failure.path.in_(paths)))

    @staticmethod
    def _unlink(conn: Connection, paths: Sequence[str]) -> int:
        return conn.execute(delete(File).where(File.path.in_(paths))).rowcount

    def forget(self, paths: Sequence[str]) -> int:
        """Forget files that no longer exist (and their failures); returns how many files were forgotten.

        Their photos stay (unseen by search) until drop_orphans(): a file moved away may be a rename whose
        new name has not been indexed yet, and its description is kept for it.
        """
        if not paths:
            return 0
        with self._write() as conn:
            conn.execute(delete(Failure).where(Failure.path.in_(list(paths))))
            return self._unlink(conn, list(paths))

    def drop_orphans(self) -> int:
        """Forget photos (and their descriptions) that no file holds any more; returns how many."""
        with self._write() as conn:
            return conn.execute(delete(Photo).where(Photo.id.not_in(select(File.photo_id)))).rowcount

    def forget_missing(self, recorded: set[str], present: set[str], keep: Sequence[str] = ()) -> int:
        """Forget the recorded files (those paths_under the folders read) that are not in present (deleted or
        moved away since last seen), except those at or under a path in keep (a folder or file that could not
        be read, so not known gone)."""
        kept = tuple(keep) + tuple(k.rstrip(os.sep) + os.sep for k in keep)
        gone = {p for p in recorded - present if not (p in keep or p.startswith(kept))}
        return self.forget(sorted(gone))

    def paths_under(self, roots: Sequence[str | os.PathLike]) -> set[str]:
        """Every recorded path (files and failures) inside one of the roots (index names, compared as text)."""
        prefixes = [os.path.abspath(r).rstrip(os.sep) + os.sep for r in roots]
        with self._read() as s:
            paths = set(s.scalars(select(File.path))) | set(s.scalars(select(Failure.path)))
        return {p for p in paths if p.startswith(tuple(prefixes))}

    # --- reading -------------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        with self._read() as s:
            return {
                "photos": s.scalar(select(func.count(func.distinct(File.photo_id)))) or 0,  # held by a file
                "files": s.scalar(select(func.count(File.id))) or 0,
                "captions": s.scalar(select(func.count(CaptionRecord.id))) or 0,
                "models": s.scalar(select(func.count(ModelVersion.id))) or 0,
                "failures": s.scalar(select(func.count(Failure.id))) or 0,
            }

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that could not be described."""
        with self._read() as s:
            return [(r.path, r.reason) for r in s.execute(select(Failure.path, Failure.reason).order_by(Failure.path))]

    def _hits(self, s: Session, matches: Sequence[Match], limit: int) -> list[Hit]:
        """Matches as results: one per file that holds the photo, each photo once, best first."""
        if not matches:
            return []
        ids = [m.caption_id for m in matches]
        rows = s.execute(
            select(CaptionRecord.id, CaptionRecord.photo_id, CaptionRecord.text, CaptionRecord.sentence,
                   CaptionRecord.reading, File.path)
            .join(File, File.photo_id == CaptionRecord.photo_id).where(CaptionRecord.id.in_(ids)).order_by(File.path)
        ).all()
        by_caption: dict[int, list] = {}
        for r in rows:
            by_caption.setdefault(r.id, []).append(r)
        hits, photos = [], set()
        for m in matches:
            found = by_caption.get(m.caption_id, [])
            if not found or found[0].photo_id in photos:  # gone since, or the photo's other model matched first
                continue
            photos.add(found[0].photo_id)
            hits += [Hit(r.path, r.sentence or r.text, r.reading, m.score, r.photo_id, r.id) for r in found]
            if len(hits) >= limit:
                break
        return hits[:limit]

    def text_search(self, query: str, limit: int = 10) -> list[Hit]:
        with self._read() as s:
            return self._hits(s, text_search(s, query, limit * 2), limit)

    def embedding_index(self) -> EmbeddingIndex:
        """The embedding matrix, read again only when an embedding was added, removed or changed since.

        It comes from the cache file beside the index while that holds the index's embedding token, which
        triggers renew on every such change (store/embedding_cache.py); else from the rows, in the same
        transaction as the token, and the cache is written again.
        """
        with self._read() as s:
            # The driver's own cursor: at 100k captions, SQLAlchemy's rows took most of a second (issue 29).
            raw = s.connection().connection.driver_connection
            token = raw.execute("SELECT token FROM embedding_version").fetchone()[0]
            if self._embeddings is None or self._embeddings[0] != token:
                rows = lambda: raw.execute(
                    "SELECT id, embedding FROM captions WHERE embedding IS NOT NULL ORDER BY id")
                try:
                    self._embeddings = (token, EmbeddingIndex(*embedding_cache.matrix(rows, self.path, token)))
                except ValueError as exc:  # blobs of different sizes: a traceback before
                    raise self._damaged(exc) from None
        return self._embeddings[1]

    def _nearest(self, query_embedding: np.ndarray, limit: int) -> list:
        """The embedding index's nearest captions; StoreError where the stored embeddings are damaged (blobs
        of another size than the query's; of different sizes, embedding_index), which raised a traceback."""
        index = self.embedding_index()
        if len(index) and index.matrix.shape[1] != np.size(query_embedding):
            raise self._damaged(f"{index.matrix.shape[1]} numbers each, where the sentence model gives "
                                f"{np.size(query_embedding)}")
        return index.search(query_embedding, limit)

    def _damaged(self, exc: ValueError | str) -> StoreError:
        return StoreError(f"the sentence embeddings in {self.path} are damaged ({exc}); search with --mode text")

    def semantic_search(self, query_embedding: np.ndarray, limit: int = 10) -> list[Hit]:
        matches = self._nearest(query_embedding, limit * 2)
        with self._read() as s:
            return self._hits(s, matches, limit)

    def hybrid_search(self, query: str, query_embedding: np.ndarray, limit: int = 10) -> list[Hit]:
        """Text and semantic rankings fused by reciprocal rank.

        For words that a great many captions share, the text side only marks which of the semantic
        candidates have them (see `text_search`), which keeps such queries fast on a large index.
        """
        depth = max(50, limit * 5)
        semantic = self._nearest(query_embedding, depth * 4)
        with self._read() as s:
            text = text_search(s, query, depth, among=semantic)
            return self._hits(s, fuse([text, semantic[:depth]], limit * 2), limit)

    def export_rows(self) -> list[dict]:
        """Every description of every file, for export."""
        with self._read() as s:
            rows = s.execute(
                select(File.path, Photo.sha256, Photo.width, Photo.height, CaptionRecord.text, CaptionRecord.confidence,
                       CaptionRecord.sentence, CaptionRecord.objects, CaptionRecord.reading, ModelVersion.name,
                       CaptionRecord.created)
                .join(Photo, Photo.id == File.photo_id).join(CaptionRecord, CaptionRecord.photo_id == Photo.id)
                .join(ModelVersion, ModelVersion.id == CaptionRecord.model_id).order_by(File.path)
            ).all()
        return [
            {"path": r[0], "sha256": r[1], "width": r[2], "height": r[3], "caption": r[4],
             "confidence": round(r[5], 4), "sentence": r[6], "objects": r[7], "text": r[8], "model": r[9],
             "created": r[10].isoformat()}
            for r in rows
        ]
