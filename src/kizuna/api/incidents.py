"""REST incident channel under ``/api/v1/incidents`` and ``/api/v1/assistance`` (not TAXII).

Every operation names the collection it works in (``collection``), and runs
:mod:`kizuna.incidents.service` as the token's subject: writes need the analyst or admin
role of a local organisation; reads go through the access module, so an incident,
note or request the token may not read answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from kizuna.access import service as access
from kizuna.access.subject import Subject
from kizuna.access.tlp import Tlp
from kizuna.api.context import Node, node, subject
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput
from kizuna.incidents import channel, objects, service
from kizuna.incidents.assistance import Sla, sla_terms
from kizuna.incidents.model import AssistanceDraft, IncidentChange, IncidentDraft, Marking
from kizuna.incidents.report import incident_json, timeline_json, timeline_markdown

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Collection = Annotated[str, Query(description="The collection the incident channel uses.")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    collection: str = Field(description="The collection to store in.")


class IncidentIn(_Body):
    title: str = Field(min_length=1, max_length=500)
    category: int = Field(ge=1, le=6, description="UK NCSC category, 1 (emergency) to 6.")
    country: str = Field(description="ISO 3166 alpha-2 code of the affected country.")
    sector: str | None = Field(None, description="A critical-infrastructure sector of it.")
    description: str | None = None
    partner_severity: str | None = Field(None, description="The partner's own severity.")
    affected_organisations: list[str] = []
    impact: list[Literal["destructive", "disruptive", "destabilising", "data", "service"]] = []
    related_refs: list[str] = Field([], description="Indicators, malware, actors, sightings.")
    tlp: str = Field("TLP:AMBER", description="TLP:CLEAR, GREEN, AMBER, AMBER+STRICT or RED.")
    audience: list[str] = Field([], description="Orgs (names or identity ids) that may read.")


class IncidentUpdateIn(_Body):
    title: str | None = None
    category: int | None = Field(None, ge=1, le=6)
    status: (
        Literal["reported", "triaged", "contained", "eradicated", "recovered", "closed"] | None
    ) = None
    sector: str | None = None
    description: str | None = None
    partner_severity: str | None = None
    affected_organisations: list[str] | None = None
    impact: (
        list[Literal["destructive", "disruptive", "destabilising", "data", "service"]] | None
    ) = None
    related_refs: list[str] = Field([], description="Links to add.")


class NoteIn(_Body):
    content: str = Field(min_length=1)


class AssistanceIn(_Body):
    incident_id: str
    addressee: str = Field(description="The partner org (name or identity id) asked for help.")
    needs: list[
        Literal[
            "analysis",
            "indicators",
            "technical-staff",
            "attribution-coordination",
            "diplomatic-engagement",
        ]
    ] = Field(min_length=1)
    urgency: Literal["routine", "priority", "immediate"] = "priority"
    deadline: str | None = Field(None, description="UTC timestamp by which help is needed.")
    title: str | None = None
    description: str | None = None
    tlp: str | None = Field(None, description="Default: the incident's marking.")
    audience: list[str] = []


class ResponseIn(_Body):
    action: Literal["acknowledge", "accept", "decline", "offer"]
    resources: list[str] = Field([], description="What is offered (for an offer).")
    comment: str | None = None


class CloseIn(_Body):
    pass


def _sla(here: Node) -> dict[int, Sla]:
    return sla_terms(here.settings.incident_sla)


def _tlp(text: str) -> Tlp:
    try:
        return Tlp.parse(text)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _names(here: Node) -> dict[str, str]:
    with read_transaction(here.engine) as conn:
        return {org.identity_id: org.name for org in access.list_orgs(conn)}


# -- incidents ---------------------------------------------------------------------------------


@router.post("/incidents", status_code=201)
def report_incident(
    body: IncidentIn, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    """Report an incident (TLP:AMBER with the reporting org and the named orgs by default)."""
    draft = IncidentDraft(
        title=body.title,
        category=body.category,
        country=body.country.upper(),
        sector=body.sector,
        description=body.description,
        partner_severity=body.partner_severity,
        affected_organisations=tuple(body.affected_organisations),
        impact=tuple(body.impact),
        related_refs=tuple(body.related_refs),
    )
    with write_transaction(here.engine) as conn:
        marking = objects.resolve_marking(conn, who, tlp=_tlp(body.tlp), audience=body.audience)
        facts = service.report(
            conn, subject=who, collection_id=body.collection, draft=draft, marking=marking
        )
    return incident_json(facts, _names(here))


@router.get("/incidents")
def list_incidents(
    collection: Collection,
    status: str | None = None,
    max_category: int | None = Query(None, ge=1, le=6, description="e.g. 3: categories 1-3"),
    who: Subject = Depends(subject),
    here: Node = Depends(node),
) -> dict[str, list[dict[str, Any]]]:
    with read_transaction(here.engine) as conn:
        found = service.list_incidents(
            conn, subject=who, collection_id=collection, status=status, min_category=max_category
        )
    names = _names(here)
    return {"incidents": [incident_json(f, names) for f in found]}


@router.get("/incidents/{incident_id}")
def show_incident(
    incident_id: str,
    collection: Collection,
    who: Subject = Depends(subject),
    here: Node = Depends(node),
) -> dict[str, Any]:
    """The incident's latest version, its version history and its assistance requests."""
    with read_transaction(here.engine) as conn:
        detail = service.show_incident(
            conn, subject=who, collection_id=collection, incident_id=incident_id, sla=_sla(here)
        )
    names = _names(here)
    return {
        **incident_json(detail.incident, names),
        "versions": [incident_json(v, names) for v in detail.versions],
        "assistance": [view.as_json(names) for view in detail.requests],
    }


