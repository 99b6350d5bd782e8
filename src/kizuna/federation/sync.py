"""Sync with a peer over plain TAXII 2.1: pull its collections, push ours, resumably.

**Pull** (remote collection -> local collection): pages are fetched with ``added_after`` (the
link's cursor) and ``next``; each page is stored through the normal ingest path *as the peer's
org* (validated like any POST; a peer cannot add versions to an object another org created,
and identical versions are recognised and not stored twice), its provenance recorded, and the
cursor moved to the page's ``X-TAXII-Date-Added-Last``, all in one transaction. A crash loses
at most the page in flight, which the next run fetches again.

**Push** (local collection -> remote collection): what leaves is read through the normal read
path *as the peer's org* (:func:`kizuna.federation.peers.peer_subject`), so the access module
alone is the egress policy: never RED or unmarked objects, AMBER only when the peer's org is
in the audience, relationships only with their ends, objects received from a third party only
when their TLP and audience allow. Objects that came from this very peer are not echoed back.
Each page is sent as one envelope; the status resource says per object what became of it; a
delivery row per object version records it; failures and pendings are retried on later runs.
The cursor (local ``date_added``) and the delivery rows are committed together after the
status came back: a crash re-sends at most one envelope, which the peer recognises as
identical versions.

A run of one peer (:func:`sync_peer`) holds a lease on the peer's row, so one process at a time
syncs it; a lease held by a process that died on this host is taken over at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from kizuna.access.decision import readable_filter
from kizuna.access.tlp import WELL_KNOWN, audience_marking
from kizuna.config import Settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, KizunaError, NotFound
from kizuna.federation.client import PeerError, Status, TaxiiClient
from kizuna.federation.models import deliveries, peer_links, peers, provenance
from kizuna.federation.peers import PULL, Link, Peer, get_peer, list_peers, peer_token
from kizuna.process import dead_here, owner_tag
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.store.collections import get_collection
from kizuna.store.ingest import add_objects
from kizuna.store.models import markings, objects
from kizuna.store.query import Filters, VersionMatch, read_page

__all__ = [
    "LinkResult",
    "SyncResult",
    "client_for",
    "due_peers",
    "push_backlog",
    "sync_peer",
]

log = logging.getLogger("kizuna.federation")

#: objects per page pulled or envelope pushed
PAGE = 1000
#: attempts to deliver one object version before it is given up on
MAX_ATTEMPTS = 5
#: how long a run may hold a peer before another process may take it over (µs)
LEASE_US = 15 * 60 * 1_000_000
#: longest back-off between runs of a failing peer (µs)
MAX_BACKOFF_US = 3600 * 1_000_000
_STATUS_POLLS = 5


@dataclass
class LinkResult:
    """What one flow did in one run."""

    direction: str
    remote_collection: str
    local_collection: str
    moved: int = 0  # pulled: new versions stored; pushed: versions the peer accepted
    already: int = 0  # versions the other side had already
    rejected: int = 0  # refused (invalid, not allowed, another org's object, ...)
    held_back: int = 0  # push: not sent (came from this peer)
    pages: int = 0
    error: str | None = None


@dataclass
class SyncResult:
    peer: str
    links: list[LinkResult] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None  # why the run did not happen (lease held elsewhere)

    @property
    def ok(self) -> bool:
        return self.skipped is None and all(link.error is None for link in self.links)


def client_for(peer: Peer, settings: Settings, **options: Any) -> TaxiiClient:
    """A TAXII client for the peer, with its token unsealed."""
    secret = peer_token(peer, settings.resolved_secret_key())
    if peer.username is not None:
        return TaxiiClient(peer.url, username=peer.username, password=secret, **options)
    return TaxiiClient(peer.url, token=secret, **options)


# --- lease ------------------------------------------------------------------------------------


def _acquire(db: Engine, peer_id: int) -> bool:
    now = now_micros()
    with write_transaction(db) as conn:
        row = conn.execute(
            select(peers.c.lease_until_us, peers.c.lease_owner).where(peers.c.id == peer_id)
        ).one()
        if row.lease_until_us > now and not dead_here(row.lease_owner):
            return False
        conn.execute(
            update(peers)
            .where(peers.c.id == peer_id)
            .values(lease_until_us=now + LEASE_US, lease_owner=owner_tag())
        )
    return True


def _release(db: Engine, peer: Peer, result: SyncResult) -> None:
    now = now_micros()
    errors = [f"{r.direction} {r.remote_collection}: {r.error}" for r in result.links if r.error]
    with write_transaction(db) as conn:
        failures = 0 if result.ok else peer.failures + 1
        delay = peer.interval_s * 1_000_000 * (2 ** min(failures, 12))
        values: dict[str, Any] = {
            "lease_until_us": 0,
            "lease_owner": None,
            "last_run_us": now,
            "failures": failures,
            "next_run_us": now + min(delay, max(MAX_BACKOFF_US, peer.interval_s * 1_000_000)),
            "last_error": "; ".join(errors)[:2000] or None,
        }
        if result.ok:
            values["last_success_us"] = now
        conn.execute(update(peers).where(peers.c.id == peer.id).values(**values))


# --- pull -------------------------------------------------------------------------------------


def _record_link(conn: Connection, link: Link, **values: Any) -> None:
    conn.execute(update(peer_links).where(peer_links.c.id == link.id).values(**values))


def _pull(
    db: Engine, peer: Peer, link: Link, client: TaxiiClient, result: LinkResult, page_size: int
) -> None:
    subject = peer.subject
    start = _just_before(link.cursor)
    next_token: str | None = None
    while True:
        page = client.get_objects(
            link.remote_collection, added_after=start, next=next_token, limit=page_size
        )
        if page.objects and page.date_added_last is None:
            raise PeerError(
                "protocol",
                "the peer sent objects without X-TAXII-Date-Added-Last; cannot resume safely",
                retryable=False,
            )
        now = now_micros()
        with write_transaction(db) as conn:
            cursor = conn.execute(
                select(peer_links.c.cursor).where(peer_links.c.id == link.id)
            ).scalar_one()
            outcomes = add_objects(
                conn,
                subject=subject,
                collection_id=link.local_collection,
                submitted=page.objects,
            )
            kept = {(o.id, o.version) for o in outcomes if o.ok}
            # Provenance of what this page brought: versions already here (ours, or relayed
            # back) did not come from the peer.
            _record_provenance(
                conn, peer.name, {(o.id, o.version) for o in outcomes if o.added}, now
            )
            added = sum(1 for o in outcomes if o.added)
            refused = [o for o in outcomes if not o.ok]
            result.moved += added
            result.already += len(kept) - added
            result.rejected += len(refused)
            values: dict[str, Any] = {
                "cursor": page.date_added_last or cursor,
                "moved": peer_links.c.moved + added,
                "rejected": peer_links.c.rejected + len(refused),
                "last_success_us": now,
                "last_error": None,
            }
            if refused:
                first = refused[0]
                values["last_error"] = (
                    f"{len(refused)} object(s) refused, e.g. {first.id}: {first.message}"
                )[:2000]
                log.warning(
                    "peer %s: %d object(s) from %s refused, e.g. %s: %s",
                    peer.name,
                    len(refused),
                    link.remote_collection,
                    first.id,
                    first.message,
                )
            _record_link(conn, link, **values)
        result.pages += 1
        if not page.more:
            return
        if page.next:
            next_token = page.next
        else:  # more without next: start a new paging session from the committed page
            start, next_token = _just_before(page.date_added_last), None


def _just_before(cursor: str | None) -> str | None:
    """Resume 1 µs before the cursor: ``added_after`` is strict and a server may give several
    objects the same date_added (medallion gives a whole POST one), so the objects sharing
    the committed page's last date_added are fetched again rather than skipped; ingest
    recognises them as already stored."""
    if cursor is None:
        return None
    return format_timestamp(parse_timestamp(cursor) - 1)


def _record_provenance(
    conn: Connection, peer_name: str, kept: set[tuple[str, str]], now: int
) -> None:
    """First arrival of each version from this peer (later arrivals change nothing)."""
    if not kept:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = [
        {"stix_id": i, "version": v, "peer": peer_name, "received_us": now} for i, v in sorted(kept)
    ]
    conn.execute(dialect.insert(provenance).on_conflict_do_nothing(), rows)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# --- push -------------------------------------------------------------------------------------


def _wait(client: TaxiiClient, status: Status, sleep: Callable[[float], None]) -> Status:
    """Poll a pending status a few times; what stays pending is retried next run."""
    delay = 0.2
    for _ in range(_STATUS_POLLS):
        if status.status == "complete" or status.pending == 0:
            return status
        sleep(delay)
        delay *= 2
        status = client.status(status.id)
    return status


def _outcomes(status: Status) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(id, version) -> (state, message) from a status resource; entries without a version
    (SCOs) are keyed with ``''``."""
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    for state, entries in (
        ("delivered", status.successes),
        ("failed", status.failures),
        ("pending", status.pendings),
    ):
        for entry in entries:
            key = (str(entry.get("id", "")), str(entry.get("version") or ""))
            message = entry.get("message")
            out[key] = (state, str(message) if message is not None else None)
    return out


