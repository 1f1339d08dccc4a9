"""The caption embeddings as one contiguous file beside the index, so a search maps them instead of reading
every row (issue 29: at 100k captions, reading the rows took 0.6 s of a `seesay search`).

The file is a cache, never the record: the rows in SQLite are. It carries the index's embedding token
(a random value that triggers on the captions table renew whenever an embedding is added, removed or
changed, migration 3), and is used only while the index still holds that token; otherwise it is built
again from the rows, read in one transaction with the token. It is written to a temporary file, synced
and renamed into place, so a reader sees either the old file or the new one, whole. Where it cannot be
written (a read-only folder, a full disk) the matrix is held in memory instead, as before.

Layout: a 64-byte header (MAGIC, the token, N, D), then the (N, D) float32 matrix of unit vectors, then
the N int64 caption ids, all little-endian.
"""

from __future__ import annotations

import glob
import mmap
import os
import stat
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

MAGIC = b"seesay-embeddings-1\0"
HEADER = struct.Struct("<20s16sQQ")  # magic, token, N, D
HEADER_SIZE = 64
SUFFIX = "-embeddings"
BATCH = 4096  # rows fetched and written at a time: the whole matrix is never held twice
STALE_SECONDS = 3600.0  # a temporary file this old was left by a writer that was killed


def cache_path(db: Path) -> Path:
    """Where the cache of the index at db lies: beside it, as SQLite's own -wal and -shm files do."""
    return db.with_name(db.name + SUFFIX)


def _unit(rows: np.ndarray) -> np.ndarray:
    """The rows at unit length; the sentence embedder writes unit vectors, so most batches are returned as they are."""
    squares = np.einsum("nd,nd->n", rows, rows)  # (n,) without an (n, D) temporary
    if len(rows) and np.abs(squares - 1.0).max() > 1e-4:
        rows = rows / np.maximum(np.sqrt(squares), 1e-12)[:, None]
    return rows


def _batches(cursor):
    """(ids, (n, D) float32 unit rows) of each batch of (id, embedding) rows; D from the first row."""
    width = None
    while rows := cursor.fetchmany(BATCH):
        width = width or len(rows[0][1])
        joined = b"".join(r[1] for r in rows)
        if len(joined) != width * len(rows) or width % 4:
            raise ValueError(f"embeddings of different sizes in one index, got {len(joined)} bytes for "
                             f"{len(rows)} of the first one's {width}")
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        yield ids, _unit(np.frombuffer(joined, dtype=np.float32).reshape(len(rows), width // 4))


def load(path: Path, token: bytes) -> tuple[np.ndarray, np.ndarray, mmap.mmap | None] | None:
    """(ids, matrix, mapping) from the cache at path when it holds this token, else None. The matrix is a
    read-only view of the mapped file: pages are read as a search touches them."""
    try:
        # Not blocking: a FIFO put in its place would otherwise hold the search for ever.
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            magic, held, n, d = HEADER.unpack(f.read(HEADER.size))
            size = info.st_size
            if magic != MAGIC or held != token or size != HEADER_SIZE + n * d * 4 + n * 8:
                return None
            if n == 0:
                return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), None
            mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, struct.error, ValueError):
        return None
    matrix = np.frombuffer(mapping, dtype=np.float32, count=n * d, offset=HEADER_SIZE).reshape(n, d)  # (N, D)
    ids = np.frombuffer(mapping, dtype=np.int64, count=n, offset=HEADER_SIZE + n * d * 4).copy()  # (N,)
    return ids, matrix, mapping


def matrix(rows, db: Path, token: bytes) -> tuple[np.ndarray, np.ndarray, mmap.mmap | None]:
    """(ids, (N, D) unit matrix, mapping or None) of every caption embedding, ordered by id.

    rows: a function returning a cursor over (id, embedding) rows ordered by id, in the transaction the
    token was read in. The cache beside db is used when it holds the token, else written again from rows.
    """
    path = cache_path(db)
    loaded = load(path, token)
    if loaded is None and _write(rows(), path, token, _mode(db)):
        loaded = load(path, token)
    if loaded is None:  # not written (a read-only folder, a full disk): held in memory this time
        batches = list(_batches(rows()))
        if not batches:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32), None
        return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), None
    return loaded


def _mode(db: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(db).st_mode) & 0o666
    except OSError:
        return 0o600


def _write(cursor, path: Path, token: bytes, mode: int) -> bool:
    """Write the cache from the cursor's rows to a temporary file, then rename it into place; False when
    the folder or the disk refuses."""
    _sweep(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    except OSError:
        return False
    try:
        if hasattr(os, "fchmod"):  # whoever may read the index may read its cache (mkstemp: owner-only)
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(bytes(HEADER_SIZE))
            ids, width = [np.zeros(0, dtype=np.int64)], 0
            for batch_ids, rows in _batches(cursor):
                ids.append(batch_ids)
                width = rows.shape[1]
                f.write(np.ascontiguousarray(rows, dtype="<f4").tobytes())
            every = np.concatenate(ids)
            f.write(every.astype("<i8").tobytes())
            f.seek(0)
            f.write(HEADER.pack(MAGIC, token, len(every), width))
            f.flush()
            os.fsync(f.fileno())  # whole on disk before it takes the old file's place
        os.replace(temporary, path)
        return True
    except OSError:
        Path(temporary).unlink(missing_ok=True)
        return False
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sweep(path: Path, older: float = STALE_SECONDS) -> None:
    """Remove what a writer killed mid-write left beside the cache (its temporary files), once they are older
    than any write takes (100,000 captions: under a second), so that another process's write is never touched."""
    now = time.time()
    for left in path.parent.glob(glob.escape(path.name) + ".*.tmp"):
        try:
            if now - left.lstat().st_mtime > older:
                left.unlink()
        except OSError:
            pass
