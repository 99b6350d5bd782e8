"""The ingest-path pattern check: its fast path accepts only what the full parser accepts,
and everything else is judged by the full parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.patterns import PatternError, parse
from kizuna.patterns.check import _SIMPLE_EQUALITY, check_pattern


def _full_parser_accepts(text: str) -> bool:
    try:
        parse(text)
    except PatternError:
        return False
    return True


@pytest.mark.parametrize(
    "pattern",
    [
        "[ipv4-addr:value = '198.51.100.1']",
        "[file:hashes.'SHA-256' = 'aa']",
        "[url:value = 'https://x.example/it\\'s']",
        "[x-custom-type:x_field.sub = '']",
    ],
)
def test_fast_path_takes_simple_equalities(pattern: str) -> None:
    assert _SIMPLE_EQUALITY.fullmatch(pattern)
    check_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("[ipv4-addr:value = ]", "expected"),
        ("[ipv4-addr:value = 'a' AND]", "unexpected ']'"),
        ("ipv4-addr:value = 'a'", "expected '\\['"),
        ("[ipv4-addr:value = 'bad\\escape']", "invalid escape"),
    ],
)
def test_everything_else_goes_to_the_full_parser(pattern: str, fragment: str) -> None:
    with pytest.raises(PatternError, match=fragment):
        check_pattern(pattern)


PIECES = st.sampled_from(
    [
        "[",
        "]",
        "ipv4-addr",
        "file",
        ":",
        "value",
        "hashes",
        ".",
        "'SHA-256'",
        " = ",
        "'",
        "\\",
        "\\'",
        "a",
        "true",
        "AND",
        " ",
        "x-y",
        "_",
        "0",
        "'v'",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join))
def test_fast_path_never_accepts_what_the_parser_refuses(text: str) -> None:
    if _SIMPLE_EQUALITY.fullmatch(text):
        assert _full_parser_accepts(text), text
    # And the public check always agrees with the full parser.
    try:
        check_pattern(text)
        accepted = True
    except PatternError:
        accepted = False
    assert accepted == _full_parser_accepts(text), text
