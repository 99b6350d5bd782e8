"""hunt index: pattern, expiry and key plan of every stored indicator version

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 13:19:34.352095
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    table = op.create_table(
        "indicator_patterns",
        sa.Column("object_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pattern", sa.LargeBinary(), nullable=False),
        sa.Column("valid_until_us", sa.BigInteger(), nullable=True),
        sa.Column("key_path", sa.Text(), nullable=True),
        sa.Column("key_value", sa.LargeBinary(), nullable=True),
        sa.Column("plan", sa.Text(), nullable=True),
        sa.Column("key_version", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_pk"],
            ["objects.pk"],
            name=op.f("fk_indicator_patterns_object_pk_objects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("object_pk", name=op.f("pk_indicator_patterns")),
    )
    assert table is not None
    _backfill(table)


def _backfill(table: sa.Table) -> None:
    """Index the indicator versions already stored, a batch of rows at a time."""
    # The derivation ingest uses; each row records which one made it (key_version), so a
    # later derivation plans rows made here again. The columns are this revision's own.
    from kizuna.hunt.index import index_row

    conn = op.get_bind()
    objects = sa.table(
        "objects", sa.column("pk", sa.Integer), sa.column("stix_type"), sa.column("body")
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
                        "object_pk": pk,
                        "pattern": row.pattern.encode(),
                        "valid_until_us": row.valid_until_us,
                        "key_path": row.key_path,
                        "key_value": None if value is None else value.encode(),
                        "plan": row.plan,
                        "key_version": row.key_version,
                    }
                )
        if rows:
            conn.execute(sa.insert(table), rows)
        after = batch[-1][0]


def downgrade() -> None:
    op.drop_table("indicator_patterns")
