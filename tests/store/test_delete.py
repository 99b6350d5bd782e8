"""delete_object: who may delete, what a hidden object answers, and partial deletes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, NotFound
from kizuna.stix.timestamps import parse_timestamp
from kizuna.store import collections as store_collections
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, VersionMatch, delete_object, read_page


def stamp(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000Z"


def indicator(
    stix_id: str | None = None, *, day: int = 1, tlp: Tlp | None = Tlp.GREEN
) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": stamp(1),
        "modified": stamp(day),
        "pattern": "[url:value = 'https://example.test/']",
        "pattern_type": "stix",
        "valid_from": stamp(1),
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP2_MARKINGS[tlp]]
    return obj


@dataclass
class Node:
    engine: Engine
    collection_id: str
    alpha: Org
    bravo: Org

    def subject(self, org: Org, role: Role = Role.ANALYST) -> Subject:
        return Subject(org_id=org.id, identity_id=org.identity_id, role=role)

    def post(self, subject: Subject, *objs: dict[str, object]) -> None:
        with write_transaction(self.engine) as conn:
            outcomes = add_objects(
                conn, subject=subject, collection_id=self.collection_id, submitted=list(objs)
            )
        assert all(o.ok for o in outcomes), outcomes

    def delete(self, subject: Subject, stix_id: str, versions: VersionMatch | None = None) -> int:
        filters = Filters(versions=versions) if versions is not None else Filters()
        with write_transaction(self.engine) as conn:
            collection = store_collections.get_collection(conn, subject, self.collection_id)
            return delete_object(
                conn, subject=subject, collection=collection, stix_id=stix_id, filters=filters
            )

    def versions(self, stix_id: str, match: VersionMatch | None = None) -> list[str]:
        owner = self.subject(self.alpha)
        with read_transaction(self.engine) as conn:
            collection = store_collections.get_collection(conn, owner, self.collection_id)
            page = read_page(
                conn,
                subject=owner,
                collection=collection,
                filters=Filters(ids=(stix_id,), versions=match or VersionMatch.every()),
                after_us=None,
                limit=100,
            )
        return sorted(r.version for r in page.rows)


@pytest.fixture
def node(engine: Engine) -> Node:
    with write_transaction(engine) as conn:
        alpha = service.add_org(conn, name="alpha", country="GB")
        bravo = service.add_org(conn, name="bravo", country="JP")
        collection_id = store_collections.add_collection(conn, title="shared")
        for role in (Role.ANALYST, Role.ADMIN):
            store_collections.grant(conn, collection_id=collection_id, role=role, write=True)
        store_collections.grant(conn, collection_id=collection_id, role=Role.READER)
    return Node(engine, collection_id, alpha, bravo)


def test_a_non_owner_analyst_may_not_delete(node: Node) -> None:
    obj = indicator()
    node.post(node.subject(node.alpha), obj)
    with pytest.raises(Forbidden, match="creator or a node admin"):
        node.delete(node.subject(node.bravo), str(obj["id"]))
    assert node.versions(str(obj["id"])) == [stamp(1)]


def test_the_creator_may_delete(node: Node) -> None:
    obj = indicator()
    node.post(node.subject(node.alpha), obj)
    assert node.delete(node.subject(node.alpha), str(obj["id"])) == 1
    assert node.versions(str(obj["id"])) == []


def test_an_admin_may_delete_another_orgs_object(node: Node) -> None:
    obj = indicator()
    node.post(node.subject(node.alpha), obj)
    assert node.delete(node.subject(node.bravo, Role.ADMIN), str(obj["id"])) == 1
    assert node.versions(str(obj["id"])) == []


def test_a_reader_who_sees_the_object_may_not_delete_it(node: Node) -> None:
    obj = indicator()
    node.post(node.subject(node.alpha), obj)
    # Even the creator's own org, through a token that may not write.
    with pytest.raises(Forbidden, match="may not write"):
        node.delete(node.subject(node.alpha, Role.READER), str(obj["id"]))
    assert node.versions(str(obj["id"])) == [stamp(1)]


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMIN, Role.READER])
def test_an_object_the_requester_cannot_see_is_not_found(node: Node, role: Role) -> None:
    hidden = indicator(tlp=Tlp.RED)
    node.post(node.subject(node.alpha), hidden)
    with pytest.raises(NotFound):
        node.delete(node.subject(node.bravo, role), str(hidden["id"]))
    # Exactly what an id that does not exist answers.
    with pytest.raises(NotFound):
        node.delete(node.subject(node.bravo, role), f"indicator--{uuid.uuid4()}")
    assert node.versions(str(hidden["id"])) == [stamp(1)]


def test_only_the_versions_the_requester_sees_are_deleted(node: Node) -> None:
    stix_id = f"indicator--{uuid.uuid4()}"
    node.post(
        node.subject(node.alpha),
        indicator(stix_id, day=1, tlp=Tlp.GREEN),
        indicator(stix_id, day=2, tlp=Tlp.RED),
    )
    admin = node.subject(node.bravo, Role.ADMIN)
    assert node.delete(admin, stix_id, VersionMatch.every()) == 1
    assert node.versions(stix_id) == [stamp(2)]


def test_match_version_deletes_a_subset(node: Node) -> None:
    stix_id = f"indicator--{uuid.uuid4()}"
    alpha = node.subject(node.alpha)
    node.post(alpha, *(indicator(stix_id, day=d) for d in (1, 2, 3, 4)))

    # The default is the latest version only.
    assert node.delete(alpha, stix_id) == 1
    assert node.versions(stix_id) == [stamp(1), stamp(2), stamp(3)]
    assert node.versions(stix_id, VersionMatch.latest()) == [stamp(3)]

    assert node.delete(alpha, stix_id, VersionMatch(exact=(parse_timestamp(stamp(2)),))) == 1
    assert node.versions(stix_id) == [stamp(1), stamp(3)]

    assert node.delete(alpha, stix_id, VersionMatch(first=True)) == 1
    assert node.versions(stix_id) == [stamp(3)]
    assert node.versions(stix_id, VersionMatch(first=True)) == [stamp(3)]
    assert node.versions(stix_id, VersionMatch.latest()) == [stamp(3)]

    # A version that is no longer stored matches nothing.
    with pytest.raises(NotFound):
        node.delete(alpha, stix_id, VersionMatch(exact=(parse_timestamp(stamp(1)),)))
