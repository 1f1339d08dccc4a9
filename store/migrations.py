"""Schema migrations as frozen SQL steps: step N turns a version N-1 index into version N.

Each step is the SQL that version shipped, written out once and never regenerated from today's table
classes: a database made by any earlier release upgrades through exactly the steps it missed. Plain SQL
rather than Alembic because the index is one SQLite file with FTS5 tables and triggers, which Alembic
would carry as raw SQL anyway, and because a step must not change when the models do.

Version 1: photos by content hash (with the path where each was last seen), captions, models, failures,
    and an FTS5 index over caption text.
Version 2: files apart from photos (copies of one photo are several files; a photo with no file left is
    forgotten), and what a description says besides the caption: the spoken sentence, the recognised
    objects and the text read from the photo, all three searchable.
Version 3: an embedding token, a random value renewed by triggers whenever a caption's embedding is added,
    removed or changed, so that a copy of the embedding matrix made at one token is known to be current
    (store/embedding_cache.py). Random rather than a counter: an older copy of the index, restored and
    changed as often since, must not come to hold the same token.
"""

from __future__ import annotations

from sqlalchemy import Connection

V1 = [
    """CREATE TABLE photos (
        id INTEGER NOT NULL, sha256 VARCHAR(64) NOT NULL, path VARCHAR NOT NULL, size INTEGER NOT NULL,
        mtime DOUBLE NOT NULL, width INTEGER, height INTEGER, source VARCHAR(16) NOT NULL,
        first_seen DATETIME NOT NULL, last_seen DATETIME NOT NULL,
        CONSTRAINT pk_photos PRIMARY KEY (id), CONSTRAINT uq_photos_sha256 UNIQUE (sha256))""",
    "CREATE INDEX ix_photos_path ON photos (path)",
    """CREATE TABLE models (
        id INTEGER NOT NULL, name VARCHAR NOT NULL, sha256 VARCHAR(64) NOT NULL, created DATETIME NOT NULL,
        CONSTRAINT pk_models PRIMARY KEY (id), CONSTRAINT uq_models_sha256 UNIQUE (sha256))""",
    """CREATE TABLE failures (
        id INTEGER NOT NULL, path VARCHAR NOT NULL, size INTEGER NOT NULL, mtime DOUBLE NOT NULL,
        reason VARCHAR NOT NULL, seen DATETIME NOT NULL,
        CONSTRAINT pk_failures PRIMARY KEY (id), CONSTRAINT uq_failures_path UNIQUE (path))""",
    """CREATE TABLE schema_info (
        id INTEGER NOT NULL, version INTEGER NOT NULL, CONSTRAINT pk_schema_info PRIMARY KEY (id))""",
    """CREATE TABLE captions (
        id INTEGER NOT NULL, photo_id INTEGER NOT NULL, model_id INTEGER NOT NULL, text VARCHAR NOT NULL,
        confidence DOUBLE NOT NULL, embedding BLOB, created DATETIME NOT NULL,
        CONSTRAINT pk_captions PRIMARY KEY (id), CONSTRAINT uq_captions_photo_id UNIQUE (photo_id, model_id),
        CONSTRAINT fk_captions_photo_id_photos FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE,
        CONSTRAINT fk_captions_model_id_models FOREIGN KEY(model_id) REFERENCES models (id))""",
    "CREATE VIRTUAL TABLE captions_fts USING fts5("
    "text, content='captions', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER captions_ai AFTER INSERT ON captions BEGIN "
    "INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER captions_ad AFTER DELETE ON captions BEGIN "
    "INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER captions_au AFTER UPDATE OF text ON captions BEGIN "
    "INSERT INTO captions_fts(captions_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO captions_fts(rowid, text) VALUES (new.id, new.text); END",
]

