"""The incident channel's objects as plain data: building the STIX objects, reading them
back, and the rules on their values and status changes. No I/O, so every rule is easy to
test; :mod:`kizuna.incidents.service` applies them to the store.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kizuna.access.sectors import SECTORS, check_sector
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.errors import InvalidInput
from kizuna.incidents.extensions import (
    INCIDENT_EXTENSION_ID,
    REQUEST_EXTENSION_ID,
    REQUEST_TYPE,
    RESPONSE_EXTENSION_ID,
    RESPONSE_TYPE,
    new_sdo_marker,
)

__all__ = [
    "ACTIONS",
    "IMPACTS",
    "NEEDS",
    "RELATED_TYPES",
    "STATUSES",
    "TRANSITIONS",
    "URGENCIES",
    "AssistanceDraft",
    "IncidentChange",
    "IncidentDraft",
    "IncidentFacts",
    "Marking",
    "apply_change",
    "build_incident",
    "build_note",
    "build_request",
    "build_response",
    "check_draft",
    "check_transition",
    "incident_facts",
]

STATUSES = ("reported", "triaged", "contained", "eradicated", "recovered", "closed")
#: Where an incident may go from each status. Forward only: a closed incident stays closed
#: (a recurrence is a new incident that can link to the old one).
TRANSITIONS: dict[str, frozenset[str]] = {
    "reported": frozenset({"triaged", "contained", "closed"}),
    "triaged": frozenset({"contained", "closed"}),
    "contained": frozenset({"eradicated", "recovered", "closed"}),
    "eradicated": frozenset({"recovered", "closed"}),
    "recovered": frozenset({"closed"}),
    "closed": frozenset(),
}
IMPACTS = ("destructive", "disruptive", "destabilising", "data", "service")
NEEDS = (
    "analysis",
    "indicators",
    "technical-staff",
    "attribution-coordination",
    "diplomatic-engagement",
)
URGENCIES = ("routine", "priority", "immediate")
ACTIONS = ("acknowledge", "accept", "decline", "offer")
RELATED_TYPES = frozenset(
    {"indicator", "malware", "threat-actor", "intrusion-set", "observed-data", "sighting"}
)
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_IDENTIFIER = re.compile(
    r"^([a-z0-9-]+)--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


@dataclass(frozen=True, slots=True)
class Marking:
    """An object's TLP label and, for AMBER and above, its audience (org identity ids)."""

    tlp: Tlp
    audience: tuple[str, ...] = ()

    def refs_and_objects(self) -> tuple[list[str], list[dict[str, object]]]:
        """object_marking_refs, and the audience marking-definition to store with them."""
        refs = [TLP2_MARKINGS[self.tlp]]
        extra: list[dict[str, object]] = []
        if self.audience and self.tlp >= Tlp.AMBER:
            definition = audience_marking(self.audience)
            refs.append(str(definition["id"]))
            extra.append(definition)
        return refs, extra


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    """What a reporter says about a new incident."""

    title: str
    category: int
    country: str
    sector: str | None = None
    description: str | None = None
    partner_severity: str | None = None
    affected_organisations: tuple[str, ...] = ()
    impact: tuple[str, ...] = ()
    related_refs: tuple[str, ...] = ()
    status: str = "reported"


@dataclass(frozen=True, slots=True)
class IncidentChange:
    """An update: only the fields given change. ``related_refs`` are added to the links."""

    title: str | None = None
    category: int | None = None
    status: str | None = None
    sector: str | None = None
    description: str | None = None
    partner_severity: str | None = None
    affected_organisations: tuple[str, ...] | None = None
    impact: tuple[str, ...] | None = None
    related_refs: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return self == IncidentChange()


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """One stored version of an incident, read back."""

    id: str
    version: str
    created: str
    creator: str
    draft: IncidentDraft
    marking_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AssistanceDraft:
    """What a requester asks of a partner organisation."""

    incident_id: str
    addressee: str  # the partner org's identity id
    needs: tuple[str, ...]
    urgency: str = "priority"
    deadline: str | None = None
    description: str | None = None
    title: str | None = None


def new_id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


