"""incidents: notification outbox and watcher cursors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 09:55:33.165763
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stix_id", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=9), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("sent_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_outbox")),
        sa.UniqueConstraint("stix_id", name=op.f("uq_incident_outbox_stix_id")),
    )
    with op.batch_alter_table("incident_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incident_outbox_state_next", ["state", "next_attempt_us"], unique=False
        )

    op.create_table(
        "incident_watch_cursors",
        sa.Column("collection_id", sa.String(length=36), nullable=False),
        sa.Column("last_added_us", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_incident_watch_cursors_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_incident_watch_cursors")),
    )


def downgrade() -> None:
    op.drop_table("incident_watch_cursors")
    with op.batch_alter_table("incident_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_outbox_state_next")

    op.drop_table("incident_outbox")
