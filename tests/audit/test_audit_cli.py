"""`kizuna audit show` and `kizuna audit verify` on a node's database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from sqlalchemy import update
from tests.e2e.conftest import node_env

from kizuna.audit.log import record
from kizuna.audit.models import audit_log
from kizuna.db.engine import make_engine, write_transaction
from kizuna.db.migrate import upgrade


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kizuna", "audit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_show_and_verify(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kizuna.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        record(conn, who=None, action="incident.report", subject_id="incident--1")
        record(conn, who=None, action="incident.update", subject_id="incident--1", details={"n": 2})
        record(conn, who=None, action="sync.pull", details={"peer": "jp"})
    env = node_env(tmp_path, url)

    shown = run(env, "show", "--json", "--id", "incident--1")
    assert shown.returncode == 0, shown.stderr
    lines = [orjson.loads(line) for line in shown.stdout.splitlines()]
    assert [e["action"] for e in lines] == ["incident.report", "incident.update"]
    assert lines[1]["details"] == {"n": 2}
    ok = run(env, "verify")
    assert ok.returncode == 0
    assert "whole" in ok.stderr

    with write_transaction(engine) as conn:
        conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(action="nothing"))
    engine.dispose()
    broken = run(env, "verify")
    assert broken.returncode == 1
    assert "breaks at entry 2" in broken.stderr
