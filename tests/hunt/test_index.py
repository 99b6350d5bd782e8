"""The hunt index: the row ingest stores per indicator version, its pinned derivation, the
migration that fills it for indicators stored before it existed, and hunts over rows that an
older derivation made."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select, update
from tests.hunt.test_keys import TABLE

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking, kizuna_identity
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.db.migrate import alembic_config
from kizuna.hunt.index import COLUMNS, KEY_VERSION, derive_plan, index_row, read_plan
from kizuna.hunt.keys import Key, KeyPlan, plan_keys, simple_key
from kizuna.hunt.run import HuntRequest, run_hunt
from kizuna.hunt.sightings import Hunted, readable_indicators
from kizuna.patterns import parse
from kizuna.store.collections import add_collection, grant
from kizuna.store.ingest import add_objects
from kizuna.store.models import object_audience, object_refs, objects


def _indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        **extra,
    }


# -- the row --------------------------------------------------------------------------------


def test_a_simple_equality_is_indexed_by_its_key() -> None:
    row = index_row(_indicator("[ipv4-addr:value = '198.51.100.1']"))
    assert row is not None
    assert (row.key_path, row.key_value, row.plan) == ("ipv4-addr:value", "198.51.100.1", None)
    assert row.pattern == "[ipv4-addr:value = '198.51.100.1']"
    assert row.valid_until_us is None
    assert row.key_version == KEY_VERSION


def test_another_pattern_is_indexed_by_its_plan() -> None:
    text = "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')] OR [domain-name:value = 'a.b']"
    row = index_row(_indicator(text, valid_until="2027-01-01T00:00:00Z"))
    assert row is not None
    assert row.plan is not None
    assert row.key_path is None
    assert row.key_value is None
    assert read_plan(row.plan) == plan_keys(parse(text))
    assert row.valid_until_us == 1798761600000000


def test_a_correlating_pattern_is_left_to_the_hunt_to_parse() -> None:
    row = index_row(_indicator("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [file:name = 'x']"))
    assert row is not None
    assert (row.key_path, row.key_value, row.plan) == (None, None, None)


@pytest.mark.parametrize(
    "obj",
    [
        {**_indicator("[ipv4-addr:value = '1.2.3.4']"), "pattern_type": "sigma"},
        {**_indicator("[ipv4-addr:value = '1.2.3.4']"), "type": "malware"},
        {**_indicator("[ipv4-addr:value = '1.2.3.4']"), "valid_until": "not a time"},
        {**_indicator("x"), "pattern": 7},
    ],
    ids=["sigma", "not an indicator", "bad valid_until", "pattern not text"],
)
def test_what_can_never_be_hunted_has_no_row(obj: dict[str, Any]) -> None:
    assert index_row(obj) is None


def test_plans_round_trip() -> None:
    for text, _expected in TABLE:
        derived = derive_plan(text)
        assert derived is not None
        plan = derived.plan
        row = index_row(_indicator(text))
        assert row is not None
        if row.plan is not None:
            assert read_plan(row.plan) == plan
        elif row.key_path is not None:
            assert plan == KeyPlan(frozenset({Key(row.key_path, str(row.key_value))}), True)
            assert simple_key(text) == (row.key_path, row.key_value)
        else:
            assert derived.across


# What the derivation of KEY_VERSION makes of a corpus of patterns (the key table's, the
# store tests' and correlating ones). Stored rows outlive the code that made them: when
# this changes, bump KEY_VERSION (rows of the old version are then planned again from their
# text) and record the new fingerprint here.
FINGERPRINTS = {1: "ed30e8b7"}


def test_the_derivation_is_pinned_to_its_version() -> None:
    corpus = [text for text, _ in TABLE] + PATTERNS + CORRELATING
    rows = [index_row(_indicator(text)) for text in corpus]
    made = orjson.dumps([list(r) if r is not None else None for r in rows])
    fingerprint = hashlib.sha256(made).hexdigest()[:8]
    assert FINGERPRINTS.get(KEY_VERSION) == fingerprint, (
        f"the key derivation changed (fingerprint {fingerprint}): bump KEY_VERSION in "
        "kizuna/hunt/index.py and record the fingerprint in FINGERPRINTS"
    )


# -- the store --------------------------------------------------------------------------------


def _node(engine: Engine) -> tuple[Subject, str]:
    with write_transaction(engine) as conn:
        org = service.add_org(conn, name="NCSC", country="GB", sector="government")
        collection = add_collection(conn, title="intel")
        grant(conn, collection_id=collection, role=Role.ANALYST, write=True)
    return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST), collection


def _store(engine: Engine, subject: Subject, collection: str, submitted: list[object]) -> None:
    with write_transaction(engine) as conn:
        outcomes = add_objects(conn, subject=subject, collection_id=collection, submitted=submitted)
    assert all(o.ok for o in outcomes), outcomes


def _chosen(engine: Engine, subject: Subject, collection: str | None) -> list[Hunted]:
    """What a hunt of the collection (every readable one: ``None``) would hunt."""
    with read_transaction(engine) as conn:
        return readable_indicators(
            conn,
            subject=subject,
            collection_ids=None if collection is None else [collection],
            since_us=None,
        )


PATTERNS = [
    "[ipv4-addr:value = '198.51.100.1']",
    "[domain-name:value IN ('a.example', 'b.example')]",
    "[url:value LIKE 'http://x/%']",
    "[ipv4-addr:value = '198.51.100.2'] FOLLOWEDBY [domain-name:value = 'c.example']",
    "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
]


#: patterns whose bindings span events (a plan is left to the hunt), and one that does not
CORRELATING = [
    "[ipv4-addr:value = '198.51.100.3'] AND [domain-name:value = 'd.example']",
    "[ipv4-addr:value = '198.51.100.4'] REPEATS 3 TIMES",
    "([url:value = 'http://e.example/'] FOLLOWEDBY [file:name = 'x.exe']) WITHIN 60 SECONDS",
    "[ipv4-addr:value = '198.51.100.5'] REPEATS 1 TIMES",
]


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    """The hunt index of every indexed version: id, then the index columns."""
    with read_transaction(engine) as conn:
        found = conn.execute(
            select(objects.c.stix_id, *[objects.c[name] for name in COLUMNS])
            .where(objects.c.hunt_pattern.is_not(None))
            .order_by(objects.c.stix_id)
        ).all()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in found]


def test_ingest_indexes_indicators_and_the_migration_indexes_older_ones(engine: Engine) -> None:
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    submitted: list[object] = [
        _indicator(p, created_by_ref=subject.identity_id, object_marking_refs=green)
        for p in PATTERNS
    ]
    sigma = {**_indicator("title: x", created_by_ref=subject.identity_id), "pattern_type": "sigma"}
    submitted.append(sigma)
    _store(engine, subject, collection, submitted)
    indexed = _rows(engine)
    assert len(indexed) == len(PATTERNS)  # the sigma rule is not indexed
    assert {bytes(r[1]).decode() for r in indexed} == set(PATTERNS)
    # A node upgraded from before the index holds these indicators unindexed.
    config = alembic_config(engine)
    command.downgrade(config, "0007")
    with read_transaction(engine) as conn:
        assert "hunt_pattern" not in {c["name"] for c in inspect(conn).get_columns("objects")}
    command.upgrade(config, "head")
    assert _rows(engine) == indexed
    with read_transaction(engine) as conn:  # seen by the index, never huntable
        made_by = conn.execute(
            select(objects.c.hunt_key_version).where(objects.c.stix_id == sigma["id"])
        ).scalar_one()
    assert made_by == 0
    command.check(config)  # the round trip left the schema the tables describe


def test_migrating_down_and_up_keeps_audiences_and_references(engine: Engine) -> None:
    """The access rule reads object_audience and object_refs: a downgrade that rebuilt the
    objects table would cascade their rows away, and an object whose references are gone
    is read as one without any."""
    subject, collection = _node(engine)
    audience = audience_marking([str(subject.identity_id)])
    amber = [TLP2_MARKINGS[Tlp.AMBER], str(audience["id"])]
    first = _indicator(PATTERNS[0], created_by_ref=subject.identity_id, object_marking_refs=amber)
    second = _indicator(PATTERNS[1], created_by_ref=subject.identity_id)
    relationship = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": first["id"],
        "target_ref": second["id"],
        "created_by_ref": subject.identity_id,
    }
    _store(engine, subject, collection, [kizuna_identity(), audience, first, second, relationship])

    def counted() -> tuple[int, int]:
        with read_transaction(engine) as conn:
            return (
                conn.execute(select(func.count()).select_from(object_audience)).scalar_one(),
                conn.execute(select(func.count()).select_from(object_refs)).scalar_one(),
            )

    before = counted()
    assert min(before) > 0
    config = alembic_config(engine)
    command.downgrade(config, "0007")
    command.upgrade(config, "head")
    assert counted() == before


def test_the_rows_0008_left_blank_are_indexed_by_0009(engine: Engine) -> None:
    """0008 gave a never-huntable indicator no key version, and a process older than 0008
    may have stored indicators after it ran: 0009 makes both what ingest makes now."""
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    submitted: list[object] = [
        _indicator(p, created_by_ref=subject.identity_id, object_marking_refs=green)
        for p in PATTERNS
    ]
    submitted.append({**_indicator("title: x"), "pattern_type": "sigma"})
    _store(engine, subject, collection, submitted)

    def index() -> list[tuple[Any, ...]]:
        with read_transaction(engine) as conn:
            found = conn.execute(
                select(objects.c.stix_id, *[objects.c[name] for name in COLUMNS])
                .where(objects.c.stix_type == "indicator")
                .order_by(objects.c.stix_id)
            ).all()
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in found]

    made = index()
    assert len(made) == len(submitted)
    config = alembic_config(engine)
    command.downgrade(config, "0008")
    with write_transaction(engine) as conn:  # every row as 0008 or an older process left it
        conn.execute(update(objects).values(dict.fromkeys(COLUMNS)))
    command.upgrade(config, "head")
    assert index() == made


def _telemetry(path: Path, values: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(v) for v in values) + b"\n")
    return path


def test_rows_made_by_another_derivation_are_planned_again(engine: Engine, tmp_path: Path) -> None:
    """A row whose key_version is not this code's is hunted from its pattern text, whatever
    key or plan it holds."""
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    simple = _indicator(
        "[ipv4-addr:value = '198.51.100.1']",
        created_by_ref=subject.identity_id,
        object_marking_refs=green,
    )
    listed = _indicator(
        "[domain-name:value IN ('a.example', 'b.example')]",
        created_by_ref=subject.identity_id,
        object_marking_refs=green,
    )
    _store(engine, subject, collection, [simple, listed])
    with write_transaction(engine) as conn:
        conn.execute(
            update(objects)
            .where(objects.c.hunt_pattern.is_not(None))
            .values(
                hunt_key_version=KEY_VERSION - 1,
                hunt_key_value=b"203.0.113.99",
                hunt_plan='{"keys": [["domain-name:value", "z.example"]], "exact": true}',
            )
        )
    chosen = _chosen(engine, subject, collection)
    assert all(h.indicator.key is None and h.indicator.plan is None for h in chosen)
    events = _telemetry(
        tmp_path / "t.jsonl",
        [
            {"@timestamp": "2026-03-01T10:00:00Z", "destination.ip": "198.51.100.1"},
            {"@timestamp": "2026-03-01T10:01:00Z", "dns.question.name": "b.example"},
            {"@timestamp": "2026-03-01T10:02:00Z", "destination.ip": "203.0.113.99"},
            {"@timestamp": "2026-03-01T10:03:00Z", "dns.question.name": "z.example"},
        ],
    )
    outcome = run_hunt(engine, subject, HuntRequest(files=[events]))
    assert {m.indicator_id: m.count for m in outcome.matches} == {
        simple["id"]: 1,
        listed["id"]: 1,
    }


def test_versions_stored_without_the_index_are_hunted_from_their_bodies(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process older than the index, still running while the database is upgraded, stores
    indicators with every hunt column NULL: a hunt reads their bodies and hunts them (and says
    so), but not one that is expired or not a STIX pattern; an indicator the index has seen
    and found never huntable is told apart by key version 0."""
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    mine: dict[str, Any] = {"created_by_ref": subject.identity_id, "object_marking_refs": green}
    simple = _indicator("[ipv4-addr:value = '198.51.100.1']", **mine)
    listed = _indicator("[domain-name:value IN ('a.example', 'b.example')]", **mine)
    expired = _indicator(
        "[ipv4-addr:value = '198.51.100.2']", valid_until="2026-01-03T00:00:00Z", **mine
    )
    sigma = {**_indicator("[ipv4-addr:value = '198.51.100.3']", **mine), "pattern_type": "sigma"}
    broken = _indicator("[ipv4-addr:value = '198.51.100.4']", **mine)
    _store(engine, subject, collection, [simple, listed, expired, sigma, broken])
    with read_transaction(engine) as conn:
        versions = dict(conn.execute(select(objects.c.stix_id, objects.c.hunt_key_version)).all())
    assert versions[sigma["id"]] == 0
    assert versions[simple["id"]] == versions[expired["id"]] == KEY_VERSION
    with write_transaction(engine) as conn:  # what the older process stored
        conn.execute(update(objects).values(dict.fromkeys(COLUMNS)))
        # and a body that is no JSON object (no ingest stores one): skipped, not an error
        conn.execute(update(objects).where(objects.c.stix_id == broken["id"]).values(body="[1]"))
    with caplog.at_level("WARNING"):
        chosen = _chosen(engine, subject, collection)
    assert {h.indicator.indicator_id: h.indicator.key for h in chosen} == {
        simple["id"]: ("ipv4-addr:value", "198.51.100.1"),  # the key worked out once, here
        listed["id"]: None,
    }
    assert "5 indicator versions were stored without the hunt index" in caplog.text
    assert "2 of them hunted from their bodies" in caplog.text
    events = _telemetry(
        tmp_path / "t.jsonl",
        [
            {"@timestamp": "2026-03-01T10:00:00Z", "destination.ip": "198.51.100.1"},
            {"@timestamp": "2026-03-01T10:01:00Z", "dns.question.name": "b.example"},
            {"@timestamp": "2026-03-01T10:02:00Z", "destination.ip": "198.51.100.2"},
            {"@timestamp": "2026-03-01T10:03:00Z", "destination.ip": "198.51.100.3"},
        ],
    )
    outcome = run_hunt(engine, subject, HuntRequest(files=[events], store_into=collection))
    assert {m.indicator_id: m.count for m in outcome.matches} == {
        simple["id"]: 1,
        listed["id"]: 1,
    }
    assert outcome.stored.get("sighting") == 2  # their bodies read back as indexed ones' are


