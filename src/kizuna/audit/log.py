"""Record and read audit entries.

:func:`record` appends an entry inside the caller's write transaction, so the entry commits
(or rolls back) with the change it describes. Entries are chained: each stores the previous
entry's hash and its own ``sha256(prev_hash || canonical JSON of the entry)``; appends are
serialised (SQLite's write lock; a transaction-scoped advisory lock on PostgreSQL) so the
chain is a line. :func:`verify` walks the chain and names the first entry that does not fit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, select

from kizuna.access.subject import Subject
from kizuna.audit.models import audit_log
from kizuna.stix.timestamps import format_timestamp, now_micros

__all__ = ["AuditEntry", "entries", "record", "verify"]

GENESIS = "0" * 64
#: PostgreSQL advisory lock key serialising appends to the chain ("kizuna audit")
_LOCK_KEY = 0x6B697A756E61


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject_id: str | None
    details: dict[str, Any]
    hash: str


def _digest(
    prev: str, at_us: int, actor: str, action: str, subject_id: str | None, details: str
) -> str:
    body = orjson.dumps([at_us, actor, action, subject_id, details])
    return hashlib.sha256(prev.encode() + body).hexdigest()


def record(
    conn: Connection,
    *,
    who: Subject | None,
    action: str,
    subject_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> str:
    """Append one entry (in the caller's transaction); returns its hash. ``who`` ``None``
    means the node itself (a scheduler, a sync)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
    prev = (
        conn.execute(
            select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).scalar_one_or_none()
        or GENESIS
    )
    at_us = now_micros()
    actor = (who.identity_id if who is not None else None) or "node"
    text = orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode()
    digest = _digest(prev, at_us, actor, action, subject_id, text)
    conn.execute(
        insert(audit_log).values(
            at_us=at_us,
            org_id=who.org_id if who is not None else None,
            token_id=who.token_id if who is not None else None,
            actor=actor,
            action=action,
            subject_id=subject_id,
            details=text,
            prev_hash=prev,
            hash=digest,
        )
    )
    return digest


def entries(
    conn: Connection, *, subject_id: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Entries in order, all or those about one id (the caller decides who may see them)."""
    query = select(audit_log).order_by(audit_log.c.seq).limit(limit)
    if subject_id is not None:
        query = query.where(audit_log.c.subject_id == subject_id)
    return [
        AuditEntry(
            seq=r.seq,
            at=format_timestamp(r.at_us),
            actor=r.actor,
            action=r.action,
            subject_id=r.subject_id,
            details=orjson.loads(r.details),
            hash=r.hash,
        )
        for r in conn.execute(query)
    ]


def verify(conn: Connection) -> int | None:
    """The seq of the first entry that breaks the chain, or ``None`` if it is whole."""
    prev = GENESIS
    for r in conn.execute(select(audit_log).order_by(audit_log.c.seq)).yield_per(1000):
        expected = _digest(prev, r.at_us, r.actor, r.action, r.subject_id, r.details)
        if r.prev_hash != prev or r.hash != expected:
            return int(r.seq)
        prev = r.hash
    return None