# -- checks ------------------------------------------------------------------------------------


def _choices(label: str, values: Iterable[str], allowed: Sequence[str]) -> None:
    for value in values:
        if value not in allowed:
            raise InvalidInput(f"{label} {value!r} is not one of: {', '.join(allowed)}")


def _check_category(category: int) -> None:
    if isinstance(category, bool) or not isinstance(category, int) or not 1 <= category <= 6:
        raise InvalidInput(
            f"category must be 1-6 on the NCSC scale (1 national cyber emergency ... "
            f"6 localised), got {category!r}"
        )


def _check_related(refs: Iterable[str]) -> None:
    for ref in refs:
        match = _IDENTIFIER.match(ref)
        if match is None or match.group(1) not in RELATED_TYPES:
            raise InvalidInput(
                f"{ref!r} cannot be linked to an incident: link an identifier of type "
                f"{', '.join(sorted(RELATED_TYPES))}"
            )


def check_draft(draft: IncidentDraft) -> None:
    """Raise InvalidInput naming the first value that breaks a rule."""
    if not draft.title.strip():
        raise InvalidInput("an incident needs a title")
    _check_category(draft.category)
    if not _COUNTRY.match(draft.country):
        raise InvalidInput(
            f"country must be an ISO 3166 alpha-2 code such as GB or JP, not {draft.country!r}"
        )
    if draft.sector is not None and draft.country not in SECTORS:
        raise InvalidInput(
            f"kizuna knows the critical-infrastructure sectors of {', '.join(SECTORS)} only; "
            f"leave the sector out for {draft.country}"
        )
    try:
        check_sector(draft.country, draft.sector)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _choices("impact", draft.impact, IMPACTS)
    _choices("status", (draft.status,), STATUSES)
    _check_related(draft.related_refs)


def check_transition(old: str, new: str) -> None:
    """A status may move only as TRANSITIONS allows; staying put is always allowed."""
    if new == old:
        return
    _choices("status", (new,), STATUSES)
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (it is final)"
        raise InvalidInput(
            f"an incident cannot go from {old} to {new}; from {old} it may go to {allowed}"
        )


def check_assistance(draft: AssistanceDraft) -> None:
    if not draft.needs:
        raise InvalidInput(f"say what is needed: one or more of {', '.join(NEEDS)}")
    _choices("need", draft.needs, NEEDS)
    _choices("urgency", (draft.urgency,), URGENCIES)


# -- building ----------------------------------------------------------------------------------


def _incident_extension(draft: IncidentDraft) -> dict[str, object]:
    extension: dict[str, object] = {
        "extension_type": "property-extension",
        "category": draft.category,
        "country": draft.country,
        "status": draft.status,
    }
    optional: dict[str, object] = {
        "sector": draft.sector,
        "partner_severity": draft.partner_severity,
        "affected_organisations": list(draft.affected_organisations),
        "impact": list(draft.impact),
        "related_refs": list(dict.fromkeys(draft.related_refs)),
    }
    extension.update({k: v for k, v in optional.items() if v})
    return extension


def build_incident(
    draft: IncidentDraft,
    *,
    stix_id: str,
    creator: str,
    created: str,
    modified: str,
    marking_refs: Sequence[str],
) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "incident",
        "spec_version": "2.1",
        "id": stix_id,
        "created": created,
        "modified": modified,
        "created_by_ref": creator,
        "name": draft.title,
        "object_marking_refs": list(marking_refs),
        "extensions": {INCIDENT_EXTENSION_ID: _incident_extension(draft)},
    }
    if draft.description:
        obj["description"] = draft.description
    return obj


