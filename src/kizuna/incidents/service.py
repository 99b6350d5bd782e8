"""The incident rules over the store: report, update, annotate, list and show incidents,
and their timeline. No HTTP and no commit: the caller opens the write (or read)
transaction, so each change and its audit entry commit together. Assistance requests are in
:mod:`kizuna.incidents.channel`; reading and writing in :mod:`kizuna.incidents.objects`.

Something the requester may not read is NotFound, exactly like something that does not
exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from kizuna.access.subject import Subject
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.incidents.assistance import (
    Sla,
)
from kizuna.incidents.model import (
    IncidentChange,
    IncidentDraft,
    IncidentFacts,
    Marking,
    apply_change,
    build_incident,
    build_note,
    check_draft,
    incident_facts,
    new_id,
)
from kizuna.incidents.objects import (
    RequestView,
    incident_in,
    marking_of,
    org_names,
    read_objects,
    readable_collection,
    requests_in,
    store_batch,
    version_stamp,
    writable_collection,
)
from kizuna.stix.timestamps import format_timestamp, parse_timestamp
from kizuna.store.collections import Collection

__all__ = [
    "IncidentDetail",
    "TimelineEvent",
    "add_note",
    "list_incidents",
    "report",
    "show_incident",
    "timeline",
    "update",
]

_DONE = {
    "acknowledge": "acknowledged",
    "accept": "accepted",
    "decline": "declined",
    "offer": "offered",
}


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: str
    who: str  # the org's name where this node knows it, else its identity id
    kind: str  # reported, updated, note, assistance-requested, acknowledge, ..., closed
    what: str
    id: str


@dataclass(frozen=True, slots=True)
class IncidentDetail:
    incident: IncidentFacts
    versions: tuple[IncidentFacts, ...]
    requests: tuple[RequestView, ...]


# -- incidents ---------------------------------------------------------------------------------


def report(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    draft: IncidentDraft,
    marking: Marking,
    now_us: int | None = None,
) -> IncidentFacts:
    """A new incident, as a STIX incident created by the subject's org."""
    collection = writable_collection(conn, subject, collection_id)
    check_draft(draft)
    if draft.status != "reported":
        raise InvalidInput("a new incident starts as reported; update it to move it on")
    assert subject.identity_id is not None
    stamp = version_stamp(now_us)
    refs, extra = marking.refs_and_objects()
    obj = build_incident(
        draft,
        stix_id=new_id("incident"),
        creator=subject.identity_id,
        created=stamp,
        modified=stamp,
        marking_refs=refs,
    )
    details = {"category": draft.category, "tlp": marking.tlp.label, "status": draft.status}
    store_batch(
        conn,
        subject,
        collection,
        [*extra, obj],
        action="incident.report",
        stix_id=str(obj["id"]),
        details=details,
    )
    return incident_facts(obj)


def update(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    incident_id: str,
    change: IncidentChange,
    now_us: int | None = None,
) -> IncidentFacts:
    """A new version of the incident. Only its reporting organisation may publish one;
    anyone else who can read it adds a note instead."""
    collection = writable_collection(conn, subject, collection_id)
    current = incident_in(conn, subject, collection, incident_id)
    if current.creator != subject.identity_id:
        owner = org_names(conn).get(current.creator, current.creator)
        raise Forbidden(
            f"only the reporting organisation ({owner}) may update this incident; "
            "add a note to its timeline instead"
        )
    updated = apply_change(current.draft, change)
    obj = build_incident(
        updated,
        stix_id=incident_id,
        creator=current.creator,
        created=current.created,
        modified=version_stamp(now_us, after=current.version),
        marking_refs=current.marking_refs,
    )
    store_batch(
        conn,
        subject,
        collection,
        [obj],
        action="incident.update",
        stix_id=incident_id,
        details=_changed(current.draft, updated),
    )
    return incident_facts(obj)


def _changed(before: IncidentDraft, after: IncidentDraft) -> dict[str, list[object]]:
    """Field -> [old, new] for what an update changed (the audit entry and the timeline)."""
    out: dict[str, list[object]] = {}
    for name in IncidentDraft.__dataclass_fields__:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out[name] = [
                list(old) if isinstance(old, tuple) else old,
                list(new) if isinstance(new, tuple) else new,
            ]
    return out


def add_note(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    incident_id: str,
    content: str,
    now_us: int | None = None,
) -> str:
    """A timeline note on an incident the subject can read, under the incident's markings."""
    collection = writable_collection(conn, subject, collection_id)
    incident = incident_in(conn, subject, collection, incident_id)
    assert subject.identity_id is not None
    refs, extra = marking_of(conn, incident.marking_refs).refs_and_objects()
    note = build_note(
        incident_id=incident_id,
        creator=subject.identity_id,
        content=content,
        created=version_stamp(now_us),
        marking_refs=refs,
    )
    store_batch(
        conn,
        subject,
        collection,
        [*extra, note],
        action="incident.note",
        stix_id=str(note["id"]),
        details={"incident": incident_id},
    )
    return str(note["id"])


