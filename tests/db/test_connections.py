"""What each engine sets on its connections."""

from __future__ import annotations

from sqlalchemy import Engine, text

from kizuna.db.engine import read_transaction


def test_connections_are_configured_for_the_database(engine: Engine) -> None:
    with read_transaction(engine) as conn:
        if engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        else:
            # the access rule's cost estimates would have every read JIT-compiled
            assert conn.execute(text("SHOW jit")).scalar() == "off"
