"""Detached JWS (RFC 7515, compact serialisation with the payload left out) over Ed25519.

A signature is ``BASE64URL(header) + ".." + BASE64URL(signature)``, where the Ed25519
signature (RFC 8037, ``alg`` ``EdDSA``) covers the ASCII of ``BASE64URL(header) + "." +
BASE64URL(payload)``, exactly as for an attached JWS; the verifier supplies the payload
itself (for kizuna, the RFC 8785 bytes of the publication bundle). The protected header
carries the signer's ``kid`` (its RFC 7638 key thumbprint) and whatever claims the caller
adds, so those claims are signed too. Written with ``cryptography`` directly: it is short,
and a JOSE library would add algorithm choices we must not accept.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from kizuna.attribution.canonical import canonical_bytes
from kizuna.errors import InvalidInput

__all__ = ["ALG", "TYP", "JwsError", "b64url", "b64url_decode", "header_of", "sign", "verify"]

ALG = "EdDSA"
TYP = "kizuna-attribution+jcs"


class JwsError(InvalidInput):
    """A detached JWS is malformed, uses another algorithm, or does not match its payload.

    ``reason`` is one of ``malformed``, ``wrong-alg``, ``bad-signature``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, details={"reason": reason})
        self.reason = reason


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Unpadded base64url, strictly: anything else is refused rather than guessed at."""
    if not text or any(c not in _ALPHABET for c in text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True, slots=True)
class _Parts:
    header: dict[str, Any]
    encoded_header: str
    signature: bytes


def _split(jws: str) -> _Parts:
    if jws.count(".") != 2:
        raise JwsError("malformed", "not a detached JWS (expected HEADER..SIGNATURE)")
    encoded_header, middle, encoded_signature = jws.split(".")
    if middle:
        raise JwsError("malformed", "not a detached JWS: the payload part must be empty")
    try:
        header = json.loads(b64url_decode(encoded_header))
        signature = b64url_decode(encoded_signature)
    except (ValueError, UnicodeDecodeError):
        raise JwsError(
            "malformed", "the JWS header or signature is not valid base64url JSON"
        ) from None
    if not isinstance(header, dict):
        raise JwsError("malformed", "the JWS header is not a JSON object")
    return _Parts(header, encoded_header, signature)


def header_of(jws: str) -> dict[str, Any]:
    """The protected header of a detached JWS (unverified: check the signature too)."""
    return _split(jws).header


def _signing_input(encoded_header: str, payload: bytes) -> bytes:
    return f"{encoded_header}.{b64url(payload)}".encode("ascii")


def sign(payload: bytes, key: Ed25519PrivateKey, *, kid: str, claims: dict[str, str]) -> str:
    """A detached JWS over `payload` by `key`, naming `kid` and carrying `claims`."""
    header = {**claims, "alg": ALG, "kid": kid, "typ": TYP}
    encoded_header = b64url(canonical_bytes(header))
    signature = key.sign(_signing_input(encoded_header, payload))
    return f"{encoded_header}..{b64url(signature)}"


def verify(jws: str, payload: bytes, key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a detached JWS over `payload` with `key`; returns the protected header."""
    parts = _split(jws)
    if parts.header.get("alg") != ALG:
        raise JwsError(
            "wrong-alg", f"the JWS uses alg {parts.header.get('alg')!r}; only {ALG} is accepted"
        )
    if "crit" in parts.header:
        raise JwsError("malformed", "the JWS names critical header parameters kizuna does not know")
    try:
        key.verify(parts.signature, _signing_input(parts.encoded_header, payload))
    except InvalidSignature:
        raise JwsError(
            "bad-signature", f"the signature by {parts.header.get('kid')} does not match"
        ) from None
    return parts.header
