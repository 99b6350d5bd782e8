"""The Alembic migrations build exactly the schema the code's tables describe, on both
databases, and upgrading twice is harmless."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine

from kizuna.db.migrate import alembic_config, current_revision, head_revision, upgrade


def test_migrations_match_the_table_definitions(engine: Engine) -> None:
    # `engine` is already upgraded to head; check raises if autogenerate finds a difference.
    command.check(alembic_config(engine))


def test_upgrade_is_idempotent_and_reaches_head(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
