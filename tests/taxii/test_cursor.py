"""Paging cursors: they round-trip, and anything forged, damaged or reused elsewhere is
refused with InvalidInput and nothing else."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kizuna.errors import InvalidInput
from kizuna.taxii.cursor import decode, encode, fingerprint

SECRET = b"node-secret"
QUERY = fingerprint("objects", "collection-1", ("indicator",), 42)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("after_us", [0, 1, 1_767_225_600_123_456, 2**62])
def test_a_cursor_round_trips(after_us: int) -> None:
    token = encode(SECRET, after_us=after_us, query=QUERY)
    assert decode(SECRET, token, query=QUERY) == after_us


def test_a_cursor_is_url_safe_text() -> None:
    token = encode(SECRET, after_us=1_767_225_600_123_456, query=QUERY)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_the_fingerprint_depends_on_every_part() -> None:
    assert fingerprint("a", 1) == fingerprint("a", 1)
    assert fingerprint("a", 1) != fingerprint("a", 2)
    assert fingerprint("a", 1) != fingerprint("b", 1)
    assert fingerprint("a", ("x", "y")) != fingerprint("a", ("y", "x"))


def _rejected(token: str, *, secret: bytes = SECRET, query: str = QUERY) -> None:
    with pytest.raises(InvalidInput, match="not a cursor this server issued"):
        decode(secret, token, query=query)


def test_a_tampered_payload_is_refused() -> None:
    token = encode(SECRET, after_us=1000, query=QUERY)
    payload, signature = token.split(".")
    forged = _unb64(payload).replace(b"1000", b"9999")
    assert forged != _unb64(payload)
    _rejected(_b64(forged) + "." + signature)
    # A payload taken from another cursor (another date_added) with this signature.
    other_payload = encode(SECRET, after_us=5, query=QUERY).split(".")[0]
    _rejected(other_payload + "." + signature)


def test_a_tampered_signature_is_refused() -> None:
    token = encode(SECRET, after_us=1000, query=QUERY)
    payload, signature = token.split(".")
    raw = bytearray(_unb64(signature))
    for index in (0, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        _rejected(payload + "." + _b64(bytes(flipped)))
    _rejected(payload + "." + _b64(bytes(raw[:-1])))
    _rejected(payload + ".")
    _rejected(payload)


def test_a_cursor_signed_with_another_secret_is_refused() -> None:
    token = encode(b"another-node", after_us=1000, query=QUERY)
    _rejected(token)
    # And one of ours is not valid on the other node either.
    _rejected(encode(SECRET, after_us=1000, query=QUERY), secret=b"another-node")


def test_a_cursor_for_another_query_is_refused() -> None:
    token = encode(SECRET, after_us=1000, query=QUERY)
    other = fingerprint("objects", "collection-1", ("indicator",), 43)
    _rejected(token, query=other)
    _rejected(token, query="")


def test_a_signed_payload_of_the_wrong_shape_is_refused() -> None:
    # Even a correctly signed payload must carry an integer and this query.
    for payload in (b"[1,2]", b'{"a":"1000","q":"%s"}' % QUERY.encode(), b"not json"):
        signature = hmac.new(SECRET, payload, hashlib.sha256).digest()[:16]
        _rejected(_b64(payload) + "." + _b64(signature))


@given(st.text(max_size=200))
def test_any_string_raises_only_invalid_input(token: str) -> None:
    # No random string is a cursor this server signed: each is refused, and only so.
    with pytest.raises(InvalidInput):
        decode(SECRET, token, query=QUERY)


@given(
    st.binary(max_size=80),
    st.one_of(st.binary(max_size=40), st.text(max_size=40)),
    st.sampled_from(["", ".", "..", "="]),
)
def test_cursor_shaped_strings_are_invalid_input(
    payload: bytes, signature: bytes | str, tail: str
) -> None:
    sig = _b64(signature) if isinstance(signature, bytes) else signature
    with pytest.raises(InvalidInput):
        decode(SECRET, _b64(payload) + "." + sig + tail, query=QUERY)
