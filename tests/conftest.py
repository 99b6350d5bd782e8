"""Shared fixtures: a real database per test (SQLite file or a fresh PostgreSQL schema),
a node built through the public services, and a real server process for e2e tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from kizuna.db.engine import make_engine
from kizuna.db.migrate import upgrade
from kizuna.db.scratch import scratch_schema

PG_URL = os.environ.get("KIZUNA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_available() -> str | None:
    try:
        engine = create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        return str(exc).splitlines()[0]
    return None


_PG_PROBLEM: str | bool | None = False


def require_postgres() -> None:
    """PostgreSQL tests fail in CI when the server is missing, and skip elsewhere."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_available()
    if _PG_PROBLEM:
        message = f"PostgreSQL is not reachable at {PG_URL}: {_PG_PROBLEM}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def fresh_database(kind: str, directory: Path) -> Iterator[str]:
    """A URL for an empty database of each kind; PostgreSQL gets a schema of its own."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'kizuna.db'}"
        return
    require_postgres()
    with scratch_schema(PG_URL, "t") as url:
        yield url


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()
