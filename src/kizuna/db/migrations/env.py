"""Alembic environment: the engine comes from kizuna.db.migrate, never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import kizuna.access.models
import kizuna.attribution.models
import kizuna.audit.models
import kizuna.federation.models
import kizuna.incidents.models
import kizuna.store.models
import kizuna.taxii.models  # noqa: F401  (register the tables)
from kizuna.db.base import metadata

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
