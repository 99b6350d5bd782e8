"""REST hunts against a real `kizuna serve`: upload telemetry, start a hunt, poll it, read
its report; who may do what; reports filtered at read time by the access module."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import insert, select

from kizuna.access import service
from kizuna.access.models import tokens as tokens_table
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP2_MARKINGS,
    Tlp,
    audience_extension_definition,
    audience_marking,
    kizuna_identity,
)
from kizuna.db.engine import make_engine, read_transaction, write_transaction
from kizuna.stix.timestamps import now_micros
from kizuna.store.ingest import add_objects
from kizuna.store.models import hunt_jobs
from tests.conftest import BACKENDS, fresh_database
from tests.e2e.conftest import build_node_quickly, node_env
from tests.e2e.server import ServerProcess

LIMIT = 100_000  # the node's max_content_length
ADDRESSES = {"green": "198.51.100.1", "amber": "198.51.100.2", "red": "198.51.100.3"}
API = "/api/v1"


@dataclass
class HuntNode:
    server: ServerProcess
    home: Path
    url: str
    ids: dict[str, str]
    tokens: dict[str, str]
    collections: dict[str, str]
    indicators: dict[str, dict[str, Any]]

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.Client(base_url=f"{self.server.url}{API}", headers=headers, timeout=30)

    def folder(self, who: str) -> Path:
        return self.home / "telemetry" / self.ids[who]


def _indicator(key: str, creator: str, markings: list[str]) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "name": f"{key} indicator",
        "pattern": f"[ipv4-addr:value = '{ADDRESSES[key]}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "created_by_ref": creator,
        "object_marking_refs": markings,
    }


def _as(conn: Any, name: str, role: Role = Role.ANALYST) -> Subject:
    org = service.find_org(conn, name)
    return Subject(org_id=org.id, identity_id=org.identity_id, role=role)


def _publish(url: str, objects: list[object]) -> None:
    engine = make_engine(url)
    with write_transaction(engine) as conn:
        outcomes = add_objects(
            conn,
            subject=_as(conn, "NCSC"),
            collection_id=_intel_of(conn),
            submitted=objects,
        )
    engine.dispose()
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]


def _intel_of(conn: Any) -> str:
    from kizuna.store.models import collections

    return str(
        conn.execute(
            select(collections.c.id).where(collections.c.title == "Partnership intel")
        ).scalar_one()
    )


@pytest.fixture(scope="module", params=BACKENDS)
def hunt_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HuntNode]:
    home = tmp_path_factory.mktemp("hunt-node")
    with fresh_database(request.param, home) as url:
        env = node_env(home, url)
        env["KIZUNA_MAX_CONTENT_LENGTH"] = str(LIMIT)
        ids, tokens, collections = build_node_quickly(url)
        engine = make_engine(url)
        with write_transaction(engine) as conn:
            water = service.find_org(conn, "Thames Water")
            tokens["water-admin"] = service.create_token(conn, org=water, role=Role.ADMIN)
            tokens["water-reader"] = service.create_token(conn, org=water, role=Role.READER)
        engine.dispose()
        audience = audience_marking([ids["water"]])
        indicators = {
            "green": _indicator("green", ids["ncsc"], [TLP2_MARKINGS[Tlp.GREEN]]),
            "amber": _indicator(
                "amber", ids["ncsc"], [TLP2_MARKINGS[Tlp.AMBER], str(audience["id"])]
            ),
            "red": _indicator("red", ids["ncsc"], [TLP2_MARKINGS[Tlp.RED]]),
        }
        _publish(
            url,
            [
                kizuna_identity(),
                audience_extension_definition(),
                audience,
                *indicators.values(),
            ],
        )
        server = ServerProcess(env=env, log_path=home / "server.log")
        server.start()
        try:
            yield HuntNode(server, home, url, ids, tokens, collections, indicators)
        finally:
            server.stop()


def _events(*addresses: str, bad: int = 0) -> bytes:
    lines = [
        orjson.dumps({"@timestamp": f"2026-03-01T1{n}:00:00Z", "destination.ip": a})
        for n, a in enumerate(addresses)
    ]
    return b"\n".join([*lines, *[b"{broken"] * bad]) + b"\n"


def _wait(client: httpx.Client, location: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = client.get(location).json()
        if job["state"] in ("done", "failed"):
            return dict(job)
        time.sleep(0.05)
    raise AssertionError(f"the hunt did not finish: {job}")


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["http_status"] == str(status)
    assert "Traceback" not in response.text
    return str(body["description"])


def test_upload_hunt_poll_and_report(hunt_node: HuntNode) -> None:
    ids = {k: str(v["id"]) for k, v in hunt_node.indicators.items()}
    with hunt_node.client("water") as water:
        put = water.put("/telemetry/dns/events.jsonl", content=_events(*ADDRESSES.values(), bad=1))
        assert put.status_code == 201, put.text
        assert put.json()["name"] == "dns/events.jsonl"
        listed = water.get("/telemetry").json()["files"]
        assert [(f["name"], f["size"]) for f in listed] == [
            ("dns/events.jsonl", put.json()["size"])
        ]

        started = water.post(
            "/hunts",
            json={
                "files": ["dns/events.jsonl"],
                "store_into": hunt_node.collections["intel"],
            },
        )
        assert started.status_code == 202, started.text
        location = started.headers["location"]
        assert location.endswith(f"{API}/hunts/{started.json()['id']}")
        assert started.json()["state"] in ("queued", "running", "done")
        job = _wait(water, location)
        assert job["state"] == "done", job
        assert (job["files_done"], job["files_total"]) == (1, 1)
        assert (job["events"], job["bad"], job["matching_events"]) == (3, 1, 2)
        assert job["summary"]["stored"]["sighting"] == 2
        phases = job["summary"]["phases"]
        assert set(phases) == {"indicators", "prepare", "scan", "confirm", "sightings"}
        assert all(seconds >= 0 for seconds in phases.values())
        assert job["finished"] >= job["started"] >= job["created"]
        assert ids["red"] not in orjson.dumps(job).decode()  # figures, no ids

        report = water.get(f"{location}/report").json()
        assert {(r["indicator_id"], r["name"], r["source"], r["rows"][0]) for r in report} == {
            (ids["green"], "green indicator", "dns/events.jsonl", 1),
            (ids["amber"], "amber indicator", "dns/events.jsonl", 2),
        }
        csv_report = water.get(f"{location}/report", params={"format": "csv"})
        assert csv_report.headers["content-type"].startswith("text/csv")
        lines = csv_report.text.strip().splitlines()
        assert lines[0] == "indicator_id,name,source,rows,count,first_seen,last_seen"
        assert len(lines) == 3
        assert [j["id"] for j in water.get("/hunts").json()["hunts"]][:1] == [job["id"]]

    # The report is filtered for whoever reads it, when it is read.
    with hunt_node.client("water-reader") as reader:
        assert len(reader.get(f"{location}/report").json()) == 2
    with hunt_node.client("water-admin") as admin:
        # The admin role has no grant on the intel collection: it may read no indicator.
        assert admin.get(f"{location}/report").json() == []
        assert admin.get(location).json()["id"] == job["id"]
    newer = {
        **hunt_node.indicators["amber"],
        "modified": "2026-02-01T00:00:00.000Z",
        "name": "renamed amber",
        "object_marking_refs": [TLP2_MARKINGS[Tlp.RED]],
    }
    _publish(hunt_node.url, [newer])  # NCSC narrows the AMBER indicator to itself
    with hunt_node.client("water") as water:
        report = water.get(f"{location}/report").json()
        assert [r["indicator_id"] for r in report] == [ids["green"]]

    # Other orgs see neither the job nor its report, whatever their role.
    for other in ("bank", "ncsc"):
        with hunt_node.client(other) as client:
            assert "no hunt" in _error(client.get(location), 404)
            _error(client.get(f"{location}/report"), 404)
            listed_jobs = client.get("/hunts")
            assert listed_jobs.status_code == 200, listed_jobs.text
            assert job["id"] not in listed_jobs.text
            assert ids["amber"] not in listed_jobs.text


def test_a_second_org_hunts_only_what_it_may_read(hunt_node: HuntNode) -> None:
    ids = {k: str(v["id"]) for k, v in hunt_node.indicators.items()}
    with hunt_node.client("ncsc") as ncsc:
        assert ncsc.put("/telemetry/all.jsonl", content=_events(*ADDRESSES.values())).is_success
        # Water's file is not NCSC's: each org has its own telemetry folder.
        assert "upload it first" in _error(
            ncsc.post("/hunts", json={"files": ["dns/events.jsonl"]}), 400
        )
        started = ncsc.post("/hunts", json={"files": ["all.jsonl"], "since": "3650d"})
        assert started.status_code == 202, started.text
        job = _wait(ncsc, started.headers["location"])
        assert job["state"] == "done", job
        report = ncsc.get(f"{started.headers['location']}/report").json()
        # NCSC created them all; the amber one is now RED and NCSC's alone, still readable.
        assert {r["indicator_id"] for r in report} == set(ids.values())


def test_refusals(hunt_node: HuntNode, tmp_path: Path) -> None:
    folder = hunt_node.folder("water")
    folder.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(_events(ADDRESSES["red"]))
    (folder / "escape.jsonl").symlink_to(outside)
    (folder / "a-folder").mkdir(exist_ok=True)

    with hunt_node.client(None) as anonymous:
        assert anonymous.post("/hunts", json={"files": ["x"]}).headers["www-authenticate"]
        _error(anonymous.post("/hunts", json={"files": ["x"]}), 401)
        _error(anonymous.get("/hunts"), 401)
        _error(anonymous.put("/telemetry/x.jsonl", content=b"{}"), 401)
    with httpx.Client(
        base_url=f"{hunt_node.server.url}{API}", headers={"Authorization": "Bearer kz_nope"}
    ) as forged:
        _error(forged.get("/hunts"), 401)
    with hunt_node.client("bank") as reader:
        assert "analyst or admin" in _error(reader.post("/hunts", json={"files": ["x"]}), 403)
        _error(reader.put("/telemetry/x.jsonl", content=b"{}"), 403)
    with hunt_node.client("jpcert") as peer:
        _error(peer.post("/hunts", json={"files": ["x"]}), 403)
        _error(peer.get("/hunts"), 403)

    with hunt_node.client("water") as water:
        for name, message in [
            ("../outside.jsonl", "'..'"),
            ("/etc/passwd", "not a full path"),
            ("escape.jsonl", "leads outside the telemetry folder"),
            ("a-folder", "is not a file"),
            ("missing.jsonl", "upload it first"),
            (".hidden", "hidden"),
        ]:
            assert message in _error(water.post("/hunts", json={"files": [name]}), 400), name
        assert "'..'" in _error(water.put("/telemetry/..%2Fescaped.jsonl", content=b"{}"), 400)
        assert not (folder.parent / "escaped.jsonl").exists()
        _error(water.put("/telemetry/escape.jsonl", content=b"{}"), 400)  # a link: not replaced
        assert outside.read_bytes() == _events(ADDRESSES["red"])

        # A file that exists, so each refusal below is about the one thing changed.
        assert water.put("/telemetry/dns/events.jsonl", content=_events()).status_code in (200, 201)
        good = {"files": ["dns/events.jsonl"]}
        for change, status, message in [
            ({"engine": "hadoop"}, 400, "unknown engine 'hadoop'"),
            ({"engine": "spark", "spark_master": "spark://h:7077"}, 403, "only an admin"),
            ({"share_sightings": True}, 400, "needs a collection to store them in"),
            ({"format": "xlsx"}, 400, "unknown telemetry format 'xlsx'"),
            ({"since": "yesterday"}, 400, "since takes a duration"),
            ({"files": []}, 400, "files"),
            ({"files": "dns/events.jsonl"}, 400, "files"),
            ({"colour": "red"}, 400, "colour"),
            ({"store_into": hunt_node.collections["secret"]}, 404, "no collection"),
        ]:
            assert message in _error(water.post("/hunts", json={**good, **change}), status)
        assert "not valid JSON" in _error(water.post("/hunts", content=b"{nope"), 400)
        assert "no hunt" in _error(water.get(f"/hunts/{uuid.uuid4()}"), 404)
        started = water.post("/hunts", json=good)
        assert started.status_code == 202, started.text
        job = _wait(water, started.headers["location"])
        _error(water.get(f"/hunts/{job['id']}/report", params={"format": "xml"}), 400)

        # Too large: refused from Content-Length, or while streaming; nothing half-written.
        assert "exceeds" in _error(
            water.put("/telemetry/big.jsonl", content=b"x" * (LIMIT + 1)), 413
        )
        chunks = (b"y" * 10_000 for _ in range(LIMIT // 10_000 + 2))
        _error(water.put("/telemetry/big.jsonl", content=chunks), 413)
        assert not (folder / "big.jsonl").exists()
        assert not [p for p in folder.iterdir() if p.name.startswith(".upload-")]
        # Replacing a file answers 200.
        assert water.put("/telemetry/small.jsonl", content=b"{}\n").status_code == 201
        assert water.put("/telemetry/small.jsonl", content=b"{}\n{}\n").status_code == 200
        assert (folder / "small.jsonl").read_bytes() == b"{}\n{}\n"


def test_a_failed_hunt_says_why_without_server_paths(hunt_node: HuntNode) -> None:
    with hunt_node.client("water") as water:
        assert water.put("/telemetry/data.parquet", content=b"PAR1 not really").is_success
        started = water.post("/hunts", json={"files": ["data.parquet"], "format": "parquet"})
        assert started.status_code == 202, started.text
        job = _wait(water, started.headers["location"])
    assert job["state"] == "failed", job
    assert job["error"]
    assert str(hunt_node.home) not in job["error"]
    assert "Traceback" not in job["error"]


def test_jobs_left_running_fail_when_the_node_restarts(hunt_node: HuntNode) -> None:
    engine = make_engine(hunt_node.url)
    job_id = str(uuid.uuid4())
    with write_transaction(engine) as conn:
        water = service.find_org(conn, "Thames Water")
        token_id = conn.execute(
            select(tokens_table.c.id).where(tokens_table.c.org_id == water.id)
        ).scalar()
        conn.execute(
            insert(hunt_jobs).values(
                id=job_id,
                org_id=water.id,
                token_id=token_id,
                state="running",
                request="{}",
                files_total=3,
                files_done=1,
                events=10,
                bad=0,
                matching_events=0,
                created_us=now_micros(),
                started_us=now_micros(),
            )
        )
    hunt_node.server.stop()
    hunt_node.server.start()
    with read_transaction(engine) as conn:
        state, error = conn.execute(
            select(hunt_jobs.c.state, hunt_jobs.c.error).where(hunt_jobs.c.id == job_id)
        ).one()
    engine.dispose()
    assert (state, error) == ("failed", "interrupted: the node restarted")