def _send(
    db: Engine,
    peer: Peer,
    link: Link,
    client: TaxiiClient,
    rows: Sequence[tuple[str, str, str]],
    result: LinkResult,
    sleep: Callable[[float], None],
    cursor: int | None,
    markings: Sequence[dict[str, Any]],
) -> None:
    """Send ``(stix_id, version, body)`` rows in one envelope, after the audience marking
    definitions they use, and record per object what became of it, together with the new
    cursor (if given)."""
    now = now_micros()
    states: dict[tuple[str, str], tuple[str, str | None]] = {}
    if rows:
        status = client.add_objects(
            link.remote_collection, [*markings, *(orjson.loads(body) for _, _, body in rows)]
        )
        states = _outcomes(_wait(client, status, sleep))
    with write_transaction(db) as conn:
        # A fresh page (cursor given) has no delivery rows yet: each version is in the
        # collection once and the cursor moves past it in the transaction that records it.
        previous = {
            (r.stix_id, r.version): r.attempts
            for chunk in (_chunks([(i, v) for i, v, _ in rows], 500) if cursor is None else [])
            for r in conn.execute(
                select(deliveries.c.stix_id, deliveries.c.version, deliveries.c.attempts).where(
                    deliveries.c.link_id == link.id,
                    tuple_(deliveries.c.stix_id, deliveries.c.version).in_(chunk),
                )
            )
        }
        records = []
        delivered = failed = 0
        for stix_id, version, _ in rows:
            state, message = states.get((stix_id, version)) or states.get(
                (stix_id, ""), ("pending", "the peer's status did not mention it")
            )
            attempts = previous.get((stix_id, version), 0) + 1
            if state == "delivered":
                delivered += 1
            else:
                failed += 1
                if attempts >= MAX_ATTEMPTS:
                    state = "gave-up"
            records.append(
                {
                    "link_id": link.id,
                    "stix_id": stix_id,
                    "version": version,
                    "state": state,
                    "attempts": attempts,
                    "message": (message or "")[:1000] or None,
                    "updated_us": now,
                }
            )
        for chunk in _chunks(sorted(previous), 500):
            conn.execute(
                delete(deliveries).where(
                    deliveries.c.link_id == link.id,
                    tuple_(deliveries.c.stix_id, deliveries.c.version).in_(chunk),
                )
            )
        if records:
            conn.execute(insert(deliveries), records)
        values: dict[str, Any] = {
            "moved": peer_links.c.moved + delivered,
            "rejected": peer_links.c.rejected + failed,
            "last_success_us": now,
            "last_error": None,
        }
        if cursor is not None:
            values["cursor"] = str(cursor)
        if failed:
            example = next(r for r in records if r["state"] != "delivered")
            values["last_error"] = (
                f"{failed} object(s) not delivered, e.g. {example['stix_id']}: "
                f"{example['message'] or example['state']}"
            )[:2000]
            log.warning("peer %s: %s", peer.name, values["last_error"])
        _record_link(conn, link, **values)
    result.moved += delivered
    result.rejected += failed
    result.pages += 1 if rows else 0


