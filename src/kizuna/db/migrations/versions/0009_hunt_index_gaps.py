"""hunt index: mark never-huntable indicators, index versions stored without the index

Revision 0008 left every hunt column NULL on an indicator version that can never be hunted
(another pattern language, a valid_until that is no timestamp), which ingest now marks with
key version 0 (kizuna.hunt.index.NOT_HUNTABLE), so that an indicator version with no index
at all stands out: one stored by a node process older than 0008, left running while the
database was upgraded. This revision gives both kinds what ingest gives them now.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 5000

# the hunt columns of objects (revision 0008)
_COLUMNS: tuple[tuple[str, type[sa.types.TypeEngine[Any]]], ...] = (
    ("hunt_pattern", sa.LargeBinary),
    ("hunt_valid_until_us", sa.BigInteger),
    ("hunt_key_path", sa.Text),
    ("hunt_key_value", sa.LargeBinary),
    ("hunt_plan", sa.Text),
    ("hunt_key_version", sa.SmallInteger),
)


def _objects() -> sa.TableClause:
    return sa.table(
        "objects",
        sa.column("pk", sa.Integer),
        sa.column("stix_type"),
        sa.column("body"),
        *(sa.column(name, kind()) for name, kind in _COLUMNS),
    )


def upgrade() -> None:
    """Index, a batch at a time, every indicator version that has no key version."""
    # The derivation ingest uses, by column name (what the code of the day derives).
    from kizuna.hunt.index import COLUMNS, indicator_columns

    conn = op.get_bind()
    objects = _objects()
    update = (
        sa.update(objects)
        .where(objects.c.pk == sa.bindparam("b_pk"))
        .values({name: sa.bindparam(f"b_{name}") for name, _kind in _COLUMNS})
    )
    after = 0
    while True:
        batch = conn.execute(
            sa.select(objects.c.pk, objects.c.body)
            .where(
                objects.c.stix_type == "indicator",
                objects.c.hunt_key_version.is_(None),
                objects.c.pk > after,
            )
            .order_by(objects.c.pk)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        rows = []
        for pk, body in batch:
            obj = orjson.loads(body)
            if isinstance(obj, dict):
                derived = dict(zip(COLUMNS, indicator_columns(obj), strict=True))
                rows.append({"b_pk": pk} | {f"b_{n}": derived.get(n) for n, _k in _COLUMNS})
        if rows:
            conn.execute(update, rows)
        after = batch[-1][0]


def downgrade() -> None:
    """Back to 0008's convention: never-huntable indicators hold no key version. (The
    versions indexed here stay indexed: 0008's code hunts them as its own ingest's.)"""
    objects = _objects()
    op.get_bind().execute(
        sa.update(objects).where(objects.c.hunt_key_version == 0).values(hunt_key_version=None)
    )
