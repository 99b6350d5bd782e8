"""The attribution's STIX objects, as plain functions over plain data (no I/O).

A *draft* is a ``report`` (TLP:AMBER or RED to its co-authors) carrying the attribution
extension with ``kind`` ``draft``: the wording, the refs, the co-authors and the workflow
state. Its *publication content* is derived from it and from the current versions of the
objects it names, deterministically, so that every co-author's node computes the same bytes
to sign: a TLP:CLEAR ``report`` (``kind`` ``publication``), an ``attributed-to``
``relationship`` from the activity to the actor, the activity, the actor, and the evidence
that is already TLP:CLEAR. Ids and timestamps of the published objects come from the draft
(its id and the time its wording last changed), never from the clock of the signer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kizuna.access.tlp import TLP2_MARKINGS, WELL_KNOWN, Tlp
from kizuna.attribution.extensions import ATTRIBUTION_EXTENSION_ID
from kizuna.attribution.verify import bundle_of
from kizuna.errors import Conflict, InvalidInput

__all__ = [
    "ACTIVITY_TYPES",
    "ACTOR_TYPES",
    "EVIDENCE_TYPES",
    "Content",
    "attribution_of",
    "check_refs",
    "mentioned_ids",
    "publication_content",
    "published_report_id",
    "tlp_of",
]

ACTIVITY_TYPES = frozenset({"campaign", "intrusion-set"})
ACTOR_TYPES = frozenset({"threat-actor"})
EVIDENCE_TYPES = frozenset(
    {"indicator", "malware", "observed-data", "sighting", "incident", "report"}
)
_NAMESPACE = uuid.UUID("6f3b1c52-0d7e-4f4e-9a39-2c1c3e8f5a10")
_STIX_ID = re.compile(
    r"\b[a-z][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)


def attribution_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The attribution extension of a draft or published report."""
    body = (obj.get("extensions") or {}).get(ATTRIBUTION_EXTENSION_ID)
    if not isinstance(body, dict):
        raise InvalidInput(f"{obj.get('id')} is not a kizuna attribution")
    return body


def _type(stix_id: str) -> str:
    return stix_id.split("--", 1)[0]


def check_refs(activity_ref: str, actor_ref: str, evidence_refs: Iterable[str]) -> None:
    """Refs of the right kinds: an activity, an actor, and evidence."""
    if _type(activity_ref) not in ACTIVITY_TYPES:
        raise InvalidInput(f"the activity must be a campaign or intrusion-set, not {activity_ref}")
    if _type(actor_ref) not in ACTOR_TYPES:
        raise InvalidInput(f"the attributed actor must be a threat-actor, not {actor_ref}")
    for ref in evidence_refs:
        if _type(ref) not in EVIDENCE_TYPES:
            raise InvalidInput(f"evidence {ref} is not one of: {', '.join(sorted(EVIDENCE_TYPES))}")


def tlp_of(obj: Mapping[str, Any]) -> Tlp | None:
    """The object's label: the most restrictive TLP among its markings (None: unmarked)."""
    refs = list(obj.get("object_marking_refs") or [])
    refs += [
        g.get("marking_ref") for g in obj.get("granular_markings") or [] if isinstance(g, dict)
    ]
    labels = [WELL_KNOWN[r][0] for r in refs if r in WELL_KNOWN and WELL_KNOWN[r][0] is not None]
    return max((t for t in labels if t is not None), default=None)


def published_report_id(draft_id: str) -> str:
    """The published report's id: one per attribution, kept through corrections."""
    return f"report--{uuid.uuid5(_NAMESPACE, draft_id)}"


def _relationship_id(draft_id: str) -> str:
    return f"relationship--{uuid.uuid5(_NAMESPACE, draft_id + '|attributed-to')}"


@dataclass(frozen=True, slots=True)
class Content:
    """What the co-authors sign: the bundle (without signatures and signer identities)."""

    bundle: dict[str, Any]
    report: dict[str, Any]
    withheld: tuple[str, ...]  # evidence left out because it is not TLP:CLEAR


