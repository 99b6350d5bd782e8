"""unparse/parse round trips, table-driven and property-based (hypothesis)."""

from __future__ import annotations

import contextlib
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.patterns import (
    STAR,
    BinaryConst,
    BoolConst,
    Comparison,
    ComparisonAnd,
    ComparisonNode,
    ComparisonOr,
    Constant,
    Exists,
    FloatConst,
    HexConst,
    IntConst,
    ObjectPath,
    ObservationAnd,
    ObservationExpr,
    ObservationFollowedBy,
    ObservationNode,
    ObservationOr,
    Pattern,
    PatternError,
    Qualified,
    Repeats,
    SetConst,
    StartStop,
    StringConst,
    TimestampConst,
    Within,
    parse,
    unparse,
)
from kizuna.patterns.printer import format_timestamp_micros
from tests.patterns.cases import INVALID, VALID


@pytest.mark.parametrize("text", VALID)
def test_table_roundtrip(text: str) -> None:
    pattern = parse(text)
    canonical = unparse(pattern)
    assert parse(canonical) == pattern
    assert unparse(parse(canonical)) == canonical


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("[a:b=1]AND[c:d=2]", "[a:b = 1] AND [c:d = 2]"),
        ("[a:'b'.'c d' == 1.50]", "[a:b.'c d' = 1.5]"),
        ("[a:b <> h'0A']", "[a:b != h'0a']"),
        ("([a:b = 1] AND [c:d = 2]) AND [e:f = 3]", "([a:b = 1] AND [c:d = 2]) AND [e:f = 3]"),
        ("(([a:b = 1] OR [c:d = 2]))", "[a:b = 1] OR [c:d = 2]"),
        ("[a:b = 1] WITHIN 5.0 SECONDS", "[a:b = 1] WITHIN 5 SECONDS"),
        ("[(a:x = 1 OR a:y = 2) AND a:z = 3]", "[(a:x = 1 OR a:y = 2) AND a:z = 3]"),
        (
            "[a:b = 1] START t'2016-01-01T00:00:00.500Z' STOP t'2016-01-02T00:00:00Z'",
            "[a:b = 1] START t'2016-01-01T00:00:00.5Z' STOP t'2016-01-02T00:00:00Z'",
        ),
        ("[a:b = 'it\\'s \\\\']", "[a:b = 'it\\'s \\\\']"),
        ("[a:b = 1e0']", None),
    ],
)
def test_canonical_text(text: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(PatternError):
            parse(text)
        return
    assert unparse(parse(text)) == canonical


# --- hypothesis: random ASTs ---------------------------------------------------------------

_TYPE = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
_NAME = st.one_of(
    st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True),
    st.text(max_size=8),
)
_STEP = st.one_of(_NAME, st.integers(-5, 1000), st.just(STAR))
_PATH = st.builds(
    lambda t, first, rest: ObjectPath(t, (first, *rest)),
    _TYPE,
    _NAME,
    st.lists(_STEP, max_size=4),
)
_SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)),
    max_size=20,
)
_MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    microseconds=1
)
_MAX_US = (
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
) // timedelta(microseconds=1)
_MICROS = st.integers(_MIN_US, _MAX_US)
_TIMESTAMP = _MICROS.map(lambda us: TimestampConst(format_timestamp_micros(us), us))
_ORDERABLE: st.SearchStrategy[Constant] = st.one_of(
    _SAFE_TEXT.map(StringConst),
    st.integers(-(10**30), 10**30).map(IntConst),
    st.floats(allow_nan=False, allow_infinity=False).map(FloatConst),
    st.binary(max_size=12).map(HexConst),
    st.binary(min_size=1, max_size=12).map(BinaryConst),
    _TIMESTAMP,
)
_PRIMITIVE: st.SearchStrategy[Constant] = st.one_of(_ORDERABLE, st.booleans().map(BoolConst))
_REGEX = st.sampled_from(["^a.*b$", "[0-9]+", "x|y", "", "\\.exe$", "it's"])


