"""`kizuna hunt` end to end on a temporary SQLite node, run through Typer's CliRunner."""

from __future__ import annotations

import csv
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.e2e.conftest import build_node_quickly
from typer.testing import CliRunner

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP2_MARKINGS,
    Tlp,
    audience_extension_definition,
    audience_marking,
    kizuna_identity,
)
from kizuna.cli.main import app
from kizuna.db.engine import make_engine, read_transaction, write_transaction
from kizuna.store.collections import get_collection
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, read_page

IP = "198.51.100.7"
DOMAIN = "evil.example"


@dataclass
class Node:
    url: str
    ids: dict[str, str]
    collections: dict[str, str]
    readable: dict[str, Any]
    hidden: dict[str, Any]


def indicator(key: str, creator: str, pattern: str, markings: list[str]) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
        "created": "2026-01-02T00:00:00.000Z",
        "modified": "2026-01-02T00:00:00.000Z",
        "name": f"{key} indicator",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "created_by_ref": creator,
        "object_marking_refs": markings,
    }


def subject(conn: Any, name: str) -> Subject:
    org = service.find_org(conn, name)
    return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)


@pytest.fixture
def node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Node:
    url = f"sqlite:///{tmp_path / 'kizuna.db'}"
    ids, _tokens, collections = build_node_quickly(url)
    audience = audience_marking([ids["water"]])
    amber = TLP2_MARKINGS[Tlp.AMBER]
    readable = indicator(
        "c2 address", ids["ncsc"], f"[ipv4-addr:value = '{IP}']", [amber, str(audience["id"])]
    )
    hidden = indicator("ncsc only", ids["ncsc"], f"[domain-name:value = '{DOMAIN}']", [amber])
    engine = make_engine(url)
    with write_transaction(engine) as conn:
        outcomes = add_objects(
            conn,
            subject=subject(conn, "NCSC"),
            collection_id=collections["intel"],
            submitted=[
                kizuna_identity(),
                audience_extension_definition(),
                audience,
                readable,
                hidden,
            ],
        )
    engine.dispose()
    assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]
    for key in list(os.environ):
        if key.startswith("KIZUNA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("KIZUNA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    monkeypatch.setenv("KIZUNA_SECRET_KEY", "test-secret-key-for-hunt")
    return Node(url, ids, collections, readable, hidden)


def telemetry(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    lines = [
        orjson.dumps({"@timestamp": "2026-03-01T10:00:00Z", "destination.ip": IP}),
        b"{not json",
        orjson.dumps({"@timestamp": "2026-03-01T11:00:00Z", "dns.question.name": DOMAIN}),
        orjson.dumps({"@timestamp": "2026-03-01T12:00:00Z", "destination.ip": "192.0.2.1"}),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["hunt", *args], catch_exceptions=False)


def test_hunt_end_to_end(node: Node, tmp_path: Path) -> None:
    events = telemetry(tmp_path)
    report = tmp_path / "x.json"
    intel = node.collections["intel"]
    result = run(
        str(events), "--org", "Thames Water", "--store-into", intel, "--report", str(report)
    )
    assert result.exit_code == 0, result.output
    assert "c2 address indicator" in result.output  # the summary table
    assert "ncsc only" not in result.output  # not readable: never hunted
    assert "skipped 1 bad input line" in result.output
    assert "events.jsonl:2" in result.output
    assert "1 sighting" in result.output

    records = json.loads(report.read_text())
    assert records == [
        {
            "indicator_id": node.readable["id"],
            "name": "c2 address indicator",
            "source": str(events),
            "rows": [1],
            "count": 1,
            "first_seen": records[0]["first_seen"],
            "last_seen": records[0]["last_seen"],
        }
    ]
    assert records[0]["first_seen"].startswith("2026-03-01T10:00:00")

    engine = make_engine(node.url)
    with read_transaction(engine) as conn:
        water = subject(conn, "Thames Water")
        page = read_page(
            conn,
            subject=water,
            collection=get_collection(conn, water, intel),
            filters=Filters(types=("sighting",)),
            after_us=None,
            limit=10,
        )
    engine.dispose()
    (row,) = page.rows
    sighting = json.loads(row.body)
    assert sighting["sighting_of_ref"] == node.readable["id"]
    assert sighting["where_sighted_refs"] == [node.ids["water"]]
    assert sighting["object_marking_refs"] == node.readable["object_marking_refs"]


def test_hunt_csv_report_and_collection_choice(node: Node, tmp_path: Path) -> None:
    events = telemetry(tmp_path)
    report = tmp_path / "x.csv"
    result = run(
        str(events),
        "--org",
        "NCSC",
        "--collection",
        node.collections["intel"],
        "--report",
        str(report),
    )
    assert result.exit_code == 0, result.output
    with report.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["name"], r["rows"], r["count"]) for r in rows} == {
        ("c2 address indicator", "1", "1"),
        ("ncsc only indicator", "3", "1"),
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--engine", "hadoop"], "unknown engine 'hadoop'; use embedded or spark"),
        (
            ["--spark-master", "spark://10.0.0.1:7077"],
            "a Spark master applies only to the spark engine",
        ),
        (
            ["--share-sightings"],
            "sharing sightings back needs a collection to store them in (--store-into, store_into)",
        ),
        (["--report", "out.txt"], "--report must name a .csv or .json file, not 'out.txt'"),
        (
            ["--since", "yesterday"],
            "--since takes a duration like 7d, 12h, 90m or a timestamp, not 'yesterday'",
        ),
    ],
)
def test_hunt_refuses_clearly(node: Node, tmp_path: Path, extra: list[str], message: str) -> None:
    result = run(str(telemetry(tmp_path)), "--org", "Thames Water", *extra)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [f"error: {message}"]


