"""RFC 8785 (JSON Canonicalization Scheme) for what kizuna signs.

The one home of "the bytes a signature covers": :func:`canonical_bytes` turns a JSON value
into its RFC 8785 form through the ``rfc8785`` package (Trail of Bits, pure Python, typed),
so that two parties who hold the same JSON data, whatever its key order, whitespace, number
spelling (``1.0``/``1``, ``1e2``/``100``, ``-0.0``/``0``) or string escapes, produce
identical bytes. JSON text is parsed with the standard library (:func:`parse_json`),
integers beyond 2**53 becoming doubles as in ECMAScript; RFC 8785 then prints every number
as ECMAScript prints a double, and refuses Python integers beyond 2**53 and non-finite
floats.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

from kizuna.errors import InvalidInput

__all__ = ["canonical_bytes", "canonical_digest", "parse_json"]


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value (dicts, lists, str, numbers...)."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise InvalidInput(f"the content cannot be canonicalised (RFC 8785): {exc}") from None


def canonical_digest(value: Any) -> str:
    """SHA-256 (hex) of the canonical bytes: the content identity approvals are bound to."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_SAFE_INTEGER = 2**53 - 1


def _number(text: str) -> int | float:
    """An integer literal as an int while exact, else as the double ECMAScript would read."""
    value = int(text)
    return value if abs(value) <= _SAFE_INTEGER else float(value)


def parse_json(text: str | bytes) -> Any:
    """Parse JSON text strictly (no NaN or Infinity). Numbers are read as RFC 8785 reads
    them, as IEEE 754 doubles: integers beyond 2**53 become the nearest double."""
    try:
        return json.loads(text, parse_constant=_no_constants, parse_int=_number)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"not valid JSON: {exc}") from None
