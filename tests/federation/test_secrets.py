"""Sealing a peer's token at rest: AES-256-GCM under a key derived from the node's secret,
bound to what the value is for."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.errors import ConfigurationError
from kizuna.federation.secrets import SealError, seal, unseal

KEY = "test-secret-key-for-federation"
TOKEN = "kz_7mQx2vR9-very-secret-peer-token"


def _flip(sealed: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(sealed.removeprefix("v1:")))
    raw[index % len(raw)] ^= 0x01
    return "v1:" + base64.urlsafe_b64encode(bytes(raw)).decode()


def _assert_refused(secret_key: str, sealed: str, *, context: str = "peer-token") -> str:
    with pytest.raises(ConfigurationError) as caught:
        unseal(secret_key, sealed, context=context)
    assert isinstance(caught.value, SealError)
    message = str(caught.value)
    assert TOKEN not in message
    assert KEY not in message
    assert message == caught.value.message
    return message


def test_round_trip() -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    assert sealed.startswith("v1:")
    assert unseal(KEY, sealed, context="peer-token") == TOKEN


def test_the_node_key_may_be_given_as_bytes() -> None:
    sealed = seal(KEY.encode(), TOKEN, context="peer-token")
    assert unseal(KEY, sealed, context="peer-token") == TOKEN


def test_each_seal_uses_a_fresh_nonce() -> None:
    first, second = (seal(KEY, TOKEN, context="peer-token") for _ in range(2))
    assert first != second
    assert base64.urlsafe_b64decode(first[3:])[:12] != base64.urlsafe_b64decode(second[3:])[:12]


def test_the_plaintext_never_appears_in_the_sealed_text() -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    assert TOKEN not in sealed
    assert TOKEN.encode() not in base64.urlsafe_b64decode(sealed[3:])
    assert KEY not in sealed


def test_wrong_key_is_refused_clearly() -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    message = _assert_refused("another-node-key", sealed)
    assert "peer-token" in message
    assert "KIZUNA_SECRET_KEY" in message


def test_a_value_cannot_be_moved_to_another_purpose() -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    _assert_refused(KEY, sealed, context="peer-password")


@pytest.mark.parametrize("index", [0, 5, 11, 12, 20, -1])
def test_a_flipped_bit_anywhere_is_refused(index: int) -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    _assert_refused(KEY, _flip(sealed, index))


@pytest.mark.parametrize("keep", [0, 3, 10, 20, 40, -4])
def test_truncated_values_are_refused(keep: int) -> None:
    sealed = seal(KEY, TOKEN, context="peer-token")
    _assert_refused(KEY, sealed[:keep])


@pytest.mark.parametrize(
    "text",
    ["", "v1:", "v2:" + "A" * 60, "v1:!!!not base64!!!", "v1:" + "A" * 7, TOKEN, "v1:é"],
)
def test_malformed_values_are_refused(text: str) -> None:
    _assert_refused(KEY, text)


def test_a_missing_key_or_context_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="secret key"):
        seal("", TOKEN, context="peer-token")
    with pytest.raises(ConfigurationError, match="context"):
        seal(KEY, TOKEN, context="")


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.text().map(lambda t: "v1:" + t)))
def test_random_text_is_refused_with_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigurationError):
        unseal(KEY, text, context="peer-token")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_well_formed_base64_is_refused(raw: bytes) -> None:
    with pytest.raises(ConfigurationError):
        unseal(KEY, "v1:" + base64.urlsafe_b64encode(raw).decode(), context="peer-token")


@settings(max_examples=100, deadline=None)
@given(plaintext=st.text(), context=st.text(min_size=1, max_size=40))
def test_any_text_round_trips(plaintext: str, context: str) -> None:
    sealed = seal(KEY, plaintext, context=context)
    assert unseal(KEY, sealed, context=context) == plaintext
    if len(plaintext) >= 12:
        assert plaintext not in sealed[3:]
