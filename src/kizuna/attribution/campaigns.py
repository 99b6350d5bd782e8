"""Deterrence campaigns: a record grouping the attributions, advisories, statements and
other actions taken together against one actor, each with its date, so that the Cyber
Dialogue can see what was done and when.

A campaign is a STIX ``grouping`` (context ``deterrence-campaign``) carrying the dated
entries in a property-extension (:data:`CAMPAIGN_EXTENSION_ID`); adding an entry is a new
version of the grouping, made by its creator. It is TLP:GREEN (the partnership community)
unless the caller narrows it to AMBER with an audience. Reads go through the store's read
path, so TLP and audiences decide who sees it; every change is audited.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, select

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.attribution import repository
from kizuna.attribution.content import tlp_of
from kizuna.attribution.extensions import CAMPAIGN_EXTENSION_ID
from kizuna.audit.log import record
from kizuna.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.store.models import markings

__all__ = ["KINDS", "Entry", "add_entry", "create", "entries_of", "get", "list_campaigns"]

CONTEXT = "deterrence-campaign"
KINDS = ("attribution", "advisory", "statement", "sanction", "other")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_STIX_ID = re.compile(r"^[a-z][a-z0-9-]*--[0-9a-f-]{36}$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One dated action of a campaign: a ref to a STIX object (an attribution's report, an
    advisory report) or a URL of something published elsewhere, or both."""

    kind: str
    date: str  # YYYY-MM-DD
    title: str
    ref: str | None = None
    url: str | None = None

    def checked(self) -> dict[str, str]:
        if self.kind not in KINDS:
            raise InvalidInput(f"an entry's kind is one of {', '.join(KINDS)}, not {self.kind!r}")
        if not _DATE.match(self.date):
            raise InvalidInput(f"an entry's date is YYYY-MM-DD, not {self.date!r}")
        parse_timestamp(f"{self.date}T00:00:00Z")
        if not self.title.strip():
            raise InvalidInput("an entry needs a title")
        if self.ref is None and self.url is None:
            raise InvalidInput("an entry names a STIX object (ref) or a URL")
        if self.ref is not None and not _STIX_ID.match(self.ref):
            raise InvalidInput(f"{self.ref!r} is not a STIX id")
        if self.url is not None and not self.url.startswith(("https://", "http://")):
            raise InvalidInput(f"{self.url!r} is not an http(s) URL")
        entry = {"kind": self.kind, "date": self.date, "title": self.title.strip()}
        if self.ref:
            entry["ref"] = self.ref
        if self.url:
            entry["url"] = self.url
        return entry


def _writer(who: Subject) -> None:
    if who.anonymous:
        raise Unauthenticated("campaigns need a token")
    if who.external or who.role not in (Role.ANALYST, Role.ADMIN):
        raise Forbidden("only an analyst or admin of this node's organisations may do this")


def _refs(grouping: dict[str, Any], entries: Sequence[dict[str, str]]) -> list[str]:
    # A grouping must name at least one object: before any entry, its creator.
    refs = sorted({e["ref"] for e in entries if "ref" in e})
    return refs or [str(grouping["created_by_ref"])]


def create(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    name: str,
    description: str | None = None,
    tlp: Tlp = Tlp.GREEN,
    audience: Sequence[str] = (),
) -> dict[str, Any]:
    """Start a campaign record; returns the grouping."""
    _writer(subject)
    if not name.strip():
        raise InvalidInput("a campaign needs a name")
    markings: list[dict[str, Any]] = []
    refs = [TLP2_MARKINGS[tlp]]
    if tlp is not Tlp.GREEN and tlp is not Tlp.CLEAR:
        members = {access.find_org(conn, a).identity_id for a in audience}
        members.add(str(subject.identity_id))
        markings.append(audience_marking(members))
        refs.append(str(markings[0]["id"]))
    stamp = format_timestamp(now_micros())
    grouping: dict[str, Any] = {
        "type": "grouping",
        "spec_version": "2.1",
        "id": f"grouping--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": subject.identity_id,
        "name": name.strip(),
        "context": CONTEXT,
        "object_marking_refs": refs,
        "extensions": {
            CAMPAIGN_EXTENSION_ID: {"extension_type": "property-extension", "entries": []}
        },
    }
    if description:
        grouping["description"] = description
    grouping["object_refs"] = _refs(grouping, [])
    repository.store(conn, subject, collection_id, [*markings, grouping])
    record(
        conn,
        who=subject,
        action="campaign.create",
        subject_id=grouping["id"],
        details={"name": name},
    )
    return grouping


