"""`run_hunt`, the hunt both `kizuna hunt` and the REST hunts run, on SQLite and PostgreSQL:
an org hunts only with the indicators the access module lets it read now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP2_MARKINGS,
    Tlp,
    audience_extension_definition,
    audience_marking,
    kizuna_identity,
)
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.hunt.columnar import FileProgress
from kizuna.hunt.run import HuntRequest, check_request, records_csv, run_hunt
from kizuna.store.collections import add_collection, get_collection, grant
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, read_page


@dataclass
class World:
    engine: Engine
    ncsc: Subject
    water: Subject
    bank: Subject
    intel: str
    secret: str
    ids: dict[str, str]


def _indicator(key: str, creator: str, value: str, markings: list[str]) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "name": f"{key} indicator",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "created_by_ref": creator,
        "object_marking_refs": markings,
    }


# One address per indicator: who may read it decides who finds it.
ADDRESSES = {
    "green": "198.51.100.1",
    "amber for water": "198.51.100.2",
    "amber": "198.51.100.3",
    "red": "198.51.100.4",
    "red for water": "198.51.100.5",
}


@pytest.fixture
def world(engine: Engine) -> World:
    with write_transaction(engine) as conn:
        orgs = {
            "ncsc": service.add_org(conn, name="NCSC", country="GB", sector="government"),
            "water": service.add_org(conn, name="Thames Water", country="GB", sector="water"),
            "bank": service.add_org(conn, name="Albion Bank", country="GB", sector="finance"),
        }
        subjects = {
            k: Subject(org_id=o.id, identity_id=o.identity_id, role=Role.ANALYST)
            for k, o in orgs.items()
        }
        intel = add_collection(conn, title="Partnership intel")
        secret = add_collection(conn, title="NCSC only")
        grant(conn, collection_id=intel, role=Role.ANALYST, write=True)
        grant(conn, collection_id=secret, org_id=orgs["ncsc"].id, write=True)
    ncsc_identity = orgs["ncsc"].identity_id
    for_water = audience_marking([orgs["water"].identity_id])
    amber, red = TLP2_MARKINGS[Tlp.AMBER], TLP2_MARKINGS[Tlp.RED]
    markings = {
        "green": [TLP2_MARKINGS[Tlp.GREEN]],
        "amber for water": [amber, str(for_water["id"])],
        "amber": [amber],
        "red": [red],
        "red for water": [red, str(for_water["id"])],
    }
    indicators = [
        _indicator(key, ncsc_identity, ADDRESSES[key], markings[key]) for key in ADDRESSES
    ]
    with write_transaction(engine) as conn:
        outcomes = add_objects(
            conn,
            subject=subjects["ncsc"],
            collection_id=intel,
            submitted=[
                kizuna_identity(),
                audience_extension_definition(),
                for_water,
                *indicators,
            ],
        )
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
    return World(
        engine,
        subjects["ncsc"],
        subjects["water"],
        subjects["bank"],
        intel,
        secret,
        {key: str(i["id"]) for key, i in zip(ADDRESSES, indicators, strict=True)},
    )


def _telemetry(path: Path, addresses: list[str], *, bad: int = 0) -> Path:
    lines = [
        orjson.dumps({"@timestamp": f"2026-03-01T1{n}:00:00Z", "destination.ip": a})
        for n, a in enumerate(addresses)
    ]
    lines += [b"{broken"] * bad
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_an_org_hunts_only_what_it_may_read(world: World, tmp_path: Path) -> None:
    every = _telemetry(tmp_path / "every.jsonl", list(ADDRESSES.values()), bad=1)
    seen: list[FileProgress] = []
    outcome = run_hunt(world.engine, world.water, HuntRequest(files=[every]), seen.append)
    found = {m.indicator_id for m in outcome.matches}
    # GREEN, AMBER naming water, RED naming water: yes. AMBER/RED of NCSC alone: never.
    assert found == {world.ids["green"], world.ids["amber for water"], world.ids["red for water"]}
    assert outcome.indicators == 3
    assert set(outcome.names) == found
    assert world.ids["red"] not in records_csv(outcome.records)
    assert world.ids["amber"] not in records_csv(outcome.records)
    assert outcome.stats.events == 5
    assert outcome.stats.bad == 1
    assert [(p.name, p.events, p.bad) for p in seen] == [("every.jsonl", 5, 1)]

    everything = run_hunt(world.engine, world.ncsc, HuntRequest(files=[every]))
    assert {m.indicator_id for m in everything.matches} == set(world.ids.values())

    # The bank reads GREEN only (no audience names it).
    bank = run_hunt(world.engine, world.bank, HuntRequest(files=[every]))
    assert [m.indicator_id for m in bank.matches] == [world.ids["green"]]


def test_records_are_per_indicator_and_file(world: World, tmp_path: Path) -> None:
    green = ADDRESSES["green"]
    first = _telemetry(tmp_path / "a.jsonl", [green, "192.0.2.9", green])
    second = _telemetry(tmp_path / "b.jsonl", ["192.0.2.9", green])
    outcome = run_hunt(
        world.engine,
        world.water,
        HuntRequest(files=[first, second], labels=["first", "second"]),
    )
    assert [(r["source"], r["rows"], r["count"]) for r in outcome.records] == [
        ("first", [1, 3], 2),
        ("second", [2], 1),
    ]
    (m,) = outcome.matches
    assert m.count == 3
    assert outcome.records[0]["name"] == "green indicator"
    assert outcome.records[0]["first_seen"].startswith("2026-03-01T10:00:00")
    assert outcome.matching_events == 3


def test_since_and_collection_choice(world: World, tmp_path: Path) -> None:
    every = _telemetry(tmp_path / "every.jsonl", list(ADDRESSES.values()))
    later = run_hunt(
        world.engine,
        world.ncsc,
        HuntRequest(files=[every], since_us=4_102_444_800_000_000),  # 2100
    )
    assert later.indicators == 0
    assert later.matches == []
    secret_only = run_hunt(
        world.engine, world.ncsc, HuntRequest(files=[every], collection_ids=[world.secret])
    )
    assert secret_only.indicators == 0


def test_sightings_are_stored_once_per_indicator(world: World, tmp_path: Path) -> None:
    green = ADDRESSES["green"]
    first = _telemetry(tmp_path / "a.jsonl", [green])
    second = _telemetry(tmp_path / "b.jsonl", [green, ADDRESSES["amber for water"]])
    outcome = run_hunt(
        world.engine, world.water, HuntRequest(files=[first, second], store_into=world.intel)
    )
    assert outcome.refused == []
    assert outcome.stored["sighting"] == 2
    assert outcome.stored["observed-data"] == 2
    with read_transaction(world.engine) as conn:
        page = read_page(
            conn,
            subject=world.water,
            collection=get_collection(conn, world.water, world.intel),
            filters=Filters(types=("sighting",)),
            after_us=None,
            limit=10,
        )
    sightings = {s["sighting_of_ref"]: s for s in (orjson.loads(r.body) for r in page.rows)}
    assert sightings[world.ids["green"]]["count"] == 2
    assert sightings[world.ids["green"]]["where_sighted_refs"] == [world.water.identity_id]
    assert sightings[world.ids["amber for water"]]["object_marking_refs"] == [
        TLP2_MARKINGS[Tlp.AMBER],
        str(audience_marking([str(world.water.identity_id)])["id"]),
    ]


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"share_sightings": True}, InvalidInput, "needs a collection to store them in"),
        ({"engine": "hadoop"}, InvalidInput, "unknown engine 'hadoop'"),
        ({"spark_master": "spark://h:7077"}, InvalidInput, "only to the spark engine"),
        ({"files": []}, InvalidInput, "at least one telemetry file"),
        ({"collection_ids": ["secret"]}, NotFound, "no collection"),
        ({"store_into": "secret"}, NotFound, "no collection"),
    ],
)
def test_requests_that_cannot_run_are_refused_before_reading(
    world: World, tmp_path: Path, change: dict[str, Any], error: type[Exception], message: str
) -> None:
    fields: dict[str, Any] = {"files": [tmp_path / "never-read.jsonl"], **change}
    for key in ("collection_ids", "store_into"):
        if fields.get(key) == "secret" or fields.get(key) == ["secret"]:
            fields[key] = [world.secret] if key == "collection_ids" else world.secret
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_hunt(world.engine, world.water, HuntRequest(**fields))


def test_store_into_needs_write_access(world: World, engine: Engine) -> None:
    reader = Subject(org_id=world.bank.org_id, identity_id=world.bank.identity_id, role=Role.READER)
    with write_transaction(engine) as conn:
        grant(conn, collection_id=world.intel, role=Role.READER)
    with read_transaction(engine) as conn, pytest.raises(Forbidden, match="may not write"):
        check_request(
            conn,
            subject=reader,
            request=HuntRequest(files=[Path("x.jsonl")], store_into=world.intel),
        )


def test_observed_data_shows_the_matched_events(world: World, tmp_path: Path) -> None:
    """The SCOs a sighting's observed-data names are those of the events that matched, from
    a JSON lines file and a Parquet file alike (taken from the hunt, not a second read)."""
    import duckdb

    from kizuna.hunt.readers import _value_id

    green = ADDRESSES["green"]
    jsonl = _telemetry(tmp_path / "a.jsonl", [green, "192.0.2.9"])
    parquet = tmp_path / "b.parquet"
    duckdb.sql(
        "SELECT '2026-03-02T00:00:00Z' AS \"@timestamp\", "
        f"{{'ip': '{green}'}} AS destination, {{'ip': '10.9.8.7'}} AS source"
    ).write_parquet(str(parquet))
    outcome = run_hunt(
        world.engine, world.water, HuntRequest(files=[jsonl, parquet], store_into=world.intel)
    )
    assert outcome.stored["observed-data"] == 1
    with read_transaction(world.engine) as conn:
        collection = get_collection(conn, world.water, world.intel)
        bodies = [
            orjson.loads(r.body)
            for r in read_page(
                conn,
                subject=world.water,
                collection=collection,
                filters=Filters(types=("observed-data", "ipv4-addr")),
                after_us=None,
                limit=50,
            ).rows
        ]
    observed = next(b for b in bodies if b["type"] == "observed-data")
    addresses = {b["id"]: b["value"] for b in bodies if b["type"] == "ipv4-addr"}
    shown = {addresses[ref] for ref in observed["object_refs"] if ref in addresses}
    assert shown == {green, "10.9.8.7"}  # the matched events' addresses, not 192.0.2.9
    assert _value_id("ipv4-addr", green) in observed["object_refs"]
    assert observed["number_observed"] == 2


def test_revoked_expired_and_other_pattern_languages_are_not_hunted(
    world: World, tmp_path: Path
) -> None:
    """On both databases, only live STIX-pattern indicators are hunted."""
    from kizuna.hunt.sightings import readable_indicators

    green = [TLP2_MARKINGS[Tlp.GREEN]]
    ncsc = str(world.ncsc.identity_id)
    revoked = {**_indicator("revoked", ncsc, "203.0.113.1", green), "revoked": True}
    expired = {**_indicator("expired", ncsc, "203.0.113.2", green)}
    expired["valid_until"] = "2026-01-01T12:00:00Z"
    sigma = {**_indicator("sigma", ncsc, "203.0.113.3", green), "pattern_type": "sigma"}
    sigma["pattern"] = "title: x"
    live = {**_indicator("live", ncsc, "203.0.113.4", green), "revoked": False}
    live["valid_until"] = "2999-01-01T00:00:00Z"
    with write_transaction(world.engine) as conn:
        outcomes = add_objects(
            conn,
            subject=world.ncsc,
            collection_id=world.intel,
            submitted=[revoked, expired, sigma, live],
        )
    assert all(o.ok for o in outcomes), outcomes
    with read_transaction(world.engine) as conn:
        found = readable_indicators(
            conn, subject=world.water, collection_ids=[world.intel], since_us=None
        )
    hunted = {h.indicator.indicator_id: h.indicator for h in found}
    assert str(live["id"]) in hunted
    assert hunted[str(live["id"])].pattern == live["pattern"]
    for absent in (revoked, expired, sigma):
        assert str(absent["id"]) not in hunted
    outcome = run_hunt(
        world.engine,
        world.water,
        HuntRequest(files=[_telemetry(tmp_path / "t.jsonl", ["203.0.113.1", "203.0.113.4"])]),
    )
    assert [m.indicator_id for m in outcome.matches] == [live["id"]]
    assert outcome.names[str(live["id"])] == "live indicator"


@pytest.mark.parametrize("stored_again", [False, True], ids=["deleted", "deleted and changed"])
def test_an_indicator_deleted_during_the_hunt_is_left_out(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_again: bool
) -> None:
    """The indicators are chosen before the files are read and their bodies read back after:
    one deleted in between yields no match, record or sighting (its body is gone), and so
    does one deleted and stored again, same version, with another pattern (the sighting
    would name a version that never matched)."""
    import kizuna.hunt.run as run_module
    from kizuna.store.query import VersionMatch, delete_object

    real = run_module.hunt_files

    def deleting(*args: Any, **kwargs: Any) -> Any:
        report = real(*args, **kwargs)
        with write_transaction(world.engine) as conn:
            collection = get_collection(conn, world.ncsc, world.intel)
            delete_object(
                conn,
                subject=world.ncsc,
                collection=collection,
                stix_id=world.ids["green"],
                filters=Filters(versions=VersionMatch.every()),
            )
            if stored_again:
                changed = _indicator(
                    "green", str(world.ncsc.identity_id), "203.0.113.1", [TLP2_MARKINGS[Tlp.GREEN]]
                )
                assert changed["id"] == world.ids["green"]
                [again] = add_objects(
                    conn, subject=world.ncsc, collection_id=world.intel, submitted=[changed]
                )
                assert again.ok, again
        return report

    monkeypatch.setattr(run_module, "hunt_files", deleting)
    events = _telemetry(tmp_path / "t.jsonl", [ADDRESSES["green"], ADDRESSES["amber for water"]])
    outcome = run_hunt(
        world.engine, world.water, HuntRequest(files=[events], store_into=world.intel)
    )
    assert [m.indicator_id for m in outcome.matches] == [world.ids["amber for water"]]
    assert [r["indicator_id"] for r in outcome.records] == [world.ids["amber for water"]]
    assert outcome.stored["sighting"] == 1
