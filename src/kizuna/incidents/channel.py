"""The assistance channel: request help from a partner node, answer (acknowledge, accept,
decline, offer) and close, list and show requests with their SLA clocks. Requests and
responses are separate STIX objects (each side owns its own), so the state is derived from
both and agrees on both nodes after sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from sqlalchemy import Connection

from kizuna.access import service as access
from kizuna.access.subject import Subject
from kizuna.access.tlp import Tlp
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.incidents.assistance import (
    Sla,
    next_state,
)
from kizuna.incidents.extensions import REQUEST_TYPE
from kizuna.incidents.model import (
    AssistanceDraft,
    Marking,
    build_request,
    build_response,
    check_assistance,
    new_id,
)
from kizuna.incidents.objects import (
    RequestView,
    incident_in,
    marking_of,
    read_objects,
    readable_collection,
    requests_in,
    store_batch,
    version_stamp,
    writable_collection,
)
from kizuna.stix.timestamps import parse_timestamp

__all__ = [
    "RequestView",
    "close_request",
    "list_requests",
    "request_assistance",
    "respond",
    "show_request",
]


# -- assistance --------------------------------------------------------------------------------


def request_assistance(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    draft: AssistanceDraft,
    marking: Marking | None = None,
    now_us: int | None = None,
) -> str:
    """Ask a partner organisation (the remote org standing for its node) for help with an
    incident. Without a marking the request carries the incident's; either way the
    addressee must be able to read it, or the request could never reach it."""
    collection = writable_collection(conn, subject, collection_id)
    check_assistance(draft)
    incident = incident_in(conn, subject, collection, draft.incident_id)
    addressee = access.find_org(conn, draft.addressee)
    chosen = marking or marking_of(conn, incident.marking_refs)
    _check_reachable(chosen, addressee)
    if draft.deadline is not None:
        parse_timestamp(draft.deadline)
    assert subject.identity_id is not None
    refs, extra = chosen.refs_and_objects()
    stamp = version_stamp(now_us)
    request = build_request(
        replace(draft, addressee=addressee.identity_id),
        stix_id=new_id(REQUEST_TYPE),
        creator=subject.identity_id,
        category=incident.draft.category,
        created=stamp,
        modified=stamp,
        status="open",
        marking_refs=refs,
    )
    details = {
        "incident": incident.id,
        "addressee": addressee.name,
        "needs": list(draft.needs),
        "urgency": draft.urgency,
        "category": incident.draft.category,
    }
    store_batch(
        conn,
        subject,
        collection,
        [*extra, request],
        action="assistance.request",
        stix_id=str(request["id"]),
        details=details,
    )
    return str(request["id"])


def _check_reachable(marking: Marking, addressee: access.Org) -> None:
    if marking.tlp is Tlp.RED:
        raise InvalidInput(
            f"TLP:RED never leaves this node, so {addressee.name} could never receive this "
            "request; use TLP:AMBER with it in the audience"
        )
    if marking.tlp >= Tlp.AMBER and addressee.identity_id not in marking.audience:
        raise InvalidInput(
            f"the request is addressed to {addressee.name}, which is not in its audience, so "
            f"it could never reach it; add {addressee.name} to the audience"
        )


def list_requests(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    sla: Mapping[int, Sla],
    now_us: int | None = None,
) -> list[RequestView]:
    collection = readable_collection(conn, subject, collection_id)
    return requests_in(conn, subject, collection, sla, now_us)


def show_request(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    request_id: str,
    sla: Mapping[int, Sla],
    now_us: int | None = None,
) -> RequestView:
    collection = readable_collection(conn, subject, collection_id)
    found = requests_in(conn, subject, collection, sla, now_us, request_id=request_id)
    if not found:
        raise NotFound(f"no assistance request {request_id} in this collection")
    return found[0]


def respond(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    request_id: str,
    action: str,
    resources: Sequence[str] = (),
    comment: str | None = None,
    now_us: int | None = None,
) -> str:
    """The addressee acknowledges, accepts, declines or offers: a response object under
    the request's markings, so that it travels back to the requester."""
    collection = writable_collection(conn, subject, collection_id)
    view = show_request(
        conn,
        subject=subject,
        collection_id=collection_id,
        request_id=request_id,
        sla={},
        now_us=now_us,
    )
    if view.request.addressee != subject.identity_id:
        raise Forbidden("only the organisation the request is addressed to may answer it")
    if view.state.state == "closed":
        raise InvalidInput("the requester has closed this request; it takes no more answers")
    next_state(view.state.state, action)
    assert subject.identity_id is not None
    refs, extra = marking_of(conn, view.request.marking_refs).refs_and_objects()
    response = build_response(
        request_id=request_id,
        creator=subject.identity_id,
        action=action,
        created=version_stamp(now_us),
        marking_refs=refs,
        resources=resources,
        comment=comment,
    )
    store_batch(
        conn,
        subject,
        collection,
        [*extra, response],
        action=f"assistance.{action}",
        stix_id=str(response["id"]),
        details={"request": request_id, "resources": list(resources)},
    )
    return str(response["id"])


def close_request(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    request_id: str,
    now_us: int | None = None,
) -> None:
    """The requester closes its request: a new version with status closed."""
    collection = writable_collection(conn, subject, collection_id)
    versions = list(
        read_objects(conn, subject, collection, types=(REQUEST_TYPE,), ids=(request_id,))
    )
    if not versions:
        raise NotFound(f"no assistance request {request_id} in this collection")
    latest = versions[-1]
    if latest.get("created_by_ref") != subject.identity_id:
        raise Forbidden("only the requesting organisation may close an assistance request")
    if latest.get("status") == "closed":
        raise InvalidInput("this assistance request is already closed")
    closed = {
        **latest,
        "status": "closed",
        "modified": version_stamp(now_us, after=latest["modified"]),
    }
    store_batch(
        conn,
        subject,
        collection,
        [closed],
        action="assistance.close",
        stix_id=request_id,
        details={},
    )
