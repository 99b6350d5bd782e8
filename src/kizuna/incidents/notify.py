"""Telling the node's duty officers when help is asked of them or a serious incident arrives.

A *watcher* reads, through the normal read path as the duty org (``KIZUNA_DUTY_ORG``), what
was added to the collections that org may read since its durable cursor, and queues one
notification per new assistance request addressed to that org and per Category 1-3
incident (not the duty org's own). What is queued holds ids, type, category and title only:
never more than the duty org may read, and no content. An *outbox* then delivers each
notification through a :class:`Notifier` (the log, or a webhook with retries), retrying a
failure on later runs with growing back-off until it is sent or given up on.

It runs from the federation scheduler's tick in ``kizuna serve`` and from
``kizuna notify run``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import Connection, Engine, insert, select, update

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.config import Settings
from kizuna.db.engine import write_transaction
from kizuna.errors import ConfigurationError, KizunaError
from kizuna.incidents.extensions import REQUEST_TYPE
from kizuna.incidents.model import incident_facts
from kizuna.incidents.models import incident_outbox, incident_watch_cursors
from kizuna.stix.timestamps import now_micros
from kizuna.store.collections import Collection, list_collections
from kizuna.store.query import Filters, VersionMatch, read_page

__all__ = [
    "DeliveryFailed",
    "LogNotifier",
    "Notifier",
    "RunResult",
    "WebhookNotifier",
    "deliver",
    "duty_watcher",
    "notifier_for",
    "run_once",
    "watch",
]

log = logging.getLogger("kizuna.incidents.notify")

#: Category 1-3 incidents are led nationally (NCSC): the duty officers hear of them.
NOTIFY_UP_TO_CATEGORY = 3
_PAGE = 500
_BATCH = 100
_MAX_BACKOFF_US = 3600 * 1_000_000


class DeliveryFailed(KizunaError):
    """A notifier could not deliver; the outbox will try again later."""


class Notifier(Protocol):
    def send(self, payload: Mapping[str, object]) -> None:
        """Deliver one notification or raise DeliveryFailed."""


class LogNotifier:
    """Writes notifications to the node's log (the default, and a safe fallback)."""

    def send(self, payload: Mapping[str, object]) -> None:
        log.warning("duty notification: %s", orjson.dumps(dict(payload)).decode())


class WebhookNotifier:
    """POSTs the notification as JSON; retries a failure a few times within one delivery
    (a receiver restarting), before the outbox's slower retries take over."""

    def __init__(
        self, url: str, *, tries: int = 3, backoff_s: float = 0.2, timeout_s: float = 10.0
    ) -> None:
        self._url = url
        self._tries = tries
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s

    def send(self, payload: Mapping[str, object]) -> None:
        problem = "no attempt made"
        for attempt in range(self._tries):
            if attempt:
                time.sleep(self._backoff_s * 2 ** (attempt - 1))
            try:
                response = httpx.post(self._url, json=dict(payload), timeout=self._timeout_s)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return
            problem = f"HTTP {response.status_code}"
        raise DeliveryFailed(f"webhook {self._url}: {problem} after {self._tries} tries")


def notifier_for(settings: Settings) -> Notifier:
    if settings.duty_webhook_url:
        return WebhookNotifier(settings.duty_webhook_url)
    return LogNotifier()


# -- watching ----------------------------------------------------------------------------------


def _duty_subject(conn: Connection, settings: Settings) -> Subject:
    if not settings.duty_org:
        raise ConfigurationError("set KIZUNA_DUTY_ORG to the organisation whose duty officers hear")
    org = access.find_org(conn, settings.duty_org)
    if org.remote:
        raise ConfigurationError(f"KIZUNA_DUTY_ORG names {org.name}, a remote organisation")
    return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)


def _why(obj: Mapping[str, Any], duty: Subject) -> str | None:
    """The reason to notify of this object, or None."""
    if obj.get("created_by_ref") == duty.identity_id:
        return None  # the duty org's own doing: nothing arrived
    if obj.get("type") == REQUEST_TYPE:
        addressed = obj.get("addressee_ref") == duty.identity_id
        return "assistance-request" if addressed and obj.get("status") == "open" else None
    if incident_facts(obj).draft.category <= NOTIFY_UP_TO_CATEGORY:
        return "incident"
    return None


def _payload(obj: Mapping[str, Any], reason: str, node: str, collection: str) -> dict[str, object]:
    payload: dict[str, object] = {
        "event": reason,
        "node": node,
        "collection": collection,
        "id": obj["id"],
        "type": obj["type"],
        "title": obj.get("name", ""),
    }
    if obj.get("type") == REQUEST_TYPE:
        payload["category"] = obj.get("category")
        payload["incident_id"] = obj.get("incident_ref")
    else:
        payload["category"] = incident_facts(obj).draft.category
    return payload


