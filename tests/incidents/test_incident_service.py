"""The incident channel's rules on a real database (SQLite and PostgreSQL): versions and
audit entries, refused transitions with clear messages, sectors per country, the
assistance channel's state, and TLP: an org outside the audience sees nothing of it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.audit.log import entries, verify
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.incidents import channel as assistance_channel
from kizuna.incidents import objects, service
from kizuna.incidents.assistance import DEFAULT_SLA
from kizuna.incidents.model import AssistanceDraft, IncidentChange, IncidentDraft
from kizuna.store.collections import add_collection, grant


@dataclass
class Channel:
    engine: Engine
    collection: str
    who: dict[str, Subject]


@pytest.fixture
def channel(engine: Engine) -> Channel:
    who: dict[str, Subject] = {}
    with write_transaction(engine) as conn:
        for key, name, country, sector in (
            ("ncsc", "NCSC", "GB", "government"),
            ("jpcert", "JPCERT/CC", "JP", None),
            ("bank", "Albion Bank", "GB", "finance"),
        ):
            org = access.add_org(conn, name=name, country=country, sector=sector)
            who[key] = Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)
        collection = add_collection(conn, title="incidents")
        grant(conn, collection_id=collection, role=Role.ANALYST, write=True)
    return Channel(engine, collection, who)


WATER = IncidentDraft(
    title="Ransomware at a water utility", category=2, country="GB", sector="water"
)


def _report(
    ch: Channel, draft: IncidentDraft = WATER, audience: tuple[str, ...] = ("JPCERT/CC",)
) -> str:
    with write_transaction(ch.engine) as conn:
        marking = objects.resolve_marking(conn, ch.who["ncsc"], tlp=Tlp.AMBER, audience=audience)
        return service.report(
            conn, subject=ch.who["ncsc"], collection_id=ch.collection, draft=draft, marking=marking
        ).id


def _update(ch: Channel, incident: str, who: str = "ncsc", **change: object) -> None:
    with write_transaction(ch.engine) as conn:
        service.update(
            conn,
            subject=ch.who[who],
            collection_id=ch.collection,
            incident_id=incident,
            change=IncidentChange(**change),  # type: ignore[arg-type]
        )


def _request(ch: Channel, incident: str) -> str:
    with write_transaction(ch.engine) as conn:
        return assistance_channel.request_assistance(
            conn,
            subject=ch.who["ncsc"],
            collection_id=ch.collection,
            draft=AssistanceDraft(incident_id=incident, addressee="JPCERT/CC", needs=("analysis",)),
        )


def _respond(ch: Channel, request: str, action: str, who: str = "jpcert", **extra: object) -> str:
    with write_transaction(ch.engine) as conn:
        return assistance_channel.respond(
            conn,
            subject=ch.who[who],
            collection_id=ch.collection,
            request_id=request,
            action=action,
            **extra,  # type: ignore[arg-type]
        )


def test_every_change_is_a_new_version_and_an_audit_entry(channel: Channel) -> None:
    incident = _report(channel)
    _update(channel, incident, status="triaged")
    _update(channel, incident, status="contained", impact=("disruptive", "service"))
    with write_transaction(channel.engine) as conn:
        service.add_note(
            conn,
            subject=channel.who["jpcert"],
            collection_id=channel.collection,
            incident_id=incident,
            content="Same loader seen in Japan",
        )
    with read_transaction(channel.engine) as conn:
        detail, events = service.timeline(
            conn,
            subject=channel.who["ncsc"],
            collection_id=channel.collection,
            incident_id=incident,
            sla=DEFAULT_SLA,
        )
        audit = entries(conn, subject_id=incident)
        assert verify(conn) is None
    assert [v.draft.status for v in detail.versions] == ["reported", "triaged", "contained"]
    assert detail.incident.draft.impact == ("disruptive", "service")
    assert [e.action for e in audit] == ["incident.report", "incident.update", "incident.update"]
    assert audit[1].details == {"status": ["reported", "triaged"]}
    assert [e.kind for e in events] == ["reported", "updated", "updated", "note"]
    assert events[-1].who == "JPCERT/CC"


def test_invalid_transitions_are_refused_with_clear_messages(channel: Channel) -> None:
    incident = _report(channel)
    _update(channel, incident, status="closed")
    with pytest.raises(InvalidInput, match="cannot go from closed to triaged"):
        _update(channel, incident, status="triaged")
    with pytest.raises(Forbidden, match=r"only the reporting organisation \(NCSC\)"):
        _update(channel, incident, who="jpcert", category=1)

    request = _request(channel, incident)
    with pytest.raises(InvalidInput, match="cannot offer a request that is requested"):
        _respond(channel, request, "offer", resources=["indicators"])
    _respond(channel, request, "decline", comment="no capacity")
    with pytest.raises(InvalidInput, match="cannot acknowledge a request that is declined"):
        _respond(channel, request, "acknowledge")
    with pytest.raises(Forbidden, match="addressed to"):
        _respond(channel, request, "acknowledge", who="ncsc")
    with pytest.raises(NotFound):  # outside the audience: the request does not exist for it
        _respond(channel, request, "acknowledge", who="bank")


def test_sector_is_checked_against_the_country(channel: Channel) -> None:
    with pytest.raises(InvalidInput, match="'ports' is not a critical-infrastructure sector of GB"):
        _report(channel, IncidentDraft(title="x", category=3, country="GB", sector="ports"))
    _report(
        channel, IncidentDraft(title="Port of Nagoya", category=3, country="JP", sector="ports")
    )
    with pytest.raises(InvalidInput, match="category must be 1-6"):
        _report(channel, IncidentDraft(title="x", category=7, country="GB"))


def test_a_request_must_be_able_to_reach_its_addressee(channel: Channel) -> None:
    incident = _report(channel, audience=())
    with pytest.raises(InvalidInput, match="not in its audience"):
        _request(channel, incident)
    with write_transaction(channel.engine) as conn, pytest.raises(InvalidInput, match="RED never"):
        assistance_channel.request_assistance(
            conn,
            subject=channel.who["ncsc"],
            collection_id=channel.collection,
            draft=AssistanceDraft(incident_id=incident, addressee="JPCERT/CC", needs=("analysis",)),
            marking=objects.resolve_marking(
                conn, channel.who["ncsc"], tlp=Tlp.RED, audience=["JPCERT/CC"]
            ),
        )


def test_both_sides_derive_the_same_state_and_offers(channel: Channel) -> None:
    incident = _report(channel)
    request = _request(channel, incident)
    _respond(channel, request, "acknowledge")
    _respond(channel, request, "offer", resources=["indicators"], comment="IOCs from our sensors")
    with read_transaction(channel.engine) as conn:
        seen = {
            key: assistance_channel.show_request(
                conn,
                subject=channel.who[key],
                collection_id=channel.collection,
                request_id=request,
                sla=DEFAULT_SLA,
            )
            for key in ("ncsc", "jpcert")
        }
    for view in seen.values():
        assert view.state.state == "acknowledged"
        assert [o.resources for o in view.state.offers] == [("indicators",)]
        assert view.sla["breached"] is False
    with write_transaction(channel.engine) as conn:
        assistance_channel.close_request(
            conn, subject=channel.who["ncsc"], collection_id=channel.collection, request_id=request
        )
    with pytest.raises(InvalidInput, match="closed"):
        _respond(channel, request, "accept")


def test_an_org_outside_the_audience_sees_nothing_of_the_incident(channel: Channel) -> None:
    incident = _report(channel)
    with write_transaction(channel.engine) as conn:
        service.add_note(
            conn,
            subject=channel.who["ncsc"],
            collection_id=channel.collection,
            incident_id=incident,
            content="pumps offline",
        )
    _request(channel, incident)
    bank = channel.who["bank"]
    with read_transaction(channel.engine) as conn:
        assert service.list_incidents(conn, subject=bank, collection_id=channel.collection) == []
        assert (
            assistance_channel.list_requests(
                conn, subject=bank, collection_id=channel.collection, sla=DEFAULT_SLA
            )
            == []
        )
        for read in (service.show_incident, service.timeline):
            with pytest.raises(NotFound):
                read(
                    conn,
                    subject=bank,
                    collection_id=channel.collection,
                    incident_id=incident,
                    sla=DEFAULT_SLA,
                )
    with write_transaction(channel.engine) as conn, pytest.raises(NotFound):
        service.add_note(
            conn,
            subject=bank,
            collection_id=channel.collection,
            incident_id=incident,
            content="let me in",
        )