def _comparisons(object_type: str) -> st.SearchStrategy[ComparisonNode]:
    path = st.builds(lambda p: ObjectPath(object_type, p.steps), _PATH)
    neg = st.booleans()
    leaf = st.one_of(
        st.builds(Comparison, path, st.sampled_from(["=", "!="]), _PRIMITIVE, neg),
        st.builds(Comparison, path, st.sampled_from(["<", "<=", ">", ">="]), _ORDERABLE, neg),
        st.builds(
            Comparison,
            path,
            st.just("IN"),
            st.lists(_PRIMITIVE, max_size=3).map(lambda v: SetConst(tuple(v))),
            neg,
        ),
        st.builds(
            Comparison,
            path,
            st.sampled_from(["LIKE", "ISSUBSET", "ISSUPERSET"]),
            _SAFE_TEXT.map(StringConst),
            neg,
        ),
        st.builds(Comparison, path, st.just("MATCHES"), _REGEX.map(StringConst), neg),
        st.builds(Exists, path, neg),
    )

    def extend(children: st.SearchStrategy[ComparisonNode]) -> st.SearchStrategy[ComparisonNode]:
        ops = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(ops.map(ComparisonAnd), ops.map(ComparisonOr))

    return st.recursive(leaf, extend, max_leaves=6)


_QUALIFIER = st.one_of(
    st.one_of(
        st.integers(1, 10**6).map(float),
        st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False),
    ).map(Within),
    st.integers(1, 10**6).map(Repeats),
    st.tuples(_MICROS, _MICROS)
    .filter(lambda p: p[0] != p[1])
    .map(lambda p: StartStop(min(p), max(p))),
)
_OBS_LEAF: st.SearchStrategy[ObservationNode] = _TYPE.flatmap(_comparisons).map(ObservationExpr)


def _obs_extend(
    children: st.SearchStrategy[ObservationNode],
) -> st.SearchStrategy[ObservationNode]:
    ops = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        ops.map(ObservationAnd),
        ops.map(ObservationOr),
        ops.map(ObservationFollowedBy),
        st.builds(Qualified, children, _QUALIFIER),
    )


PATTERNS = st.recursive(_OBS_LEAF, _obs_extend, max_leaves=5).map(Pattern)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATTERNS)
def test_random_ast_roundtrip(pattern: Pattern) -> None:
    text = unparse(pattern)
    assert parse(text) == pattern, text


# --- hypothesis: random text ---------------------------------------------------------------

_TOKENS = [
    "[", "]", "(", ")", ":", ".", ",", "*", "=", "!=", "<", "<=", ">", ">=", "==", "<>",
    "AND", "OR", "NOT", "FOLLOWEDBY", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS",
    "IN", "WITHIN", "SECONDS", "START", "STOP", "REPEATS", "TIMES", "true", "false",
    "a", "file", "x-y", "name", "'s'", "'\\'", "'(", "'", "h'0a'", "h'0'", "b'AA=='", "b'A'",
    "t'2016-01-01T00:00:00Z'", "t'2016-13-01T00:00:00Z'", "1", "-1", "0.5", ".5", "01", "1.",
    " ", "\n", "/*", "*/", "//", "\\", "é", "\x00",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.text(max_size=60), st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join))
)
def test_random_text_only_raises_pattern_error(text: str) -> None:
    error: PatternError | None = None
    try:
        pattern = parse(text)
    except PatternError as err:
        error = err
    if error is not None:
        assert 0 <= error.position <= len(text)
        assert error.caret().endswith("^")
    else:
        assert parse(unparse(pattern)) == pattern


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([m.replace("§", "") for m, _ in INVALID] + VALID), st.data())
def test_mutated_table_cases(text: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(text)))
    insert = data.draw(st.sampled_from([*_TOKENS, *string.printable]))
    mutated = text[:i] + insert + text[i + 1 :]
    with contextlib.suppress(PatternError):
        parse(mutated)
