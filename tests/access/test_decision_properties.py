"""The TLP rule, adversarially: random orgs, roles, collections, labels, audiences and
relationships. For every requester, (1) the Python predicate and the SQL filter select
exactly the same versions, and (2) no TAXII endpoint returns a version the rule forbids."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine

from kizuna.access import service
from kizuna.access.decision import (
    CollectionFacts,
    Grant,
    ObjectFacts,
    may_read,
    may_read_collection,
    may_read_own,
    may_write_collection,
)
from kizuna.access.service import Org
from kizuna.access.subject import ANONYMOUS, Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.api.app import create_app
from kizuna.api.context import Node
from kizuna.config import Settings
from kizuna.db.engine import make_engine, read_transaction, write_transaction
from kizuna.db.migrate import upgrade
from kizuna.errors import Forbidden, NotFound
from kizuna.hunt.engine import HuntIndicator
from kizuna.hunt.sightings import Hunted, indicator_bodies, readable_indicators
from kizuna.stix.timestamps import parse_timestamp
from kizuna.store import collections as store_collections
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, VersionMatch, read_page

LABELS = st.one_of(st.none(), st.sampled_from(list(Tlp)))


@dataclass
class ObjSpec:
    owner: int
    collection: int
    tlp: Tlp | None
    audience: frozenset[int]
    refs: tuple[int, ...]  # indexes of earlier objects; -1 = an id stored nowhere
    versions: int


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, object]:
    n_orgs = draw(st.integers(2, 4))
    remote = [draw(st.booleans()) for _ in range(n_orgs)]
    n_collections = draw(st.integers(1, 3))
    collection_specs = [
        (draw(st.sampled_from(list(Tlp))), draw(st.booleans())) for _ in range(n_collections)
    ]
    grants = [
        [
            (draw(st.booleans()), draw(st.booleans()))  # (read, write) per org
            for _ in range(n_orgs)
        ]
        for _ in range(n_collections)
    ]
    role_grants = [
        draw(st.sets(st.sampled_from(list(Role)), max_size=2)) for _ in range(n_collections)
    ]
    objs: list[ObjSpec] = []
    for _index in range(draw(st.integers(1, 10))):
        # Relationships point at earlier indicators (STIX forbids relationship targets), or
        # at an id stored nowhere.
        targets = [i for i, o in enumerate(objs) if not o.refs]
        refs: tuple[int, ...] = ()
        if targets and draw(st.booleans()):
            choices = st.sampled_from([-1, *targets])
            refs = (draw(choices), draw(choices))
        objs.append(
            ObjSpec(
                owner=draw(st.integers(0, n_orgs - 1)),
                collection=draw(st.integers(0, n_collections - 1)),
                tlp=draw(LABELS),
                audience=frozenset(draw(st.sets(st.integers(0, n_orgs - 1)))),
                refs=refs,
                versions=draw(st.integers(1, 2)),
            )
        )
    return {
        "remote": remote,
        "collections": collection_specs,
        "grants": grants,
        "role_grants": role_grants,
        "objects": objs,
    }


@dataclass
class Stored:
    stix_id: str
    version: str
    collection: int
    facts: ObjectFacts


def _stix(
    spec: ObjSpec, stix_id: str, version: int, orgs: list[Org], ids: list[str]
) -> list[dict[str, object]]:
    stamp = f"2026-01-0{version + 1}T00:00:00.000Z"
    markings: list[str] = []
    extra: list[dict[str, object]] = []
    if spec.tlp is not None:
        markings.append(TLP2_MARKINGS[spec.tlp])
    if spec.audience:
        marking = audience_marking(orgs[i].identity_id for i in spec.audience)
        markings.append(str(marking["id"]))
        extra.append(marking)
    common: dict[str, object] = {
        "spec_version": "2.1",
        "id": stix_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": stamp,
    }
    if markings:
        common["object_marking_refs"] = markings
    if spec.refs:
        source, target = (ids[r] if r >= 0 else f"malware--{uuid.uuid4()}" for r in spec.refs)
        body = {
            "type": "relationship",
            "relationship_type": "indicates",
            "source_ref": source,
            "target_ref": target,
        }
    else:
        body = {
            "type": "indicator",
            "pattern": "[ipv4-addr:value = '198.51.100.1']",
            "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z",
        }
    return [*extra, {**body, **common}]


def _build(
    engine: Engine, world: dict[str, object]
) -> tuple[list[Org], list[CollectionFacts], list[list[Grant]], list[Stored]]:
    remote: list[bool] = world["remote"]  # type: ignore[assignment]
    specs: list[ObjSpec] = world["objects"]  # type: ignore[assignment]
    tag = uuid.uuid4().hex[:8]
    with write_transaction(engine) as conn:
        orgs = [
            service.add_org(conn, name=f"org-{tag}-{i}", country="GB", remote=r)
            for i, r in enumerate(remote)
        ]
        facts: list[CollectionFacts] = []
        all_grants: list[list[Grant]] = []
        for c, (default_tlp, public) in enumerate(world["collections"]):  # type: ignore[arg-type]
            cid = store_collections.add_collection(
                conn, title=f"c-{tag}-{c}", default_tlp=default_tlp, public=public
            )
            facts.append(CollectionFacts(id=cid, default_tlp=default_tlp, public=public))
            grants: list[Grant] = []
            for o, (read, write) in enumerate(world["grants"][c]):  # type: ignore[index]
                if read or write:
                    store_collections.grant(
                        conn, collection_id=cid, org_id=orgs[o].id, read=read, write=write
                    )
                    grants.append(
                        Grant(org_id=orgs[o].id, role=None, can_read=read, can_write=write)
                    )
            for role in world["role_grants"][c]:  # type: ignore[index]
                store_collections.grant(conn, collection_id=cid, role=role, read=True, write=True)
                grants.append(Grant(org_id=None, role=role, can_read=True, can_write=True))
            all_grants.append(grants)
    ids = [f"{'relationship' if s.refs else 'indicator'}--{uuid.uuid4()}" for s in specs]
    stored: list[Stored] = []
    marking_rows: dict[tuple[str, int], int] = {}
    marking_owner: dict[str, int] = {}
    for index, spec in enumerate(specs):
        owner = orgs[spec.owner]
        poster = Subject(
            org_id=owner.id,
            identity_id=owner.identity_id,
            role=Role.PEER if owner.remote else Role.ANALYST,
            remote=owner.remote,
        )
        for version in range(spec.versions):
            submitted = _stix(spec, ids[index], version, orgs, ids)
            with write_transaction(engine) as conn:
                outcomes = add_objects(
                    conn,
                    subject=poster,
                    collection_id=facts[spec.collection].id,
                    submitted=submitted,
                )
            assert all(o.ok for o in outcomes), outcomes
            for marking in submitted[:-1]:
                key = (str(marking["id"]), spec.collection)
                if key not in marking_rows:
                    marking_rows[key] = owner.id
                    stored.append(
                        Stored(
                            stix_id=key[0],
                            version=str(marking["created"]),
                            collection=spec.collection,
                            facts=ObjectFacts(
                                owner_org_id=marking_owner.setdefault(key[0], owner.id),
                                tlp=Tlp.GREEN,
                                audience=frozenset(),
                            ),
                        )
                    )
            obj = submitted[-1]
            ref_ids = tuple(str(obj[k]) for k in ("source_ref", "target_ref") if k in obj)
            stored.append(
                Stored(
                    stix_id=ids[index],
                    version=str(obj["modified"]),
                    collection=spec.collection,
                    facts=ObjectFacts(
                        owner_org_id=owner.id,
                        tlp=spec.tlp,
                        audience=frozenset(orgs[i].identity_id for i in spec.audience),
                        refs=tuple(dict.fromkeys(ref_ids)),
                    ),
                )
            )
    return orgs, facts, all_grants, stored


def _subjects(orgs: list[Org]) -> list[Subject]:
    subjects = [ANONYMOUS]
    for org in orgs:
        for role in Role:
            subjects.append(
                Subject(org_id=org.id, identity_id=org.identity_id, role=role, remote=org.remote)
            )
    return subjects


def _expected(
    subject: Subject,
    facts: list[CollectionFacts],
    grants: list[list[Grant]],
    stored: list[Stored],
    collection: int,
) -> set[tuple[str, str]]:
    def ref_readable(ref: str) -> bool:
        return any(
            s.stix_id == ref
            and may_read_collection(subject, facts[s.collection], grants[s.collection])
            and may_read_own(subject, s.facts, facts[s.collection].default_tlp)
            for s in stored
        )

    if not may_read_collection(subject, facts[collection], grants[collection]):
        return set()
    return {
        (s.stix_id, s.version)
        for s in stored
        if s.collection == collection
        and may_read(subject, s.facts, facts[collection].default_tlp, ref_readable=ref_readable)
    }


PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(world=worlds())
def test_sql_filter_selects_exactly_what_the_predicate_allows(
    engine: Engine, world: dict[str, object]
) -> None:
    orgs, facts, grants, stored = _build(engine, world)
    everything = Filters(versions=VersionMatch.every())
    for subject in _subjects(orgs):
        with read_transaction(engine) as conn:
            listed = {c.id: c for c in store_collections.list_collections(conn, subject)}
            for index, collection in enumerate(facts):
                can_read = may_read_collection(subject, collection, grants[index])
                can_write = may_write_collection(subject, grants[index])
                if can_read or can_write:
                    assert listed[collection.id].can_read == can_read
                    assert listed[collection.id].can_write == can_write
                else:
                    assert collection.id not in listed
                try:
                    found = store_collections.get_collection(conn, subject, collection.id)
                    page = read_page(
                        conn,
                        subject=subject,
                        collection=found,
                        filters=everything,
                        after_us=None,
                        limit=10_000,
                    )
                    got = {(r.stix_id, r.version) for r in page.rows}
                except (NotFound, Forbidden):
                    got = set()
                expected = _expected(subject, facts, grants, stored, index)
                assert got == expected, (subject, index)
                _check_hunt_selection(conn, subject, collection.id, stored, index, expected)


def _check_hunt_selection(
    conn: Connection,
    subject: Subject,
    collection_id: str,
    stored: list[Stored],
    index: int,
    expected: set[tuple[str, str]],
) -> None:
    """The hunt's reads over the hunt index follow the same rule: it hunts an indicator
    exactly when the latest version in the collection is readable, and reading bodies back
    returns nothing else, even when asked for every version stored."""
    latest: dict[str, str] = {}
    for s in stored:
        if s.collection == index and s.stix_id.startswith("indicator--"):
            latest[s.stix_id] = max(latest.get(s.stix_id, s.version), s.version)
    hunted_now = {i for i, v in latest.items() if (i, v) in expected}
    if subject.identity_id is not None:
        try:
            chosen = readable_indicators(
                conn, subject=subject, collection_ids=[collection_id], since_us=None
            )
        except (NotFound, Forbidden):
            chosen = []
        assert {h.indicator.indicator_id for h in chosen} == hunted_now, (subject, index)
    asked = [
        Hunted(HuntIndicator(s.stix_id, "[x:y = 'z']"), collection_id, parse_timestamp(s.version))
        for s in stored
        if s.collection == index and s.stix_id.startswith("indicator--")
    ]
    bodies = indicator_bodies(conn, subject=subject, hunted=asked)
    for stix_id, body in bodies.items():
        assert (stix_id, body["modified"]) in expected, (subject, index, stix_id)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    # The SQL filter is proven on both databases above; here the question is whether every
    # endpoint applies it, which does not depend on the database.
    engine = make_engine(f"sqlite:///{tmp_path / 'endpoints.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds())
def test_no_endpoint_returns_a_forbidden_object(
    sqlite_engine: Engine, world: dict[str, object]
) -> None:
    engine = sqlite_engine
    orgs, facts, grants, stored = _build(engine, world)
    client = TestClient(
        create_app(Settings(), node=Node(settings=Settings(), engine=engine, secret=b"k"))
    )
    tokens: dict[Subject, str | None] = {ANONYMOUS: None}
    with write_transaction(engine) as conn:
        for subject in _subjects(orgs)[1:]:
            org = next(o for o in orgs if o.id == subject.org_id)
            assert subject.role is not None
            tokens[subject] = service.create_token(conn, org=org, role=subject.role)
    root = "/taxii2/kizuna/collections"
    for subject, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for index, collection in enumerate(facts):
            allowed = _expected(subject, facts, grants, stored, index)
            allowed_ids = {i for i, _v in allowed}
            base = f"{root}/{collection.id}"
            objects = client.get(
                f"{base}/objects/", params={"match[version]": "all"}, headers=headers
            )
            got = (
                {
                    (o["id"], o.get("modified", o.get("created")))
                    for o in objects.json().get("objects", [])
                }
                if objects.status_code == 200
                else set()
            )
            assert got == allowed
            manifest = client.get(
                f"{base}/manifest/", params={"match[version]": "all"}, headers=headers
            )
            if manifest.status_code == 200:
                assert {
                    (o["id"], o["version"]) for o in manifest.json().get("objects", [])
                } == allowed
            for s in stored:
                one = client.get(
                    f"{base}/objects/{s.stix_id}/",
                    params={"match[version]": "all"},
                    headers=headers,
                )
                if one.status_code == 200:
                    assert {
                        (o["id"], o.get("modified", o.get("created")))
                        for o in one.json()["objects"]
                    } <= allowed
                    assert s.stix_id in allowed_ids
                else:
                    assert one.status_code in (401, 403, 404)
                    assert (s.stix_id in allowed_ids) is False or one.status_code == 403
                versions = client.get(f"{base}/objects/{s.stix_id}/versions/", headers=headers)
                if versions.status_code == 200:
                    assert {(s.stix_id, v) for v in versions.json()["versions"]} <= allowed
                else:
                    assert s.stix_id not in allowed_ids
