"""The attribution workflow on one node, on SQLite and PostgreSQL: draft -> review ->
approvals -> publish, invalidation by edits, the CLEAR-only publication rules, withdrawal and
correction as new signed versions, audit, and who may see a draft."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import Engine

from kizuna.access.subject import ANONYMOUS, Role
from kizuna.access.tlp import Tlp
from kizuna.attribution import workflow
from kizuna.attribution.content import attribution_of, tlp_of
from kizuna.attribution.verify import verify_bundle
from kizuna.audit.log import entries
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Conflict, Forbidden, NotFound
from kizuna.store.collections import get_collection
from kizuna.store.query import Filters, read_page
from tests.attribution.helpers import World, build_world, marked, sdo, store

SECRET = b"secret-of-the-test-node"


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def _spec(world: World, **overrides: object) -> workflow.DraftSpec:
    fields: dict[str, object] = {
        "collection_id": world.intel,
        "title": "Operation Lantern attributed to APT-Example",
        "activity_ref": world.objects["campaign"]["id"],
        "actor_ref": world.objects["actor"]["id"],
        "assessment": "The NCSC and FCDO assess that APT-Example ran Operation Lantern.",
        "likelihood": "highly likely",
        "co_authors": ("FCDO",),
        "evidence_refs": (
            world.objects["clear_evidence"]["id"],
            world.objects["amber_evidence"]["id"],
        ),
    }
    fields.update(overrides)
    return workflow.DraftSpec(**fields)  # type: ignore[arg-type]


def _draft(engine: Engine, world: World, **overrides: object) -> str:
    with write_transaction(engine) as conn:
        made = workflow.draft(conn, subject=world.who("ncsc"), spec=_spec(world, **overrides))
    return made.id


def _step(engine: Engine, world: World, name: str, draft_id: str, who: str = "ncsc") -> None:
    with write_transaction(engine) as conn:
        getattr(workflow, name)(conn, subject=world.who(who), draft_id=draft_id)


def _approve(engine: Engine, world: World, draft_id: str, who: str) -> workflow.Approval:
    with write_transaction(engine) as conn:
        return workflow.approve(
            conn,
            subject=world.who(who, Role.ADMIN),
            draft_id=draft_id,
            secret_key=SECRET,
            node_name="uk-node",
        )


def _publish(engine: Engine, world: World, draft_id: str) -> workflow.Published:
    with write_transaction(engine) as conn:
        return workflow.publish(
            conn, subject=world.who("ncsc"), draft_id=draft_id, collection_id=world.public
        )


def _show(engine: Engine, world: World, draft_id: str, who: str = "ncsc") -> workflow.Attribution:
    with read_transaction(engine) as conn:
        return workflow.show(conn, subject=world.who(who), draft_id=draft_id)


def _approved_and_published(engine: Engine, world: World, draft_id: str) -> workflow.Published:
    _approve(engine, world, draft_id, "ncsc")
    _approve(engine, world, draft_id, "fcdo")
    return _publish(engine, world, draft_id)


def test_draft_review_approve_publish(engine: Engine, world: World) -> None:
    draft_id = _draft(engine, world)
    shown = _show(engine, world, draft_id)
    assert shown.status == "draft"
    assert tlp_of(shown.draft) is Tlp.AMBER
    assert shown.draft["confidence"] == 85  # highly likely: 80-90%
    assert attribution_of(shown.draft)["likelihood"] == "highly likely"
    with pytest.raises(Conflict, match="under review"):
        _approve(engine, world, draft_id, "fcdo")
    _step(engine, world, "review", draft_id)
    with pytest.raises(Forbidden, match="admin"), write_transaction(engine) as conn:
        workflow.approve(
            conn, subject=world.who("fcdo"), draft_id=draft_id, secret_key=SECRET, node_name="n"
        )
    first = _approve(engine, world, draft_id, "ncsc")
    assert first.digest == _show(engine, world, draft_id).digest
    assert _approve(engine, world, draft_id, "ncsc") == first  # approving twice changes nothing
    with pytest.raises(Conflict, match="FCDO"):
        _publish(engine, world, draft_id)
    _approve(engine, world, draft_id, "fcdo")
    assert _show(engine, world, draft_id).missing == []
    published = _publish(engine, world, draft_id)

    checked = verify_bundle(published.bundle)
    assert checked.ok, checked.failures
    assert sorted(s.org_name for s in checked.signers) == ["FCDO", "NCSC"]
    assert checked.status == "published"
    ids = {o["id"] for o in published.bundle["objects"]}
    assert world.objects["clear_evidence"]["id"] in ids
    assert world.objects["amber_evidence"]["id"] not in ids  # not CLEAR: never included
    assert published.withheld == (world.objects["amber_evidence"]["id"],)
    assert all(tlp_of(o) is Tlp.CLEAR for o in published.bundle["objects"])
    assert _show(engine, world, draft_id).status == "published"

    # Anyone reads the published report over the public collection.
    with read_transaction(engine) as conn:
        collection = get_collection(conn, ANONYMOUS, world.public)
        rows = read_page(
            conn,
            subject=ANONYMOUS,
            collection=collection,
            filters=Filters(),
            after_us=None,
            limit=100,
        ).rows
    assert published.publication.report_id in {r.stix_id for r in rows}

    with read_transaction(engine) as conn:
        actions = [e.action for e in entries(conn, subject_id=draft_id)]
    assert actions == [
        "attribution.draft",
        "attribution.review",
        "attribution.approve",
        "attribution.approve",
        "attribution.publish",
    ]


def test_an_edit_after_approval_invalidates_it(engine: Engine, world: World) -> None:
    draft_id = _draft(engine, world)
    _step(engine, world, "review", draft_id)
    _approve(engine, world, draft_id, "ncsc")
    _approve(engine, world, draft_id, "fcdo")
    with write_transaction(engine) as conn:
        workflow.edit(
            conn,
            subject=world.who("ncsc"),
            draft_id=draft_id,
            changes=workflow.Changes(likelihood="likely"),
        )
    shown = _show(engine, world, draft_id)
    assert shown.approvals == ()  # they were for other bytes
    assert shown.missing == sorted(shown.missing)
    assert len(shown.missing) == 2
    with pytest.raises(Conflict, match="no valid signature"):
        _publish(engine, world, draft_id)
    with read_transaction(engine) as conn:
        edit = [e for e in entries(conn, subject_id=draft_id) if e.action == "attribution.edit"]
    assert len(edit[0].details["invalidated"]) == 2
    _approved_and_published(engine, world, draft_id)


def test_publication_refuses_text_naming_an_object_that_is_not_clear(
    engine: Engine, world: World
) -> None:
    secret = world.objects["amber_evidence"]["id"]
    draft_id = _draft(engine, world, assessment=f"As {secret} shows, APT-Example ran it.")
    _step(engine, world, "review", draft_id)
    assert f"references {secret}" in str(_show(engine, world, draft_id).problem)
    with pytest.raises(Conflict, match="not TLP:CLEAR"):
        _approve(engine, world, draft_id, "ncsc")
    with pytest.raises(Conflict, match="not TLP:CLEAR"):
        _publish(engine, world, draft_id)


def test_publication_refuses_an_activity_that_is_not_clear(engine: Engine, world: World) -> None:
    ncsc = world.orgs["ncsc"].identity_id
    amber = sdo("intrusion-set", ncsc, "Quiet Set")
    store(engine, world.who("ncsc"), world.intel, marked(amber, Tlp.AMBER, [ncsc]))
    draft_id = _draft(engine, world, activity_ref=amber["id"])
    _step(engine, world, "review", draft_id)
    with pytest.raises(Conflict, match=r"activity .* is not TLP:CLEAR"):
        _approve(engine, world, draft_id, "ncsc")


def test_a_third_org_never_sees_the_draft(engine: Engine, world: World) -> None:
    draft_id = _draft(engine, world, tlp=Tlp.RED)
    _step(engine, world, "review", draft_id)
    _approve(engine, world, draft_id, "fcdo")
    with pytest.raises(NotFound), read_transaction(engine) as conn:
        workflow.show(conn, subject=world.who("water"), draft_id=draft_id)
    with read_transaction(engine) as conn:
        assert workflow.list_attributions(conn, subject=world.who("water")) == []
        listed = workflow.list_attributions(conn, subject=world.who("fcdo"))
    assert [a.id for a in listed] == [draft_id]
    with read_transaction(engine) as conn:
        collection = get_collection(conn, world.who("water"), world.intel)
        rows = read_page(
            conn,
            subject=world.who("water"),
            collection=collection,
            filters=Filters(types=("report", "note")),
            after_us=None,
            limit=100,
        ).rows
    assert rows == []


def test_correction_and_withdrawal_are_new_signed_versions(engine: Engine, world: World) -> None:
    draft_id = _draft(engine, world)
    _step(engine, world, "review", draft_id)
    first = _approved_and_published(engine, world, draft_id)
    with pytest.raises(Conflict, match="correction"), write_transaction(engine) as conn:
        workflow.edit(
            conn, subject=world.who("ncsc"), draft_id=draft_id, changes=workflow.Changes()
        )
    with write_transaction(engine) as conn:
        workflow.correct(
            conn,
            subject=world.who("ncsc"),
            draft_id=draft_id,
            changes=workflow.Changes(assessment="Corrected: APT-Example ran Operation Lantern."),
        )
    assert _show(engine, world, draft_id).missing  # the old approvals were for other bytes
    second = _approved_and_published(engine, world, draft_id)
    with write_transaction(engine) as conn:
        workflow.withdraw(
            conn, subject=world.who("ncsc"), draft_id=draft_id, reason="New evidence."
        )
    third = _approved_and_published(engine, world, draft_id)

    reports = [
        next(o for o in p.bundle["objects"] if o["id"] == p.publication.report_id)
        for p in (first, second, third)
    ]
    assert len({r["id"] for r in reports}) == 1
    assert reports[0]["modified"] < reports[1]["modified"] < reports[2]["modified"]
    assert reports[1]["description"].startswith("Corrected")
    assert reports[2]["description"].startswith("WITHDRAWN: New evidence.")
    assert [verify_bundle(p.bundle).status for p in (first, second, third)] == [
        "published",
        "published",
        "withdrawn",
    ]
    assert all(verify_bundle(p.bundle).ok for p in (first, second, third))
    relationship = next(o for o in third.bundle["objects"] if o["type"] == "relationship")
    assert relationship["revoked"] is True
    assert _show(engine, world, draft_id).status == "withdrawn"
    with read_transaction(engine) as conn:
        actions = [e.action for e in entries(conn, subject_id=draft_id)]
    assert actions.count("attribution.publish") == 3
    assert "attribution.correct" in actions
    assert "attribution.withdraw" in actions
    assert orjson.loads(third.publication.bundle) == third.bundle
