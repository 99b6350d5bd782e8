"""``python -m kizuna.patterns.conformance``: JSON lines in, one verdict per line out."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

OBSERVED_21: list[dict[str, Any]] = [
    {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--1",
        "created": "2020-01-01T00:00:00Z",
        "modified": "2020-01-01T00:00:00Z",
        "first_observed": "2020-01-01T00:00:00Z",
        "last_observed": "2020-01-01T00:00:00Z",
        "number_observed": 1,
        "object_refs": ["ipv4-addr--1"],
    },
    {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--1", "value": "198.51.100.1"},
]
OBSERVED_20: list[dict[str, Any]] = [
    {
        "type": "observed-data",
        "id": "observed-data--2",
        "created": "2020-01-01T00:00:00Z",
        "modified": "2020-01-01T00:00:00Z",
        "first_observed": "2020-01-01T00:00:00Z",
        "last_observed": "2020-01-01T00:00:00Z",
        "number_observed": 1,
        "objects": {"0": {"type": "ipv4-addr", "value": "198.51.100.1"}},
    }
]


def request(ident: str, pattern: str, observed: Any, version: str = "2.1") -> str:
    return json.dumps(
        {"id": ident, "pattern": pattern, "stix_version": version, "observed": observed}
    )


def run(lines: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "kizuna.patterns.conformance"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_adapter_answers_every_line() -> None:
    lines = [
        request("m", "[ipv4-addr:value = '198.51.100.1']", OBSERVED_21),
        request("n", "[ipv4-addr:value = '198.51.100.2']", OBSERVED_21),
        request("bad-pattern", "[ipv4-addr:value = ]", OBSERVED_21),
        "this is not json",
        "",
        json.dumps([1, 2, 3]),
        request("bad-observed", "[ipv4-addr:value = 'x']", "not a list"),
        request("bad-sdo", "[ipv4-addr:value = 'x']", [{**OBSERVED_21[0], "number_observed": 0}]),
        request("v20", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", OBSERVED_20, "2.0"),
        request(
            "v20-start",
            "[ipv4-addr:value = '198.51.100.1'] START '2019-01-01T00:00:00Z' "
            "STOP '2021-01-01T00:00:00Z'",
            OBSERVED_20,
            "2.0",
        ),
        request("version", "[ipv4-addr:value = 'x']", OBSERVED_21, "3.0"),
        json.dumps({"id": "no-pattern", "observed": []}),
    ]
    assert run(lines) == [
        {"id": "m", "result": "match"},
        {"id": "n", "result": "nomatch"},
        {"id": "bad-pattern", "result": "error"},
        {"id": None, "result": "error"},
        {"id": None, "result": "error"},
        {"id": "bad-observed", "result": "error"},
        {"id": "bad-sdo", "result": "error"},
        {"id": "v20", "result": "match"},
        {"id": "v20-start", "result": "match"},
        {"id": "version", "result": "error"},
        {"id": "no-pattern", "result": "error"},
    ]