_CLEAR = [TLP2_MARKINGS[Tlp.CLEAR]]


def _public_text(draft: Mapping[str, Any], attribution: Mapping[str, Any]) -> str:
    parts = [draft.get("name"), attribution.get("assessment"), attribution.get("actor_state")]
    parts.append(attribution.get("withdrawal_reason"))
    return "\n".join(str(p) for p in parts if p)


def mentioned_ids(draft: Mapping[str, Any]) -> list[str]:
    """The STIX ids the public text (title, assessment, actor state, withdrawal reason) names."""
    return sorted(set(_STIX_ID.findall(_public_text(draft, attribution_of(draft)))))


def _require_clear(role: str, ref: str, found: Mapping[str, Mapping[str, Any]]) -> None:
    obj = found.get(ref)
    if obj is None:
        raise Conflict(f"cannot publish: the {role} {ref} is not visible here")
    if tlp_of(obj) is not Tlp.CLEAR:
        raise Conflict(
            f"cannot publish: the {role} {ref} is not TLP:CLEAR; publish a CLEAR version first"
        )


def publication_content(
    draft: Mapping[str, Any], found: Mapping[str, Mapping[str, Any]]
) -> Content:
    """The publication bundle of a draft, given the current versions of the objects it names
    (`found`, id -> object, as the signer may read them). Refuses (Conflict) when the
    activity or actor is not CLEAR or the public text names an object that is not."""
    attribution = attribution_of(draft)
    activity, actor = attribution["activity_ref"], attribution["actor_ref"]
    _require_clear("activity", activity, found)
    _require_clear("actor", actor, found)
    evidence = [
        r
        for r in attribution.get("evidence_refs", [])
        if r in found and tlp_of(found[r]) is Tlp.CLEAR
    ]
    withheld = tuple(r for r in attribution.get("evidence_refs", []) if r not in evidence)
    for ref in mentioned_ids(draft):
        if ref not in found or tlp_of(found[ref]) is not Tlp.CLEAR:
            raise Conflict(
                f"cannot publish: the public text references {ref}, which is not TLP:CLEAR"
            )
    withdrawn = attribution.get("intent") == "withdraw"
    stamp = str(attribution["content_modified"])
    relationship: dict[str, Any] = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": _relationship_id(str(draft["id"])),
        "created": draft["created"],
        "modified": stamp,
        "created_by_ref": draft["created_by_ref"],
        "relationship_type": "attributed-to",
        "source_ref": activity,
        "target_ref": actor,
        "description": attribution["assessment"],
        "confidence": draft["confidence"],
        "object_marking_refs": _CLEAR,
    }
    if withdrawn:
        relationship["revoked"] = True
    published: dict[str, Any] = {
        "extension_type": "property-extension",
        "kind": "publication",
        "status": "withdrawn" if withdrawn else "published",
        "revision": attribution["revision"],
        "activity_ref": activity,
        "actor_ref": actor,
        "assessment": attribution["assessment"],
        "likelihood": attribution["likelihood"],
        "evidence_refs": evidence,
        "co_authors": attribution["co_authors"],
    }
    for optional in ("actor_state", "withdrawal_reason"):
        if attribution.get(optional):
            published[optional] = attribution[optional]
    description = str(attribution["assessment"])
    if withdrawn:
        description = f"WITHDRAWN: {attribution['withdrawal_reason']}\n\n{description}"
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": published_report_id(str(draft["id"])),
        "created": draft["created"],
        "modified": stamp,
        "created_by_ref": draft["created_by_ref"],
        "name": draft["name"],
        "description": description,
        "report_types": ["threat-actor"],
        "published": stamp,
        "confidence": draft["confidence"],
        "object_refs": sorted({activity, actor, relationship["id"], *evidence}),
        "object_marking_refs": _CLEAR,
        "extensions": {ATTRIBUTION_EXTENSION_ID: published},
    }
    objects = [report, relationship, *(found[r] for r in sorted({activity, actor, *evidence}))]
    return Content(bundle_of(str(report["id"]), objects), report, withheld)
