"""Reading and writing the incident channel's objects: who may act, the store and the
access module (everything is written through :func:`kizuna.store.ingest.add_objects` and read
through the read path as the requesting subject), markings, and the assistance requests with
their derived state, which both :mod:`~kizuna.incidents.service` and
:mod:`~kizuna.incidents.channel` show."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import WELL_KNOWN, Tlp, kizuna_identity
from kizuna.audit.log import record
from kizuna.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from kizuna.incidents.assistance import (
    RequestFacts,
    RequestState,
    ResponseFacts,
    Sla,
    derive_state,
    request_facts,
    response_facts,
    sla_clocks,
)
from kizuna.incidents.extensions import REQUEST_TYPE, RESPONSE_TYPE, declarations
from kizuna.incidents.model import IncidentFacts, Marking, incident_facts
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.store.collections import Collection, get_collection
from kizuna.store.ingest import add_objects
from kizuna.store.models import markings
from kizuna.store.query import Filters, VersionMatch, read_all

__all__ = [
    "RequestView",
    "identity_of",
    "incident_in",
    "marking_of",
    "org_names",
    "read_objects",
    "readable_collection",
    "reader",
    "requests_in",
    "resolve_marking",
    "store_batch",
    "version_stamp",
    "writable_collection",
    "writer",
]


@dataclass(frozen=True, slots=True)
class RequestView:
    request: RequestFacts
    state: RequestState
    sla: dict[str, object]

    def as_json(self, names: Mapping[str, str]) -> dict[str, object]:
        r = self.request
        return {
            "id": r.id,
            "incident_id": r.incident_id,
            "title": r.title,
            "requester": names.get(r.creator, r.creator),
            "addressee": names.get(r.addressee, r.addressee),
            "needs": list(r.needs),
            "urgency": r.urgency,
            "category": r.category,
            "created": format_timestamp(r.created_us),
            "state": self.state.state,
            "offers": [
                {
                    "id": o.id,
                    "at": format_timestamp(o.created_us),
                    "resources": list(o.resources),
                    "comment": o.comment,
                }
                for o in self.state.offers
            ],
            "ignored_responses": [{"id": f.id, "reason": why} for f, why in self.state.ignored],
            "sla": self.sla,
        }


# -- who may do what ---------------------------------------------------------------------------


def writer(subject: Subject) -> Subject:
    """An analyst or admin of one of this node's orgs: peers answer through their own node."""
    if subject.anonymous:
        raise Unauthenticated("authentication is required")
    if subject.external or subject.role not in (Role.ANALYST, Role.ADMIN):
        raise Forbidden("only an analyst or admin of this node's organisations may do this")
    return subject


def reader(subject: Subject) -> Subject:
    if subject.anonymous:
        raise Unauthenticated("authentication is required")
    return subject


def writable_collection(conn: Connection, subject: Subject, collection_id: str) -> Collection:
    collection = get_collection(conn, writer(subject), collection_id)
    if not collection.can_write or not collection.can_read:
        raise Forbidden(f"this organisation may not read and write collection {collection_id}")
    return collection


def readable_collection(conn: Connection, subject: Subject, collection_id: str) -> Collection:
    collection = get_collection(conn, reader(subject), collection_id)
    if not collection.can_read:
        raise NotFound(f"no collection {collection_id}")
    return collection


# -- the store ---------------------------------------------------------------------------------


def read_objects(
    conn: Connection,
    subject: Subject,
    collection: Collection,
    *,
    types: tuple[str, ...],
    ids: tuple[str, ...] = (),
    every_version: bool = False,
) -> Iterator[dict[str, Any]]:
    """Objects the subject may read, in date_added order, page by page."""
    versions = VersionMatch.every() if every_version else VersionMatch.latest()
    filters = Filters(ids=ids, types=types, versions=versions)
    for row in read_all(conn, subject=subject, collection=collection, filters=filters):
        yield orjson.loads(row.body)


def store_batch(
    conn: Connection,
    subject: Subject,
    collection: Collection,
    batch: Sequence[dict[str, object]],
    *,
    action: str,
    stix_id: str,
    details: Mapping[str, object],
) -> None:
    """Store a batch all or nothing, and audit it in the same transaction. kizuna's identity
    and the extension-definitions the objects use go first (stored once per collection;
    afterwards identical and free), so they federate with the objects."""
    batch = [kizuna_identity(), *declarations(), *batch]
    outcomes = add_objects(conn, subject=subject, collection_id=collection.id, submitted=batch)
    refused = [o for o in outcomes if not o.ok]
    if refused:
        # Raising rolls the caller's transaction back: nothing of the batch is kept.
        raise InvalidInput(refused[0].message)
    record(conn, who=subject, action=action, subject_id=stix_id, details=details)


