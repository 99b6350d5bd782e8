"""hunt index: pattern, expiry and key plan of every stored indicator version

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 13:19:34.352095
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 5000

# this revision's columns of objects
_COLUMNS: tuple[tuple[str, type[sa.types.TypeEngine[Any]]], ...] = (
    ("hunt_pattern", sa.LargeBinary),
    ("hunt_valid_until_us", sa.BigInteger),
    ("hunt_key_path", sa.Text),
    ("hunt_key_value", sa.LargeBinary),
    ("hunt_plan", sa.Text),
    ("hunt_key_version", sa.SmallInteger),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("objects", sa.Column(name, kind(), nullable=True))
    _backfill()


def _backfill() -> None:
    """Index the indicator versions already stored, a batch of rows at a time."""
    # The derivation ingest uses; each row records which one made it (hunt_key_version), so
    # a later derivation plans rows made here again.
    from kizuna.hunt.index import index_row

    conn = op.get_bind()
    objects = sa.table(
        "objects",
        sa.column("pk", sa.Integer),
        sa.column("stix_type"),
        sa.column("body"),
        *(sa.column(name, kind()) for name, kind in _COLUMNS),
    )
    update = (
        sa.update(objects)
        .where(objects.c.pk == sa.bindparam("b_pk"))
        .values({name: sa.bindparam(f"b_{name}") for name, _kind in _COLUMNS})
    )
    after = 0
    while True:
        batch = conn.execute(
            sa.select(objects.c.pk, objects.c.body)
            .where(objects.c.stix_type == "indicator", objects.c.pk > after)
            .order_by(objects.c.pk)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for pk, body in batch:
            obj = orjson.loads(body)
            row = index_row(obj) if isinstance(obj, dict) else None
            if row is not None:
                value = row.key_value
                rows.append(
                    {
                        "b_pk": pk,
                        "b_hunt_pattern": row.pattern.encode(),
                        "b_hunt_valid_until_us": row.valid_until_us,
                        "b_hunt_key_path": row.key_path,
                        "b_hunt_key_value": None if value is None else value.encode(),
                        "b_hunt_plan": row.plan,
                        "b_hunt_key_version": row.key_version,
                    }
                )
        if rows:
            conn.execute(update, rows)
        after = batch[-1][0]


def downgrade() -> None:
    for name, _kind in reversed(_COLUMNS):
        op.drop_column("objects", name)
