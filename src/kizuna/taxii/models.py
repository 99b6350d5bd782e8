"""Table for TAXII status resources."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table, Text

from kizuna.db.base import metadata

statuses = Table(
    "statuses",
    metadata,
    Column("id", String(36), primary_key=True),
    # Only the posting token may read the status (its org is kept for operators).
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("token_id", Integer, ForeignKey("tokens.id", ondelete="CASCADE"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request_us", BigInteger, nullable=False),
    Column("total_count", Integer, nullable=False),
    Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False),
    Column("pending_count", Integer, nullable=False),
    # JSON: {"successes": [...], "failures": [...], "pendings": [...]}
    Column("details", Text, nullable=False),
)
