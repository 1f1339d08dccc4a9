"""Finding photos: FTS5 text search ranked by BM25, cosine search over sentence embeddings, and both fused.

User queries are data: they are reduced to bare words, each quoted, before they reach FTS5, and all
values travel as bound parameters.
"""

from __future__ import annotations

import json
import mmap
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session
from threadpoolctl import ThreadpoolController

QUERY_STOPWORDS = frozenset("a an the of in on at to for with and or is are by from into photo picture".split())
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 16
BLOCK_BYTES = 16 << 20  # rows multiplied at a time in a semantic search
BROAD = 5000  # captions matching every word beyond which hybrid search stops ranking them by BM25
_blas = ThreadpoolController()


@dataclass(frozen=True)
class Match:
    """A description that matched a query, before its files are looked up."""

    caption_id: int
    score: float  # larger is better; comparable within one mode only


@dataclass(frozen=True)
class Hit:
    """One search result: a file that exists now, and the description of the photo it holds."""

    path: str
    caption: str  # what seesay said about the photo (the caption where nothing else was recorded)
    reading: str  # text read from the photo, if any
    score: float
    photo_id: int
    caption_id: int


def fts_query(query: str, join: str = "OR") -> str | None:
    """A safe FTS5 MATCH expression for free text, or None when it has nothing to search for.

    Words are quoted (so AND, NEAR, *, quotes and parentheses are plain text), stop words dropped, and
    the rest joined with `join` (AND: captions with every word; OR: with any, BM25 ranking those with
    more of them first). The last word also matches as a prefix, for search as you type. A query of
    stop words only ("a", "the") has nothing to match: None.

    The query is NFKC-normalised first: FTS5's unicode61 tokenizer folds case and diacritics but not
    compatibility forms, so full-width letters ("ＧＩＲＬ") or ligatures ("ﬁ") matched nothing indexed.
    """
    words = [w.lower() for w in _WORD.findall(unicodedata.normalize("NFKC", query))][:MAX_TERMS]
    content = [w for w in words if w not in QUERY_STOPWORDS]
    if not content:
        return None
    terms = [f'"{w}"' for w in dict.fromkeys(content)]
    terms[-1] = f"({terms[-1]} OR {terms[-1]}*)"  # the whole word as well, so that it outranks longer ones
    return f" {join} ".join(terms)


def _ranked(session: Session, match: str, limit: int) -> list[Match]:
    # Rank inside FTS5 and keep only the top rows: BM25 over every match is the cost.
    rows = session.execute(
        text("SELECT rowid, rank FROM captions_fts WHERE captions_fts MATCH :match ORDER BY rank LIMIT :limit"),
        {"match": match, "limit": limit},
    )
    return [Match(r[0], -float(r[1])) for r in rows]


def _matching(session: Session, match: str, among: Sequence[Match], limit: int) -> list[Match]:
    """The hits in `among` whose captions match, in among's order (no BM25: see text_search)."""
    ids = session.execute(
        text("WITH m AS MATERIALIZED (SELECT rowid AS id FROM captions_fts WHERE captions_fts MATCH :match) "
             "SELECT id FROM m WHERE id IN (SELECT value FROM json_each(:ids))"),
        {"match": match, "ids": json.dumps([h.caption_id for h in among])},
    ).scalars()
    found = set(ids)
    return [h for h in among if h.caption_id in found][:limit]


def _search(session: Session, match: str, limit: int, among: Sequence[Match] | None) -> list[Match]:
    if among is not None:
        count = session.execute(
            text("SELECT count(*) FROM (SELECT 1 FROM captions_fts WHERE captions_fts MATCH :match LIMIT :n)"),
            {"match": match, "n": BROAD + 1},
        ).scalar_one()
        if count > BROAD:
            return _matching(session, match, among, limit)
    return _ranked(session, match, limit)


