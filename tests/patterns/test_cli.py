"""`kizuna pattern check` prints the canonical form, or the error with a caret."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kizuna.cli.main import app


def test_check_prints_the_canonical_pattern() -> None:
    result = CliRunner().invoke(app, ["pattern", "check", "[ipv4-addr:value = '198.51.100.1']"])
    assert result.exit_code == 0
    assert result.stdout.strip() == "[ipv4-addr:value = '198.51.100.1']"


def test_check_shows_where_an_invalid_pattern_breaks() -> None:
    result = CliRunner().invoke(app, ["pattern", "check", "[ipv4-addr:value = ]"])
    assert result.exit_code == 1
    assert "invalid pattern" in result.stderr
    lines = result.stderr.splitlines()
    assert lines[-2] == "[ipv4-addr:value = ]"
    assert lines[-1].index("^") == len("[ipv4-addr:value = ")


def _bundle(tmp_path: Path) -> Path:
    objects = [
        {
            "type": "observed-data",
            "spec_version": "2.1",
            "id": "observed-data--6e5b0f7a-6a4e-4e0e-9a5e-1c0c7a3c2a01",
            "created": "2026-11-01T00:00:00.000Z",
            "modified": "2026-11-01T00:00:00.000Z",
            "first_observed": "2026-11-01T10:00:00Z",
            "last_observed": "2026-11-01T10:00:05Z",
            "number_observed": 1,
            "object_refs": ["ipv4-addr--2b8f7d4e-0a1c-5b3c-9d2e-7f6a5b4c3d2e"],
        },
        {
            "type": "ipv4-addr",
            "spec_version": "2.1",
            "id": "ipv4-addr--2b8f7d4e-0a1c-5b3c-9d2e-7f6a5b4c3d2e",
            "value": "203.0.113.9",
        },
    ]
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    return path


def test_match_explains_which_observation_matched(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    result = CliRunner().invoke(
        app, ["pattern", "match", "[ipv4-addr:value = '203.0.113.9']", str(path)]
    )
    assert result.exit_code == 0, result.stderr
    assert "observed-data--6e5b0f7a-6a4e-4e0e-9a5e-1c0c7a3c2a01" in result.stdout


def test_match_exits_1_when_nothing_matches_and_2_on_bad_input(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    miss = CliRunner().invoke(
        app, ["pattern", "match", "[ipv4-addr:value = '198.51.100.1']", str(path)]
    )
    assert miss.exit_code == 1
    assert "no match among 1 observations" in miss.stderr
    lines = tmp_path / "bad.jsonl"
    lines.write_text('{"type": "ipv4-addr", "value": "1.2.3.4"}\nnot json\n')
    bad = CliRunner().invoke(app, ["pattern", "match", "[ipv4-addr:value = '1.2.3.4']", str(lines)])
    assert bad.exit_code == 2
    assert "line 2" in bad.stderr