def list_incidents(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    status: str | None = None,
    min_category: int | None = None,
) -> list[IncidentFacts]:
    """Latest versions the subject may read; ``min_category`` 3 means categories 1-3."""
    collection = readable_collection(conn, subject, collection_id)
    found = [
        incident_facts(o) for o in read_objects(conn, subject, collection, types=("incident",))
    ]
    return [
        f
        for f in found
        if (status is None or f.draft.status == status)
        and (min_category is None or f.draft.category <= min_category)
    ]


def show_incident(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    incident_id: str,
    sla: Mapping[int, Sla],
    now_us: int | None = None,
) -> IncidentDetail:
    collection = readable_collection(conn, subject, collection_id)
    # Judged on the newest version, as TAXII's match[version]=last is: one the subject may
    # not read hides the incident, rather than an older version shown as if current.
    current = incident_in(conn, subject, collection, incident_id)
    versions = tuple(
        sorted(
            (
                incident_facts(o)
                for o in read_objects(
                    conn,
                    subject,
                    collection,
                    types=("incident",),
                    ids=(incident_id,),
                    every_version=True,
                )
            ),
            key=lambda f: parse_timestamp(f.version),
        )
    )
    if not versions or versions[-1].version != current.version:
        raise NotFound(f"no incident {incident_id} in this collection")
    requests = requests_in(conn, subject, collection, sla, now_us, incident_id=incident_id)
    return IncidentDetail(incident=versions[-1], versions=versions, requests=tuple(requests))


def _notes(
    conn: Connection, subject: Subject, collection: Collection, incident_id: str
) -> list[dict[str, Any]]:
    return [
        n
        for n in read_objects(conn, subject, collection, types=("note",))
        if incident_id in (n.get("object_refs") or ())
    ]


def timeline(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    incident_id: str,
    sla: Mapping[int, Sla],
) -> tuple[IncidentDetail, list[TimelineEvent]]:
    """Everything that happened to an incident, oldest first: its versions, its notes, and
    its assistance requests with their answers, as far as the subject may read them."""
    detail = show_incident(
        conn, subject=subject, collection_id=collection_id, incident_id=incident_id, sla=sla
    )
    collection = readable_collection(conn, subject, collection_id)
    names = org_names(conn)
    events: list[tuple[int, TimelineEvent]] = []
    previous: IncidentFacts | None = None
    for version in detail.versions:
        what = _version_story(previous, version)
        kind = "reported" if previous is None else "updated"
        events.append(_event(version.version, names, version.creator, kind, what, version.id))
        previous = version
    for note in _notes(conn, subject, collection, incident_id):
        events.append(
            _event(
                note["created"],
                names,
                note.get("created_by_ref", ""),
                "note",
                str(note["content"]),
                note["id"],
            )
        )
    for view in detail.requests:
        events.extend(_request_events(view, names))
    events.sort(key=lambda e: (e[0], e[1].id))
    return detail, [e for _, e in events]


def _event(
    at: str, names: Mapping[str, str], who: str, kind: str, what: str, stix_id: str
) -> tuple[int, TimelineEvent]:
    return parse_timestamp(at), TimelineEvent(at, names.get(who, who), kind, what, stix_id)


def _version_story(previous: IncidentFacts | None, version: IncidentFacts) -> str:
    d = version.draft
    if previous is None:
        where = f"{d.country}" + (f" {d.sector}" if d.sector else "")
        return f"Category {d.category} incident reported ({where}): {d.title}"
    changes = _changed(previous.draft, d)
    parts = [f"{name} {old!r} -> {new!r}" for name, (old, new) in changes.items()]
    return "; ".join(parts) or "new version"


def _request_events(view: RequestView, names: Mapping[str, str]) -> list[tuple[int, TimelineEvent]]:
    r = view.request
    out = [
        _event(
            format_timestamp(r.created_us),
            names,
            r.creator,
            "assistance-requested",
            f"asked {names.get(r.addressee, r.addressee)} for {', '.join(r.needs)} ({r.urgency})",
            r.id,
        )
    ]
    for response in view.state.applied:
        detail = f" {', '.join(response.resources)}" if response.resources else ""
        comment = f" ({response.comment})" if response.comment else ""
        out.append(
            _event(
                format_timestamp(response.created_us),
                names,
                response.creator,
                response.action,
                f"{_DONE[response.action]}{detail}{comment}",
                response.id,
            )
        )
    if view.state.closed_us is not None:
        out.append(
            _event(
                format_timestamp(view.state.closed_us),
                names,
                r.creator,
                "closed",
                "assistance request closed",
                r.id,
            )
        )
    return out
