"""TAXII status resources: what became of each object of one POST, for the posting token
only (a status lists ids of objects other tokens of the same org may not read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, insert, select

from kizuna.access.subject import Subject
from kizuna.errors import NotFound
from kizuna.stix.timestamps import format_timestamp
from kizuna.store.ingest import Outcome
from kizuna.taxii.models import statuses


def record_status(
    conn: Connection, *, subject: Subject, outcomes: Sequence[Outcome], request_us: int
) -> dict[str, object]:
    """Store the status in the same transaction as the objects, so that a status that says
    "success" is never visible unless the objects are stored too."""
    assert subject.org_id is not None
    assert subject.token_id is not None
    successes = [o.as_status_entry() for o in outcomes if o.ok]
    failures = [o.as_status_entry() for o in outcomes if not o.ok]
    status_id = str(uuid.uuid4())
    conn.execute(
        insert(statuses).values(
            id=status_id,
            org_id=subject.org_id,
            token_id=subject.token_id,
            status="complete",
            request_us=request_us,
            total_count=len(outcomes),
            success_count=len(successes),
            failure_count=len(failures),
            pending_count=0,
            details=orjson.dumps({"successes": successes, "failures": failures}).decode(),
        )
    )
    return _resource(status_id, "complete", request_us, len(outcomes), successes, failures)


def _resource(
    status_id: str,
    status: str,
    request_us: int,
    total: int,
    successes: list[dict[str, str]],
    failures: list[dict[str, str]],
) -> dict[str, object]:
    resource: dict[str, object] = {
        "id": status_id,
        "status": status,
        "request_timestamp": format_timestamp(request_us),
        "total_count": total,
        "success_count": len(successes),
        "failure_count": len(failures),
        "pending_count": 0,
    }
    if successes:
        resource["successes"] = successes
    if failures:
        resource["failures"] = failures
    return resource


def get_status(conn: Connection, *, subject: Subject, status_id: str) -> dict[str, object]:
    row = conn.execute(select(statuses).where(statuses.c.id == status_id)).first()
    if row is None or subject.token_id is None or row.token_id != subject.token_id:
        raise NotFound(f"no status {status_id}")
    details = orjson.loads(row.details)
    return _resource(
        row.id,
        row.status,
        row.request_us,
        row.total_count,
        details.get("successes", []),
        details.get("failures", []),
    )
