"""seesay's photo and caption index: SQLite through SQLAlchemy, with text and semantic search."""

from .database import StoreError, default_db_path
from .index import Store
from .search import Hit, fts_query

__all__ = ["Hit", "Store", "StoreError", "default_db_path", "fts_query"]
