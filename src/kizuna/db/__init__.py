"""Database engine, metadata and migrations (SQLAlchemy 2 + Alembic)."""
