"""A UK hunter shares sightings of Japanese indicators back to their producer's node: the
producer (and only the audience) sees them there; RED stays home."""

from __future__ import annotations

from pathlib import Path

import orjson

from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.config import Settings
from kizuna.hunt.run import HuntRequest, run_hunt
from tests.federation.nodes import indicator, link_uk_to_jp, marked, two_nodes


def test_sightings_go_back_to_the_producer(tmp_path: Path) -> None:
    with two_nodes("sqlite", tmp_path) as (uk, jp):
        green = indicator("jpcert", "203.0.113.10")
        amber = indicator("jpcert", "203.0.113.11")
        red = indicator("jpcert", "203.0.113.12")
        jp.store("jpcert", marked(green, Tlp.GREEN))
        # The audience must name NCSC, the org standing for the UK node, to cross at all.
        jp.store("jpcert", marked(amber, Tlp.AMBER, ["ncsc", "water", "jpcert"]))
        jp.store("jpcert", marked(red, Tlp.RED, ["water", "jpcert"]))
        link_uk_to_jp(uk, jp)
        uk.cli("sync", "--once")
        # RED never left Japan, so the UK hunter cannot hunt with it at all.
        assert {green["id"], amber["id"]} <= uk.visible("water")
        assert red["id"] not in uk.visible("water")

        telemetry = tmp_path / "fw.jsonl"
        telemetry.write_bytes(
            b"\n".join(
                orjson.dumps(
                    {"@timestamp": f"2026-03-0{n + 1}T10:00:00Z", "destination": {"ip": ip}}
                )
                for n, ip in enumerate(("203.0.113.10", "203.0.113.11", "198.51.100.1"))
            )
            + b"\n"
        )
        water = uk.orgs["water"]
        hunter = Subject(org_id=water.id, identity_id=water.identity_id, role=Role.ANALYST)
        settings = Settings(
            secret_key=uk.env["KIZUNA_SECRET_KEY"], home=Path(uk.env["KIZUNA_HOME"])
        )
        outcome = run_hunt(
            uk.engine,
            hunter,
            HuntRequest(files=[telemetry], store_into=uk.intel, share_sightings=True),
            settings=settings,
        )
        assert {m.indicator_id for m in outcome.matches} == {green["id"], amber["id"]}
        assert outcome.shared == {
            green["id"]: "sent to peer jp",
            amber["id"]: "sent to peer jp",
        }

        def sightings_on_jp(who: str) -> set[str]:
            return {sid for sid in jp.visible(who) if sid.startswith("sighting--")}

        # The producer reads both sightings on its own node; NISC only the GREEN one (the
        # AMBER sighting's audience is the hunter and the producer).
        assert len(sightings_on_jp("jpcert")) == 2
        assert len(sightings_on_jp("nisc")) == 1
        # At home, NCSC is not in the AMBER sighting's audience either.
        home = {sid for sid in uk.visible("ncsc") if sid.startswith("sighting--")}
        assert len(home) == 1
