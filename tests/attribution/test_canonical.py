"""RFC 8785 canonicalisation: the RFC's own examples, and stability under every change of
spelling that leaves the JSON data the same (key order, whitespace, number formats,
string escapes)."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.attribution.canonical import canonical_bytes, canonical_digest, parse_json
from kizuna.errors import InvalidInput

# RFC 8785 appendix B: IEEE 754 bit patterns and their canonical text.
NUMBER_VECTORS = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "expected"), NUMBER_VECTORS)
def test_numbers_follow_rfc8785_appendix_b(bits: str, expected: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_bytes(value).decode() == expected


def test_rfc8785_section_3_2_2_example() -> None:
    text = r"""{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"""
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_bytes(parse_json(text)).decode() == expected


def test_rfc8785_section_3_2_3_sorts_keys_by_utf16_code_units() -> None:
    text = r"""{"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Dalet",
      "1": "One", "\ud83d\ude00": "Emoji", "\u0080": "Control", "\u00f6": "O umlaut"}"""
    order = list(json.loads(canonical_bytes(parse_json(text))))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_values_outside_json_numbers_are_refused() -> None:
    with pytest.raises(InvalidInput, match="canonicalised"):
        canonical_bytes(2**60)
    with pytest.raises(InvalidInput, match="canonicalised"):
        canonical_bytes(float("nan"))
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse_json("[NaN]")


# -- properties --------------------------------------------------------------------------------

_keys = st.text(min_size=0, max_size=8)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=20,
)


def _reordered(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, dict):
        items = data.draw(st.permutations(list(value.items())))
        return {k: _reordered(v, data) for k, v in items}
    if isinstance(value, list):
        return [_reordered(v, data) for v in value]
    return value


def _respelled(value: Any, data: st.DataObject) -> str:
    """JSON text for `value` with other whitespace, escapes and number spellings."""
    space = data.draw(st.sampled_from(["", " ", "\n  ", "\t"]))
    if isinstance(value, dict):
        inner = ("," + space).join(
            f"{json.dumps(k, ensure_ascii=data.draw(st.booleans()))}{space}:{space}"
            + _respelled(v, data)
            for k, v in value.items()
        )
        return "{" + space + inner + space + "}"
    if isinstance(value, list):
        return "[" + space + ("," + space).join(_respelled(v, data) for v in value) + space + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return data.draw(st.sampled_from([str(value), f"{value}.0", f"{value}e0", f"{value}E+0"]))
    if isinstance(value, float):
        text = repr(value)
        if value == 0:
            return data.draw(st.sampled_from(["0", "-0.0", "0e10", "-0"]))
        return data.draw(st.sampled_from([text, text.upper(), f"{value:.17g}"]))
    return json.dumps(value, ensure_ascii=data.draw(st.booleans()))


@settings(max_examples=300, deadline=None)
@given(value=_json, data=st.data())
def test_canonical_form_is_stable_across_order_whitespace_numbers_and_escapes(
    value: Any, data: st.DataObject
) -> None:
    expected = canonical_bytes(value)
    text = _respelled(_reordered(value, data), data)
    assert canonical_bytes(parse_json(text)) == expected
    # and the canonical text is a fixed point
    assert canonical_bytes(parse_json(expected)) == expected


def test_number_spellings_of_the_same_value_agree() -> None:
    assert canonical_bytes(parse_json('{"a":1.0,"b":1e2,"c":-0.0}')) == b'{"a":1,"b":100,"c":0}'
    assert canonical_digest(parse_json('{"b":100, "a":1}')) == canonical_digest(
        {"a": 1.0, "b": 1e2}
    )