@router.patch("/incidents/{incident_id}")
def update_incident(
    incident_id: str,
    body: IncidentUpdateIn,
    who: Subject = Depends(subject),
    here: Node = Depends(node),
) -> dict[str, Any]:
    """A new version (reporting org only); the status moves only as the transitions allow."""
    change = IncidentChange(
        title=body.title,
        category=body.category,
        status=body.status,
        sector=body.sector,
        description=body.description,
        partner_severity=body.partner_severity,
        affected_organisations=tuple(body.affected_organisations)
        if body.affected_organisations is not None
        else None,
        impact=tuple(body.impact) if body.impact is not None else None,
        related_refs=tuple(body.related_refs),
    )
    with write_transaction(here.engine) as conn:
        facts = service.update(
            conn, subject=who, collection_id=body.collection, incident_id=incident_id, change=change
        )
    return incident_json(facts, _names(here))


@router.post("/incidents/{incident_id}/notes", status_code=201)
def add_note(
    incident_id: str, body: NoteIn, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, str]:
    with write_transaction(here.engine) as conn:
        note_id = service.add_note(
            conn,
            subject=who,
            collection_id=body.collection,
            incident_id=incident_id,
            content=body.content,
        )
    return {"id": note_id}


@router.get(
    "/incidents/{incident_id}/timeline",
    responses={200: {"content": {"text/markdown": {}}}},
)
def incident_timeline(
    incident_id: str,
    collection: Collection,
    format: Literal["json", "markdown"] = "json",
    who: Subject = Depends(subject),
    here: Node = Depends(node),
) -> Response:
    """The incident's timeline (versions, notes, assistance) as JSON or Markdown."""
    with read_transaction(here.engine) as conn:
        detail, events = service.timeline(
            conn, subject=who, collection_id=collection, incident_id=incident_id, sla=_sla(here)
        )
    names = _names(here)
    if format == "markdown":
        return PlainTextResponse(
            timeline_markdown(detail, events, names), media_type="text/markdown"
        )
    return Response(
        orjson.dumps(timeline_json(detail, events, names)), media_type="application/json"
    )


# -- assistance --------------------------------------------------------------------------------


@router.post("/assistance", status_code=201)
def request_assistance(
    body: AssistanceIn, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    """Ask a partner org for help; its audience must include the partner."""
    draft = AssistanceDraft(
        incident_id=body.incident_id,
        addressee=body.addressee,
        needs=tuple(body.needs),
        urgency=body.urgency,
        deadline=body.deadline,
        description=body.description,
        title=body.title,
    )
    with write_transaction(here.engine) as conn:
        marking: Marking | None = None
        if body.tlp is not None:
            marking = objects.resolve_marking(conn, who, tlp=_tlp(body.tlp), audience=body.audience)
        elif body.audience:
            raise InvalidInput("give the tlp together with an audience")
        request_id = channel.request_assistance(
            conn, subject=who, collection_id=body.collection, draft=draft, marking=marking
        )
    return _request_view(here, who, body.collection, request_id)


def _request_view(here: Node, who: Subject, collection: str, request_id: str) -> dict[str, Any]:
    with read_transaction(here.engine) as conn:
        view = channel.show_request(
            conn, subject=who, collection_id=collection, request_id=request_id, sla=_sla(here)
        )
    return view.as_json(_names(here))


@router.get("/assistance")
def list_assistance(
    collection: Collection, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, list[dict[str, Any]]]:
    """Requests the token may read, with their derived state and SLA clocks."""
    with read_transaction(here.engine) as conn:
        views = channel.list_requests(conn, subject=who, collection_id=collection, sla=_sla(here))
    names = _names(here)
    return {"requests": [view.as_json(names) for view in views]}


@router.get("/assistance/{request_id}")
def show_assistance(
    request_id: str,
    collection: Collection,
    who: Subject = Depends(subject),
    here: Node = Depends(node),
) -> dict[str, Any]:
    return _request_view(here, who, collection, request_id)


@router.post("/assistance/{request_id}/responses", status_code=201)
def respond(
    request_id: str, body: ResponseIn, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    """The addressee acknowledges, accepts, declines or offers resources."""
    with write_transaction(here.engine) as conn:
        response_id = channel.respond(
            conn,
            subject=who,
            collection_id=body.collection,
            request_id=request_id,
            action=body.action,
            resources=tuple(body.resources),
            comment=body.comment,
        )
    return {"id": response_id, "request": _request_view(here, who, body.collection, request_id)}


@router.post("/assistance/{request_id}/close")
def close_assistance(
    request_id: str, body: CloseIn, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    """The requester closes its request."""
    with write_transaction(here.engine) as conn:
        channel.close_request(
            conn, subject=who, collection_id=body.collection, request_id=request_id
        )
    return _request_view(here, who, body.collection, request_id)
