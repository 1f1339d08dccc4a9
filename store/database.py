"""Opening the index: SQLite in WAL mode with foreign keys, FTS5 over captions, and schema migrations."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .schema import SCHEMA_VERSION, Base, SchemaInfo

DB_ENV = "SEESAY_DB"


class StoreError(RuntimeError):
    """The index cannot be opened or written: damaged, locked, or from a newer seesay."""


def default_db_path() -> Path:
    """$SEESAY_DB, else seesay/index.sqlite in the user's data directory (XDG on Linux)."""
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV])
    from platformdirs import user_data_dir

    return Path(user_data_dir("seesay")) / "index.sqlite"


def _create_v1(conn) -> None:
    Base.metadata.create_all(conn)
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS captions_fts USING fts5("
        "text, content='captions', content_rowid='id', tokenize='porter unicode61')"
    )
    # Keep the full-text index in step with the captions table (external-content FTS5 triggers).
    conn.exec_driver_sql(
        "CREATE TRIGGER IF NOT EXISTS captions_ai AFTER INSERT ON captions BEGIN "
        "INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER IF NOT EXISTS captions_ad AFTER DELETE ON captions BEGIN "
        "INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER IF NOT EXISTS captions_au AFTER UPDATE OF text ON captions BEGIN "
        "INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text); "
        "INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text); END"
    )


MIGRATIONS: dict[int, Callable] = {1: _create_v1}  # version -> step from version - 1


def _pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")  # wait for the one writer instead of failing at once
    cur.close()


def open_engine(path: str | os.PathLike) -> Engine:
    """An engine on the index at path, created and migrated to the current schema if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _pragmas)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            version = _schema_version(conn)
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} has schema version {version}; this seesay knows up to {SCHEMA_VERSION}")
            for v in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[v](conn)
                conn.execute(text("DELETE FROM schema_info"))
                conn.execute(text("INSERT INTO schema_info (id, version) VALUES (1, :v)"), {"v": v})
    except (DatabaseError, OperationalError) as exc:
        engine.dispose()
        reason = str(exc.orig) if getattr(exc, "orig", None) else str(exc)
        if "locked" in reason or "busy" in reason:
            raise StoreError(f"{path} is locked by another program; try again when it has finished") from None
        raise StoreError(f"{path} is not a usable seesay index ({reason}); move it aside to start a new one") from None
    return engine


def _schema_version(conn) -> int:
    has_table = conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_info'"
    ).first()
    if not has_table:
        if conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar():
            raise StoreError("this SQLite file holds other tables and is not a seesay index")
        return 0
    return conn.execute(select(SchemaInfo.version)).scalar() or 0


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