def test_hunt_needs_a_known_local_org(node: Node, tmp_path: Path) -> None:
    result = run(str(telemetry(tmp_path)), "--org", "Nobody Ltd")
    assert result.exit_code == 1
    assert "error: no organisation named 'Nobody Ltd'" in result.output
    result = run(str(telemetry(tmp_path)), "--org", "JPCERT/CC")
    assert result.exit_code == 1
    assert "error: JPCERT/CC is a remote organisation" in result.output


def test_hunt_since_excludes_older_indicators(node: Node, tmp_path: Path) -> None:
    result = run(
        str(telemetry(tmp_path)), "--org", "Thames Water", "--since", "2100-01-01T00:00:00Z"
    )
    assert result.exit_code == 0, result.output
    assert "hunting 0 indicator(s)" in result.output


def test_hunt_unreadable_collection_is_not_found(node: Node, tmp_path: Path) -> None:
    result = run(
        str(telemetry(tmp_path)),
        "--org",
        "Thames Water",
        "--collection",
        node.collections["secret"],
    )
    assert result.exit_code == 1
    assert f"error: no collection {node.collections['secret']}" in result.output


def test_hunt_several_files_report_per_file_and_one_sighting(node: Node, tmp_path: Path) -> None:
    first = telemetry(tmp_path)
    other = tmp_path / "more"
    other.mkdir()
    second = other / "later.jsonl"
    second.write_bytes(
        orjson.dumps({"@timestamp": "2026-03-02T09:00:00Z", "source.ip": IP}) + b"\n"
    )
    report = tmp_path / "x.json"
    intel = node.collections["intel"]
    result = run(
        str(first),
        str(second),
        "--org",
        "Thames Water",
        "--report",
        str(report),
        "--store-into",
        intel,
    )
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert "2/2 files 4 events 2 matching events" in words  # the progress bar, per file
    assert "4 event(s) read, 1 indicator(s) matched 2 event(s)" in words
    records = json.loads(report.read_text())
    assert [(r["source"], r["rows"], r["count"]) for r in records] == [
        (str(first), [1], 1),
        (str(second), [1], 1),
    ]
    engine = make_engine(node.url)
    with read_transaction(engine) as conn:
        water = subject(conn, "Thames Water")
        page = read_page(
            conn,
            subject=water,
            collection=get_collection(conn, water, intel),
            filters=Filters(types=("sighting",)),
            after_us=None,
            limit=10,
        )
    engine.dispose()
    (row,) = page.rows  # one sighting per indicator, over both files
    sighting = json.loads(row.body)
    assert sighting["count"] == 2
    assert sighting["first_seen"].startswith("2026-03-01T10:00:00")
    assert sighting["last_seen"].startswith("2026-03-02T09:00:00")


def test_hunt_refuses_two_files_of_one_name(node: Node, tmp_path: Path) -> None:
    first = telemetry(tmp_path)
    (tmp_path / "b").mkdir()
    second = tmp_path / "b" / first.name
    second.write_bytes(first.read_bytes())
    result = run(str(first), str(second), "--org", "Thames Water")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: two files are named 'events.jsonl'; name each file once"
    ]