def _readable(
    conn: Connection,
    peer: Peer,
    link: Link,
    filters: Filters,
    after_us: int | None,
    page_size: int,
) -> tuple[list[tuple[str, str, str, int]], bool]:
    """One page of what the peer's org may read in the local collection (the egress rule),
    as (id, version, body, date_added_us), and whether more follow."""
    subject = peer.subject
    try:
        collection = get_collection(conn, subject, link.local_collection)
        page = read_page(
            conn,
            subject=subject,
            collection=collection,
            filters=filters,
            after_us=after_us,
            limit=page_size,
        )
    except (NotFound, Forbidden):
        raise Forbidden(
            f"{peer.org.name} may not read local collection {link.local_collection}: "
            "grant it read access (kizuna collection grant)"
        ) from None
    rows = [(r.stix_id, r.version, r.body, r.date_added_us) for r in page.rows]
    return rows, page.more


def _audience_markings(conn: Connection, bodies: Sequence[str]) -> list[dict[str, Any]]:
    """The audience marking-definitions the objects use, rebuilt in their canonical form, so
    the peer knows them (it refuses objects with unknown markings) and enforces them."""
    wanted: set[str] = set()
    for body in bodies:
        obj = orjson.loads(body)
        wanted.update(r for r in obj.get("object_marking_refs", ()) if isinstance(r, str))
        for granular in obj.get("granular_markings", ()):
            ref = granular.get("marking_ref") if isinstance(granular, dict) else None
            if isinstance(ref, str):
                wanted.add(ref)
    wanted -= WELL_KNOWN.keys()
    out: list[dict[str, Any]] = []
    for chunk in _chunks(sorted(wanted), 500):
        rows = conn.execute(
            select(markings.c.audience).where(
                markings.c.stix_id.in_(chunk), markings.c.audience.is_not(None)
            )
        )
        out += [audience_marking(orjson.loads(r.audience)) for r in rows]
    return out


