"""Checking indicator patterns on the ingest path, fast.

Most shared indicators are one equality on one property (`[ipv4-addr:value = '...']`).
`check_pattern` accepts exactly that shape with one regular expression and sends
everything else to the full parser (with a cache, since feeds repeat patterns), so that
validating every incoming pattern costs the ingest path little. The fast path only ever
accepts patterns the full parser accepts (tests/patterns/test_check.py proves it)."""

from __future__ import annotations

import re
from functools import lru_cache

from kizuna.patterns.parser import parse

_NAME = r"[a-z_][a-z0-9_]*"
_QUOTED = r"'[A-Za-z0-9_ .-]+'"
_SIMPLE_EQUALITY = re.compile(
    rf"\[[a-z][a-z0-9-]*:(?:{_NAME}|{_QUOTED})(?:\.(?:{_NAME}|{_QUOTED}))* = "
    r"'(?:[^'\\]|\\['\\])*'\]",
    re.ASCII,
)
_KEYWORD_NAMES = re.compile(r"[:.](?:true|false)(?=[ .])")


@lru_cache(maxsize=65536)
def _parse_cached(text: str) -> None:
    parse(text)


def check_pattern(text: str) -> None:
    """Raise PatternError if `text` is not a valid STIX 2.1 pattern."""
    if _SIMPLE_EQUALITY.fullmatch(text) and not _KEYWORD_NAMES.search(text):
        return
    _parse_cached(text)
