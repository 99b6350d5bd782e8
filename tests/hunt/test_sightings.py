"""Sightings from hunt matches: valid STIX 2.1, marked as the indicator or stricter, and only
for indicators the hunter may read (the store's read path decides)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import stix2
from sqlalchemy import Engine
from tests.e2e.conftest import build_node_quickly

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP2_MARKINGS,
    Tlp,
    audience_extension_definition,
    audience_marking,
    kizuna_identity,
)
from kizuna.db.engine import make_engine, read_transaction, write_transaction
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, Match
from kizuna.hunt.keys import simple_key
from kizuna.hunt.readers import Event, ReadStats, read_events
from kizuna.hunt.sightings import (
    indicator_bodies,
    readable_indicators,
    sightings_for,
    store_sightings,
)
from kizuna.stix.validate import validate_object
from kizuna.store.collections import get_collection
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, VersionMatch, read_page

IP = "198.51.100.7"
DOMAIN = "evil.example"
AMBER = TLP2_MARKINGS[Tlp.AMBER]
GREEN = TLP2_MARKINGS[Tlp.GREEN]


@dataclass
class Node:
    engine: Engine
    subjects: dict[str, Subject]
    ids: dict[str, str]
    collections: dict[str, str]
    indicators: dict[str, dict[str, Any]]


def indicator(
    key: str, creator: str, pattern: str, markings: list[str] | None, **extra: Any
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "name": f"{key} indicator",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "created_by_ref": creator,
        **extra,
    }
    if markings is not None:
        obj["object_marking_refs"] = markings
    return obj


def subject_of(conn: Any, name: str) -> Subject:
    org = service.find_org(conn, name)
    role = Role.PEER if org.remote else Role.ANALYST
    return Subject(org_id=org.id, identity_id=org.identity_id, role=role, remote=org.remote)


def build(url: str) -> Node:
    """build_node_quickly's node, with NCSC and Thames Water indicators in 'intel'."""
    ids, _tokens, collections = build_node_quickly(url)
    engine = make_engine(url)
    with write_transaction(engine) as conn:
        subjects = {
            "ncsc": subject_of(conn, "NCSC"),
            "water": subject_of(conn, "Thames Water"),
            "bank": Subject(
                org_id=service.find_org(conn, "Albion Bank").id,
                identity_id=ids["bank"],
                role=Role.READER,
            ),
        }
        water_audience = audience_marking([ids["water"]])
        ncsc = ids["ncsc"]
        indicators = {
            "amber_for_water": indicator(
                "amber_for_water",
                ncsc,
                f"[ipv4-addr:value = '{IP}']",
                [AMBER, str(water_audience["id"])],
            ),
            "amber_private": indicator(
                "amber_private", ncsc, f"[domain-name:value = '{DOMAIN}']", [AMBER]
            ),
            "green": indicator("green", ncsc, "[url:value = 'http://evil.example/x']", [GREEN]),
            "expired": indicator(
                "expired",
                ncsc,
                f"[ipv4-addr:value = '{IP}']",
                [GREEN],
                valid_until="2026-01-01T12:00:00Z",
            ),
            "revoked": indicator(
                "revoked", ncsc, f"[ipv4-addr:value = '{IP}']", [GREEN], revoked=True
            ),
        }
        sigma = indicator("sigma", ncsc, "title: x", [GREEN])
        sigma["pattern_type"] = "sigma"
        declarations = [kizuna_identity(), audience_extension_definition(), water_audience]
        outcomes = add_objects(
            conn,
            subject=subjects["ncsc"],
            collection_id=collections["intel"],
            submitted=[*declarations, *indicators.values(), sigma],
        )
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
        # Thames Water's own unmarked indicator (collection default AMBER).
        own = indicator("water_unmarked", ids["water"], f"[ipv4-addr:value = '{IP}']", None)
        outcomes = add_objects(
            conn, subject=subjects["water"], collection_id=collections["intel"], submitted=[own]
        )
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
        indicators["water_unmarked"] = own
    return Node(engine, subjects, ids, collections, indicators)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    built = build(f"sqlite:///{tmp_path / 'kizuna.db'}")
    yield built
    built.engine.dispose()


def readable_ids(node: Node, who: str, collections: list[str] | None = None) -> set[str]:
    with read_transaction(node.engine) as conn:
        found = readable_indicators(
            conn, subject=node.subjects[who], collection_ids=collections, since_us=None
        )
    with read_transaction(node.engine) as conn:
        bodies = indicator_bodies(conn, subject=node.subjects[who], hunted=found)
    assert set(bodies) == {h.indicator.indicator_id for h in found}
    for h in found:
        body = bodies[h.indicator.indicator_id]
        assert h.indicator.pattern == body["pattern"]
        # the index gives the pattern's simple key, as worked out from the text
        assert h.indicator.key == simple_key(body["pattern"])
    return {h.indicator.indicator_id for h in found}


