"""Tables of the incident channel: the duty-officer notification outbox and the watcher's
cursors. Incidents, notes and assistance objects themselves live in the STIX store."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from kizuna.db.base import metadata

# How far the notification watcher has read each watched collection (its own date_added).
incident_watch_cursors = Table(
    "incident_watch_cursors",
    metadata,
    Column(
        "collection_id",
        String(36),
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("last_added_us", BigInteger, nullable=False),
)

# One notification per STIX id (the first version that called for one), delivered to the
# duty officers with retries: 'pending' until 'sent', or 'gave-up' after too many attempts.
incident_outbox = Table(
    "incident_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("stix_id", String(300), nullable=False, unique=True),
    # Why it was raised: 'assistance-request' or 'incident'.
    Column("reason", String(32), nullable=False),
    # The JSON sent: ids, type, category and title only (never the content).
    Column("payload", Text, nullable=False),
    Column("state", String(9), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_us", BigInteger, nullable=False),
    Column("sent_us", BigInteger, nullable=True),
    Index("ix_incident_outbox_state_next", "state", "next_attempt_us"),
)
