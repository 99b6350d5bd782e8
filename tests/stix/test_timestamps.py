"""STIX timestamps to and from integer microseconds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import format_timestamp, is_timestamp, now_micros, parse_timestamp

# Years 1000 to 9999: the four-digit years both directions can print and read.
LOWEST = parse_timestamp("1000-01-01T00:00:00Z")
HIGHEST = parse_timestamp("9999-12-31T23:59:59.999999Z")
MICROS = st.integers(LOWEST, HIGHEST)
_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.000001Z", 1),
        ("1970-01-01T00:00:01Z", 1_000_000),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("2024-01-31T12:00:00.000Z", 1_706_702_400_000_000),
        ("2024-01-31T12:00:00.5Z", 1_706_702_400_500_000),
        ("2024-01-31T12:00:00.123Z", 1_706_702_400_123_000),
        ("2024-02-29T00:00:00Z", 1_709_164_800_000_000),
    ],
)
def test_parse(text: str, micros: int) -> None:
    assert parse_timestamp(text) == micros


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1, "1970-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (1_706_702_400_500_000, "2024-01-31T12:00:00.500000Z"),
    ],
)
def test_format_always_prints_six_fractional_digits(micros: int, text: str) -> None:
    assert format_timestamp(micros) == text


@given(MICROS)
def test_format_then_parse_is_the_identity(micros: int) -> None:
    text = format_timestamp(micros)
    assert parse_timestamp(text) == micros
    assert is_timestamp(text)


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_parse_agrees_with_datetime(moment: datetime) -> None:
    aware = moment.replace(tzinfo=UTC)
    text = aware.strftime("%Y-%m-%dT%H:%M:%S") + f".{aware.microsecond:06d}Z"
    expected = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    assert parse_timestamp(text) == expected
    assert format_timestamp(expected) == text


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2024-01-31T12:00:00.1234567Z", 1_706_702_400_123_456),
        ("2024-01-31T12:00:00.9999999999Z", 1_706_702_400_999_999),
        ("2024-01-31T12:00:00.000000999Z", 1_706_702_400_000_000),
    ],
)
def test_digits_past_the_microsecond_are_truncated(text: str, micros: int) -> None:
    assert parse_timestamp(text) == micros


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-31T12:00:00Z\n",
        "2024-01-31T12:00:00.000Z\n",
        " 2024-01-31T12:00:00Z",
        "2024-01-31T12:00:00Z ",
        # Non-ASCII digits: Arabic-Indic, fullwidth, Devanagari.
        "٢٠٢٤-01-31T12:00:00Z",
        "2024-01-31T12:00:00.１２３Z",
        "2024-01-3१T12:00:00Z",
        # Dates and times that do not exist.
        "2023-02-29T00:00:00Z",
        "2024-02-30T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-10T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-31T24:00:00Z",
        "2024-01-31T12:60:00Z",
        "2024-01-31T23:59:60Z",
        "0000-01-01T00:00:00Z",
        # Not UTC with a Z, or not this shape at all.
        "2024-01-31T12:00:00",
        "2024-01-31T12:00:00.000",
        "2024-01-31T12:00:00+00:00",
        "2024-01-31T12:00:00.000+09:00",
        "2024-01-31T12:00:00z",
        "2024-01-31t12:00:00Z",
        "2024-01-31 12:00:00Z",
        "2024-01-31T12:00:00.Z",
        "2024-1-31T12:00:00Z",
        "24-01-31T12:00:00Z",
        "2024-01-31",
        "",
    ],
)
def test_rejects(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_timestamp(text)
    assert not is_timestamp(text)


def test_a_non_string_is_refused_as_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        parse_timestamp(20240131)  # type: ignore[arg-type]


def test_the_message_names_the_value() -> None:
    with pytest.raises(InvalidInput, match="2024-02-30"):
        parse_timestamp("2024-02-30T00:00:00Z")


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_invalid_input(text: str) -> None:
    try:
        micros = parse_timestamp(text)
    except InvalidInput:
        return
    assert isinstance(micros, int)


def test_now_is_microseconds_since_the_epoch() -> None:
    before = datetime.now(UTC).timestamp() * 1_000_000
    now = now_micros()
    after = datetime.now(UTC).timestamp() * 1_000_000
    assert before - 1_000 <= now <= after + 1_000
