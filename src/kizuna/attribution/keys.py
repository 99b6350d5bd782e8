"""The node's Ed25519 signing keys: generate, rotate, sign with, and publish.

A node signs attributions with one *active* key. Rotation makes a new active key and
retires the old one: a retired key signs nothing more but stays published, so signatures
it made still verify. The private key is stored only sealed under the node secret
(:func:`kizuna.federation.secrets.seal`, context ``node-signing-key``); the public half is
published as a JWK (RFC 8037: ``{"kty": "OKP", "crv": "Ed25519", "x": ...}``) whose ``kid``
is its RFC 7638 thumbprint: base64url(SHA-256(the canonical JWK ``{crv, kty, x}``)).

The node's identity is a STIX ``identity`` (identity_class ``system``, TLP:CLEAR) carrying
the keys in a property-extension (:data:`NODE_KEYS_EXTENSION_ID`); its id is chosen when
the first key is made and kept through rotations.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, insert, select, update

from kizuna.access.subject import Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp
from kizuna.attribution.canonical import canonical_bytes
from kizuna.attribution.extensions import NODE_KEYS_EXTENSION_ID
from kizuna.attribution.jws import b64url, b64url_decode
from kizuna.attribution.models import node_keys
from kizuna.audit.log import record
from kizuna.errors import InvalidInput
from kizuna.federation.secrets import seal, unseal
from kizuna.stix.timestamps import format_timestamp, now_micros

__all__ = [
    "NodeKey",
    "active_key",
    "jwk_key",
    "jwk_of",
    "node_identity",
    "node_keys_of",
    "public_keys",
    "rotate",
    "signing_key",
    "thumbprint",
]

SEAL_CONTEXT = "node-signing-key"
#: PostgreSQL advisory lock key serialising the first key's creation ("kzkeys")
_LOCK_KEY = 0x6B7A6B657973
ACTIVE, RETIRED = "active", "retired"


@dataclass(frozen=True, slots=True)
class NodeKey:
    """One of this node's keys, public half only."""

    kid: str
    node_identity_id: str
    x: str
    created_us: int
    retired_us: int | None

    @property
    def status(self) -> str:
        return ACTIVE if self.retired_us is None else RETIRED

    def jwk(self) -> dict[str, str]:
        """The published JWK: the RFC 8037 members, kid, use and status."""
        return {
            **_public_members(self.x),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
            "status": self.status,
        }


def _public_members(x: str) -> dict[str, str]:
    return {"crv": "Ed25519", "kty": "OKP", "x": x}


def thumbprint(x: str) -> str:
    """RFC 7638 thumbprint of an Ed25519 public JWK: the kid."""
    return b64url(hashlib.sha256(canonical_bytes(_public_members(x))).digest())


def jwk_of(key: Ed25519PublicKey) -> str:
    """The JWK ``x`` of a public key (its raw 32 bytes, base64url)."""
    return b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))


def jwk_key(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The public key a JWK describes; InvalidInput when it is not an Ed25519 OKP key."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise InvalidInput("a node key must be an Ed25519 JWK (kty OKP, crv Ed25519, x)")
    try:
        raw = b64url_decode(jwk["x"])
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise InvalidInput(f"the JWK x {jwk['x']!r} is not a 32-byte Ed25519 key") from None


def _row(r: Any) -> NodeKey:
    return NodeKey(r.kid, r.node_identity_id, r.public_x, r.created_us, r.retired_us)


def public_keys(conn: Connection) -> list[NodeKey]:
    """Every key the node has held, oldest first."""
    rows = conn.execute(select(node_keys).order_by(node_keys.c.created_us, node_keys.c.kid))
    return [_row(r) for r in rows]


def _generate(conn: Connection, *, secret_key: bytes, identity_id: str) -> NodeKey:
    private = Ed25519PrivateKey.generate()
    x = jwk_of(private.public_key())
    raw = private.private_bytes_raw()
    key = NodeKey(thumbprint(x), identity_id, x, now_micros(), None)
    conn.execute(
        insert(node_keys).values(
            kid=key.kid,
            node_identity_id=identity_id,
            public_x=x,
            private_sealed=seal(secret_key, b64url(raw), context=SEAL_CONTEXT),
            created_us=key.created_us,
            retired_us=None,
        )
    )
    return key


def _current(conn: Connection) -> NodeKey | None:
    row = conn.execute(select(node_keys).where(node_keys.c.retired_us.is_(None))).first()
    return _row(row) if row is not None else None


def active_key(conn: Connection, *, secret_key: bytes) -> NodeKey:
    """The node's active key, made on first use (a node needs no ceremony to start)."""
    current = _current(conn)
    if current is not None:
        return current
    if conn.dialect.name == "postgresql":
        # Two first uses at once must not make two active keys (SQLite's write lock does this).
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_KEY})")
        current = _current(conn)
        if current is not None:
            return current
    held = public_keys(conn)
    identity_id = held[0].node_identity_id if held else f"identity--{uuid.uuid4()}"
    return _generate(conn, secret_key=secret_key, identity_id=identity_id)


def signing_key(conn: Connection, *, secret_key: bytes) -> tuple[NodeKey, Ed25519PrivateKey]:
    """The active key with its private half unsealed, for one signature."""
    key = active_key(conn, secret_key=secret_key)
    sealed = conn.execute(
        select(node_keys.c.private_sealed).where(node_keys.c.kid == key.kid)
    ).scalar_one()
    raw = b64url_decode(unseal(secret_key, sealed, context=SEAL_CONTEXT))
    return key, Ed25519PrivateKey.from_private_bytes(raw)


def rotate(conn: Connection, *, secret_key: bytes, who: Subject | None) -> NodeKey:
    """Retire the active key and make a new one; audited. Returns the new key."""
    old = active_key(conn, secret_key=secret_key)
    retired_us = now_micros()
    conn.execute(update(node_keys).where(node_keys.c.kid == old.kid).values(retired_us=retired_us))
    new = _generate(conn, secret_key=secret_key, identity_id=old.node_identity_id)
    record(
        conn,
        who=who,
        action="node-key.rotate",
        subject_id=new.node_identity_id,
        details={"retired": old.kid, "active": new.kid},
    )
    return new


def node_identity(node_name: str, keys: Sequence[NodeKey]) -> dict[str, object]:
    """The node as a STIX identity (system, TLP:CLEAR) publishing its keys. Deterministic:
    the same keys give the same object, so approvals and publications agree on it."""
    if not keys:
        raise InvalidInput("the node has no signing key yet")
    created = format_timestamp(min(k.created_us for k in keys))
    changed = max(max(k.created_us, k.retired_us or 0) for k in keys)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": keys[0].node_identity_id,
        "created": created,
        "modified": format_timestamp(changed),
        "name": node_name,
        "identity_class": "system",
        "description": "A kizuna node: the Ed25519 keys it signs joint attributions with.",
        "object_marking_refs": [TLP2_MARKINGS[Tlp.CLEAR]],
        "extensions": {
            NODE_KEYS_EXTENSION_ID: {
                "extension_type": "property-extension",
                "keys": [k.jwk() for k in keys],
            }
        },
    }


def node_keys_of(identity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JWKs a (node) identity object publishes; empty when it publishes none."""
    extensions = identity.get("extensions")
    if not isinstance(extensions, dict):
        return []
    body = extensions.get(NODE_KEYS_EXTENSION_ID)
    found = body.get("keys") if isinstance(body, dict) else None
    return [k for k in found if isinstance(k, dict)] if isinstance(found, list) else []
