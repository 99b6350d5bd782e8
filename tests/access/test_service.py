"""Organisations and tokens: validation, authentication, revocation, and secrets stored only
as hashes, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select

from kizuna.access import service
from kizuna.access.models import tokens
from kizuna.access.subject import Role, Subject
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from kizuna.stix.timestamps import now_micros
from kizuna.stix.validate import validate_object

# -- organisations ---------------------------------------------------------------------------


def test_add_org_and_find_it_by_name_or_identity(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        org = service.add_org(conn, name="  Severn Vale Water ", country="gb", sector="water")
    assert (org.name, org.country, org.sector, org.remote) == (
        "Severn Vale Water",
        "GB",
        "water",
        False,
    )
    assert org.identity_id.startswith("identity--")
    with read_transaction(engine) as conn:
        assert service.find_org(conn, "Severn Vale Water") == org
        assert service.find_org(conn, org.identity_id) == org
        assert service.list_orgs(conn) == [org]
        with pytest.raises(NotFound):
            service.find_org(conn, "Nobody")
    identity = org.identity()
    validate_object(identity)
    assert identity["sectors"] == ["water"]
    assert identity["id"] == org.identity_id


@pytest.mark.parametrize("country", ["GBR", "G", "", "1A", "G B", "ÉÉ"])
def test_add_org_refuses_a_country_that_is_not_alpha_2(engine: Engine, country: str) -> None:
    with write_transaction(engine) as conn, pytest.raises(InvalidInput, match="alpha-2"):
        service.add_org(conn, name="Acme", country=country)


def test_add_org_refuses_a_sector_not_of_its_country(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        with pytest.raises(InvalidInput) as caught:
            service.add_org(conn, name="Acme", country="GB", sector="railways")
        message = caught.value.message
        assert "'railways' is not a critical-infrastructure sector of GB" in message
        # It says what would do.
        assert "choose one of:" in message
        assert "water" in message
        assert "data-infrastructure" in message
        # The same sector is fine where it is one.
        service.add_org(conn, name="JR", country="JP", sector="railways")
        with pytest.raises(InvalidInput, match="sector of JP"):
            service.add_org(conn, name="Albion", country="JP", sector="civil-nuclear")
    with read_transaction(engine) as conn:
        assert [o.name for o in service.list_orgs(conn)] == ["JR"]


def test_add_org_refuses_an_empty_name(engine: Engine) -> None:
    with write_transaction(engine) as conn, pytest.raises(InvalidInput, match="name"):
        service.add_org(conn, name="   ", country="GB")


def test_add_org_refuses_a_duplicate_name(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        service.add_org(conn, name="Acme", country="GB")
        with pytest.raises(Conflict, match="already exists"):
            service.add_org(conn, name="Acme", country="JP")
        with pytest.raises(Conflict):
            service.add_org(conn, name=" Acme ", country="GB")


# -- tokens ----------------------------------------------------------------------------------


@pytest.fixture
def org(engine: Engine) -> service.Org:
    with write_transaction(engine) as conn:
        return service.add_org(conn, name="Acme", country="GB", remote=True)


def _token(engine: Engine, org: service.Org, role: Role, expires_us: int | None = None) -> str:
    with write_transaction(engine) as conn:
        return service.create_token(conn, org=org, role=role, expires_us=expires_us)


def _authenticate(engine: Engine, secret: str) -> Subject:
    with read_transaction(engine) as conn:
        return service.authenticate(conn, secret)


@pytest.mark.parametrize("role", list(Role))
def test_a_token_authenticates_as_its_org_and_role(
    engine: Engine, org: service.Org, role: Role
) -> None:
    secret = _token(engine, org, role)
    assert secret.startswith("kz_")
    subject = _authenticate(engine, secret)
    assert subject.org_id == org.id
    assert subject.identity_id == org.identity_id
    assert subject.role is role
    assert subject.remote is True
    assert subject.token_id is not None


def test_tokens_are_unique(engine: Engine, org: service.Org) -> None:
    secrets = {_token(engine, org, Role.READER) for _ in range(5)}
    assert len(secrets) == 5


@pytest.mark.parametrize(
    "secret", ["", "kz_", "kz_unknown", "Bearer kz_x", "not-a-token", "kz_" + "a" * 300]
)
def test_unknown_tokens_are_unauthenticated(engine: Engine, org: service.Org, secret: str) -> None:
    _token(engine, org, Role.ANALYST)
    with pytest.raises(Unauthenticated):
        _authenticate(engine, secret)


def test_a_token_that_differs_by_one_character_is_unauthenticated(
    engine: Engine, org: service.Org
) -> None:
    secret = _token(engine, org, Role.ANALYST)
    last = "A" if secret[-1] != "A" else "B"
    with pytest.raises(Unauthenticated):
        _authenticate(engine, secret[:-1] + last)
    with pytest.raises(Unauthenticated):
        _authenticate(engine, secret[:-1])


def test_a_revoked_token_is_unauthenticated(engine: Engine, org: service.Org) -> None:
    secret = _token(engine, org, Role.ANALYST)
    other = _token(engine, org, Role.ANALYST)
    with write_transaction(engine) as conn:
        assert service.revoke_token(conn, token=secret) == 1
    with pytest.raises(Unauthenticated, match="not valid"):
        _authenticate(engine, secret)
    _authenticate(engine, other)
    # Revoking again finds no active token.
    with write_transaction(engine) as conn, pytest.raises(NotFound):
        service.revoke_token(conn, token=secret)


def test_an_expired_token_is_unauthenticated(engine: Engine, org: service.Org) -> None:
    past = _token(engine, org, Role.ANALYST, expires_us=now_micros() - 1)
    future = _token(engine, org, Role.ANALYST, expires_us=now_micros() + 3_600_000_000)
    with pytest.raises(Unauthenticated, match="not valid"):
        _authenticate(engine, past)
    assert _authenticate(engine, future).role is Role.ANALYST


def test_a_token_is_stored_only_as_a_hash(engine: Engine, org: service.Org) -> None:
    secret = _token(engine, org, Role.ADMIN)
    with read_transaction(engine) as conn:
        rows = conn.execute(select(tokens)).all()
    assert len(rows) == 1
    stored = [str(value) for value in rows[0]]
    assert all(secret not in value for value in stored)
    assert all(secret[len("kz_") + 8 :] not in value for value in stored)
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    # What is kept to recognise it is a short prefix only.
    assert rows[0].prefix == secret[: len("kz_") + 8]
    assert len(secret) > len(rows[0].prefix) + 32


def test_revoke_by_printed_prefix(engine: Engine, org: service.Org) -> None:
    secret = _token(engine, org, Role.PEER)
    other = _token(engine, org, Role.PEER)
    with read_transaction(engine) as conn:
        listed = {t.prefix: t for t in service.list_tokens(conn)}
    prefix = secret[: len("kz_") + 8]
    assert listed[prefix].revoked_us is None
    assert listed[prefix].org_name == "Acme"
    assert listed[prefix].role is Role.PEER
    with write_transaction(engine) as conn:
        assert service.revoke_token(conn, token=prefix) == 1
    with pytest.raises(Unauthenticated):
        _authenticate(engine, secret)
    _authenticate(engine, other)
    with read_transaction(engine) as conn:
        listed = {t.prefix: t for t in service.list_tokens(conn)}
    assert listed[prefix].revoked_us is not None
    assert listed[other[: len("kz_") + 8]].revoked_us is None


@pytest.mark.parametrize("guess", ["kz_", "kz_abc", "", "%"])
def test_revoke_needs_a_whole_prefix_or_secret(
    engine: Engine, org: service.Org, guess: str
) -> None:
    secret = _token(engine, org, Role.READER)
    with write_transaction(engine) as conn, pytest.raises(NotFound):
        service.revoke_token(conn, token=guess)
    _authenticate(engine, secret)
