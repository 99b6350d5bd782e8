"""From hunt matches to STIX 2.1 sightings, and the indicators a hunting org may hunt.

:func:`readable_indicators` reads indicators only through the store's read path
(:func:`~kizuna.store.collections.get_collection` + :func:`~kizuna.store.query.readable_select`
with the hunter's subject, over the hunt index columns of :mod:`kizuna.hunt.index`), so the TLP
access rule alone decides what is hunted: an indicator the hunter may not read is never
hunted, and nothing about it leaks into output. :func:`indicator_bodies` reads the matched
ones' bodies back the same way (:func:`~kizuna.store.query.read_page`).

:func:`sightings_for` turns one :class:`~kizuna.hunt.engine.Match` into an ``observed-data``
(with the matched SCOs) and a ``sighting`` of the indicator, created by the hunter. They carry
the indicator's markings or stricter: its strictest TLP, its PAP and every other marking it
carries (audience markings among them), or, for an unmarked indicator, TLP:AMBER with an
audience of the hunting org only (the audience marking-definition is then returned too, so
the store learns it in the same envelope).

:func:`store_sightings` stores them through :func:`~kizuna.store.ingest.add_objects`.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

import orjson
from sqlalchemy import Connection, Select, case, or_

from kizuna.access.subject import Subject
from kizuna.access.tlp import TLP2_MARKINGS, WELL_KNOWN, Pap, Tlp, audience_marking
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.hunt.engine import HuntIndicator, Match
from kizuna.hunt.index import KEY_VERSION, index_row, read_plan
from kizuna.hunt.readers import _object_id
from kizuna.stix.timestamps import format_timestamp, now_micros
from kizuna.stix.validate import validate_object
from kizuna.store.collections import Collection, get_collection, list_collections
from kizuna.store.ingest import Outcome, add_objects
from kizuna.store.models import objects
from kizuna.store.query import readable_select

__all__ = [
    "Hunted",
    "indicator_bodies",
    "readable_indicators",
    "sighting_markings",
    "sightings_for",
    "store_sightings",
]

_log = logging.getLogger(__name__)
_CHUNK = 500  # indicator ids per read of matched indicators' bodies
#: uuid5 namespace of sighting and observed-data ids derived from what a hunt saw
_SIGHTING_NAMESPACE = uuid.UUID("0f3c2a8e-5b1d-5e47-9a6c-7d2e4b8f1a30")
_MAX_COUNT = 999_999_999  # STIX 2.1 bound for number_observed and count
_STIX_ID = re.compile(
    r"^[a-z0-9][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


class Observed(Protocol):
    """What a sighting shows of one matched event: its SCOs (a reader's ``Event`` or the
    hunt's ``HuntEvent``)."""

    @property
    def scos(self) -> Sequence[Mapping[str, Any]]: ...


# -- indicators -------------------------------------------------------------------------------


class Hunted(NamedTuple):
    """An indicator chosen for a hunt, and which stored version it is (to read its body back
    if it matches: :func:`indicator_bodies`)."""

    indicator: HuntIndicator
    collection_id: str
    version_us: int


def readable_indicators(
    conn: Connection,
    *,
    subject: Subject,
    collection_ids: Sequence[str] | None,
    since_us: int | None,
) -> list[Hunted]:
    """The STIX-pattern indicators the subject may read, latest version, neither revoked nor
    expired (``valid_until`` in the past), from the given collections (every collection the
    subject may read when ``None``). ``since_us``: only indicators whose latest version was
    added to the collection after that time (date_added). An id found in several collections
    is hunted once, in its newest version. A named collection the subject may not read
    raises NotFound or Forbidden, as the TAXII API would.

    One query per collection over the hunt index (:mod:`kizuna.hunt.index`), through the
    access rule of the store's read path (:func:`~kizuna.store.query.readable_select`); no
    body is read, but that of a version stored without the index."""
    if collection_ids is None:
        chosen = [c for c in list_collections(conn, subject) if c.can_read]
    else:
        chosen = [get_collection(conn, subject, cid) for cid in dict.fromkeys(collection_ids)]
    now_us = now_micros()
    found: dict[str, Hunted] = {}
    for collection in chosen:
        query = selection(subject, collection, now_us=now_us, since_us=since_us)
        unindexed = recovered = 0
        for stix_id, version_us, pattern, path, value, plan, made_by, body in conn.execute(
            query
        ).all():
            held = found.get(stix_id)
            if held is not None and held.version_us >= version_us:
                continue
            if made_by is None:  # stored without the index: derive it from the body
                unindexed += 1
                obj = orjson.loads(body)
                row = index_row(obj) if isinstance(obj, dict) else None
                if row is None or (row.valid_until_us is not None and row.valid_until_us <= now_us):
                    continue  # never huntable, or expired
                recovered += 1
                path, value = row.key_path, row.key_value
                key = None if path is None or value is None else (path, value)
                plan_ = None if row.plan is None else read_plan(row.plan)
                indicator = HuntIndicator(stix_id, row.pattern, key, plan_)
            elif made_by != KEY_VERSION:  # made by another derivation: work it out again
                indicator = HuntIndicator(stix_id, pattern.decode())
            elif path is not None:  # pattern and key value are UTF-8 (hunt.index.stored_row)
                indicator = HuntIndicator(stix_id, pattern.decode(), (path, value.decode()))
            else:
                plan_ = read_plan(plan) if plan is not None else None
                indicator = HuntIndicator(stix_id, pattern.decode(), plan=plan_)
            found[stix_id] = Hunted(indicator, collection.id, int(version_us))
        if unindexed:
            _log.warning(
                "collection %s: %d indicator versions were stored without the hunt index "
                "(by a process older than the database, still running while it was "
                "upgraded); %d of them hunted from their bodies, the rest expired or never "
                "huntable",
                collection.id,
                unindexed,
                recovered,
            )
    return list(found.values())


def selection(
    subject: Subject, collection: Collection, *, now_us: int, since_us: int | None
) -> Select[Any]:
    """The query :func:`readable_indicators` runs on one collection: the hunt index rows of
    the latest, unrevoked, unexpired indicator versions the subject may read, and the body
    of any such version stored without the index (``hunt_key_version`` NULL: see
    :data:`~kizuna.hunt.index.NOT_HUNTABLE`)."""
    o = objects.c
    unindexed = o.hunt_key_version.is_(None)
    query = readable_select(
        subject,
        collection,
        o.stix_id,
        o.version_us,
        o.hunt_pattern,
        o.hunt_key_path,
        o.hunt_key_value,
        o.hunt_plan,
        o.hunt_key_version,
        case((unindexed, o.body), else_=None),
    ).where(
        o.stix_type == "indicator",
        o.is_last.is_(True),
        o.revoked.is_(False),
        or_(o.hunt_pattern.is_not(None), unindexed),
        or_(o.hunt_valid_until_us.is_(None), o.hunt_valid_until_us > now_us),
    )
    if since_us is not None:
        query = query.where(objects.c.date_added_us > since_us)
    return query


def indicator_bodies(
    conn: Connection, *, subject: Subject, hunted: Iterable[Hunted]
) -> dict[str, dict[str, Any]]:
    """The bodies of these hunted indicators, in the very versions and patterns hunted, by
    id, read through the store's access rule as the subject (so an indicator it may no
    longer read, or one deleted or changed since, is simply absent)."""
    wanted: dict[str, dict[str, Hunted]] = {}
    for h in hunted:
        wanted.setdefault(h.collection_id, {})[h.indicator.indicator_id] = h
    bodies: dict[str, dict[str, Any]] = {}
    for collection_id, versions in wanted.items():
        try:
            collection = get_collection(conn, subject, collection_id)
        except (NotFound, Forbidden):
            continue
        if not collection.can_read:
            continue
        ids = list(versions)
        for start in range(0, len(ids), _CHUNK):
            query = readable_select(
                subject, collection, objects.c.stix_id, objects.c.version_us, objects.c.body
            ).where(objects.c.stix_id.in_(ids[start : start + _CHUNK]))
            for stix_id, version_us, body in conn.execute(query).all():
                h = versions[stix_id]
                if version_us != h.version_us:
                    continue
                obj = orjson.loads(body)
                # the very content hunted (a version deleted and stored again may differ)
                if isinstance(obj, dict) and obj.get("pattern") == h.indicator.pattern:
                    bodies[stix_id] = obj
    return bodies


# -- markings ---------------------------------------------------------------------------------


def _marking_refs(indicator: Mapping[str, Any]) -> list[str]:
    refs: list[str] = []
    object_refs = indicator.get("object_marking_refs")
    if isinstance(object_refs, list):
        refs += [r for r in object_refs if isinstance(r, str)]
    granular = indicator.get("granular_markings")
    if isinstance(granular, list):
        refs += [
            g["marking_ref"]
            for g in granular
            if isinstance(g, dict) and isinstance(g.get("marking_ref"), str)
        ]
    return list(dict.fromkeys(refs))


def sighting_markings(
    indicator: Mapping[str, Any], hunter_identity_id: str, share_with: str | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """The ``object_marking_refs`` for what a hunt derives from `indicator`, and the
    marking-definitions they need that the node may not hold yet.

    The indicator's markings or stricter: its strictest TLP (object-level or granular, as
    the TLP 2.0 definition), its strictest PAP, and every other marking it carries (audience
    markings; two audiences mean their intersection, so carrying all is never wider). An
    indicator with no TLP marking gets TLP:AMBER with an audience of the hunting org alone,
    whose definition is returned for storing alongside.

    ``share_with`` (the indicator's producer, when the hunter shares its sightings back): an
    AMBER, AMBER+STRICT, RED or unmarked result gets the audience {hunter, producer} in
    place of the indicator's other markings. That is never wider than the indicator's
    readership (the hunter could read it, the producer made it), and it lets the producer
    read the sighting; CLEAR and GREEN need no audience."""
    refs = _marking_refs(indicator)
    tlps: list[Tlp] = []
    paps: list[Pap] = []
    others: list[str] = []
    for ref in refs:
        known = WELL_KNOWN.get(ref)
        if known is None:
            others.append(ref)
            continue
        tlp, pap = known
        if tlp is not None:
            tlps.append(tlp)
        if pap is not None:
            paps.append(pap)
    extra: list[dict[str, Any]] = []
    if tlps:
        chosen = [TLP2_MARKINGS[max(tlps)]]
    else:
        audience = audience_marking([hunter_identity_id])
        extra.append(audience)
        chosen = [TLP2_MARKINGS[Tlp.AMBER], str(audience["id"])]
        others = [o for o in others if o != audience["id"]]
    if share_with is not None and (not tlps or max(tlps) >= Tlp.AMBER):
        audience = audience_marking([hunter_identity_id, share_with])
        extra = [audience]
        chosen = [chosen[0], str(audience["id"])]
        others = []
    if paps:
        strictest = max(paps)
        chosen.append(next(r for r in refs if WELL_KNOWN.get(r) == (None, strictest)))
    return chosen + others, extra


# -- sightings --------------------------------------------------------------------------------


def _rewrite_refs(sco: dict[str, Any], renamed: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in sco.items():
        if key.endswith("_ref") and isinstance(value, str):
            out[key] = renamed.get(value, value)
        elif key.endswith("_refs") and isinstance(value, list):
            out[key] = [renamed.get(v, v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out


def _with_protocols(sco: dict[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> None:
    """STIX requires network-traffic ``protocols``; a reader that saw only addresses leaves
    it out, so the IP version of the addresses is used, and the id recomputed as the readers
    compute it (protocols contributes to it)."""
    if sco.get("type") != "network-traffic" or sco.get("protocols"):
        return
    kinds = {str(by_id.get(str(sco.get(k)), {}).get("type", "")) for k in ("src_ref", "dst_ref")}
    sco["protocols"] = ["ipv6"] if "ipv6-addr" in kinds else ["ipv4"]
    sco.pop("id", None)
    sco["id"] = _object_id("network-traffic", sco)


def _matched_scos(events: Iterable[Observed], markings: list[str]) -> list[dict[str, Any]]:
    """The SCOs of the matched events, deduplicated by id, STIX 2.1-valid and marked.
    SCOs that carry no STIX id (a STIX input's observed-data ``objects`` keys) get the
    readers' deterministic id; SCOs that still fail validation are left out."""
    by_id: dict[str, dict[str, Any]] = {}
    for event in events:
        renamed: dict[str, str] = {}
        local = [{k: v for k, v in raw.items() if k != "object_marking_refs"} for raw in event.scos]
        # Ids first for SCOs that reference nothing, then rewrite references, then the rest.
        for with_refs in (False, True):
            for sco in local:
                if with_refs:
                    sco.update(_rewrite_refs(sco, renamed))
                elif any(k.endswith(("_ref", "_refs")) for k in sco):
                    continue
                old = sco.get("id")
                if isinstance(old, str) and _STIX_ID.match(old):
                    continue
                sco.pop("id", None)
                sco["id"] = _object_id(str(sco.get("type", "")), sco)
                if isinstance(old, str):
                    renamed[old] = sco["id"]
        known = {sco["id"]: sco for sco in local}
        for sco in local:
            _with_protocols(sco, known)
            by_id.setdefault(sco["id"], sco)
    kept: dict[str, dict[str, Any]] = {}
    for sco_id, sco in by_id.items():
        candidate = {**sco, "spec_version": "2.1", "object_marking_refs": markings}
        try:
            validate_object(candidate)
        except InvalidInput:
            continue
        kept[sco_id] = candidate
    # Drop references to SCOs that were left out (rare: only invalid ones are).
    result: list[dict[str, Any]] = []
    for sco in kept.values():
        dangling = any(
            (k.endswith("_ref") and isinstance(v, str) and v not in kept)
            or (
                k.endswith("_refs")
                and k != "object_marking_refs"
                and isinstance(v, list)
                and any(x not in kept for x in v)
            )
            for k, v in sco.items()
        )
        if not dangling:
            result.append(sco)
    return result


def _bounded(count: int) -> int:
    return max(1, min(count, _MAX_COUNT))


def sightings_for(
    match: Match,
    *,
    indicator: Mapping[str, Any],
    hunter_identity_id: str,
    events: Mapping[int, Observed],
    share_with: str | None = None,
) -> list[dict[str, Any]]:
    """STIX 2.1 objects recording one match: the SCOs of the matched events (deterministic
    ids), an ``observed-data`` over them, a ``sighting`` of the indicator, and any marking
    definition they need (see :func:`sighting_markings`). `events` maps the match's rows to
    the events read; rows missing from it only shorten the SCO list. The times are the
    matched events' first and last timestamps, or now when none had one.

    ``share_with``: the producer the sighting is shared back to (see
    :func:`sighting_markings`).

    Ids are derived from what was seen (hunter, indicator version, times, count, matched
    SCOs) and ``created``/``modified`` are the last event's time, so hunting the same
    telemetry again yields the very same objects, which the store takes as already there
    instead of piling up duplicate sightings. Without event times they are random and now."""
    markings, extra = sighting_markings(indicator, hunter_identity_id, share_with)
    now = now_micros()
    timed = match.first_seen_us is not None
    first_us = match.first_seen_us if match.first_seen_us is not None else now
    last_us = match.last_seen_us if match.last_seen_us is not None else first_us
    last_us = max(last_us, first_us)
    created = format_timestamp(last_us if timed else now)
    count = _bounded(match.count)
    matched = [events[row] for row in match.rows if row in events]
    scos = _matched_scos(matched, markings)
    seen = orjson.dumps(
        [
            hunter_identity_id,
            indicator.get("id"),
            indicator.get("modified"),
            first_us,
            last_us,
            count,
            sorted(sco["id"] for sco in scos),
            markings,
        ]
    ).decode()

    def object_id(kind: str) -> str:
        if not timed:
            return f"{kind}--{uuid.uuid4()}"
        return f"{kind}--{uuid.uuid5(_SIGHTING_NAMESPACE, kind + seen)}"

    common: dict[str, Any] = {
        "spec_version": "2.1",
        "created": created,
        "modified": created,
        "created_by_ref": hunter_identity_id,
        "object_marking_refs": markings,
    }
    objects: list[dict[str, Any]] = [*extra, *scos]
    sighting: dict[str, Any] = {
        "type": "sighting",
        "id": object_id("sighting"),
        **common,
        "sighting_of_ref": str(indicator["id"]),
        "count": count,
        "first_seen": format_timestamp(first_us),
        "last_seen": format_timestamp(last_us),
        "where_sighted_refs": [hunter_identity_id],
    }
    if scos:
        observed: dict[str, Any] = {
            "type": "observed-data",
            "id": object_id("observed-data"),
            **common,
            "first_observed": format_timestamp(first_us),
            "last_observed": format_timestamp(last_us),
            "number_observed": count,
            "object_refs": [sco["id"] for sco in scos],
        }
        objects.append(observed)
        sighting["observed_data_refs"] = [observed["id"]]
    objects.append(sighting)
    return objects


def store_sightings(
    conn: Connection, *, subject: Subject, collection_id: str, objects: Sequence[object]
) -> list[Outcome]:
    """Store sightings (and their observed-data, SCOs and markings) in a collection the
    subject may write; each object stands or falls alone, as in TAXII."""
    collection = get_collection(conn, subject, collection_id)
    if not collection.can_write:
        raise Forbidden(f"{collection_id}: this organisation may not write to this collection")
    return add_objects(conn, subject=subject, collection_id=collection_id, submitted=objects)