def _queue(conn: Connection, stix_id: str, reason: str, payload: dict[str, object]) -> bool:
    if conn.execute(
        select(incident_outbox.c.id).where(incident_outbox.c.stix_id == stix_id)
    ).first():
        return False
    now = now_micros()
    conn.execute(
        insert(incident_outbox).values(
            stix_id=stix_id,
            reason=reason,
            payload=orjson.dumps(payload).decode(),
            state="pending",
            attempts=0,
            next_attempt_us=now,
            created_us=now,
        )
    )
    return True


def _watch_collection(conn: Connection, duty: Subject, collection: Collection, node: str) -> int:
    cursor = conn.execute(
        select(incident_watch_cursors.c.last_added_us).where(
            incident_watch_cursors.c.collection_id == collection.id
        )
    ).scalar_one_or_none()
    filters = Filters(types=("incident", REQUEST_TYPE), versions=VersionMatch.every())
    queued, after = 0, cursor
    while True:
        page = read_page(
            conn, subject=duty, collection=collection, filters=filters, after_us=after, limit=_PAGE
        )
        for row in page.rows:
            obj = orjson.loads(row.body)
            reason = _why(obj, duty)
            if reason is not None:
                queued += _queue(
                    conn, row.stix_id, reason, _payload(obj, reason, node, collection.id)
                )
        if page.rows:
            after = page.rows[-1].date_added_us
        if not page.more or not page.rows:
            break
    if after != cursor and after is not None:
        if cursor is None:
            conn.execute(
                insert(incident_watch_cursors).values(
                    collection_id=collection.id, last_added_us=after
                )
            )
        else:
            conn.execute(
                update(incident_watch_cursors)
                .where(incident_watch_cursors.c.collection_id == collection.id)
                .values(last_added_us=after)
            )
    return queued


def watch(engine: Engine, settings: Settings) -> int:
    """Queue notifications for what arrived since the last watch; returns how many."""
    with write_transaction(engine) as conn:
        duty = _duty_subject(conn, settings)
        return sum(
            _watch_collection(conn, duty, collection, settings.node_name)
            for collection in list_collections(conn, duty)
            if collection.can_read
        )


# -- delivering --------------------------------------------------------------------------------


def _backoff_us(attempts: int) -> int:
    return int(min(_MAX_BACKOFF_US, 5_000_000 * 2 ** (attempts - 1)))


def deliver(
    engine: Engine, notifier: Notifier, *, max_attempts: int, now_us: int | None = None
) -> tuple[int, int, int]:
    """Send what is due; returns (sent, failed for now, given up). The HTTP call happens
    outside any transaction, so a slow receiver never holds the database's write lock."""
    now = now_us if now_us is not None else now_micros()
    with write_transaction(engine) as conn:
        due = conn.execute(
            select(incident_outbox.c.id, incident_outbox.c.payload, incident_outbox.c.attempts)
            .where(incident_outbox.c.state == "pending", incident_outbox.c.next_attempt_us <= now)
            .order_by(incident_outbox.c.id)
            .limit(_BATCH)
        ).all()
    sent = failed = gave_up = 0
    for row in due:
        attempts = row.attempts + 1
        values: dict[str, object] = {"attempts": attempts}
        try:
            notifier.send(orjson.loads(row.payload))
        except DeliveryFailed as exc:
            values["last_error"] = exc.message
            if attempts >= max_attempts:
                values["state"] = "gave-up"
                gave_up += 1
                log.error("duty notification %s given up: %s", row.id, exc.message)
            else:
                values["next_attempt_us"] = now_micros() + _backoff_us(attempts)
                failed += 1
        else:
            values.update(state="sent", sent_us=now_micros(), last_error=None)
            sent += 1
        with write_transaction(engine) as conn:
            conn.execute(
                update(incident_outbox).where(incident_outbox.c.id == row.id).values(values)
            )
    return sent, failed, gave_up


@dataclass(frozen=True, slots=True)
class RunResult:
    queued: int
    sent: int
    failed: int
    gave_up: int


def run_once(engine: Engine, settings: Settings, notifier: Notifier | None = None) -> RunResult:
    queued = watch(engine, settings)
    sent, failed, gave_up = deliver(
        engine, notifier or notifier_for(settings), max_attempts=settings.duty_max_attempts
    )
    return RunResult(queued, sent, failed, gave_up)


def duty_watcher(engine: Engine, settings: Settings) -> Callable[[], None] | None:
    """What the scheduler's tick runs, or None when no duty org is configured."""
    if not settings.duty_org:
        return None
    notifier = notifier_for(settings)

    def tick() -> None:
        run_once(engine, settings, notifier)

    return tick
