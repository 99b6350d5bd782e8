"""Detached JWS over Ed25519: round trip and every way a signature must fail."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kizuna.attribution.jws import ALG, JwsError, b64url, b64url_decode, header_of, sign, verify
from kizuna.attribution.keys import jwk_of, thumbprint

PAYLOAD = b'{"type":"bundle","objects":[]}'


def _signed(key: Ed25519PrivateKey) -> str:
    kid = thumbprint(jwk_of(key.public_key()))
    return sign(PAYLOAD, key, kid=kid, claims={"kizuna_org": "identity--x"})


def test_round_trip_returns_the_signed_header() -> None:
    key = Ed25519PrivateKey.generate()
    jws = _signed(key)
    header_b64, empty, _signature = jws.split(".")
    assert empty == ""  # detached: the payload is not carried
    header = verify(jws, PAYLOAD, key.public_key())
    assert header["alg"] == "EdDSA"
    assert header["kid"] == thumbprint(jwk_of(key.public_key()))
    assert header["kizuna_org"] == "identity--x"
    assert json.loads(b64url_decode(header_b64)) == header_of(jws)


def test_a_flipped_payload_byte_fails() -> None:
    key = Ed25519PrivateKey.generate()
    jws = _signed(key)
    tampered = bytearray(PAYLOAD)
    tampered[10] ^= 0x01
    with pytest.raises(JwsError) as caught:
        verify(jws, bytes(tampered), key.public_key())
    assert caught.value.reason == "bad-signature"


def test_another_key_fails() -> None:
    jws = _signed(Ed25519PrivateKey.generate())
    with pytest.raises(JwsError) as caught:
        verify(jws, PAYLOAD, Ed25519PrivateKey.generate().public_key())
    assert caught.value.reason == "bad-signature"


def test_a_swapped_kid_breaks_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    jws = _signed(key)
    header = header_of(jws)
    header["kid"] = thumbprint(jwk_of(Ed25519PrivateKey.generate().public_key()))
    forged = b64url(json.dumps(header).encode()) + ".." + jws.split("..")[1]
    with pytest.raises(JwsError) as caught:
        verify(forged, PAYLOAD, key.public_key())
    assert caught.value.reason == "bad-signature"


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", None])
def test_other_algorithms_are_refused(alg: str | None) -> None:
    key = Ed25519PrivateKey.generate()
    header = {"alg": alg, "kid": "k"} if alg else {"kid": "k"}
    encoded = b64url(json.dumps(header).encode())
    signature = key.sign(f"{encoded}.{b64url(PAYLOAD)}".encode())
    with pytest.raises(JwsError) as caught:
        verify(f"{encoded}..{b64url(signature)}", PAYLOAD, key.public_key())
    assert caught.value.reason == "wrong-alg"
    assert ALG in caught.value.message


@pytest.mark.parametrize(
    "text", ["", "abc", "a.b.c", "a..b..c", "!!..AAAA", b64url(b"[1]") + "..AAAA"]
)
def test_malformed_signatures_are_refused(text: str) -> None:
    with pytest.raises(JwsError) as caught:
        verify(text, PAYLOAD, Ed25519PrivateKey.generate().public_key())
    assert caught.value.reason == "malformed"


def test_a_dropped_signature_part_is_malformed() -> None:
    jws = _signed(Ed25519PrivateKey.generate())
    with pytest.raises(JwsError) as caught:
        verify(jws.split("..")[0] + "..", PAYLOAD, Ed25519PrivateKey.generate().public_key())
    assert caught.value.reason == "malformed"