def _find(conn: Connection, who: Subject, campaign_id: str) -> repository.Found:
    found = repository.latest(conn, who, ids=[campaign_id]).get(campaign_id)
    if found is None or found.obj.get("context") != CONTEXT:
        raise NotFound(f"no deterrence campaign {campaign_id}")
    return found


def entries_of(grouping: dict[str, Any]) -> list[dict[str, str]]:
    body = (grouping.get("extensions") or {}).get(CAMPAIGN_EXTENSION_ID) or {}
    return list(body.get("entries") or [])


def _readership(conn: Connection, obj: dict[str, Any]) -> tuple[Tlp | None, frozenset[str]]:
    """An object's TLP label and audience (the intersection of its audience markings)."""
    audience: frozenset[str] | None = None
    for ref in obj.get("object_marking_refs") or ():
        stored = conn.execute(
            select(markings.c.audience).where(markings.c.stix_id == ref)
        ).scalar_one_or_none()
        if stored is not None:
            members = frozenset(orjson.loads(stored))
            audience = members if audience is None else audience & members
    return tlp_of(obj), audience or frozenset()


def _check_shareable(conn: Connection, who: Subject, grouping: dict[str, Any], ref: str) -> None:
    """An entry may name only an object that the keeper can read and that everyone who
    can read the campaign may read too: the record would otherwise hand its id (and that
    it exists) to readers the object is hidden from, e.g. a draft attribution's."""
    found = repository.latest(conn, who, ids=[ref]).get(ref)
    if found is None:
        raise InvalidInput(f"{ref} is not found, or not visible to you")
    label, audience = _readership(conn, found.obj)
    campaign_label, readers = _readership(conn, grouping)
    assert campaign_label is not None
    if label is Tlp.CLEAR:
        return
    if label is Tlp.GREEN and campaign_label >= Tlp.GREEN:
        return
    owner = str(found.obj.get("created_by_ref", ""))
    if (
        label in (Tlp.AMBER, Tlp.AMBER_STRICT)
        and campaign_label >= Tlp.AMBER
        and readers <= audience | {owner}
    ):
        return
    raise InvalidInput(
        f"{ref} is {label.label if label is not None else 'unmarked'} and this campaign record "
        f"is {campaign_label.label}: some of the record's readers may not read it; name a "
        "published (TLP:CLEAR) object instead"
    )


def add_entry(
    conn: Connection, *, subject: Subject, campaign_id: str, entry: Entry
) -> dict[str, Any]:
    """Record one more dated action; entries stay in date order. Returns the new version."""
    _writer(subject)
    found = _find(conn, subject, campaign_id)
    if found.obj.get("created_by_ref") != subject.identity_id:
        raise Forbidden("only the organisation that keeps this campaign record may add to it")
    checked = entry.checked()
    if entry.ref is not None:
        _check_shareable(conn, subject, found.obj, entry.ref)
    new: dict[str, Any] = orjson.loads(orjson.dumps(found.obj))
    entries = sorted([*entries_of(new), checked], key=lambda e: (e["date"], e["title"]))
    new["extensions"][CAMPAIGN_EXTENSION_ID]["entries"] = entries
    new["object_refs"] = _refs(new, entries)
    new["modified"] = repository.stamp_after(str(found.obj["modified"]))
    repository.store(conn, subject, found.collection.id, [new])
    record(
        conn,
        who=subject,
        action="campaign.entry",
        subject_id=campaign_id,
        details={"kind": entry.kind, "date": entry.date, "ref": entry.ref, "url": entry.url},
    )
    return new


def get(conn: Connection, *, subject: Subject, campaign_id: str) -> dict[str, Any]:
    if subject.anonymous:
        raise Unauthenticated("campaigns need a token")
    return _find(conn, subject, campaign_id).obj


def list_campaigns(conn: Connection, *, subject: Subject) -> list[dict[str, Any]]:
    """The campaign records `subject` may read, most recently changed first."""
    if subject.anonymous:
        raise Unauthenticated("campaigns need a token")
    found = repository.latest(conn, subject, types=("grouping",))
    records = [f.obj for f in found.values() if f.obj.get("context") == CONTEXT]
    return sorted(records, key=lambda g: (str(g["modified"]), str(g["id"])), reverse=True)