def test_readable_indicators_follow_the_tlp_rule(node: Node) -> None:
    ind = {k: v["id"] for k, v in node.indicators.items()}
    water = readable_ids(node, "water")
    assert water == {ind["amber_for_water"], ind["green"], ind["water_unmarked"]}
    assert ind["amber_private"] not in water  # AMBER, not in its audience: never hunted
    ncsc = readable_ids(node, "ncsc", [node.collections["intel"]])
    assert ncsc == {ind["amber_for_water"], ind["amber_private"], ind["green"]}
    # The reader sees only what TLP lets it: GREEN (and nothing AMBER).
    assert readable_ids(node, "bank") == {ind["green"]}


def test_readable_indicators_since(node: Node) -> None:
    with read_transaction(node.engine) as conn:
        later = readable_indicators(
            conn, subject=node.subjects["water"], collection_ids=None, since_us=2**62
        )
    assert later == []


def events_of(tmp_path: Path, lines: list[dict[str, Any]]) -> list[Event]:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return list(read_events(path, stats=ReadStats()))


def hunt(node: Node, who: str, events: list[Event]) -> dict[str, Match]:
    with read_transaction(node.engine) as conn:
        found = readable_indicators(
            conn, subject=node.subjects[who], collection_ids=None, since_us=None
        )
    report = EmbeddedEngine().hunt(
        [h.indicator for h in found],
        [HuntEvent(row=i, timestamp_us=e.timestamp_us, scos=e.scos) for i, e in enumerate(events)],
    )
    return {m.indicator_id: m for m in report.matches}


EVENTS = [
    {
        "@timestamp": "2026-03-01T10:00:00Z",
        "source": {"ip": "10.0.0.5", "port": 51515},
        "destination": {"ip": IP, "port": 443},
        "network": {"transport": "TCP"},
    },
    {"@timestamp": "2026-03-01T11:00:00Z", "source.ip": "10.0.0.6", "destination.ip": IP},
    {"@timestamp": "2026-03-01T12:00:00Z", "dns.question.name": DOMAIN},
]


def check_valid(objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        validate_object(obj)
        parsed = stix2.parse(obj, allow_custom=True)
        assert parsed["id"] == obj["id"]


def by_type(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["type"] == kind]


def test_sightings_are_valid_and_keep_the_indicators_markings(node: Node, tmp_path: Path) -> None:
    events = events_of(tmp_path, EVENTS)
    amber = node.indicators["amber_for_water"]
    matches = hunt(node, "water", events)
    assert set(matches) == {amber["id"], node.indicators["water_unmarked"]["id"]}
    match = matches[amber["id"]]
    assert match.count == 2
    objects = sightings_for(
        match,
        indicator=amber,
        hunter_identity_id=node.ids["water"],
        events=dict(enumerate(events)),
    )
    check_valid(objects)
    (sighting,) = by_type(objects, "sighting")
    (observed,) = by_type(objects, "observed-data")
    assert sighting["sighting_of_ref"] == amber["id"]
    assert sighting["count"] == 2
    assert sighting["created_by_ref"] == node.ids["water"]
    assert sighting["where_sighted_refs"] == [node.ids["water"]]
    assert sighting["observed_data_refs"] == [observed["id"]]
    assert sighting["first_seen"] == "2026-03-01T10:00:00.000000Z"[: len(sighting["first_seen"])]
    assert observed["first_observed"].startswith("2026-03-01T10:00:00")
    assert observed["last_observed"].startswith("2026-03-01T11:00:00")
    assert observed["number_observed"] == 2
    scos = [o for o in objects if o["type"] not in ("sighting", "observed-data")]
    assert sorted(observed["object_refs"]) == sorted(o["id"] for o in scos)
    assert len({o["id"] for o in scos}) == len(scos)  # the shared address once
    assert sum(1 for o in scos if o.get("value") == IP) == 1
    # Same TLP and the same audience marking on everything derived.
    for obj in objects:
        assert obj["object_marking_refs"] == amber["object_marking_refs"]
    # The SCO ids are the readers' deterministic ids.
    event_ids = {
        sco["id"] for e in events[:1] for sco in e.scos if sco["type"] != "network-traffic"
    }
    assert event_ids <= {o["id"] for o in scos}
    traffic = by_type(objects, "network-traffic")
    assert all(t["protocols"] for t in traffic)


def test_stored_sightings_are_readable_by_the_hunter_only_as_marked(
    node: Node, tmp_path: Path
) -> None:
    events = events_of(tmp_path, EVENTS)
    amber = node.indicators["amber_for_water"]
    match = hunt(node, "water", events)[amber["id"]]
    objects = sightings_for(
        match, indicator=amber, hunter_identity_id=node.ids["water"], events=dict(enumerate(events))
    )
    intel = node.collections["intel"]
    with write_transaction(node.engine) as conn:
        outcomes = store_sightings(
            conn, subject=node.subjects["water"], collection_id=intel, objects=objects
        )
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
    sighting_id = by_type(objects, "sighting")[0]["id"]

    def visible(who: str) -> bool:
        with read_transaction(node.engine) as conn:
            subject = node.subjects[who]
            page = read_page(
                conn,
                subject=subject,
                collection=get_collection(conn, subject, intel),
                filters=Filters(ids=(sighting_id,)),
                after_us=None,
                limit=10,
            )
        return bool(page.rows)

    assert visible("water")
    # Marked exactly as the indicator (AMBER, audience: Thames Water): the producer is not
    # in that audience, so it does not see the sighting (sharing back is issue 5).
    assert not visible("ncsc")
    assert not visible("bank")


def test_unmarked_indicator_gives_amber_for_the_hunter_alone(node: Node, tmp_path: Path) -> None:
    events = events_of(tmp_path, EVENTS)
    own = node.indicators["water_unmarked"]
    match = hunt(node, "water", events)[own["id"]]
    objects = sightings_for(
        match, indicator=own, hunter_identity_id=node.ids["water"], events=dict(enumerate(events))
    )
    check_valid(objects)
    audience = audience_marking([node.ids["water"]])
    assert audience in objects  # the definition travels with what it marks
    for obj in objects:
        if obj["type"] != "marking-definition":
            assert obj["object_marking_refs"] == [AMBER, audience["id"]]
    with write_transaction(node.engine) as conn:
        outcomes = store_sightings(
            conn,
            subject=node.subjects["water"],
            collection_id=node.collections["intel"],
            objects=objects,
        )
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]


