"""seesay's photo index: SQLite through SQLAlchemy, with text and semantic search."""

from .database import NoIndexError, StoreError, default_db_path
from .index import Entry, Failed, FileInfo, Link, Store
from .search import Hit, fts_query

__all__ = ["Entry", "Failed", "FileInfo", "Hit", "Link", "NoIndexError", "Store", "StoreError", "default_db_path",
           "fts_query"]
