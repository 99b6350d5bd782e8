"""The parser's fast path (single equalities, IN sets and LIKE, joined by AND on one object
type) gives exactly what the grammar gives, and refuses nothing the grammar accepts (it only
ever hands over to it)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.patterns import PatternError
from kizuna.patterns.parser import _parse_simple_equality, parse, parse_with_grammar

PIECES = st.sampled_from(
    [
        "[",
        "]",
        "ipv4-addr",
        "file",
        "x-y",
        ":",
        "value",
        "hashes",
        "true",
        "_a",
        ".",
        "'SHA-256'",
        "'a.b c'",
        " = ",
        " ",
        "'",
        "\\",
        "\\'",
        "\\\\",
        "a",
        "0",
        "AND",
        "'v'",
        " IN ",
        "(",
        ")",
        ", ",
        ",",
        " AND ",
        " LIKE ",
        " OR ",
        "'%.exe'",
        "ipv4-addr:value = 'a'",
        "file:name LIKE 'x%'",
        "file:size = 'x'",
    ]
)


def _outcome(parser: object, text: str) -> object:
    try:
        return parser(text)  # type: ignore[operator]
    except PatternError as exc:
        return ("error", exc.position)


@settings(max_examples=2000, deadline=None)
@given(st.lists(PIECES, max_size=14).map("".join))
def test_fast_path_and_grammar_agree_on_any_text(text: str) -> None:
    fast = _parse_simple_equality(text)
    if fast is not None:
        assert fast == parse_with_grammar(text), text
    assert _outcome(parse, text) == _outcome(parse_with_grammar, text), text


@given(
    st.sampled_from(["ipv4-addr", "file", "x-custom-type"]),
    st.lists(
        st.sampled_from(["value", "hashes", "'SHA-256'", "'a b.c'", "name_1"]),
        min_size=1,
        max_size=3,
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
def test_generated_equalities_take_the_fast_path_and_match_the_grammar(
    object_type: str, steps: list[str], value: str
) -> None:
    literal = value.replace("\\", "\\\\").replace("'", "\\'")
    text = f"[{object_type}:{'.'.join(steps)} = '{literal}']"
    fast = _parse_simple_equality(text)
    assert fast is not None, text
    assert fast == parse_with_grammar(text)


@given(
    st.sampled_from(["domain-name", "file"]),
    st.sampled_from(["value", "hashes.'SHA-256'"]),
    st.lists(
        st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
        min_size=1,
        max_size=4,
    ),
)
def test_generated_in_sets_take_the_fast_path_and_match_the_grammar(
    object_type: str, path: str, values: list[str]
) -> None:
    literals = ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)
    text = f"[{object_type}:{path} IN ({literals})]"
    fast = _parse_simple_equality(text)
    assert fast is not None, text
    assert fast == parse_with_grammar(text)


_LITERALS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["value", "name", "hashes.'SHA-256'", "x_y.'a b'"]),
            st.sampled_from(["=", "LIKE", "IN"]),
            st.lists(_LITERALS, min_size=1, max_size=3),
        ),
        min_size=2,
        max_size=4,
    ),
    st.sampled_from(["file", "x-custom-type"]),
)
def test_generated_conjunctions_take_the_fast_path_and_match_the_grammar(
    comparisons: list[tuple[str, str, list[str]]], object_type: str
) -> None:
    parts = []
    for path, op, values in comparisons:
        literals = ["'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values]
        operand = f"({', '.join(literals)})" if op == "IN" else literals[0]
        parts.append(f"{object_type}:{path} {op} {operand}")
    text = "[" + " AND ".join(parts) + "]"
    fast = _parse_simple_equality(text)
    assert fast is not None, text
    assert fast == parse_with_grammar(text)


def test_conjunctions_across_types_are_the_grammars_error() -> None:
    text = "[file:name = 'a' AND ipv4-addr:value = 'b']"
    assert _parse_simple_equality(text) is None
    assert _outcome(parse, text) == _outcome(parse_with_grammar, text)
    assert isinstance(_outcome(parse, text), tuple)