def incident_facts(obj: Mapping[str, Any]) -> IncidentFacts:
    """Read an incident back. Incidents without kizuna's extension (from other tools) read
    as category 6, status reported, country unknown ("ZZ")."""
    ext = (obj.get("extensions") or {}).get(INCIDENT_EXTENSION_ID) or {}
    draft = IncidentDraft(
        title=str(obj.get("name", "")),
        category=int(ext.get("category", 6)),
        country=str(ext.get("country", "ZZ")),
        sector=ext.get("sector"),
        description=obj.get("description"),
        partner_severity=ext.get("partner_severity"),
        affected_organisations=tuple(ext.get("affected_organisations", ())),
        impact=tuple(ext.get("impact", ())),
        related_refs=tuple(ext.get("related_refs", ())),
        status=str(ext.get("status", "reported")),
    )
    return IncidentFacts(
        id=str(obj["id"]),
        version=str(obj.get("modified") or obj.get("created")),
        created=str(obj.get("created")),
        creator=str(obj.get("created_by_ref", "")),
        draft=draft,
        marking_refs=tuple(obj.get("object_marking_refs") or ()),
    )


def apply_change(current: IncidentDraft, change: IncidentChange) -> IncidentDraft:
    """The incident after an update, checked (values and the status transition)."""
    if change.is_empty():
        raise InvalidInput("nothing to update: give at least one changed field")
    updated = replace(
        current,
        title=change.title if change.title is not None else current.title,
        category=change.category if change.category is not None else current.category,
        status=change.status if change.status is not None else current.status,
        sector=change.sector if change.sector is not None else current.sector,
        description=change.description if change.description is not None else current.description,
        partner_severity=change.partner_severity
        if change.partner_severity is not None
        else current.partner_severity,
        affected_organisations=change.affected_organisations
        if change.affected_organisations is not None
        else current.affected_organisations,
        impact=change.impact if change.impact is not None else current.impact,
        related_refs=tuple(dict.fromkeys((*current.related_refs, *change.related_refs))),
    )
    check_transition(current.status, updated.status)
    check_draft(updated)
    if updated == current:
        raise InvalidInput("nothing to update: the values given are the incident's own")
    return updated


def build_note(
    *,
    incident_id: str,
    creator: str,
    content: str,
    created: str,
    marking_refs: Sequence[str],
) -> dict[str, object]:
    """A timeline note: a STIX note on the incident, under the incident's markings."""
    if not content.strip():
        raise InvalidInput("a note needs some text")
    return {
        "type": "note",
        "spec_version": "2.1",
        "id": new_id("note"),
        "created": created,
        "modified": created,
        "created_by_ref": creator,
        "content": content,
        "object_refs": [incident_id],
        "object_marking_refs": list(marking_refs),
    }


def build_request(
    draft: AssistanceDraft,
    *,
    stix_id: str,
    creator: str,
    category: int,
    created: str,
    modified: str,
    status: str,
    marking_refs: Sequence[str],
) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": REQUEST_TYPE,
        "spec_version": "2.1",
        "id": stix_id,
        "created": created,
        "modified": modified,
        "created_by_ref": creator,
        "name": draft.title or f"Assistance requested: {', '.join(draft.needs)}",
        "incident_ref": draft.incident_id,
        "addressee_ref": draft.addressee,
        "needs": list(draft.needs),
        "urgency": draft.urgency,
        "category": category,
        "status": status,
        "object_marking_refs": list(marking_refs),
        "extensions": new_sdo_marker(REQUEST_EXTENSION_ID),
    }
    if draft.deadline:
        obj["deadline"] = draft.deadline
    if draft.description:
        obj["description"] = draft.description
    return obj


def build_response(
    *,
    request_id: str,
    creator: str,
    action: str,
    created: str,
    marking_refs: Sequence[str],
    resources: Sequence[str] = (),
    comment: str | None = None,
) -> dict[str, object]:
    _choices("action", (action,), ACTIONS)
    if action == "offer" and not resources:
        raise InvalidInput("an offer names the resources offered (e.g. indicators, analysis)")
    obj: dict[str, object] = {
        "type": RESPONSE_TYPE,
        "spec_version": "2.1",
        "id": new_id(RESPONSE_TYPE),
        "created": created,
        "modified": created,
        "created_by_ref": creator,
        "request_ref": request_id,
        "action": action,
        "object_marking_refs": list(marking_refs),
        "extensions": new_sdo_marker(RESPONSE_EXTENSION_ID),
    }
    if resources:
        obj["resources"] = list(resources)
    if comment:
        obj["comment"] = comment
    return obj
