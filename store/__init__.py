"""seesay's photo and caption index (SQLite through SQLAlchemy)."""
