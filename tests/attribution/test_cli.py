"""`kizuna node-key` and the offline `kizuna attribution verify`, as an operator runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kizuna.attribution.extensions import NODE_KEYS_EXTENSION_ID
from tests.e2e.conftest import node_env


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kizuna", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_node_key_show_and_rotate(tmp_path: Path) -> None:
    env = node_env(tmp_path, f"sqlite:///{tmp_path / 'kizuna.db'}")
    env["KIZUNA_NODE_NAME"] = "uk-node"
    first = json.loads(_run(env, "node-key", "show").stdout)
    assert first["identity_class"] == "system"
    assert first["name"] == "uk-node"
    (old,) = first["extensions"][NODE_KEYS_EXTENSION_ID]["keys"]
    rotated = _run(env, "node-key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.strip()
    after = json.loads(_run(env, "node-key", "show").stdout)
    assert after["id"] == first["id"]
    keys = {k["kid"]: k["status"] for k in after["extensions"][NODE_KEYS_EXTENSION_ID]["keys"]}
    assert keys == {old["kid"]: "retired", new_kid: "active"}


def test_verify_explains_unreadable_input(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    missing = _run(env, "attribution", "verify", str(tmp_path / "nothing.json"))
    assert missing.returncode == 1
    assert "cannot read the bundle" in missing.stderr
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    broken = _run(env, "attribution", "verify", str(tmp_path / "broken.json"))
    assert broken.returncode == 1
    assert "not valid JSON" in broken.stderr
    (tmp_path / "other.json").write_text('{"type": "bundle", "objects": []}', encoding="utf-8")
    other = _run(env, "attribution", "verify", str(tmp_path / "other.json"))
    assert other.returncode == 1
    assert "error: malformed: expected exactly one attribution report" in other.stderr
