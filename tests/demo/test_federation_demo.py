"""`kizuna demo --federation`: two sovereign nodes sync, and the table shows what crossed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select
from tests.e2e.conftest import node_env
from tests.e2e.server import free_port

from kizuna.access.models import orgs
from kizuna.access.tlp import Tlp
from kizuna.db.engine import make_engine, read_transaction
from kizuna.store.models import objects


def test_two_nodes_share_what_tlp_allows(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    env = node_env(tmp_path, "unused")
    del env["KIZUNA_DATABASE_URL"], env["KIZUNA_SECRET_KEY"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kizuna",
            "demo",
            "--federation",
            "--no-serve",
            "--home",
            str(home),
            "--port",
            str(free_port()),
        ],
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {
        m.group(1): re.findall(r"(\d+ / \d+|-)", m.group(2))
        for m in re.finditer(r"(UK -> Japan|Japan -> UK)\s*│(.*)", done.stdout)
    }
    # columns: CLEAR GREEN AMBER AMBER+STRICT RED unmarked; "held at home / arrived"
    jp_to_uk = rows["Japan -> UK"]
    assert jp_to_uk[1] == "7 / 7"  # GREEN flows
    assert jp_to_uk[2] == "2 / 1"  # AMBER: only the one whose audience names NCSC
    assert jp_to_uk[4] == "1 / 0"  # RED stays home
    uk_to_jp = rows["UK -> Japan"]
    held, arrived = (int(n) for n in uk_to_jp[1].split(" / "))
    assert held == arrived > 0
    assert uk_to_jp[3].endswith("/ 0")  # AMBER+STRICT not naming JPCERT stays home

    # Nothing RED or unmarked reached the other node's database at all: what a node holds
    # as its peer's (owned by the remote org) is CLEAR, GREEN or AMBER.
    for node in ("uk", "jp"):
        engine = make_engine(f"sqlite:///{home / node / 'kizuna.db'}")
        with read_transaction(engine) as conn:
            remote = select(orgs.c.id).where(orgs.c.remote.is_(True))
            labels = {
                r.tlp
                for r in conn.execute(
                    select(objects.c.tlp).where(
                        objects.c.owner_org_id.in_(remote),
                        objects.c.stix_type != "marking-definition",
                    )
                )
            }
        engine.dispose()
        assert labels
        assert labels <= {Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT}
