"""The audit log: entries commit with the change, the chain verifies, tampering is found."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, update

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.audit.log import entries, record, verify
from kizuna.audit.models import audit_log
from kizuna.db.engine import read_transaction, write_transaction


@pytest.fixture
def who(engine: Engine) -> Subject:
    with write_transaction(engine) as conn:
        org = service.add_org(conn, name="NCSC", country="GB")
    return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST, token_id=7)


def test_entries_chain_and_verify(engine: Engine, who: Subject) -> None:
    with write_transaction(engine) as conn:
        first = record(conn, who=who, action="incident.report", subject_id="incident--1")
        record(conn, who=None, action="sync.pull", details={"peer": "jp", "n": 3})
        record(
            conn,
            who=who,
            action="incident.update",
            subject_id="incident--1",
            details={"b": 1, "a": 2},
        )
    with read_transaction(engine) as conn:
        all_entries = entries(conn)
        about = entries(conn, subject_id="incident--1")
        assert verify(conn) is None
    assert [e.action for e in all_entries] == ["incident.report", "sync.pull", "incident.update"]
    assert all_entries[0].hash == first
    assert all_entries[0].actor == who.identity_id
    assert all_entries[1].actor == "node"
    assert all_entries[2].details == {"a": 2, "b": 1}
    assert [e.action for e in about] == ["incident.report", "incident.update"]


def test_a_rolled_back_change_leaves_no_entry(engine: Engine, who: Subject) -> None:
    def change_that_fails() -> None:
        with write_transaction(engine) as conn:
            record(conn, who=who, action="incident.report", subject_id="incident--2")
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    with read_transaction(engine) as conn:
        assert entries(conn) == []


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_tampering_breaks_the_chain(engine: Engine, who: Subject, tamper: str) -> None:
    with write_transaction(engine) as conn:
        for n in range(4):
            record(conn, who=who, action="step", subject_id=f"x--{n}", details={"n": n})
    with write_transaction(engine) as conn:
        if tamper == "edit":
            conn.execute(update(audit_log).where(audit_log.c.seq == 2).values(details='{"n":9}'))
        else:
            conn.execute(delete(audit_log).where(audit_log.c.seq == 2))
    with read_transaction(engine) as conn:
        assert verify(conn) == (2 if tamper == "edit" else 3)