def _echoes(conn: Connection, peer: Peer, rows: Sequence[tuple[str, str, str, int]]) -> set[Any]:
    out: set[Any] = set()
    for chunk in _chunks([(r[0], r[1]) for r in rows], 500):
        out |= {
            (r.stix_id, r.version)
            for r in conn.execute(
                select(provenance.c.stix_id, provenance.c.version).where(
                    provenance.c.peer == peer.name,
                    tuple_(provenance.c.stix_id, provenance.c.version).in_(chunk),
                )
            )
        }
    return out


def _retry(
    db: Engine,
    peer: Peer,
    link: Link,
    client: TaxiiClient,
    result: LinkResult,
    sleep: Callable[[float], None],
) -> None:
    """Send again what earlier runs could not deliver (if the peer may still read it)."""
    with read_transaction(db) as conn:
        waiting = conn.execute(
            select(deliveries.c.stix_id, deliveries.c.version)
            .where(deliveries.c.link_id == link.id, deliveries.c.state.in_(("failed", "pending")))
            .order_by(deliveries.c.updated_us)
            .limit(PAGE)
        ).all()
        if not waiting:
            return
        wanted = {(r.stix_id, r.version) for r in waiting}
        filters = Filters(ids=tuple(sorted({i for i, _ in wanted})), versions=VersionMatch.every())
        rows, _ = _readable(conn, peer, link, filters, None, PAGE)
        resend = [(i, v, b) for i, v, b, _ in rows if (i, v) in wanted]
        needed = _audience_markings(conn, [b for _, _, b in resend])
    gone = wanted - {(i, v) for i, v, _ in resend}
    if gone:  # no longer readable by the peer (re-marked, audience narrowed): drop
        with write_transaction(db) as conn:
            for chunk in _chunks(sorted(gone), 500):
                conn.execute(
                    delete(deliveries).where(
                        deliveries.c.link_id == link.id,
                        tuple_(deliveries.c.stix_id, deliveries.c.version).in_(chunk),
                    )
                )
    _send(db, peer, link, client, resend, result, sleep, None, needed)