def text_search(session: Session, query: str, limit: int = 10, among: Sequence[Match] | None = None) -> list[Match]:
    """Descriptions whose caption, objects or read text match the query's words, best BM25 first.

    Captions with all the words come first; only when there are fewer than `limit` of those are captions
    with some of the words added. Besides being what a searcher means, this keeps a query of common words
    from ranking most of a large index.

    among: candidates from another ranking (hybrid search). When more than BROAD captions match, BM25
    (about 1.4 us a matching row) says little about short captions and costs the most: the candidates
    that match are returned instead, in the candidates' order.
    """
    every = fts_query(query, "AND")
    if every is None:
        return []
    hits = _search(session, every, limit, among)
    if len(hits) < limit and " AND " in every:
        seen = {h.caption_id for h in hits}
        more = _search(session, fts_query(query, "OR"), limit, among)
        hits += [h for h in more if h.caption_id not in seen][: limit - len(hits)]
    return hits


class EmbeddingIndex:
    """All caption embeddings as one unit-normalised float32 matrix, for cosine search.

    It holds caption ids only: paths are looked up when results are made, so a renamed photo is found under
    its new name. A brute-force matrix-vector product: 100k captions x 384 dims is 150 MB and a few tens of
    milliseconds per query. Past a few million captions an approximate index (HNSW, IVF) would take its place.

    mapping: the mapped cache file the matrix is a view of (store/embedding_cache.py), if any. Its pages are
    let go of as the product passes them, so a search's memory does not grow by the whole matrix.
    """

    def __init__(self, ids: np.ndarray, matrix: np.ndarray, mapping: mmap.mmap | None = None) -> None:
        self.ids, self.matrix, self._mapping = ids, matrix, mapping

    def __len__(self) -> int:
        return len(self.ids)

    def _similarities(self, q: np.ndarray) -> np.ndarray:
        """(N,) cosine similarity of every caption to the unit query, a block of rows at a time."""
        sims = np.empty(len(self.ids), dtype=np.float32)
        step = max(1, BLOCK_BYTES // max(1, self.matrix.strides[0]))
        release = self._mapping is not None and hasattr(mmap, "MADV_DONTNEED")
        with _blas.limit(limits=1, user_api="blas"):
            # One BLAS thread: the product is memory-bound anyway, and a second BLAS thread pool spinning
            # next to ONNX Runtime's (which embeds the query) made queries four times slower at p95 on 2 cores.
            for lo in range(0, len(sims), step):
                sims[lo:lo + step] = self.matrix[lo:lo + step] @ q  # (n,)
                if release:  # the page cache keeps the file; this process need not
                    start = self.matrix[lo:lo + step].ctypes.data - _address(self._mapping)
                    first = start - start % mmap.PAGESIZE
                    self._mapping.madvise(mmap.MADV_DONTNEED, first, start + self.matrix[lo:lo + step].nbytes - first)
        return sims

    def search(self, query_embedding: np.ndarray, limit: int = 10) -> list[Match]:
        if not len(self.ids):
            return []
        q = np.asarray(query_embedding, dtype=np.float32).ravel()
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        sims = self._similarities(q)
        k = min(limit, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top])]
        return [Match(int(self.ids[i]), float(sims[i])) for i in top]


def _address(mapping: mmap.mmap) -> int:
    """Where the mapping starts in memory."""
    return np.frombuffer(mapping, dtype=np.uint8, count=1).ctypes.data


def fuse(rankings: list[list[Match]], limit: int = 10, k: int = 60) -> list[Match]:
    """Reciprocal rank fusion (Cormack et al. 2009): score = sum over rankings of 1 / (k + rank)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, match in enumerate(ranking, start=1):
            scores[match.caption_id] = scores.get(match.caption_id, 0.0) + 1.0 / (k + rank)
    best = sorted(scores, key=lambda c: -scores[c])[:limit]
    return [Match(c, scores[c]) for c in best]
