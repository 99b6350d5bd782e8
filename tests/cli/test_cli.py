"""The `kizuna` command line: what it prints where, and how it fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine
from typer.testing import CliRunner

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.cli.main import app
from kizuna.db.engine import make_engine
from kizuna.errors import Unauthenticated
from kizuna.store import collections as store_collections

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
Run = Callable[..., Result]


@pytest.fixture
def database_file(tmp_path: Path) -> Path:
    return tmp_path / "node.db"


@pytest.fixture
def run(tmp_path: Path, database_file: Path) -> Run:
    runner = CliRunner()
    base = {
        "KIZUNA_HOME": str(tmp_path / "home"),
        "KIZUNA_DATABASE_URL": f"sqlite:///{database_file}",
        "KIZUNA_SECRET_KEY": "test-secret",
        # Wide enough that Rich neither wraps nor truncates; no colour codes.
        "COLUMNS": "1000",
        "NO_COLOR": "1",
        "FORCE_COLOR": None,
    }

    def invoke(*args: str, **env: str | None) -> Result:
        return runner.invoke(app, list(args), env={**base, **env})

    return invoke


def _engine(database_file: Path) -> Engine:
    return make_engine(f"sqlite:///{database_file}")


def assert_fails_cleanly(result: Result, *fragments: str) -> str:
    """Exit status 1, nothing on stdout, one line on stderr, no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def add_org(run: Run, name: str = "Severn Vale Water", *extra: str) -> str:
    result = run("org", "add", "--name", name, "--country", "GB", *extra)
    assert result.exit_code == 0, (result.stderr, result.exception)
    return result.stdout.strip()


# -- what commands print ---------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_says_its_revision(run: Run, database_file: Path) -> None:
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.exception
    assert result.stdout == ""
    assert re.fullmatch(r"database at revision \w+\n", result.stderr)
    assert database_file.exists()
    again = run("db", "upgrade")
    assert again.exit_code == 0
    assert again.stderr == result.stderr


def test_org_add_prints_only_the_identity_id(run: Run, database_file: Path) -> None:
    result = run("org", "add", "--name", "Albion Bank", "--country", "gb", "--sector", "finance")
    assert result.exit_code == 0, result.exception
    assert re.fullmatch(rf"identity--{UUID}\n", result.stdout)
    assert result.stderr == ""
    identity_id = result.stdout.strip()
    engine = _engine(database_file)
    with engine.connect() as conn:
        org = service.find_org(conn, identity_id)
    engine.dispose()
    assert (org.name, org.country, org.sector) == ("Albion Bank", "GB", "finance")

    listed = run("org", "list")
    assert listed.exit_code == 0
    assert listed.stdout == ""
    assert "Albion Bank" in listed.stderr
    assert identity_id in listed.stderr


def test_token_create_prints_only_a_working_token(run: Run, database_file: Path) -> None:
    identity_id = add_org(run)
    result = run("token", "create", "--org", "Severn Vale Water", "--role", "analyst")
    assert result.exit_code == 0, result.exception
    assert re.fullmatch(r"kz_[A-Za-z0-9_-]{40,}\n", result.stdout)
    assert result.stderr == ""
    engine = _engine(database_file)
    with engine.connect() as conn:
        subject = service.authenticate(conn, result.stdout.strip())
    engine.dispose()
    assert subject.identity_id == identity_id
    assert subject.role is Role.ANALYST

    # The org may also be named by its identity id.
    by_identity = run("token", "create", "--org", identity_id, "--role", "reader")
    assert by_identity.exit_code == 0
    assert by_identity.stdout.startswith("kz_")
    assert by_identity.stdout != result.stdout


def test_collection_add_prints_a_uuid(run: Run) -> None:
    result = run(
        "collection", "add", "--title", "Partnership intel", "--default-tlp", "amber+strict"
    )
    assert result.exit_code == 0, result.exception
    assert re.fullmatch(rf"{UUID}\n", result.stdout)
    assert result.stderr == ""
    listed = run("collection", "list")
    assert listed.exit_code == 0
    assert result.stdout.strip() in listed.stderr
    assert "Partnership intel" in listed.stderr
    assert "TLP:AMBER+STRICT" in listed.stderr


def test_collection_grant_gives_an_org_read_and_write(run: Run, database_file: Path) -> None:
    add_org(run)
    collection_id = run("collection", "add", "--title", "CNI").stdout.strip()
    result = run(
        "collection",
        "grant",
        "--collection",
        collection_id,
        "--org",
        "Severn Vale Water",
        "--write",
    )
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert result.stdout == ""
    assert "granted read=True write=True" in result.stderr

    readers = run("collection", "grant", "--collection", collection_id, "--role", "reader")
    assert readers.exit_code == 0, readers.stderr

    engine = _engine(database_file)
    with engine.connect() as conn:
        org = service.find_org(conn, "Severn Vale Water")
        analyst = Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)
        found = store_collections.get_collection(conn, analyst, collection_id)
        assert (found.can_read, found.can_write) == (True, True)
        stranger = Subject(org_id=org.id + 1000, identity_id="identity--x", role=Role.READER)
        found = store_collections.get_collection(conn, stranger, collection_id)
        assert (found.can_read, found.can_write) == (True, False)
    engine.dispose()


def _state_of(listing: str, prefix: str) -> str:
    [line] = [line for line in listing.splitlines() if prefix in line]
    [state] = [s for s in ("active", "revoked", "expired") if s in line]
    return state


