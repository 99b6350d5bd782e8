"""Tables for organisations and their tokens."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Integer, String, Table

from kizuna.db.base import metadata

orgs = Table(
    "orgs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("identity_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("country", String(2), nullable=False),
    Column("sector", String(100), nullable=True),
    # An org that stands for another node (a peer) rather than a member of this one.
    Column("remote", Boolean, nullable=False, default=False),
    Column("created_us", BigInteger, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_id", Integer, ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("role", String(16), nullable=False),
    # sha256 of the secret; the secret itself is shown once and never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False, index=True),
    Column("created_us", BigInteger, nullable=False),
    Column("expires_us", BigInteger, nullable=True),
    Column("revoked_us", BigInteger, nullable=True),
)
