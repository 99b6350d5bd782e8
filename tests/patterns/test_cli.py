"""`kizuna pattern check` prints the canonical form, or the error with a caret."""

from __future__ import annotations

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
