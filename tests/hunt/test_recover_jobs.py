"""At start-up a server fails only the hunt jobs whose own process is gone."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import Engine, insert, select

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.api.hunts import INTERRUPTED, recover_interrupted
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.process import owner_tag
from kizuna.store.models import hunt_jobs


def test_only_jobs_of_dead_processes_are_failed(engine: Engine) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = owner_tag().rpartition(":")[0]
    with write_transaction(engine) as conn:
        org = service.add_org(conn, name="Thames Water", country="GB", sector="water")
        service.create_token(conn, org=org, role=Role.ANALYST)
        token_id = conn.exec_driver_sql("SELECT id FROM tokens").scalar_one()
        for job, runner, state in (
            ("mine", owner_tag(), "running"),  # this live process (a sibling worker)
            ("gone", f"{host}:{dead.stdout.strip()}", "running"),
            ("legacy", None, "queued"),
            ("elsewhere", "another-host:1", "running"),
            ("finished", f"{host}:{dead.stdout.strip()}", "done"),
        ):
            conn.execute(
                insert(hunt_jobs).values(
                    id=job,
                    org_id=org.id,
                    token_id=token_id,
                    state=state,
                    runner=runner,
                    request="{}",
                    files_total=1,
                    files_done=0,
                    events=0,
                    bad=0,
                    matching_events=0,
                    created_us=1,
                )
            )
    assert recover_interrupted(engine) == 2
    with read_transaction(engine) as conn:
        rows = {r.id: (r.state, r.error) for r in conn.execute(select(hunt_jobs))}
    assert rows["gone"] == ("failed", INTERRUPTED)
    assert rows["legacy"] == ("failed", INTERRUPTED)
    assert rows["mine"] == ("running", None)
    assert rows["elsewhere"] == ("running", None)
    assert rows["finished"] == ("done", None)
