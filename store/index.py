"""The Store facade: one index file, its sessions, and the three kinds of search."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session

from .database import StoreError, open_engine, session_factory
from .schema import Caption, Failure, ModelVersion, Photo
from .search import EmbeddingIndex, Hit, fuse, text_search


class Store:
    """A seesay index file. Writes go through write(); reads through read()."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.engine = open_engine(self.path)
        self._sessions = session_factory(self.engine)
        self._embeddings: tuple[int, EmbeddingIndex] | None = None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose work commits as one transaction, or rolls back on error."""
        try:
            with self._sessions() as session, session.begin():
                yield session
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(f"could not write to {self.path}: {exc.orig if exc.orig else exc}") from None

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with self._sessions() as session:
                yield session
        except (OperationalError, DatabaseError) as exc:
            raise StoreError(f"could not read {self.path}: {exc.orig if exc.orig else exc}") from None

    def counts(self) -> dict[str, int]:
        with self.read() as s:
            return {
                "photos": s.scalar(select(func.count(Photo.id))) or 0,
                "captions": s.scalar(select(func.count(Caption.id))) or 0,
                "models": s.scalar(select(func.count(ModelVersion.id))) or 0,
                "failures": s.scalar(select(func.count(Failure.id))) or 0,
            }

    def text_search(self, query: str, limit: int = 10) -> list[Hit]:
        with self.read() as s:
            return text_search(s, query, limit)

    def embedding_index(self) -> EmbeddingIndex:
        """The in-memory embedding matrix, rebuilt only when captions were added."""
        with self.read() as s:
            key = s.scalar(select(func.max(Caption.id))) or 0  # captions are only ever added, never removed
            if self._embeddings is None or self._embeddings[0] != key:
                self._embeddings = (key, EmbeddingIndex(s))
        return self._embeddings[1]

    def semantic_search(self, query_embedding: np.ndarray, limit: int = 10) -> list[Hit]:
        return self.embedding_index().search(query_embedding, limit)

    def hybrid_search(self, query: str, query_embedding: np.ndarray, limit: int = 10) -> list[Hit]:
        """Text and semantic rankings fused by reciprocal rank.

        For words that a great many captions share, the text side only marks which of the semantic
        candidates have them (see `text_search`), which keeps such queries fast on a large index.
        """
        depth = max(50, limit * 5)
        semantic = self.semantic_search(query_embedding, depth * 4)
        with self.read() as s:
            text = text_search(s, query, depth, among=semantic)
        return fuse([text, semantic[:depth]], limit)

    def export_rows(self) -> list[dict]:
        """Every caption with its photo, for export."""
        with self.read() as s:
            rows = s.execute(
                select(Photo.path, Photo.sha256, Photo.width, Photo.height, Caption.text, Caption.confidence,
                       ModelVersion.name, Caption.created).join(Caption.photo).join(Caption.model).order_by(Photo.id)
            ).all()
        return [
            {"path": r[0], "sha256": r[1], "width": r[2], "height": r[3], "caption": r[4],
             "confidence": round(r[5], 4), "model": r[6], "created": r[7].isoformat()}
            for r in rows
        ]


__all__ = ["Store", "StoreError", "Hit"]