def _push(
    db: Engine,
    peer: Peer,
    link: Link,
    client: TaxiiClient,
    result: LinkResult,
    sleep: Callable[[float], None],
    page_size: int,
) -> None:
    _retry(db, peer, link, client, result, sleep)
    every = Filters(versions=VersionMatch.every())
    while True:
        with read_transaction(db) as conn:
            cursor_text = conn.execute(
                select(peer_links.c.cursor).where(peer_links.c.id == link.id)
            ).scalar_one()
            cursor = int(cursor_text) if cursor_text else None
            rows, more = _readable(conn, peer, link, every, cursor, page_size)
            echoes = _echoes(conn, peer, rows)
            send = [(i, v, b) for i, v, b, _ in rows if (i, v) not in echoes]
            needed = _audience_markings(conn, [b for _, _, b in send])
        if not rows:
            return
        result.held_back += len(rows) - len(send)
        _send(db, peer, link, client, send, result, sleep, rows[-1][3], needed)
        if not more:
            return


# --- a run ------------------------------------------------------------------------------------


def sync_peer(
    db: Engine,
    settings: Settings,
    name: str,
    *,
    client: TaxiiClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    page_size: int = PAGE,
) -> SyncResult:
    """Run every flow of one peer once (pulls first), under the peer's lease. Errors of one
    flow are recorded and logged and do not stop the others, unless the peer is unreachable."""
    started = time.perf_counter()
    with read_transaction(db) as conn:
        peer = get_peer(conn, name)
    result = SyncResult(peer=peer.name)
    if not _acquire(db, peer.id):
        result.skipped = "another process is syncing this peer"
        return result
    own_client = client is None
    active = client if client is not None else client_for(peer, settings)
    try:
        for link in sorted(peer.links, key=lambda link: link.direction != PULL):
            outcome = LinkResult(link.direction, link.remote_collection, link.local_collection)
            result.links.append(outcome)
            try:
                if link.direction == PULL:
                    _pull(db, peer, link, active, outcome, page_size)
                else:
                    _push(db, peer, link, active, outcome, sleep, page_size)
            except (PeerError, KizunaError) as exc:
                outcome.error = str(exc)
                log.warning(
                    "peer %s: %s %s failed: %s",
                    peer.name,
                    link.direction,
                    link.remote_collection,
                    exc,
                )
                with write_transaction(db) as conn:
                    _record_link(conn, link, last_error=str(exc)[:2000])
                if isinstance(exc, PeerError) and exc.kind in ("unreachable", "timeout"):
                    break
            else:
                log.info(
                    "peer %s: %s %s<->%s: %d moved, %d already there, %d refused",
                    peer.name,
                    link.direction,
                    link.remote_collection,
                    link.local_collection,
                    outcome.moved,
                    outcome.already,
                    outcome.rejected,
                )
    finally:
        if own_client:
            active.close()
        result.seconds = time.perf_counter() - started
        _release(db, peer, result)
    return result


def due_peers(db: Engine, now_us: int | None = None) -> list[str]:
    """Names of peers whose next run is due."""
    now = now_micros() if now_us is None else now_us
    with read_transaction(db) as conn:
        rows = conn.execute(
            select(peers.c.name).where(peers.c.next_run_us <= now).order_by(peers.c.next_run_us)
        ).all()
    return [r.name for r in rows]


def push_backlog(conn: Connection, peer: Peer, link: Link) -> int:
    """Object versions the peer may read in the local collection that have not been handed
    over yet (the push lag), plus deliveries waiting for a retry."""
    subject = peer.subject
    try:
        collection = get_collection(conn, subject, link.local_collection)
    except (NotFound, Forbidden):
        return 0
    after = int(link.cursor) if link.cursor else -1
    ahead = conn.execute(
        select(func.count())
        .select_from(objects)
        .where(
            objects.c.collection_id == collection.id,
            objects.c.date_added_us > after,
            readable_filter(subject, collection_default=collection.default_tlp),
        )
    ).scalar_one()
    waiting = conn.execute(
        select(func.count())
        .select_from(deliveries)
        .where(
            deliveries.c.link_id == link.id,
            or_(deliveries.c.state == "failed", deliveries.c.state == "pending"),
        )
    ).scalar_one()
    return int(ahead) + int(waiting)


def all_peers(db: Engine) -> list[Peer]:
    with read_transaction(db) as conn:
        return list_peers(conn)