def test_token_list_shows_each_tokens_state_and_revoke_takes_the_prefix(
    run: Run, database_file: Path
) -> None:
    add_org(run)
    active = run("token", "create", "--org", "Severn Vale Water", "--role", "analyst").stdout
    revoked = run("token", "create", "--org", "Severn Vale Water", "--role", "peer").stdout
    expired = run(
        "token",
        "create",
        "--org",
        "Severn Vale Water",
        "--role",
        "reader",
        "--expires",
        "2020-01-01T00:00:00Z",
    ).stdout
    later = run(
        "token", "create", "--org", "Severn Vale Water", "--role", "admin", "--expires", "30d"
    ).stdout
    prefixes = {
        name: token.strip()[:11]
        for name, token in {
            "active": active,
            "revoked": revoked,
            "expired": expired,
            "later": later,
        }.items()
    }

    result = run("token", "revoke", prefixes["revoked"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "revoked 1 token(s)" in result.stderr

    listing = run("token", "list")
    assert listing.exit_code == 0
    assert listing.stdout == ""
    # The listing never shows a secret, only its prefix.
    for token in (active, revoked, expired, later):
        assert token.strip() not in listing.stderr
    assert _state_of(listing.stderr, prefixes["active"]) == "active"
    assert _state_of(listing.stderr, prefixes["revoked"]) == "revoked"
    assert _state_of(listing.stderr, prefixes["expired"]) == "expired"
    assert _state_of(listing.stderr, prefixes["later"]) == "active"

    engine = _engine(database_file)
    with engine.connect() as conn:
        service.authenticate(conn, active.strip())
        with pytest.raises(Unauthenticated):
            service.authenticate(conn, revoked.strip())
    engine.dispose()

    # A prefix that matches no active token is an error.
    assert_fails_cleanly(run("token", "revoke", prefixes["revoked"]), "no active token")


# -- how commands fail -----------------------------------------------------------------------


def test_an_unknown_org_fails_with_one_line(run: Run) -> None:
    run("db", "upgrade")
    assert_fails_cleanly(
        run("token", "create", "--org", "Nobody", "--role", "analyst"),
        "no organisation named 'Nobody'",
    )
    collection_id = run("collection", "add", "--title", "x").stdout.strip()
    assert_fails_cleanly(
        run("collection", "grant", "--collection", collection_id, "--org", "Nobody"), "Nobody"
    )


def test_a_bad_sector_fails_with_the_choices(run: Run) -> None:
    line = assert_fails_cleanly(
        run("org", "add", "--name", "Acme", "--country", "GB", "--sector", "railways"),
        "'railways' is not a critical-infrastructure sector of GB",
        "choose one of:",
        "water",
    )
    assert "data-infrastructure" in line
    # Nothing was added.
    assert "Acme" not in run("org", "list").stderr


@pytest.mark.parametrize("expires", ["soon", "30", "30y", "-5d", "2026-13-01T00:00:00Z", "d"])
def test_a_bad_expiry_fails_with_one_line(run: Run, expires: str) -> None:
    add_org(run)
    assert_fails_cleanly(
        run(
            "token",
            "create",
            "--org",
            "Severn Vale Water",
            "--role",
            "reader",
            "--expires",
            expires,
        ),
        "--expires takes a duration like 30d",
        repr(expires),
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("org", "add", "--name", "Acme", "--country", "GBR"), "alpha-2"),
        (("org", "add", "--name", " ", "--country", "GB"), "needs a name"),
        (("collection", "add", "--title", "x", "--default-tlp", "purple"), "unknown TLP label"),
        (("collection", "add", "--title", "  "), "needs a title"),
        (("collection", "grant", "--collection", "nope", "--role", "reader"), "no collection"),
    ],
)
def test_invalid_input_fails_with_one_line(run: Run, args: tuple[str, ...], fragment: str) -> None:
    assert_fails_cleanly(run(*args), fragment)


def test_a_grant_needs_an_org_or_a_role(run: Run) -> None:
    collection_id = run("collection", "add", "--title", "x").stdout.strip()
    assert_fails_cleanly(
        run("collection", "grant", "--collection", collection_id), "exactly one of"
    )


def test_a_duplicate_org_fails_with_one_line(run: Run) -> None:
    add_org(run, "Acme")
    assert_fails_cleanly(
        run("org", "add", "--name", "Acme", "--country", "JP"), "'Acme' already exists"
    )


# -- bugs ------------------------------------------------------------------------------------


def test_an_expiry_past_the_calendar_fails_with_one_line(run: Run) -> None:
    add_org(run)
    assert_fails_cleanly(
        run(
            "token",
            "create",
            "--org",
            "Severn Vale Water",
            "--role",
            "reader",
            "--expires",
            "99999999d",
        ),
        "--expires",
    )


@pytest.mark.parametrize("name", ["Acme [/]", "[bold]Acme"])
def test_an_error_message_shows_user_text_verbatim(run: Run, name: str) -> None:
    result = run("org", "add", "--name", name, "--country", "GB")
    assert result.exit_code == 0
    assert_fails_cleanly(run("org", "add", "--name", name, "--country", "GB"), repr(name))


def test_a_long_error_stays_on_one_line_at_any_width(run: Run) -> None:
    assert_fails_cleanly(
        run(
            "org", "add", "--name", "Acme", "--country", "GB", "--sector", "railways", COLUMNS="80"
        ),
        "choose one of:",
    )