def test_a_hunt_uses_the_rows_of_this_derivation(engine: Engine) -> None:
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    submitted: list[object] = [
        _indicator(p, created_by_ref=subject.identity_id, object_marking_refs=green)
        for p in PATTERNS
    ]
    _store(engine, subject, collection, submitted)
    chosen = _chosen(engine, subject, collection)
    by_pattern = {h.indicator.pattern: h.indicator for h in chosen}
    assert by_pattern[PATTERNS[0]].key == ("ipv4-addr:value", "198.51.100.1")
    assert by_pattern[PATTERNS[1]].plan == plan_keys(parse(PATTERNS[1]))
    assert by_pattern[PATTERNS[2]].plan == KeyPlan(frozenset(), exact=False)
    assert by_pattern[PATTERNS[3]].key is None
    assert by_pattern[PATTERNS[3]].plan is None


# -- hostile and unusual patterns -----------------------------------------------------------

NUL_PATTERN = "[url:value = 'http://a.example/\x00b']"
DEEP_PATTERN = "[ipv4-addr:value = '198.51.100.9']" + " REPEATS 2 TIMES" * 1200


def test_a_pattern_holding_nul_is_stored_indexed_and_hunted(engine: Engine, tmp_path: Path) -> None:
    """U+0000 is a valid character of a STIX string; PostgreSQL text cannot hold it, so the
    index keeps patterns as UTF-8 bytes."""
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    nul = _indicator(NUL_PATTERN, created_by_ref=subject.identity_id, object_marking_refs=green)
    plain = _indicator(PATTERNS[0], created_by_ref=subject.identity_id, object_marking_refs=green)
    _store(engine, subject, collection, [nul, plain])
    chosen = _chosen(engine, subject, None)
    by_id = {h.indicator.indicator_id: h.indicator for h in chosen}
    assert by_id[nul["id"]].pattern == NUL_PATTERN
    assert by_id[nul["id"]].key == ("url:value", "http://a.example/\x00b")
    events = _telemetry(
        tmp_path / "t.jsonl",
        [
            {"@timestamp": "2026-03-01T10:00:00Z", "url.full": "http://a.example/\x00b"},
            {"@timestamp": "2026-03-01T10:01:00Z", "url.full": "http://a.example/b"},
        ],
    )
    outcome = run_hunt(engine, subject, HuntRequest(files=[events], store_into=collection))
    assert {m.indicator_id: m.count for m in outcome.matches} == {nul["id"]: 1}
    assert outcome.stored["sighting"] == 1


