"""Two real nodes syncing over TAXII 2.1: the egress policy, audiences enforced again on
arrival, idempotence, provenance, and `kizuna peer` / `kizuna sync` as an operator uses them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from kizuna.access.tlp import Tlp
from kizuna.db.engine import read_transaction
from kizuna.federation.models import deliveries, peer_links, provenance
from tests.conftest import BACKENDS
from tests.federation.nodes import (
    Node,
    indicator,
    link_uk_to_jp,
    marked,
    relationship,
    two_nodes,
)


@pytest.fixture(params=BACKENDS)
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    with two_nodes(request.param, tmp_path) as pair:
        yield pair


def test_what_crosses_and_what_stays_home(nodes: tuple[Node, Node]) -> None:
    uk, jp = nodes
    o = {
        "clear": indicator("ncsc", "192.0.2.1"),
        "green": indicator("ncsc", "192.0.2.2"),
        "amber_jp": indicator("ncsc", "192.0.2.3"),
        "strict_jp": indicator("ncsc", "192.0.2.4"),
        "amber_water": indicator("water", "192.0.2.5"),
        "red_jp": indicator("ncsc", "192.0.2.6"),
        "unmarked": indicator("ncsc", "192.0.2.7"),
    }
    uk.store("ncsc", marked(o["clear"], Tlp.CLEAR))
    uk.store("ncsc", marked(o["green"], Tlp.GREEN))
    uk.store("ncsc", marked(o["amber_jp"], Tlp.AMBER, ["jpcert", "ncsc"]))
    uk.store("ncsc", marked(o["strict_jp"], Tlp.AMBER_STRICT, ["jpcert"]))
    uk.store("water", marked(o["amber_water"], Tlp.AMBER, ["water", "ncsc"]))
    uk.store("ncsc", marked(o["red_jp"], Tlp.RED, ["jpcert"]))
    uk.store("ncsc", marked(o["unmarked"], None))
    rel_ok = relationship("ncsc", o["green"]["id"], o["amber_jp"]["id"])
    rel_hidden = relationship("ncsc", o["green"]["id"], o["amber_water"]["id"])
    uk.store("ncsc", marked(rel_ok, Tlp.GREEN))
    uk.store("ncsc", marked(rel_hidden, Tlp.GREEN))
    j = {
        "green": indicator("jpcert", "203.0.113.1"),
        "amber_ncsc": indicator("jpcert", "203.0.113.2"),
        "amber_nisc": indicator("jpcert", "203.0.113.3"),
        "red": indicator("jpcert", "203.0.113.4"),
    }
    jp.store("jpcert", marked(j["green"], Tlp.GREEN))
    jp.store("jpcert", marked(j["amber_ncsc"], Tlp.AMBER, ["ncsc", "jpcert"]))
    jp.store("jpcert", marked(j["amber_nisc"], Tlp.AMBER, ["nisc", "jpcert"]))
    jp.store("jpcert", marked(j["red"], Tlp.RED, ["ncsc"]))

    link_uk_to_jp(uk, jp)
    checked = subprocess.run(
        [sys.executable, "-m", "kizuna", "peer", "test", "jp"],
        env=uk.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert f"push {jp.intel}: ok (write)" in checked.stderr
    assert f"pull {jp.intel}: ok (read)" in checked.stderr
    uk.cli("sync", "--once")

    crossed = {o[k]["id"] for k in ("clear", "green", "amber_jp", "strict_jp")} | {rel_ok["id"]}
    stayed = {o[k]["id"] for k in ("amber_water", "red_jp", "unmarked")} | {rel_hidden["id"]}
    on_jp = jp.visible("jpcert")
    assert crossed <= on_jp
    assert not stayed & {sid for sid, _ in jp.stored()}  # not even stored out of sight
    # The Japanese node enforces the audience again for its own members.
    nisc = jp.visible("nisc")
    assert {o["clear"]["id"], o["green"]["id"]} <= nisc
    assert o["amber_jp"]["id"] not in nisc
    assert o["strict_jp"]["id"] not in nisc
    assert rel_ok["id"] not in nisc  # one end is AMBER for JPCERT only

    on_uk = {sid for sid, _ in uk.stored()}
    assert {j["green"]["id"], j["amber_ncsc"]["id"]} <= on_uk
    assert not {j["amber_nisc"]["id"], j["red"]["id"]} & on_uk
    assert j["amber_ncsc"]["id"] in uk.visible("ncsc")
    assert j["amber_ncsc"]["id"] not in uk.visible("water")
    assert j["green"]["id"] in uk.visible("water")

    with read_transaction(uk.engine) as conn:
        came = {
            r.stix_id for r in conn.execute(select(provenance).where(provenance.c.peer == "jp"))
        }
        links = {r.direction: r for r in conn.execute(select(peer_links))}
        states = {r.state for r in conn.execute(select(deliveries))}
    assert {j["green"]["id"], j["amber_ncsc"]["id"]} <= came
    assert not came & crossed  # what went out did not come back as the peer's
    assert states == {"delivered"}
    assert links["push"].moved >= len(crossed)
    assert links["push"].last_error is None
    assert links["pull"].last_error is None

    # Idempotent: a second run moves nothing and stores nothing twice.
    before = (uk.stored(), jp.stored())
    out = subprocess.run(
        [sys.executable, "-m", "kizuna", "sync", "--once"],
        env=uk.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "0 moved" in out.stderr
    assert (uk.stored(), jp.stored()) == before
    assert all(n == 1 for n in before[0].values())
    assert all(n == 1 for n in before[1].values())

    listing = subprocess.run(
        [sys.executable, "-m", "kizuna", "peer", "list"],
        env=uk.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "JPCERT/CC" in listing
    assert f"push {uk.intel} -> {jp.intel}" in listing


def test_peer_commands_check_their_input(nodes: tuple[Node, Node]) -> None:
    uk, jp = nodes

    def fails(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "kizuna", *args],
            env=uk.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr
        return done.stderr

    common = ["peer", "add", "--name", "jp", "--url", jp.discovery, "--token", "t"]
    assert "local organisation" in fails(*common, "--org", "NCSC", "--push", f"{uk.intel}=x")
    assert "no local collection" in fails(*common, "--org", "JPCERT/CC", "--push", "nope=x")
    assert "at least one" in fails(*common, "--org", "JPCERT/CC")
    assert "not an http" in fails(
        "peer", "add", "--name", "jp", "--url", "ftp://x", "--token", "t", "--org", "JPCERT/CC"
    )
    # A wrong token: the run fails with a clear line, and nothing moves.
    uk.cli(
        "peer",
        "add",
        "--name",
        "jp",
        "--url",
        jp.discovery,
        "--token",
        "kz_wrong",
        "--org",
        "JPCERT/CC",
        "--pull",
        f"{jp.intel}={uk.intel}",
    )
    assert "jp" in fails("peer", "test", "jp")
    message = fails("sync", "--once")
    assert "FAILED" in message
    # The stored token is sealed: it is not in the database file in clear.
    with read_transaction(uk.engine) as conn:
        sealed = conn.exec_driver_sql("SELECT token_sealed FROM peers").scalar_one()
    assert "kz_wrong" not in sealed
    uk.cli("peer", "remove", "jp")
    assert "no peer named jp" in fails("peer", "test", "jp")


def test_kill_minus_nine_mid_sync_loses_and_duplicates_nothing(
    nodes: tuple[Node, Node],
) -> None:
    uk, jp = nodes
    total = 3000
    for node, who in ((uk, "ncsc"), (jp, "jpcert")):
        node.store(
            who,
            [
                marked(indicator(who, f"10.9.{n // 250}.{n % 250}"), Tlp.GREEN)[0]
                for n in range(total)
            ],
        )
    link_uk_to_jp(uk, jp)

    def kill_when(node: Node, count: int) -> None:
        """Start a sync and kill -9 it once ``node`` holds ``count`` objects."""
        process = subprocess.Popen(
            [sys.executable, "-m", "kizuna", "sync", "--once", "--page-size", "100"],
            env=uk.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if len(node.stored()) >= count:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert count <= len(node.stored()) < 2 * total, "the kill came too late to test"

    kill_when(uk, total + 300)  # mid-pull (pulls run first)
    kill_when(jp, total + 300)  # mid-push: the pull resumes and ends, then the push starts
    uk.cli("sync", "--once", "--page-size", "100")  # takes over the dead process's lease
    on_uk, on_jp = uk.stored(), jp.stored()
    assert len(on_uk) == 2 * total
    assert len(on_jp) == 2 * total
    assert set(on_uk) == set(on_jp)
    assert all(n == 1 for n in on_uk.values())
    assert all(n == 1 for n in on_jp.values())
    with read_transaction(uk.engine) as conn:
        came = conn.execute(select(provenance.c.stix_id)).all()
        sent = conn.execute(select(deliveries.c.stix_id, deliveries.c.state)).all()
    assert len(came) == total
    assert len(sent) == total
    assert {s for _, s in sent} == {"delivered"}
