"""Deterrence campaign records: dated entries in order, TLP deciding who sees them, only
the keeping organisation adds to them, and every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from kizuna.access.tlp import Tlp
from kizuna.attribution import campaigns
from kizuna.audit.log import entries
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, InvalidInput, NotFound
from tests.attribution.helpers import World, build_world


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def _create(engine: Engine, world: World, **options: object) -> str:
    with write_transaction(engine) as conn:
        made = campaigns.create(
            conn,
            subject=world.who("ncsc"),
            collection_id=world.intel,
            name="Lantern response",
            **options,  # type: ignore[arg-type]
        )
    return str(made["id"])


def _add(
    engine: Engine, world: World, campaign_id: str, entry: campaigns.Entry, who: str = "ncsc"
) -> None:
    with write_transaction(engine) as conn:
        campaigns.add_entry(conn, subject=world.who(who), campaign_id=campaign_id, entry=entry)


def test_entries_are_kept_in_date_order_and_audited(engine: Engine, world: World) -> None:
    campaign_id = _create(engine, world, description="What we did about Lantern")
    report = world.objects["clear_evidence"]["id"]
    _add(
        engine,
        world,
        campaign_id,
        campaigns.Entry("sanction", "2026-12-01", "Asset freeze", url="https://gov.uk/s"),
    )
    _add(
        engine,
        world,
        campaign_id,
        campaigns.Entry("attribution", "2026-11-25", "Joint attribution", ref=report),
    )
    with read_transaction(engine) as conn:
        shown = campaigns.get(conn, subject=world.who("water"), campaign_id=campaign_id)  # GREEN
        listed = campaigns.list_campaigns(conn, subject=world.who("fcdo"))
        actions = [e.action for e in entries(conn, subject_id=campaign_id)]
    assert [e["date"] for e in campaigns.entries_of(shown)] == ["2026-11-25", "2026-12-01"]
    assert shown["object_refs"] == [report]
    assert [c["id"] for c in listed] == [campaign_id]
    assert actions == ["campaign.create", "campaign.entry", "campaign.entry"]


def test_an_amber_campaign_is_hidden_outside_its_audience(engine: Engine, world: World) -> None:
    campaign_id = _create(engine, world, tlp=Tlp.AMBER, audience=["FCDO"])
    with read_transaction(engine) as conn:
        assert campaigns.get(conn, subject=world.who("fcdo"), campaign_id=campaign_id)
        assert campaigns.list_campaigns(conn, subject=world.who("water")) == []
        with pytest.raises(NotFound):
            campaigns.get(conn, subject=world.who("water"), campaign_id=campaign_id)


def test_only_the_keeper_adds_and_entries_are_checked(engine: Engine, world: World) -> None:
    campaign_id = _create(engine, world)
    entry = campaigns.Entry("advisory", "2026-11-20", "Advice", url="https://ncsc.gov.uk/a")
    with pytest.raises(Forbidden, match="keeps"):
        _add(engine, world, campaign_id, entry, who="fcdo")
    bad = [
        campaigns.Entry("threat", "2026-11-20", "x", url="https://a"),
        campaigns.Entry("advisory", "20 Nov 2026", "x", url="https://a"),
        campaigns.Entry("advisory", "2026-02-30", "x", url="https://a"),
        campaigns.Entry("advisory", "2026-11-20", "x"),
        campaigns.Entry("advisory", "2026-11-20", "x", ref="not-an-id"),
        campaigns.Entry("advisory", "2026-11-20", "x", url="ftp://a"),
        campaigns.Entry("advisory", "2026-11-20", " ", url="https://a"),
    ]
    for entry in bad:
        with pytest.raises(InvalidInput):
            _add(engine, world, campaign_id, entry)
