"""Node keys: made on first use, rotated with the old key kept (retired, still verifying),
private halves never stored in clear, public keys published in the node's identity."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import Engine, select, text

from kizuna.access.subject import Role, Subject
from kizuna.attribution.extensions import NODE_KEYS_EXTENSION_ID
from kizuna.attribution.jws import b64url, b64url_decode, sign, verify
from kizuna.attribution.keys import (
    active_key,
    jwk_key,
    node_identity,
    public_keys,
    rotate,
    signing_key,
    thumbprint,
)
from kizuna.attribution.models import node_keys
from kizuna.audit.log import entries
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput
from kizuna.federation.secrets import SealError

SECRET = b"node-secret-for-key-tests"
ADMIN = Subject(org_id=None, identity_id=None, role=Role.ADMIN)


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'.encode()
    assert thumbprint(x) == b64url(hashlib.sha256(canonical).digest())


def test_a_key_is_made_on_first_use_and_kept(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        first = active_key(conn, secret_key=SECRET)
        assert active_key(conn, secret_key=SECRET) == first
    assert first.kid == thumbprint(first.x)
    assert first.status == "active"


def test_rotation_retires_the_old_key_which_still_verifies(engine: Engine) -> None:
    payload = b"the content"
    with write_transaction(engine) as conn:
        old, old_private = signing_key(conn, secret_key=SECRET)
        old_jws = sign(payload, old_private, kid=old.kid, claims={})
        new = rotate(conn, secret_key=SECRET, who=None)
        current, new_private = signing_key(conn, secret_key=SECRET)
        new_jws = sign(payload, new_private, kid=current.kid, claims={})
        held = {k.kid: k for k in public_keys(conn)}
    assert current == new
    assert new.kid != old.kid
    assert held[old.kid].status == "retired"
    assert held[new.kid].status == "active"
    assert new.node_identity_id == old.node_identity_id
    assert verify(old_jws, payload, jwk_key(held[old.kid].jwk()))["kid"] == old.kid
    assert verify(new_jws, payload, jwk_key(held[new.kid].jwk()))["kid"] == new.kid
    with read_transaction(engine) as conn:
        rotations = [e for e in entries(conn) if e.action == "node-key.rotate"]
    assert rotations[-1].details == {"retired": old.kid, "active": new.kid}


def test_the_private_key_is_never_stored_in_clear(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        _key, private = signing_key(conn, secret_key=SECRET)
    raw = b64url(private.private_bytes_raw())
    with read_transaction(engine) as conn:
        row = conn.execute(select(node_keys)).one()
        dump = " ".join(str(v) for v in row)
        everything = conn.execute(text("select * from node_keys")).all()
    assert raw not in dump
    assert raw not in str(everything)
    assert private.private_bytes_raw().hex() not in dump
    assert row.private_sealed.startswith("v1:")
    with write_transaction(engine) as conn, pytest.raises(SealError):
        signing_key(conn, secret_key=b"another node's secret")


def test_the_node_identity_publishes_every_jwk(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        active_key(conn, secret_key=SECRET)
        rotate(conn, secret_key=SECRET, who=None)
        keys = public_keys(conn)
    identity = node_identity("uk-node", keys)
    assert identity["identity_class"] == "system"
    assert identity["id"] == keys[0].node_identity_id
    published = identity["extensions"][NODE_KEYS_EXTENSION_ID]["keys"]  # type: ignore[index]
    assert [(k["kid"], k["status"]) for k in published] == [
        (keys[0].kid, "retired"),
        (keys[1].kid, "active"),
    ]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in published)
    assert all(len(b64url_decode(k["x"])) == 32 for k in published)
    assert node_identity("uk-node", keys) == identity  # deterministic


def test_a_jwk_of_another_kind_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Ed25519"):
        jwk_key({"kty": "EC", "crv": "P-256", "x": "AAAA"})
    with pytest.raises(InvalidInput, match="32-byte"):
        jwk_key({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"})
