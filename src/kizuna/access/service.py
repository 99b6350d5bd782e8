"""Organisations and tokens: create, list, revoke, and authenticate a request's token."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from kizuna.access.models import orgs, tokens
from kizuna.access.sectors import check_sector
from kizuna.access.subject import Role, Subject
from kizuna.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from kizuna.stix.timestamps import format_timestamp, now_micros

TOKEN_PREFIX = "kz_"  # noqa: S105  (a prefix, not a secret)
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass(frozen=True, slots=True)
class Org:
    id: int
    identity_id: str
    name: str
    country: str
    sector: str | None
    remote: bool
    created_us: int

    def identity(self) -> dict[str, object]:
        """The org as a STIX 2.1 identity (identity_class organization)."""
        created = format_timestamp(self.created_us)
        identity: dict[str, object] = {
            "type": "identity",
            "spec_version": "2.1",
            "id": self.identity_id,
            "created": created,
            "modified": created,
            "name": self.name,
            "identity_class": "organization",
            "x_kizuna_country": self.country,
        }
        if self.sector:
            identity["sectors"] = [self.sector]
        return identity


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: int
    org_name: str
    role: Role
    prefix: str
    created_us: int
    expires_us: int | None
    revoked_us: int | None


def _org(row: object) -> Org:
    m = row._mapping  # type: ignore[attr-defined]
    return Org(
        id=m["id"],
        identity_id=m["identity_id"],
        name=m["name"],
        country=m["country"],
        sector=m["sector"],
        remote=bool(m["remote"]),
        created_us=m["created_us"],
    )


def add_org(
    conn: Connection,
    *,
    name: str,
    country: str,
    sector: str | None = None,
    remote: bool = False,
    identity_id: str | None = None,
) -> Org:
    name = name.strip()
    if not name:
        raise InvalidInput("an organisation needs a name")
    country = country.upper()
    if not _COUNTRY.match(country):
        raise InvalidInput(
            f"country must be an ISO 3166 alpha-2 code such as GB or JP, not {country!r}"
        )
    try:
        check_sector(country, sector)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    if conn.execute(select(orgs.c.id).where(orgs.c.name == name)).first() is not None:
        raise Conflict(f"an organisation named {name!r} already exists")
    identity_id = identity_id or f"identity--{uuid.uuid4()}"
    if conn.execute(select(orgs.c.id).where(orgs.c.identity_id == identity_id)).first():
        raise Conflict(f"an organisation with identity {identity_id} already exists")
    created = now_micros()
    org_id = conn.execute(
        insert(orgs).values(
            identity_id=identity_id,
            name=name,
            country=country,
            sector=sector,
            remote=remote,
            created_us=created,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return Org(org_id, identity_id, name, country, sector, remote, created)


def list_orgs(conn: Connection) -> list[Org]:
    return [_org(row) for row in conn.execute(select(orgs).order_by(orgs.c.id))]


def find_org(conn: Connection, name_or_identity: str) -> Org:
    row = conn.execute(
        select(orgs).where(
            (orgs.c.name == name_or_identity) | (orgs.c.identity_id == name_or_identity)
        )
    ).first()
    if row is None:
        raise NotFound(f"no organisation named {name_or_identity!r}")
    return _org(row)


def org_by_id(conn: Connection, org_id: int) -> Org:
    row = conn.execute(select(orgs).where(orgs.c.id == org_id)).first()
    if row is None:
        raise NotFound(f"no organisation with id {org_id}")
    return _org(row)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(conn: Connection, *, org: Org, role: Role, expires_us: int | None = None) -> str:
    """Make a token and return its secret: shown once, stored only as a hash."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(tokens).values(
            org_id=org.id,
            role=role.value,
            secret_hash=_hash(secret),
            prefix=secret[: len(TOKEN_PREFIX) + 8],
            created_us=now_micros(),
            expires_us=expires_us,
        )
    )
    return secret


def revoke_token(conn: Connection, *, token: str) -> int:
    """Revoke by the whole secret or by its printed prefix; returns how many were revoked."""
    now = now_micros()
    where = (tokens.c.secret_hash == _hash(token)) | (tokens.c.prefix == token)
    result = conn.execute(
        update(tokens).where(where, tokens.c.revoked_us.is_(None)).values(revoked_us=now)
    )
    if result.rowcount == 0:
        raise NotFound("no active token matches that secret or prefix")
    return int(result.rowcount)


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(
        select(tokens, orgs.c.name.label("org_name"))
        .join(orgs, orgs.c.id == tokens.c.org_id)
        .order_by(tokens.c.id)
    )
    return [
        TokenInfo(
            id=r.id,
            org_name=r.org_name,
            role=Role(r.role),
            prefix=r.prefix,
            created_us=r.created_us,
            expires_us=r.expires_us,
            revoked_us=r.revoked_us,
        )
        for r in rows
    ]


def authenticate(conn: Connection, secret: str) -> Subject:
    """The subject a token stands for. Unknown, revoked and expired tokens all fail alike."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise Unauthenticated("the token is not valid")
    row = conn.execute(
        select(
            tokens.c.id,
            tokens.c.role,
            tokens.c.expires_us,
            tokens.c.revoked_us,
            orgs.c.id.label("org_id"),
            orgs.c.identity_id,
            orgs.c.remote,
        )
        .join(orgs, orgs.c.id == tokens.c.org_id)
        .where(tokens.c.secret_hash == _hash(secret))
    ).first()
    if row is None or row.revoked_us is not None:
        raise Unauthenticated("the token is not valid")
    if row.expires_us is not None and row.expires_us <= now_micros():
        raise Unauthenticated("the token is not valid")
    return Subject(
        org_id=row.org_id,
        identity_id=row.identity_id,
        role=Role(row.role),
        remote=bool(row.remote),
        token_id=row.id,
    )


__all__ = [
    "Org",
    "TokenInfo",
    "add_org",
    "authenticate",
    "create_token",
    "find_org",
    "list_orgs",
    "list_tokens",
    "revoke_token",
]
