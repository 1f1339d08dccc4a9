"""Opening the index: SQLite in WAL mode with foreign keys, migrated to the current schema.

Two engines share one file: reads run outside any transaction (WAL readers never wait for the writer),
and every write transaction starts with BEGIN IMMEDIATE, so two writers queue on SQLite's lock (up to
the busy timeout) instead of one failing halfway through a batch when it tries to upgrade its lock.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, OperationalError

from .migrations import LATEST, migrate

DB_ENV = "SEESAY_DB"
BUSY_TIMEOUT_MS = 10_000


class StoreError(RuntimeError):
    """The index cannot be opened, read or written: missing, damaged, locked, read-only or too new."""


class NoIndexError(StoreError):
    """There is no index file yet."""


def default_db_path() -> Path:
    """$SEESAY_DB, else seesay/index.sqlite in the user's data directory (XDG on Linux)."""
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    from platformdirs import user_data_dir

    return Path(user_data_dir("seesay")) / "index.sqlite"


def reason(exc: Exception) -> str:
    """The database's own words for an SQLAlchemy or sqlite3 error."""
    return str(getattr(exc, "orig", None) or exc)


def _on_connect(dbapi_conn, _record) -> None:
    dbapi_conn.isolation_level = None  # transactions are begun explicitly below, not by the driver
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def file_uri_path(path: Path) -> str:
    """The path as it goes into the engine's URL: percent-encoded for SQLite's file: URI ('%' first, then
    '?' and '#'), and its '%' encoded once more because SQLAlchemy decodes the URL's database part; so that
    a name holding '%20' is that file and not 'a b' (issue 27)."""
    uri = path.resolve().as_posix().replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return uri.replace("%", "%25")


def _engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(url)
    event.listen(engine, "connect", _on_connect)
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


def open_engines(path: Path, *, writable: bool, create: bool) -> tuple[Engine, Engine | None]:
    """(reader, writer) engines on the index at path, migrated; writer is None when not writable.

    create: make a new index when there is none (otherwise NoIndexError). A file SQLite reports as damaged
    is refused for writing, so new rows never go into a malformed database.
    """
    if "\0" in str(path):
        raise StoreError(f"{str(path)!r} is not a possible file name (it holds a NUL character)")
    if not _exists(path):
        if not create:
            raise NoIndexError(f"there is no photo index at {path} yet: run 'seesay index FOLDER' first")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the index folder {path.parent}: {exc.strerror or exc}") from None
    elif not path.is_file():
        raise StoreError(f"{path} is not a file")
    folder_writable = os.access(path.parent, os.W_OK) and (not path.exists() or os.access(path, os.W_OK))
    if writable and not folder_writable:
        raise StoreError(f"{path} is read-only (or its folder is): the index can be searched but not changed")
    quoted = file_uri_path(path)
    # An index in a read-only folder can still be searched: immutable=1 reads it without the WAL side files.
    read_url = f"sqlite:///file:{quoted}?" + ("uri=true" if folder_writable else "mode=ro&immutable=1&uri=true")
    reader = _engine(read_url, immediate=False)
    writer = _engine(f"sqlite:///file:{quoted}?uri=true", immediate=True) if writable else None
    try:
        if writer is not None:
            _prepare(writer, path)
        else:
            _check_version(reader, path)
    except BaseException:
        reader.dispose()
        if writer is not None:
            writer.dispose()
        raise
    return reader, writer


def _exists(path: Path) -> bool:
    """Whether there is something at path; StoreError where it cannot be looked up. (Path.exists() is False
    for a link loop, which Path.resolve() then raised as a traceback, and raises for a name too long.)"""
    try:
        path.resolve().stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except RuntimeError:  # Python before 3.13: a link loop found by resolve()
        raise StoreError(f"{path} is a symbolic link loop") from None
    except OSError as exc:
        why = "a symbolic link loop" if exc.errno == errno.ELOOP else f"not usable ({exc.strerror or exc})"
        raise StoreError(f"{path} is {why}") from None
    return True


def _prepare(writer: Engine, path: Path) -> None:
    try:
        raw = writer.raw_connection()  # outside any transaction: journal_mode cannot change inside one
        try:
            raw.execute("PRAGMA journal_mode=WAL")
            problem = raw.execute("PRAGMA quick_check(1)").fetchone()[0]
        finally:
            raw.close()
        if problem != "ok":
            raise StoreError(f"{path} is damaged ({problem}); move it aside and run 'seesay index' again")
        with writer.begin() as conn:
            version = _schema_version(conn, path)
            if version < LATEST:
                migrate(conn, version)
    except (DatabaseError, OperationalError, sqlite3.Error) as exc:
        raise _as_store_error(exc, path) from None


def _check_version(reader: Engine, path: Path) -> None:
    try:
        with reader.connect() as conn:
            version = _schema_version(conn, path)
    except (DatabaseError, OperationalError, sqlite3.Error) as exc:
        raise _as_store_error(exc, path) from None
    if version < LATEST:
        raise StoreError(f"{path} was made by an older seesay (schema {version}); run 'seesay index' to upgrade it")


def _as_store_error(exc: Exception, path: Path) -> StoreError:
    why = reason(exc)
    if "locked" in why or "busy" in why:
        return StoreError(f"{path} is locked by another program; try again when it has finished")
    if "readonly" in why or "read-only" in why:
        return StoreError(f"{path} is read-only: the index can be searched but not changed")
    return StoreError(f"{path} is not a usable seesay index ({why}); move it aside to start a new one")


def _schema_version(conn, path: Path) -> int:
    tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_info" not in tables:
        if tables:
            raise StoreError(f"{path} holds other tables and is not a seesay index")
        return 0
    version = conn.exec_driver_sql("SELECT version FROM schema_info").scalar() or 0
    if version > LATEST:
        raise StoreError(f"{path} has schema version {version}; this seesay knows up to {LATEST}: update seesay")
    return version
