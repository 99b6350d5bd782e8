"""Offline verification without any node: a bundle signed by two freshly made node keys,
and each way it can fail, named precisely."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kizuna.access.tlp import TLP2_MARKINGS, Tlp
from kizuna.attribution.content import publication_content
from kizuna.attribution.extensions import (
    ATTRIBUTION_EXTENSION_ID,
    NODE_KEYS_EXTENSION_ID,
    SIGNATURES_EXTENSION_ID,
)
from kizuna.attribution.jws import b64url, sign
from kizuna.attribution.keys import NodeKey, jwk_of, node_identity, thumbprint
from kizuna.attribution.verify import (
    assemble,
    bundle_of,
    payload_of,
    trusted_keys,
    verify_bundle,
)
from kizuna.errors import InvalidInput
from tests.attribution.helpers import sdo

UK, JP = (
    "identity--6b1b2c2e-8a8f-4a53-9d25-2f0c6d1c0a01",
    "identity--6b1b2c2e-8a8f-4a53-9d25-2f0c6d1c0a02",
)
CLEAR = [TLP2_MARKINGS[Tlp.CLEAR]]


class _Node:
    def __init__(self, name: str, number: int) -> None:
        self.private = Ed25519PrivateKey.generate()
        x = jwk_of(self.private.public_key())
        self.key = NodeKey(
            thumbprint(x), f"identity--00000000-0000-4000-8000-00000000000{number}", x, 1, None
        )
        self.identity = node_identity(name, [self.key])

    def sign(self, payload: bytes, org: str) -> str:
        claims = {"kizuna_org": org, "kizuna_node": self.key.node_identity_id}
        return sign(payload, self.private, kid=self.key.kid, claims=claims)


def _draft() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    campaign = {**sdo("campaign", UK, "Operation Lantern"), "object_marking_refs": CLEAR}
    actor = {**sdo("threat-actor", UK, "APT-Example"), "object_marking_refs": CLEAR}
    draft = {
        "type": "report",
        "id": "report--3f8c7e39-1f1b-4c45-8a8e-0d7c6b5a4f31",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-02T00:00:00.000Z",
        "created_by_ref": UK,
        "name": "Lantern",
        "confidence": 85,
        "extensions": {
            ATTRIBUTION_EXTENSION_ID: {
                "kind": "draft",
                "intent": "publish",
                "revision": 1,
                "content_modified": "2026-03-02T00:00:00.000Z",
                "activity_ref": campaign["id"],
                "actor_ref": actor["id"],
                "assessment": "APT-Example ran Operation Lantern.",
                "likelihood": "highly likely",
                "evidence_refs": [],
                "co_authors": [{"ref": UK, "name": "NCSC"}, {"ref": JP, "name": "JPCERT/CC"}],
            }
        },
    }
    return draft, {campaign["id"]: campaign, actor["id"]: actor}


@pytest.fixture
def signed() -> tuple[dict[str, Any], _Node, _Node]:
    draft, found = _draft()
    content = publication_content(draft, found)
    uk, jp = _Node("uk-node", 1), _Node("jp-node", 2)
    payload = payload_of(content.bundle)
    report = copy.deepcopy(content.report)
    report["extensions"][SIGNATURES_EXTENSION_ID] = {
        "extension_type": "property-extension",
        "signatures": [uk.sign(payload, UK), jp.sign(payload, JP)],
    }
    others = [o for o in content.bundle["objects"] if o["id"] != report["id"]]
    return bundle_of(report["id"], [report, *others, uk.identity, jp.identity]), uk, jp


def _report(bundle: dict[str, Any]) -> dict[str, Any]:
    return next(o for o in bundle["objects"] if o["type"] == "report")


def _codes(bundle: Any, **options: Any) -> list[str]:
    return [f.code for f in verify_bundle(bundle, **options).failures]


def test_a_well_signed_bundle_names_both_signers(signed: Any) -> None:
    bundle, uk, jp = signed
    result = verify_bundle(bundle)
    assert result.ok
    assert {(s.org_name, s.node_name, s.kid) for s in result.signers} == {
        ("NCSC", "uk-node", uk.key.kid),
        ("JPCERT/CC", "jp-node", jp.key.kid),
    }
    # Key order and whitespace of the file do not matter: the payload is canonical.
    respelled = json.loads(json.dumps(bundle, indent=3, sort_keys=True))
    assert verify_bundle(respelled).ok
    assert assemble(bundle["objects"]) == bundle


def test_tampered_content_is_named(signed: Any) -> None:
    bundle, _uk, _jp = signed
    _report(bundle)["name"] = "Lantern (edited)"
    assert _codes(bundle)[0] == "tampered"
    assert "missing-co-signer" in _codes(bundle)


def test_reordered_objects_are_tampering(signed: Any) -> None:
    bundle, _uk, _jp = signed
    bundle["objects"].reverse()
    assert _codes(bundle)[0] == "tampered"


def test_a_signature_by_another_key_of_the_same_node_is_unknown(signed: Any) -> None:
    bundle, _uk, jp = signed
    intruder = Ed25519PrivateKey.generate()
    kid = thumbprint(jwk_of(intruder.public_key()))
    forged = sign(
        payload_of(bundle),
        intruder,
        kid=kid,
        claims={"kizuna_org": JP, "kizuna_node": jp.key.node_identity_id},
    )
    _report(bundle)["extensions"][SIGNATURES_EXTENSION_ID]["signatures"][1] = forged
    assert _codes(bundle) == ["unknown-key", "missing-co-signer"]


def test_a_key_claimed_for_another_node_is_refused(signed: Any) -> None:
    bundle, uk, _jp = signed
    claims = {"kizuna_org": JP, "kizuna_node": "identity--00000000-0000-4000-8000-000000000002"}
    lying = sign(payload_of(bundle), uk.private, kid=uk.key.kid, claims=claims)
    _report(bundle)["extensions"][SIGNATURES_EXTENSION_ID]["signatures"][1] = lying
    assert _codes(bundle) == ["key-mismatch", "missing-co-signer"]


def test_a_wrong_algorithm_is_refused(signed: Any) -> None:
    bundle, uk, _jp = signed
    claims = {
        "alg": "HS256",
        "kid": uk.key.kid,
        "kizuna_org": UK,
        "kizuna_node": uk.key.node_identity_id,
    }
    header = b64url(json.dumps(claims).encode())
    signature = uk.private.sign(f"{header}.{b64url(payload_of(bundle))}".encode())
    jws = f"{header}..{b64url(signature)}"
    _report(bundle)["extensions"][SIGNATURES_EXTENSION_ID]["signatures"][0] = jws
    assert _codes(bundle) == ["wrong-alg", "missing-co-signer"]


def test_no_signatures_and_broken_shapes(signed: Any) -> None:
    bundle, _uk, _jp = signed
    unsigned = copy.deepcopy(bundle)
    del _report(unsigned)["extensions"][SIGNATURES_EXTENSION_ID]
    assert set(_codes(unsigned)) == {"missing-co-signer"}
    assert _codes({"type": "report"}) == ["malformed"]
    assert _codes({"type": "bundle", "objects": []}) == ["malformed"]
    assert _codes([1, 2]) == ["malformed"]


def test_trusted_keys_in_every_accepted_shape(signed: Any) -> None:
    bundle, uk, jp = signed
    jwks = [k for n in (uk, jp) for k in n.identity["extensions"][NODE_KEYS_EXTENSION_ID]["keys"]]
    for document in (
        {"keys": jwks},
        jwks,
        [uk.identity, jp.identity],
        {"objects": [uk.identity, jp.identity]},
    ):
        assert verify_bundle(bundle, trusted=trusted_keys(document)).ok
    assert _codes(bundle, trusted=trusted_keys(uk.identity)) == ["unknown-key", "missing-co-signer"]
    with pytest.raises(InvalidInput, match="thumbprint"):
        trusted_keys({**jwks[0], "kid": jwks[1]["kid"]})
    with pytest.raises(InvalidInput, match="Ed25519"):
        trusted_keys([{"kty": "RSA"}])
