"""Acknowledged writes survive kill -9, and paging loses nothing under concurrent writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.e2e.conftest import LiveNode, running_node
from tests.e2e.test_taxii_clients import indicator

TAXII = "application/taxii+json;version=2.1"


@pytest.fixture(params=BACKENDS)
def fresh_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNode]:
    with running_node(request.param, tmp_path_factory.mktemp("durable"), quick=True) as node:
        yield node


def _post(node: LiveNode, objects: list[dict[str, object]]) -> dict[str, object]:
    response = httpx.post(
        node.objects_url("intel"),
        content=json.dumps({"objects": objects}),
        headers={"Content-Type": TAXII, "Accept": TAXII},
        auth=("k", node.tokens["ncsc"]),
        timeout=60,
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def _all_ids(node: LiveNode, *, limit: int = 1000) -> list[str]:
    ids: list[str] = []
    params: dict[str, str | int] = {"limit": limit}
    with httpx.Client(auth=("k", node.tokens["ncsc"]), timeout=60) as client:
        while True:
            page = client.get(node.objects_url("intel"), params=params).json()
            ids.extend(o["id"] for o in page.get("objects", []))
            if not page.get("more"):
                return ids
            params = {"limit": limit, "next": page["next"]}


def test_acknowledged_objects_survive_kill_9(fresh_node: LiveNode) -> None:
    acknowledged: set[str] = set()
    for batch in range(5):
        objects = [indicator(batch * 100 + n) for n in range(100)]
        status = _post(fresh_node, objects)
        assert status["success_count"] == 100
        acknowledged |= {o["id"] for o in objects}
    status_id = status["id"]
    fresh_node.server.kill9()
    fresh_node.server.start()
    assert set(_all_ids(fresh_node)) >= acknowledged
    # The status resource survived too, and still belongs to its poster.
    again = httpx.get(
        f"{fresh_node.url}/taxii2/kizuna/status/{status_id}/", auth=("k", fresh_node.tokens["ncsc"])
    )
    assert again.json()["success_count"] == 100


def test_kill_9_during_writes_loses_no_acknowledged_object(fresh_node: LiveNode) -> None:
    acknowledged: set[str] = set()
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            objects = [indicator(n + i) for i in range(50)]
            n += 50
            try:
                status = _post(fresh_node, objects)
            except (httpx.HTTPError, AssertionError):
                return  # the server died under us: this envelope was never acknowledged
            if status["success_count"] == 50:
                acknowledged.update(o["id"] for o in objects)

    thread = threading.Thread(target=writer)
    thread.start()
    while len(acknowledged) < 500:
        stop.wait(0.05)
    fresh_node.server.kill9()
    stop.set()
    thread.join()
    fresh_node.server.start()
    stored = _all_ids(fresh_node)
    assert acknowledged <= set(stored)
    assert len(stored) == len(set(stored))


def test_paging_loses_nothing_while_others_write(fresh_node: LiveNode) -> None:
    before = [indicator(n) for n in range(300)]
    _post(fresh_node, before)
    written: list[str] = []
    done = threading.Event()

    def writer() -> None:
        for batch in range(15):
            objects = [indicator(1000 + batch * 40 + n) for n in range(40)]
            _post(fresh_node, objects)
            written.extend(o["id"] for o in objects)
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 37}
    last_added = None
    with httpx.Client(auth=("k", fresh_node.tokens["ncsc"]), timeout=60) as client:
        while True:
            response = client.get(fresh_node.objects_url("intel"), params=params)
            page = response.json()
            seen.extend(o["id"] for o in page.get("objects", []))
            last_added = response.headers.get("X-TAXII-Date-Added-Last", last_added)
            if page.get("more"):
                params = {"limit": 37, "next": page["next"]}
            elif done.is_set():
                break
            else:
                # Caught up with the writer: resume from the last date_added seen.
                params = {"limit": 37, "added_after": last_added} if last_added else {"limit": 37}
        # One last look after the writer has finished.
        tail = client.get(
            fresh_node.objects_url("intel"), params={"added_after": last_added, "limit": 10000}
        ).json()
        seen.extend(o["id"] for o in tail.get("objects", []))
    thread.join()
    assert len(seen) == len(set(seen)), "an object was served twice"
    assert set(seen) == {o["id"] for o in before} | set(written)
