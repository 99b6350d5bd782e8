"""attribution: node signing keys and publications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 10:01:24.494965
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribution_publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("draft_id", sa.String(length=300), nullable=False),
        sa.Column("report_id", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("bundle", sa.Text(), nullable=False),
        sa.Column("published_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribution_publications")),
        sa.UniqueConstraint(
            "report_id", "version", name=op.f("uq_attribution_publications_report_id_version")
        ),
    )
    with op.batch_alter_table("attribution_publications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attribution_publications_draft_id"), ["draft_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_attribution_publications_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "node_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("node_identity_id", sa.String(length=64), nullable=False),
        sa.Column("public_x", sa.String(length=64), nullable=False),
        sa.Column("private_sealed", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("retired_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_node_keys")),
    )


def downgrade() -> None:
    op.drop_table("node_keys")
    with op.batch_alter_table("attribution_publications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attribution_publications_report_id"))
        batch_op.drop_index(batch_op.f("ix_attribution_publications_draft_id"))

    op.drop_table("attribution_publications")