def test_stricter_granular_tlp_wins_and_times_default_to_now(node: Node) -> None:
    amber = node.indicators["amber_for_water"]
    stricter = {
        **amber,
        "granular_markings": [{"marking_ref": TLP2_MARKINGS[Tlp.RED], "selectors": ["pattern"]}],
    }
    match = Match(stricter["id"], rows=(0,), first_seen_us=None, last_seen_us=None, count=1)
    objects = sightings_for(
        match, indicator=stricter, hunter_identity_id=node.ids["water"], events={}
    )
    check_valid(objects)
    (sighting,) = objects
    assert sighting["object_marking_refs"] == [
        TLP2_MARKINGS[Tlp.RED],
        amber["object_marking_refs"][1],
    ]
    assert "observed_data_refs" not in sighting
    assert sighting["first_seen"] == sighting["last_seen"]


def test_hunting_the_same_telemetry_again_stores_nothing_new(node: Node, tmp_path: Path) -> None:
    events = events_of(tmp_path, EVENTS)
    amber = node.indicators["amber_for_water"]
    intel = node.collections["intel"]

    def run() -> list[dict[str, Any]]:
        match = hunt(node, "water", events)[amber["id"]]
        return sightings_for(
            match,
            indicator=amber,
            hunter_identity_id=node.ids["water"],
            events=dict(enumerate(events)),
        )

    first, second = run(), run()
    assert first == second  # same ids, same times: the same objects
    sighting = by_type(first, "sighting")[0]
    assert sighting["created"] == sighting["modified"] == sighting["last_seen"]

    def count() -> int:
        with read_transaction(node.engine) as conn:
            subject = node.subjects["water"]
            page = read_page(
                conn,
                subject=subject,
                collection=get_collection(conn, subject, intel),
                filters=Filters(types=("sighting", "observed-data"), versions=VersionMatch.every()),
                after_us=None,
                limit=100,
            )
        return len(page.rows)

    for objects in (first, second):
        with write_transaction(node.engine) as conn:
            outcomes = store_sightings(
                conn, subject=node.subjects["water"], collection_id=intel, objects=objects
            )
        assert all(o.ok for o in outcomes)
        assert count() == 2

    # Different telemetry (one event fewer) is a different sighting.
    match = hunt(node, "water", events[:1])[amber["id"]]
    other = sightings_for(
        match, indicator=amber, hunter_identity_id=node.ids["water"], events={0: events[0]}
    )
    assert by_type(other, "sighting")[0]["id"] != sighting["id"]
