"""Engines for SQLite (embedded default) and PostgreSQL (production), and transaction scopes.

Writers take the write lock up front (SQLite: BEGIN IMMEDIATE; PostgreSQL: a row lock on
the collection, see kizuna.store.repository) so that date_added order is commit order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from kizuna.errors import ConfigurationError


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return _postgres_engine(url)
    raise ConfigurationError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=8,
        max_overflow=8,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before we acknowledge it (survives power loss too).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("kizuna_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _postgres_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # No JIT compilation: the access rule's correlated subqueries make the planner's cost
        # estimates huge, so with the default jit_above_cost nearly every read paid 0.3 s of
        # compiling for a query that runs in milliseconds (seen on the hunt's reads).
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.commit()

    return engine


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds the write lock from its first statement; commits on exit."""
    with engine.connect() as conn:
        conn = conn.execution_options(kizuna_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # A write's lookups are few and their tables grow fast: a generic plan
                # cached while a table was small stays a sequential scan as it grows.
                conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One consistent snapshot for a read (a page and its 'more' flag agree)."""
    with engine.connect() as conn, conn.begin():
        yield conn
