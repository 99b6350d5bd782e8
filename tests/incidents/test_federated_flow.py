"""The whole incident channel across two real federated nodes: the UK reports a Category 2
incident against a water utility and asks Japan for analysis (CLI); Japan's duty officers
are notified (a webhook that fails once, then succeeds), JPCERT/CC acknowledges and offers
indicators (REST); after the sync the UK sees the same state with the SLA met, and an org
outside the audience gets 404 for all of it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.e2e.server import kizuna
from tests.federation.nodes import Node, link_uk_to_jp, two_nodes


class Receiver:
    """A duty officers' webhook: answers 500 to the first POST, 200 after."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if not receiver.statuses else 200
                receiver.statuses.append(status)
                if status == 200:
                    receiver.payloads.append(json.loads(body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/duty"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    with two_nodes("sqlite", tmp_path) as pair:
        yield pair


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def _api(node: Node, who: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{node.server.url}/api/v1",
        headers={"Authorization": f"Bearer {node.tokens[who]}"},
        timeout=30,
    )


def test_uk_asks_japan_for_help_and_both_see_the_same_state(
    nodes: tuple[Node, Node], receiver: Receiver
) -> None:
    uk, jp = nodes
    link_uk_to_jp(uk, jp)
    incident = uk.cli(
        "incident",
        "report",
        "--org",
        "NCSC",
        "--collection",
        uk.intel,
        "--title",
        "Ransomware at Thames Water",
        "--category",
        "2",
        "--country",
        "GB",
        "--sector",
        "water",
        "--affected",
        "Thames Water",
        "--impact",
        "disruptive",
        "--audience",
        "JPCERT/CC",
    )
    request = uk.cli(
        "assist",
        "request",
        incident,
        "--org",
        "NCSC",
        "--collection",
        uk.intel,
        "--to",
        "JPCERT/CC",
        "--need",
        "analysis",
        "--urgency",
        "immediate",
    )
    uk.cli("sync", "--once")

    # Japan's duty officers hear of the incident and the request (ids and titles only).
    duty = {**jp.env, "KIZUNA_DUTY_ORG": "JPCERT/CC", "KIZUNA_DUTY_WEBHOOK_URL": receiver.url}
    kizuna(duty, "notify", "run", "--once")
    assert receiver.statuses == [500, 200, 200]  # the first delivery was retried
    by_event = {p["event"]: p for p in receiver.payloads}
    assert by_event["assistance-request"]["id"] == request
    assert by_event["assistance-request"]["category"] == 2
    assert by_event["incident"]["id"] == incident
    assert all("description" not in p for p in receiver.payloads)
    kizuna(duty, "notify", "run", "--once")
    assert len(receiver.statuses) == 3  # nothing is notified twice

    with _api(jp, "jpcert") as japan:
        listed = japan.get("/assistance", params={"collection": jp.intel}).json()["requests"]
        assert [r["state"] for r in listed] == ["requested"]
        acked = japan.post(
            f"/assistance/{request}/responses",
            json={"collection": jp.intel, "action": "acknowledge"},
        )
        assert acked.status_code == 201, acked.text
        offered = japan.post(
            f"/assistance/{request}/responses",
            json={"collection": jp.intel, "action": "offer", "resources": ["indicators"]},
        )
        assert offered.status_code == 201, offered.text
        refused = japan.post(
            f"/assistance/{request}/responses",
            json={"collection": jp.intel, "action": "acknowledge"},
        )
        assert refused.status_code == 400
        assert "cannot acknowledge a request that is acknowledged" in refused.json()["description"]
    with _api(jp, "nisc") as outsider:  # a Japanese org outside the audience
        for path in (
            f"/incidents/{incident}",
            f"/incidents/{incident}/timeline",
            f"/assistance/{request}",
        ):
            assert outsider.get(path, params={"collection": jp.intel}).status_code == 404
        assert outsider.get("/incidents", params={"collection": jp.intel}).json() == {
            "incidents": []
        }

    uk.cli("sync", "--once")
    seen = json.loads(uk.cli("assist", "list", "--org", "NCSC", "--collection", uk.intel, "--json"))
    assert [r["state"] for r in seen] == ["acknowledged"]
    assert seen[0]["addressee"] == "JPCERT/CC"
    assert [o["resources"] for o in seen[0]["offers"]] == [["indicators"]]
    sla = seen[0]["sla"]
    assert sla["acknowledge"]["limit_seconds"] == 3600
    assert sla["acknowledge"]["stopped"] is not None
    assert not sla["acknowledge"]["breached"]
    assert not sla["breached"]
    one = json.loads(
        uk.cli("assist", "show", seen[0]["id"], "--org", "NCSC", "--collection", uk.intel)
    )
    assert {k: one[k] for k in ("id", "state", "offers", "addressee")} == {
        k: seen[0][k] for k in ("id", "state", "offers", "addressee")
    }
    with _api(uk, "ncsc") as britain:
        report = britain.get(
            f"/incidents/{incident}/timeline",
            params={"collection": uk.intel, "format": "markdown"},
        )
        assert report.status_code == 200
        assert "| JPCERT/CC | offer: offered indicators |" in report.text
        closed = britain.patch(
            f"/incidents/{incident}", json={"collection": uk.intel, "status": "closed"}
        )
        assert closed.status_code == 200
        reopened = britain.patch(
            f"/incidents/{incident}", json={"collection": uk.intel, "status": "triaged"}
        )
        assert reopened.status_code == 400
        assert "cannot go from closed to triaged" in reopened.json()["description"]
        spec = britain.get(f"{uk.server.url}/openapi.json").json()
        assert "/api/v1/assistance/{request_id}/responses" in spec["paths"]
    with _api(uk, "water") as water:  # a UK org outside the audience
        assert (
            water.get(f"/incidents/{incident}", params={"collection": uk.intel}).status_code == 404
        )