def test_a_pattern_nested_too_deeply_is_refused_alone_at_ingest(engine: Engine) -> None:
    subject, collection = _node(engine)
    deep = _indicator(DEEP_PATTERN, created_by_ref=subject.identity_id)
    plain = _indicator(PATTERNS[0], created_by_ref=subject.identity_id)
    with write_transaction(engine) as conn:
        outcomes = add_objects(
            conn, subject=subject, collection_id=collection, submitted=[deep, plain]
        )
    assert [o.ok for o in outcomes] == [False, True]
    assert "nested too deeply" in outcomes[0].message


def test_the_migration_indexes_what_older_nodes_stored(engine: Engine, tmp_path: Path) -> None:
    """A node before the index may hold a pattern holding U+0000, and a pattern nested deeper
    than the parser now accepts (stored when it did): the upgrade indexes both, the first is
    hunted and the second is reported as an invalid indicator instead of failing the hunt."""
    subject, collection = _node(engine)
    green = [TLP2_MARKINGS[Tlp.GREEN]]
    first = _indicator(PATTERNS[0], created_by_ref=subject.identity_id, object_marking_refs=green)
    second = _indicator(PATTERNS[1], created_by_ref=subject.identity_id, object_marking_refs=green)
    _store(engine, subject, collection, [first, second])
    config = alembic_config(engine)
    command.downgrade(config, "0007")
    with write_transaction(engine) as conn:  # what an older node's ingest stored
        for obj, pattern in ((first, NUL_PATTERN), (second, DEEP_PATTERN)):
            body = orjson.dumps({**obj, "pattern": pattern}, option=orjson.OPT_SORT_KEYS)
            conn.execute(
                update(objects).where(objects.c.stix_id == obj["id"]).values(body=body.decode())
            )
    command.upgrade(config, "head")
    assert {r[1] for r in _rows(engine)} == {NUL_PATTERN.encode(), DEEP_PATTERN.encode()}
    events = _telemetry(
        tmp_path / "t.jsonl",
        [
            {"@timestamp": "2026-03-01T10:00:00Z", "url.full": "http://a.example/\x00b"},
            {"@timestamp": "2026-03-01T10:01:00Z", "destination.ip": "198.51.100.9"},
        ],
    )
    outcome = run_hunt(engine, subject, HuntRequest(files=[events]))
    assert [m.indicator_id for m in outcome.matches] == [first["id"]]
    assert outcome.invalid_indicators == [second["id"]]
