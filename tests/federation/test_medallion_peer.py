"""A kizuna node peering with the OASIS reference TAXII 2.1 server (medallion): pulling
what another client put there, pushing what TLP lets out, through `kizuna peer`/`sync`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from kizuna.access.tlp import Tlp
from tests.conftest import BACKENDS
from tests.federation.medallion import TAXII, MedallionPeer, medallion_peer
from tests.federation.nodes import Node, indicator, marked, two_nodes


@pytest.fixture(params=BACKENDS)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Node, MedallionPeer]]:
    with (
        two_nodes(request.param, tmp_path) as (uk, _jp),
        medallion_peer(tmp_path, collections=("Inbound", "Outbound")) as peer,
    ):
        yield uk, peer


def medallion_ids(peer: MedallionPeer, collection: str) -> set[str]:
    response = httpx.get(
        peer.objects_url(collection),
        auth=(peer.username, peer.password),
        headers={"Accept": TAXII},
        timeout=10,
    )
    response.raise_for_status()
    return {o["id"] for o in response.json().get("objects", [])}


def test_pull_from_and_push_to_medallion(setup: tuple[Node, MedallionPeer]) -> None:
    uk, peer = setup
    inbound, outbound = peer.collections["Inbound"], peer.collections["Outbound"]
    # Another member of the peer's community published two GREEN indicators there.
    theirs = [marked(indicator("jpcert", f"203.0.113.{n}"), Tlp.GREEN)[0] for n in range(2)]
    posted = httpx.post(
        peer.objects_url(inbound),
        auth=(peer.username, peer.password),
        headers={"Accept": TAXII, "Content-Type": TAXII},
        content=orjson.dumps({"objects": theirs}),
        timeout=10,
    )
    assert posted.status_code == 202, posted.text
    green = indicator("ncsc", "192.0.2.10")
    red = indicator("ncsc", "192.0.2.11")
    uk.store("ncsc", marked(green, Tlp.GREEN))
    uk.store("ncsc", marked(red, Tlp.RED, ["jpcert"]))

    uk.cli(
        "peer",
        "add",
        "--name",
        "medallion",
        "--url",
        peer.discovery,
        "--username",
        peer.username,
        "--token",
        peer.password,
        "--org",
        "JPCERT/CC",
        "--pull",
        f"{inbound}={uk.intel}",
        "--push",
        f"{uk.intel}={outbound}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "kizuna", "sync", "--once"],
        env=uk.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert {o["id"] for o in theirs} <= uk.visible("water")
    out = medallion_ids(peer, outbound)
    assert green["id"] in out
    assert red["id"] not in out
    assert not {o["id"] for o in theirs} & out  # what came from the peer is not echoed

    # Again: nothing new either way.
    before = (uk.stored(), medallion_ids(peer, outbound))
    uk.cli("sync", "--once")
    assert (uk.stored(), medallion_ids(peer, outbound)) == before