def version_stamp(now_us: int | None, after: str | None = None) -> str:
    """A version timestamp: now (or the injected time), strictly after ``after``."""
    moment = now_us if now_us is not None else now_micros()
    if after is not None:
        moment = max(moment, parse_timestamp(after) + 1000)
    return format_timestamp(moment)


def org_names(conn: Connection) -> dict[str, str]:
    return {org.identity_id: org.name for org in access.list_orgs(conn)}


# -- markings ----------------------------------------------------------------------------------


def identity_of(conn: Connection, name_or_id: str) -> str:
    try:
        return access.find_org(conn, name_or_id).identity_id
    except NotFound:
        if name_or_id.startswith("identity--"):
            return name_or_id  # an org of another node that this node has not registered
        raise NotFound(f"no organisation named {name_or_id!r} to add to the audience") from None


def resolve_marking(
    conn: Connection, subject: Subject, *, tlp: Tlp, audience: Sequence[str]
) -> Marking:
    """The marking of a new object: the label and, for AMBER and above, the reporting org
    plus the named orgs (names or identity ids)."""
    if tlp < Tlp.AMBER:
        if audience:
            raise InvalidInput(f"an audience only applies to TLP:AMBER or above, not {tlp.label}")
        return Marking(tlp)
    assert subject.identity_id is not None
    members = {subject.identity_id, *(identity_of(conn, name) for name in audience)}
    return Marking(tlp, tuple(sorted(members)))


def marking_of(conn: Connection, marking_refs: Sequence[str]) -> Marking:
    """The Marking an object carries, so that its notes and answers carry the same."""
    tlp: Tlp | None = None
    audience: tuple[str, ...] = ()
    for ref in marking_refs:
        known = WELL_KNOWN.get(ref)
        if known is not None and known[0] is not None:
            tlp = known[0] if tlp is None else max(tlp, known[0])
            continue
        stored = conn.execute(
            select(markings.c.audience).where(markings.c.stix_id == ref)
        ).scalar_one_or_none()
        if stored is not None:
            audience = tuple(orjson.loads(stored))
    return Marking(tlp if tlp is not None else Tlp.AMBER, audience)


def requests_in(
    conn: Connection,
    subject: Subject,
    collection: Collection,
    sla: Mapping[int, Sla],
    now_us: int | None,
    *,
    incident_id: str | None = None,
    request_id: str | None = None,
) -> list[RequestView]:
    ids = (request_id,) if request_id else ()
    versions: dict[str, list[dict[str, Any]]] = {}
    # The newest version only: one the subject may not read hides the request, rather than
    # an older version shown as if current (as TAXII's match[version]=last).
    for obj in read_objects(conn, subject, collection, types=(REQUEST_TYPE,), ids=ids):
        if incident_id is None or obj.get("incident_ref") == incident_id:
            versions.setdefault(obj["id"], []).append(obj)
    if not versions:
        return []
    answers: dict[str, list[ResponseFacts]] = {}
    for obj in read_objects(conn, subject, collection, types=(RESPONSE_TYPE,)):
        if obj.get("request_ref") in versions:
            answers.setdefault(str(obj["request_ref"]), []).append(response_facts(obj))
    now = now_us if now_us is not None else now_micros()
    views = []
    for stix_id, found in versions.items():
        found.sort(key=lambda o: parse_timestamp(o["modified"]))
        latest = request_facts(found[-1])
        closed_us = parse_timestamp(latest.modified) if latest.status == "closed" else None
        state = derive_state(latest, answers.get(stix_id, []), closed_us=closed_us)
        views.append(RequestView(latest, state, sla_clocks(latest, state, sla, now_us=now)))
    views.sort(key=lambda v: (v.request.created_us, v.request.id))
    return views


def incident_in(
    conn: Connection, subject: Subject, collection: Collection, incident_id: str
) -> IncidentFacts:
    """The latest version of an incident the subject may read, or NotFound."""
    found = [
        incident_facts(obj)
        for obj in read_objects(conn, subject, collection, types=("incident",), ids=(incident_id,))
    ]
    if not found:
        raise NotFound(f"no incident {incident_id} in this collection")
    return found[-1]
