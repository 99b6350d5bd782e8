"""hunt jobs: the server process (host:pid) that runs each job, so a restart fails only its own

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:48:43.871201
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hunt_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runner", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hunt_jobs", schema=None) as batch_op:
        batch_op.drop_column("runner")
