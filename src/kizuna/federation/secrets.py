"""Secrets at rest (a peer's token): AES-256-GCM under a key derived from the node's secret.

The key is derived with HKDF-SHA256 from the node's secret key (KIZUNA_SECRET_KEY or
KIZUNA_HOME/secret.key), with a fixed salt for sealing and the *context* (what the value
is for, such as "peer-token") as HKDF info. The context is also the AEAD's associated data,
so a value sealed for one purpose cannot be moved to another. Each seal uses a fresh random
96-bit nonce. The sealed text is ``v1:`` followed by the URL-safe base64 of nonce and
ciphertext (with its 16-byte tag).

`unseal` raises `SealError` (a `ConfigurationError`) for a wrong key, a wrong context, and
tampered, truncated or malformed text; its message never contains the key or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kizuna.errors import ConfigurationError

PREFIX = "v1:"
_SALT = b"kizuna/federation/seal/v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class SealError(ConfigurationError):
    """A sealed value cannot be opened (or a value cannot be sealed) with this node's key."""


def _key(secret_key: str | bytes, context: str) -> AESGCM:
    if not context:
        raise SealError("a sealed value needs a context (what it is for, e.g. 'peer-token')")
    material = secret_key.encode() if isinstance(secret_key, str) else bytes(secret_key)
    if not material:
        raise SealError("the node has no secret key to seal values with (KIZUNA_SECRET_KEY)")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=context.encode()).derive(
        material
    )
    return AESGCM(derived)


def seal(secret_key: str | bytes, plaintext: str, *, context: str) -> str:
    """Encrypt `plaintext` for storage under the node's secret key, bound to `context`."""
    aead = _key(secret_key, context)
    nonce = os.urandom(_NONCE_BYTES)
    ciphertext = aead.encrypt(nonce, plaintext.encode(), context.encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii")


def unseal(secret_key: str | bytes, sealed: str, *, context: str) -> str:
    """The plaintext of a value made by `seal` with the same secret key and context."""
    aead = _key(secret_key, context)
    if not isinstance(sealed, str) or not sealed.startswith(PREFIX):
        raise SealError(
            f"the stored {context} is not a sealed value (expected text starting {PREFIX!r})"
        )
    try:
        raw = base64.b64decode(sealed[len(PREFIX) :].encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise SealError(f"the stored {context} is damaged: not valid base64") from None
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:
        raise SealError(f"the stored {context} is damaged: too short to be a sealed value")
    try:
        plaintext = aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise SealError(
            f"cannot unseal the stored {context}: it was sealed under another secret key or "
            "for another purpose, or it has been altered (was KIZUNA_SECRET_KEY changed?)"
        ) from None
    try:
        return plaintext.decode()
    except UnicodeDecodeError:  # pragma: no cover - authenticated, so only if sealed so
        raise SealError(f"the stored {context} is not text") from None
