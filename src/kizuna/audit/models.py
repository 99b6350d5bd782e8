"""The audit log table."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from kizuna.db.base import metadata

# One row per audited action. `hash` chains each entry to the previous one (sha256 over
# the previous hash and this entry's canonical JSON), so a changed or removed row breaks
# the chain from that row on (kizuna.audit.log.verify).
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("org_id", Integer, ForeignKey("orgs.id"), nullable=True),
    Column("token_id", Integer, nullable=True),
    # The acting org's identity id (or "node" for the node's own processes).
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    # The STIX id (or other id) the action concerns.
    Column("subject_id", String(300), nullable=True),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_audit_log_subject_id", "subject_id"),
)
