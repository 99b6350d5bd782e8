"""add_objects: each object stands or falls alone; idempotency, versions, ownership,
markings, revocation and date_added, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import orjson
import pytest
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP1_MARKINGS,
    TLP2_MARKINGS,
    TLP_EXTENSION_ID,
    Tlp,
    audience_marking,
    tlp2_marking_definition,
)
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.stix.timestamps import format_timestamp, parse_timestamp
from kizuna.store import collections as store_collections
from kizuna.store import ingest
from kizuna.store.ingest import Outcome, add_objects
from kizuna.store.query import Filters, Row, VersionMatch, read_page

ORG_NAMES = ("alpha", "bravo", "charlie", "delta")


def stamp(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000Z"


def indicator(stix_id: str | None = None, *, day: int = 1, **extra: object) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": stamp(1),
        "modified": stamp(day),
        "pattern": "[ipv4-addr:value = '198.51.100.1']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        **extra,
    }


def statement_marking(
    stix_id: str | None = None, statement: str = "Copyright Alpha"
) -> dict[str, object]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": stix_id or f"marking-definition--{uuid.uuid4()}",
        "created": stamp(1),
        "definition_type": "statement",
        "definition": {"statement": statement},
    }


def ipv4(stix_id: str, value: str) -> dict[str, object]:
    return {"type": "ipv4-addr", "spec_version": "2.1", "id": stix_id, "value": value}


@dataclass
class World:
    engine: Engine
    collection_id: str
    other_collection_id: str
    orgs: dict[str, Org]
    peer: Org

    def subject(self, name: str, role: Role = Role.ANALYST) -> Subject:
        org = self.peer if name == "peer" else self.orgs[name]
        return Subject(org_id=org.id, identity_id=org.identity_id, role=role, remote=org.remote)

    def post(
        self, subject: Subject, *submitted: object, collection_id: str | None = None
    ) -> list[Outcome]:
        with write_transaction(self.engine) as conn:
            return add_objects(
                conn,
                subject=subject,
                collection_id=collection_id or self.collection_id,
                submitted=list(submitted),
            )

    def rows(
        self,
        subject: Subject,
        stix_id: str | None = None,
        *,
        versions: VersionMatch | None = None,
        collection_id: str | None = None,
    ) -> list[Row]:
        filters = Filters(
            ids=(stix_id,) if stix_id else (), versions=versions or VersionMatch.every()
        )
        with read_transaction(self.engine) as conn:
            collection = store_collections.get_collection(
                conn, subject, collection_id or self.collection_id
            )
            page = read_page(
                conn,
                subject=subject,
                collection=collection,
                filters=filters,
                after_us=None,
                limit=10_000,
            )
        assert not page.more
        return page.rows

    def readable_by(self, name: str, stix_id: str) -> bool:
        return bool(self.rows(self.subject(name, Role.READER), stix_id))


@pytest.fixture
def world(engine: Engine) -> World:
    with write_transaction(engine) as conn:
        orgs = {name: service.add_org(conn, name=name, country="GB") for name in ORG_NAMES}
        peer = service.add_org(conn, name="peer-node", country="JP", remote=True)
        ids = []
        for title in ("main", "other"):
            cid = store_collections.add_collection(conn, title=title, default_tlp=Tlp.AMBER)
            for role in Role:
                store_collections.grant(conn, collection_id=cid, role=role, read=True, write=True)
            ids.append(cid)
    return World(engine, ids[0], ids[1], orgs, peer)


def ok(outcomes: list[Outcome]) -> list[bool]:
    return [o.ok for o in outcomes]


# -- each object stands alone ----------------------------------------------------------------


def test_a_bad_object_fails_alone_with_its_reason_and_the_rest_is_stored(world: World) -> None:
    alpha = world.subject("alpha")
    good_first, good_last = indicator(), indicator()
    bad = indicator()
    del bad["pattern"]
    outcomes = world.post(alpha, good_first, bad, "not an object", good_last)

    assert [o.id for o in outcomes] == [good_first["id"], bad["id"], "", good_last["id"]]
    assert ok(outcomes) == [True, False, False, True]
    assert "pattern" in outcomes[1].message
    assert "is required" in outcomes[1].message
    assert outcomes[1].version == stamp(1)
    assert "JSON object" in outcomes[2].message
    stored = {r.stix_id for r in world.rows(alpha)}
    assert stored == {good_first["id"], good_last["id"]}


def test_identical_resubmission_succeeds_and_adds_no_row(world: World) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=2)
    assert ok(world.post(alpha, obj)) == [True]
    before = world.rows(alpha, str(obj["id"]))
    assert len(before) == 1

    # Again later, and twice within one envelope (keys in another order, too).
    assert ok(world.post(alpha, obj)) == [True]
    assert ok(world.post(alpha, dict(reversed(obj.items())), obj)) == [True, True]

    after = world.rows(alpha, str(obj["id"]))
    assert after == before


def test_a_changed_object_under_the_same_version_is_refused(world: World) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=2)
    assert ok(world.post(alpha, obj)) == [True]
    changed = {**obj, "name": "changed"}

    [outcome] = world.post(alpha, changed)
    assert not outcome.ok
    assert "different content" in outcome.message
    [row] = world.rows(alpha, str(obj["id"]))
    assert "changed" not in row.body


def test_a_changed_object_under_the_same_version_is_refused_within_one_envelope(
    world: World,
) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=2)
    outcomes = world.post(alpha, obj, {**obj, "name": "changed"})
    assert ok(outcomes) == [True, False]
    assert "different content" in outcomes[1].message
    [row] = world.rows(alpha, str(obj["id"]))
    assert "changed" not in row.body


def test_a_changed_object_under_the_same_version_is_refused_in_another_collection(
    world: World,
) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=2)
    assert ok(world.post(alpha, obj)) == [True]
    [outcome] = world.post(
        alpha, {**obj, "name": "changed"}, collection_id=world.other_collection_id
    )
    assert not outcome.ok
    assert "different content" in outcome.message


# -- ownership -------------------------------------------------------------------------------


def test_another_org_cannot_add_a_version(world: World) -> None:
    alpha, bravo = world.subject("alpha"), world.subject("bravo")
    obj = indicator(day=2)
    assert ok(world.post(alpha, obj)) == [True]

    for collection_id in (world.collection_id, world.other_collection_id):
        [outcome] = world.post(bravo, {**obj, "modified": stamp(3)}, collection_id=collection_id)
        assert not outcome.ok
        assert "only its creator" in outcome.message
    # Not even as a node admin.
    [outcome] = world.post(world.subject("bravo", Role.ADMIN), {**obj, "modified": stamp(4)})
    assert not outcome.ok
    assert [r.version for r in world.rows(alpha, str(obj["id"]))] == [stamp(2)]
    # The creator still may.
    assert ok(world.post(alpha, {**obj, "modified": stamp(3)})) == [True]


def test_a_member_may_only_publish_its_own_objects(world: World) -> None:
    alpha = world.subject("alpha")
    bravo_identity = world.orgs["bravo"].identity_id
    forged = indicator(created_by_ref=bravo_identity)
    [outcome] = world.post(alpha, forged)
    assert not outcome.ok
    assert "only publish its own" in outcome.message
    assert world.rows(alpha, str(forged["id"])) == []

    own = indicator(created_by_ref=world.orgs["alpha"].identity_id)
    assert ok(world.post(alpha, own)) == [True]


def test_a_peer_may_relay_objects_created_elsewhere(world: World) -> None:
    peer = world.subject("peer", Role.PEER)
    relayed = indicator(
        created_by_ref=world.orgs["bravo"].identity_id,
        object_marking_refs=[TLP2_MARKINGS[Tlp.GREEN]],
    )
    assert ok(world.post(peer, relayed)) == [True]
    assert [r.stix_id for r in world.rows(peer, str(relayed["id"]))] == [relayed["id"]]


# -- markings --------------------------------------------------------------------------------


def test_an_unknown_marking_is_refused(world: World) -> None:
    alpha = world.subject("alpha")
    unknown = f"marking-definition--{uuid.uuid4()}"
    by_ref = indicator(object_marking_refs=[unknown])
    granular = indicator(granular_markings=[{"marking_ref": unknown, "selectors": ["name"]}])
    outcomes = world.post(alpha, by_ref, granular)
    assert ok(outcomes) == [False, False]
    assert all("does not know" in o.message for o in outcomes)
    assert world.rows(alpha) == []


def test_a_marking_defined_later_in_the_same_envelope_is_known(world: World) -> None:
    alpha = world.subject("alpha")
    marking = statement_marking()
    obj = indicator(object_marking_refs=[marking["id"]])
    outcomes = world.post(alpha, obj, marking)
    assert ok(outcomes) == [True, True]
    assert [o.id for o in outcomes] == [obj["id"], marking["id"]]
    assert {r.stix_id for r in world.rows(alpha)} == {obj["id"], marking["id"]}


def test_a_marking_defined_in_an_earlier_envelope_is_known(world: World) -> None:
    alpha = world.subject("alpha")
    marking = statement_marking()
    assert ok(world.post(alpha, marking)) == [True]
    # Node-wide: also in another collection, and for another org.
    assert ok(world.post(alpha, indicator(object_marking_refs=[marking["id"]]))) == [True]
    bravo_obj = indicator(object_marking_refs=[marking["id"]])
    assert ok(
        world.post(world.subject("bravo"), bravo_obj, collection_id=world.other_collection_id)
    ) == [True]


def test_an_audience_marking_with_an_id_not_derived_from_its_audience_is_refused(
    world: World,
) -> None:
    alpha = world.subject("alpha")
    bravo_id, charlie_id = (world.orgs[n].identity_id for n in ("bravo", "charlie"))

    renamed = {**audience_marking([bravo_id]), "id": f"marking-definition--{uuid.uuid4()}"}
    # The id of {bravo} with the audience widened to {bravo, charlie}.
    widened = audience_marking([bravo_id, charlie_id])
    widened["id"] = audience_marking([bravo_id])["id"]

    for marking in (renamed, widened):
        obj = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.AMBER], marking["id"]])
        outcomes = world.post(alpha, marking, obj)
        assert ok(outcomes) == [False, False]
        assert "derived from its audience" in outcomes[0].message
        assert "does not know" in outcomes[1].message
    assert world.rows(alpha) == []

    genuine = audience_marking([bravo_id])
    obj = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.AMBER], genuine["id"]])
    assert ok(world.post(alpha, genuine, obj)) == [True, True]


def test_a_marking_id_with_different_content_is_refused(world: World) -> None:
    alpha = world.subject("alpha")
    marking = statement_marking(statement="first")
    assert ok(world.post(alpha, marking)) == [True]
    impostor = {**marking, "definition": {"statement": "second"}}

    for collection_id in (world.collection_id, world.other_collection_id):
        [outcome] = world.post(alpha, impostor, collection_id=collection_id)
        assert not outcome.ok
        assert "different marking-definition" in outcome.message
    [outcome] = world.post(world.subject("bravo"), impostor)
    assert not outcome.ok
    [row] = world.rows(alpha, str(marking["id"]))
    assert "first" in row.body


def test_a_marking_id_with_different_content_is_refused_within_one_envelope(
    world: World,
) -> None:
    alpha = world.subject("alpha")
    marking = statement_marking(statement="first")
    impostor = {**marking, "definition": {"statement": "second"}}
    outcomes = world.post(alpha, marking, impostor)
    assert ok(outcomes) == [True, False]


def test_the_label_is_the_most_restrictive_tlp_marking(world: World) -> None:
    alpha = world.subject("alpha")
    green = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.GREEN]])
    green_red = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.GREEN], TLP2_MARKINGS[Tlp.RED]])
    red_green = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.RED], TLP2_MARKINGS[Tlp.GREEN]])
    clear_amber = indicator(
        object_marking_refs=[TLP2_MARKINGS[Tlp.CLEAR], TLP2_MARKINGS[Tlp.AMBER]]
    )
    green_granular_red = indicator(
        object_marking_refs=[TLP2_MARKINGS[Tlp.GREEN]],
        granular_markings=[{"marking_ref": TLP2_MARKINGS[Tlp.RED], "selectors": ["pattern"]}],
    )
    objs = [green, green_red, red_green, clear_amber, green_granular_red]
    assert all(ok(world.post(alpha, *objs)))

    # bravo reads GREEN but is in no audience: only the GREEN-only object is its to read.
    assert world.readable_by("bravo", str(green["id"]))
    for hidden in objs[1:]:
        assert not world.readable_by("bravo", str(hidden["id"]))
    # The creator still reads them all.
    assert {r.stix_id for r in world.rows(alpha)} == {o["id"] for o in objs}


def test_two_audience_markings_mean_their_intersection(world: World) -> None:
    alpha = world.subject("alpha")
    ids = {n: o.identity_id for n, o in world.orgs.items()}
    first = audience_marking([ids["bravo"], ids["charlie"]])
    second = audience_marking([ids["charlie"], ids["delta"]])
    obj = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.AMBER], first["id"], second["id"]])
    assert all(ok(world.post(alpha, first, second, obj)))

    assert world.readable_by("charlie", str(obj["id"]))
    assert not world.readable_by("bravo", str(obj["id"]))
    assert not world.readable_by("delta", str(obj["id"]))
    assert world.readable_by("alpha", str(obj["id"]))


def test_an_audience_marking_shared_by_another_org_stays_its_creators(world: World) -> None:
    ids = {n: o.identity_id for n, o in world.orgs.items()}
    marking = audience_marking([ids["charlie"]])
    assert ok(world.post(world.subject("alpha"), marking)) == [True]
    # bravo may store the very same marking (byte for byte) and use it.
    obj = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.RED], marking["id"]])
    assert ok(
        world.post(world.subject("bravo"), marking, obj, collection_id=world.other_collection_id)
    ) == [True, True]
    charlie = world.subject("charlie", Role.READER)
    assert world.rows(charlie, str(obj["id"]), collection_id=world.other_collection_id)
    assert not world.rows(
        world.subject("delta", Role.READER), str(obj["id"]), collection_id=world.other_collection_id
    )


@pytest.mark.parametrize(
    ("label", "bravo_reads"),
    [(Tlp.CLEAR, True), (Tlp.GREEN, True), (Tlp.AMBER, False), (Tlp.RED, False)],
)
def test_tlp1_marking_ids_are_honoured_like_tlp2(
    world: World, label: Tlp, bravo_reads: bool
) -> None:
    alpha = world.subject("alpha")
    v1 = indicator(object_marking_refs=[TLP1_MARKINGS[label]])
    v2 = indicator(object_marking_refs=[TLP2_MARKINGS[label]])
    assert all(ok(world.post(alpha, v1, v2)))
    assert world.readable_by("bravo", str(v1["id"])) is bravo_reads
    assert world.readable_by("bravo", str(v2["id"])) is bravo_reads


def test_tlp1_amber_with_an_audience_admits_its_audience_only(world: World) -> None:
    alpha = world.subject("alpha")
    audience = audience_marking([world.orgs["bravo"].identity_id])
    obj = indicator(object_marking_refs=[TLP1_MARKINGS[Tlp.AMBER], audience["id"]])
    assert all(ok(world.post(alpha, audience, obj)))
    assert world.readable_by("bravo", str(obj["id"]))
    assert not world.readable_by("charlie", str(obj["id"]))


def test_a_custom_tlp_extension_marking_sets_the_label(world: World) -> None:
    alpha = world.subject("alpha")
    red = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": stamp(1),
        "extensions": {
            TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "red"}
        },
    }
    obj = indicator(object_marking_refs=[TLP2_MARKINGS[Tlp.GREEN], red["id"]])
    assert all(ok(world.post(alpha, obj, red)))
    assert not world.readable_by("bravo", str(obj["id"]))


# -- revocation ------------------------------------------------------------------------------


def test_no_version_may_follow_a_revoked_one(world: World) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=1)
    assert ok(world.post(alpha, obj, {**obj, "modified": stamp(2), "revoked": True})) == [
        True,
        True,
    ]

    [later] = world.post(alpha, {**obj, "modified": stamp(3)})
    assert not later.ok
    assert "revoked" in later.message
    [later_revoked] = world.post(alpha, {**obj, "modified": stamp(4), "revoked": True})
    assert not later_revoked.ok
    # Resending what is stored is still fine; so is an earlier version.
    assert ok(world.post(alpha, obj)) == [True]
    assert ok(world.post(alpha, {**obj, "modified": stamp(1).replace("00.000", "00.500")})) == [
        True
    ]
    versions = [r.version for r in world.rows(alpha, str(obj["id"]))]
    assert sorted(versions) == sorted([stamp(1), stamp(2), "2026-01-01T00:00:00.500Z"])
    # Node-wide: revoked here means revoked in every collection.
    [elsewhere] = world.post(
        alpha, {**obj, "modified": stamp(5)}, collection_id=world.other_collection_id
    )
    assert not elsewhere.ok


def test_no_version_may_follow_a_revoked_one_within_one_envelope(world: World) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=1)
    outcomes = world.post(alpha, {**obj, "revoked": True}, {**obj, "modified": stamp(2)})
    assert ok(outcomes) == [True, False]
    assert "revoked" in outcomes[1].message


@pytest.mark.parametrize("together", [True, False], ids=["one-envelope", "two-envelopes"])
def test_no_unrevoked_version_is_ever_later_than_a_revoked_one(
    world: World, together: bool
) -> None:
    alpha = world.subject("alpha")
    obj = indicator(day=1)
    live, revoked_version = (
        {**obj, "modified": stamp(3)},
        {**obj, "modified": stamp(2), "revoked": True},
    )
    if together:
        world.post(alpha, live, revoked_version)
    else:
        world.post(alpha, live)
        world.post(alpha, revoked_version)
    rows = world.rows(alpha, str(obj["id"]))
    revoked = [parse_timestamp(r.version) for r in rows if '"revoked":true' in r.body]
    live = [parse_timestamp(r.version) for r in rows if '"revoked":true' not in r.body]
    assert not revoked or not live or max(live) < min(revoked)


# -- objects without a version (SCOs) --------------------------------------------------------


def test_an_sco_without_created_or_modified_gets_a_version(world: World) -> None:
    alpha = world.subject("alpha")
    stix_id = f"ipv4-addr--{uuid.uuid4()}"
    first = ipv4(stix_id, "198.51.100.7")
    [outcome] = world.post(alpha, first)
    assert outcome.ok
    [row] = world.rows(alpha, stix_id)
    assert row.version == outcome.version == format_timestamp(row.date_added_us)

    # The same content again is the same object.
    assert ok(world.post(alpha, first)) == [True]
    assert ok(world.post(alpha, dict(reversed(first.items())))) == [True]
    assert world.rows(alpha, stix_id) == [row]

    # Other content is a second version, and it is the latest.
    second = ipv4(stix_id, "198.51.100.8")
    assert ok(world.post(alpha, second)) == [True]
    rows = world.rows(alpha, stix_id)
    assert len(rows) == 2
    [latest] = world.rows(alpha, stix_id, versions=VersionMatch.latest())
    assert "198.51.100.8" in latest.body
    assert parse_timestamp(latest.version) > parse_timestamp(row.version)
    [earliest] = world.rows(alpha, stix_id, versions=VersionMatch(first=True))
    assert earliest == row


def test_two_contents_of_one_sco_in_one_envelope_are_two_versions(world: World) -> None:
    alpha = world.subject("alpha")
    stix_id = f"ipv4-addr--{uuid.uuid4()}"
    a, b = ipv4(stix_id, "198.51.100.7"), ipv4(stix_id, "198.51.100.8")
    assert ok(world.post(alpha, a, b)) == [True, True]
    rows = world.rows(alpha, stix_id)
    assert len(rows) == 2
    assert len({r.version for r in rows}) == 2
    # Either content again, later, is the same object.
    assert ok(world.post(alpha, a, b)) == [True, True]
    assert world.rows(alpha, stix_id) == rows


def test_an_sco_content_repeated_within_one_envelope_is_stored_once(world: World) -> None:
    alpha = world.subject("alpha")
    stix_id = f"ipv4-addr--{uuid.uuid4()}"
    a, b = ipv4(stix_id, "198.51.100.7"), ipv4(stix_id, "198.51.100.8")
    assert ok(world.post(alpha, a, b, a)) == [True, True, True]
    assert len(world.rows(alpha, stix_id)) == 2


# -- date_added ------------------------------------------------------------------------------


def test_date_added_strictly_increases_within_and_across_envelopes(world: World) -> None:
    alpha = world.subject("alpha")
    envelopes = [
        [indicator() for _ in range(3)],
        [statement_marking(), indicator(), indicator()],
        [indicator()],
    ]
    for envelope in envelopes:
        assert all(ok(world.post(alpha, *envelope)))
    rows = world.rows(alpha)
    assert len(rows) == sum(len(e) for e in envelopes)
    added = [r.date_added_us for r in rows]
    assert added == sorted(added)
    assert len(set(added)) == len(added)
    when = {r.stix_id: r.date_added_us for r in rows}
    for earlier, later in itertools.pairwise(envelopes):
        assert max(when[str(o["id"])] for o in earlier) < min(when[str(o["id"])] for o in later)


def test_date_added_increases_even_when_the_clock_stands_still_or_goes_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = world.subject("alpha")
    clock = iter([2_000_000_000_000_000, 2_000_000_000_000_000, 1_000_000_000_000_000])
    monkeypatch.setattr(ingest, "now_micros", lambda: next(clock))
    posted = []
    for size in (2, 1, 3):
        envelope = [indicator() for _ in range(size)]
        assert all(ok(world.post(alpha, *envelope)))
        posted.extend(str(o["id"]) for o in envelope)
    rows = world.rows(alpha)
    added = [r.date_added_us for r in rows]
    assert len(set(added)) == len(added) == 6
    assert added == sorted(added)
    # Envelope order is date_added order.
    when = {r.stix_id: r.date_added_us for r in rows}
    assert when[posted[1]] < when[posted[2]] < min(when[i] for i in posted[3:])
    assert added[0] == 2_000_000_000_000_000


# -- canonical well-known markings, SCO copies, authorship ----------------------------------


def test_a_well_known_marking_id_is_stored_with_its_standard_content(world: World) -> None:
    alpha = world.subject("alpha")
    forged = {**tlp2_marking_definition(Tlp.RED), "name": "TLP:CLEAR (really)"}
    assert ok(world.post(alpha, forged)) == [True]
    [row] = world.rows(alpha, TLP2_MARKINGS[Tlp.RED])
    assert orjson.loads(row.body) == tlp2_marking_definition(Tlp.RED)
    # The genuine definition is then accepted from anyone, as the same object.
    assert ok(world.post(world.subject("bravo"), tlp2_marking_definition(Tlp.RED))) == [True]


def test_each_org_may_hold_its_own_copy_of_an_sco(world: World) -> None:
    sco_id = "ipv4-addr--" + str(uuid.uuid4())
    red = {**ipv4(sco_id, "203.0.113.7"), "object_marking_refs": [TLP2_MARKINGS[Tlp.RED]]}
    green = {**ipv4(sco_id, "203.0.113.7"), "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]]}
    assert ok(world.post(world.subject("alpha"), red)) == [True]
    # Bravo's answer does not depend on Alpha's hidden copy, and Bravo sees only its own.
    assert ok(world.post(world.subject("bravo"), green)) == [True]
    assert ok(world.post(world.subject("bravo"), green)) == [True]
    bodies = [orjson.loads(r.body) for r in world.rows(world.subject("bravo"), sco_id)]
    assert bodies == [green]


def test_an_object_first_stored_without_a_version_stays_its_first_orgs(world: World) -> None:
    """A custom object in the deprecated form may leave out created/modified, and so is
    stored without a version, like an SCO. Its id is still its first org's: another org may
    not add a version of it, and the first org may."""
    note_id = f"x-acme-note--{uuid.uuid4()}"
    note = {"type": "x-acme-note", "spec_version": "2.1", "id": note_id, "x_text": "alpha's"}
    assert ok(world.post(world.subject("alpha"), note)) == [True]
    versioned = {**note, "created": stamp(2), "modified": stamp(2), "x_text": "bravo's"}
    [refused] = world.post(world.subject("bravo"), versioned)
    assert not refused.ok
    assert "created by another organisation" in refused.message
    assert ok(world.post(world.subject("alpha"), {**versioned, "x_text": "alpha's v2"})) == [True]


def test_a_local_org_with_a_peer_token_cannot_publish_as_another_identity(world: World) -> None:
    local_peer = world.subject("alpha", Role.PEER)
    [outcome] = world.post(local_peer, indicator(created_by_ref=world.orgs["bravo"].identity_id))
    assert not outcome.ok
    assert "only publish its own" in outcome.message


def test_an_invalid_stix_pattern_fails_alone_with_the_parsers_message(world: World) -> None:
    alpha = world.subject("alpha")
    bad = indicator(pattern="[ipv4-addr:value = ]")
    good = indicator()
    yara = indicator(pattern="rule x { condition: true }", pattern_type="yara")
    outcomes = world.post(alpha, bad, good, yara)
    assert ok(outcomes) == [False, True, True]
    assert "not a valid STIX 2.1 pattern" in outcomes[0].message
    assert "column 20" in outcomes[0].message
