"""Stateless, signed paging cursors for TAXII `next`.

A cursor carries the last date_added served and a fingerprint of the request it belongs
to (endpoint, filters, requester), signed with the node's secret: any worker process can
resume it, across restarts, and a client can neither forge one nor reuse it elsewhere.
date_added is unique and strictly increasing per collection, so "after this date_added"
loses nothing and repeats nothing, whatever is written in between.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson

from kizuna.errors import InvalidInput

_SIG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def encode(secret: bytes, *, after_us: int, query: str) -> str:
    payload = orjson.dumps({"a": after_us, "q": query})
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:_SIG_BYTES]
    return _b64(payload) + "." + _b64(signature)


def decode(secret: bytes, token: str, *, query: str) -> int:
    """The date_added to resume after; InvalidInput if the cursor is forged, damaged, or
    belongs to another request."""
    problem = InvalidInput("the 'next' value is not a cursor this server issued for this request")
    try:
        payload_text, signature_text = token.split(".", 1)
        payload = _unb64(payload_text)
        signature = _unb64(signature_text)
    except (ValueError, UnicodeError):
        raise problem from None
    expected = hmac.new(secret, payload, hashlib.sha256).digest()[:_SIG_BYTES]
    if not hmac.compare_digest(signature, expected):
        raise problem
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise problem from None
    if not isinstance(data, dict) or data.get("q") != query or not isinstance(data.get("a"), int):
        raise problem
    return int(data["a"])
