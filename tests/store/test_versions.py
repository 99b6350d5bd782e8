"""Versions of one object, posted in any order over several envelopes, then deleted in any
order: match[version] first/last/exact always select exactly the right stored versions."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.stix.timestamps import format_timestamp, parse_timestamp
from kizuna.store import collections as store_collections
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, VersionMatch, delete_object, read_page

CREATED = "2026-01-01T00:00:00.000Z"
CREATED_US = parse_timestamp(CREATED)
# Microsecond offsets from 'created' within about a month: exact timestamps matter.
OFFSETS = st.integers(0, 30 * 86_400 * 1_000_000)


def _version(stix_id: str, version_us: int) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id,
        "created": CREATED,
        "modified": format_timestamp(version_us),
        "pattern": "[domain-name:value = 'example.test']",
        "pattern_type": "stix",
        "valid_from": CREATED,
    }


def _setup(engine: Engine) -> tuple[Subject, str]:
    tag = uuid.uuid4().hex
    with write_transaction(engine) as conn:
        org = service.add_org(conn, name=f"owner-{tag}", country="GB")
        collection_id = store_collections.add_collection(conn, title=f"versions-{tag}")
        store_collections.grant(conn, collection_id=collection_id, org_id=org.id, write=True)
    subject = Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)
    return subject, collection_id


def _selected(
    engine: Engine, subject: Subject, collection_id: str, stix_id: str, versions: VersionMatch
) -> list[int]:
    with read_transaction(engine) as conn:
        collection = store_collections.get_collection(conn, subject, collection_id)
        page = read_page(
            conn,
            subject=subject,
            collection=collection,
            filters=Filters(ids=(stix_id,), versions=versions),
            after_us=None,
            limit=1000,
        )
    return sorted(parse_timestamp(r.version) for r in page.rows)


def _check(
    engine: Engine, subject: Subject, collection_id: str, stix_id: str, stored: set[int]
) -> None:
    def select(versions: VersionMatch) -> list[int]:
        return _selected(engine, subject, collection_id, stix_id, versions)

    assert select(VersionMatch.every()) == sorted(stored)
    if not stored:
        assert select(VersionMatch.latest()) == []
        assert select(VersionMatch(first=True)) == []
        return
    assert select(VersionMatch.latest()) == [max(stored)]
    assert select(VersionMatch(first=True)) == [min(stored)]
    assert select(VersionMatch(first=True, last=True)) == sorted({min(stored), max(stored)})
    assert select(VersionMatch()) == []


PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(
    offsets=st.lists(OFFSETS, min_size=1, max_size=7, unique=True),
    data=st.data(),
)
def test_first_last_and_exact_versions_survive_any_insert_and_delete_order(
    engine: Engine, offsets: list[int], data: st.DataObject
) -> None:
    subject, collection_id = _setup(engine)
    stix_id = f"indicator--{uuid.uuid4()}"
    versions = [CREATED_US + offset for offset in offsets]

    # Post in a random order, cut into random envelopes, with some versions sent twice.
    order = data.draw(st.permutations(versions), label="order")
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
    envelopes = [
        list(order[start:end])
        for start, end in zip([0, *cuts], [*cuts, len(order)], strict=True)
        if order[start:end]
    ]
    repeats = data.draw(st.lists(st.sampled_from(versions), max_size=3), label="repeats")
    for repeat in repeats:
        index = data.draw(st.integers(0, len(envelopes) - 1))
        envelopes[index].append(repeat)
    for envelope in envelopes:
        with write_transaction(engine) as conn:
            outcomes = add_objects(
                conn,
                subject=subject,
                collection_id=collection_id,
                submitted=[_version(stix_id, v) for v in envelope],
            )
        assert all(o.ok for o in outcomes), outcomes

    stored = set(versions)
    _check(engine, subject, collection_id, stix_id, stored)
    exact = data.draw(st.sets(st.sampled_from(versions)), label="exact")
    assert _selected(
        engine, subject, collection_id, stix_id, VersionMatch(exact=tuple(exact))
    ) == sorted(exact)
    # An exact timestamp that is not stored selects nothing.
    assert (
        _selected(engine, subject, collection_id, stix_id, VersionMatch(exact=(max(versions) + 1,)))
        == []
    )

    # Delete in random steps: by first, by last, or by exact timestamps.
    while stored:
        how = data.draw(st.sampled_from(["first", "last", "exact"]), label="how")
        if how == "first":
            match, gone = VersionMatch(first=True), {min(stored)}
        elif how == "last":
            match, gone = VersionMatch(last=True), {max(stored)}
        else:
            gone = data.draw(st.sets(st.sampled_from(sorted(stored)), min_size=1), label="gone")
            match = VersionMatch(exact=tuple(gone))
        with write_transaction(engine) as conn:
            collection = store_collections.get_collection(conn, subject, collection_id)
            deleted = delete_object(
                conn,
                subject=subject,
                collection=collection,
                stix_id=stix_id,
                filters=Filters(versions=match),
            )
        assert deleted == len(gone)
        stored -= gone
        _check(engine, subject, collection_id, stix_id, stored)