V2 = [
    """CREATE TABLE files (
        id INTEGER NOT NULL, path VARCHAR NOT NULL, photo_id INTEGER NOT NULL, size INTEGER NOT NULL,
        mtime DOUBLE NOT NULL, source VARCHAR(16) NOT NULL, last_seen DATETIME NOT NULL,
        CONSTRAINT pk_files PRIMARY KEY (id), CONSTRAINT uq_files_path UNIQUE (path),
        CONSTRAINT fk_files_photo_id_photos FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE)""",
    "CREATE INDEX ix_files_photo_id ON files (photo_id)",
    # Version 1 kept one path per photo; it becomes that photo's one file.
    "INSERT INTO files (path, photo_id, size, mtime, source, last_seen) "
    "SELECT path, id, size, mtime, source, last_seen FROM photos",
    "DROP INDEX ix_photos_path",
    "ALTER TABLE photos DROP COLUMN path",
    "ALTER TABLE photos DROP COLUMN size",
    "ALTER TABLE photos DROP COLUMN mtime",
    "ALTER TABLE photos DROP COLUMN source",
    "ALTER TABLE photos DROP COLUMN last_seen",
    "ALTER TABLE captions ADD COLUMN sentence VARCHAR NOT NULL DEFAULT ''",
    "ALTER TABLE captions ADD COLUMN objects VARCHAR NOT NULL DEFAULT ''",
    "ALTER TABLE captions ADD COLUMN reading VARCHAR NOT NULL DEFAULT ''",
    "DROP TRIGGER captions_ai",
    "DROP TRIGGER captions_ad",
    "DROP TRIGGER captions_au",
    "DROP TABLE captions_fts",
    "CREATE VIRTUAL TABLE captions_fts USING fts5("
    "text, objects, reading, content='captions', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER captions_ai AFTER INSERT ON captions BEGIN "
    "INSERT INTO captions_fts(rowid, text, objects, reading) VALUES (new.id, new.text, new.objects, new.reading); "
    "END",
    "CREATE TRIGGER captions_ad AFTER DELETE ON captions BEGIN "
    "INSERT INTO captions_fts(captions_fts, rowid, text, objects, reading) "
    "VALUES ('delete', old.id, old.text, old.objects, old.reading); END",
    "CREATE TRIGGER captions_au AFTER UPDATE OF text, objects, reading ON captions BEGIN "
    "INSERT INTO captions_fts(captions_fts, rowid, text, objects, reading) "
    "VALUES ('delete', old.id, old.text, old.objects, old.reading); "
    "INSERT INTO captions_fts(rowid, text, objects, reading) VALUES (new.id, new.text, new.objects, new.reading); "
    "END",
    "INSERT INTO captions_fts(captions_fts) VALUES ('rebuild')",
]

V3 = [
    """CREATE TABLE embedding_version (
        id INTEGER NOT NULL, token BLOB NOT NULL, CONSTRAINT pk_embedding_version PRIMARY KEY (id))""",
    "INSERT INTO embedding_version (id, token) VALUES (1, randomblob(16))",
    "CREATE TRIGGER captions_embedding_ai AFTER INSERT ON captions WHEN new.embedding IS NOT NULL BEGIN "
    "UPDATE embedding_version SET token = randomblob(16); END",
    "CREATE TRIGGER captions_embedding_ad AFTER DELETE ON captions WHEN old.embedding IS NOT NULL BEGIN "
    "UPDATE embedding_version SET token = randomblob(16); END",
    "CREATE TRIGGER captions_embedding_au AFTER UPDATE OF embedding ON captions BEGIN "
    "UPDATE embedding_version SET token = randomblob(16); END",
]

STEPS: dict[int, list[str]] = {1: V1, 2: V2, 3: V3}  # version -> SQL from version - 1
LATEST = max(STEPS)


def migrate(conn: Connection, version: int, target: int = LATEST) -> None:
    """Run the steps after `version` up to `target` inside the caller's transaction."""
    for v in range(version + 1, target + 1):
        for statement in STEPS[v]:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("DELETE FROM schema_info")
        conn.exec_driver_sql("INSERT INTO schema_info (id, version) VALUES (1, ?)", (v,))
