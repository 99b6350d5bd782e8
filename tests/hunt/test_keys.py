"""Key derivation for hunting: a table of patterns and the soundness property."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kizuna.hunt.keys import Key, KeyPlan, normalise, path_text, plan_keys, sco_keys
from kizuna.patterns import (
    Comparison,
    ComparisonAnd,
    ComparisonNode,
    ComparisonOr,
    Constant,
    FloatConst,
    IntConst,
    ObjectPath,
    Observation,
    ObservationAnd,
    ObservationExpr,
    ObservationFollowedBy,
    ObservationNode,
    ObservationOr,
    Pattern,
    Qualified,
    Repeats,
    SetConst,
    StartStop,
    StringConst,
    Within,
    compile_pattern,
    observation_from_scos,
    parse,
)

SHA = "file:hashes.'SHA-256'"
H1 = "aa" * 32
H2 = "bb" * 32


def k(path: str, value: str) -> Key:
    return Key(path, value)


def plan(*keys: Key, exact: bool) -> KeyPlan:
    return KeyPlan(frozenset(keys), exact)


NONE = KeyPlan(frozenset(), exact=False)

TABLE: list[tuple[str, KeyPlan]] = [
    # single equalities: exact
    ("[ipv4-addr:value = '198.51.100.1']", plan(k("ipv4-addr:value", "198.51.100.1"), exact=True)),
    (f"[file:hashes.'SHA-256' = '{H1}']", plan(k(SHA, H1), exact=True)),
    (f"[file:hashes.'SHA-256' = '{H1.upper()}']", plan(k(SHA, H1.upper()), exact=True)),
    (
        "[domain-name:value = 'Example.COM']",
        plan(k("domain-name:value", "Example.COM"), exact=True),
    ),
    ("[network-traffic:dst_port = 80]", plan(k("network-traffic:dst_port", "#80"), exact=True)),
    ("[network-traffic:dst_port = 80.0]", plan(k("network-traffic:dst_port", "#80"), exact=True)),
    ("[network-traffic:dst_port = -1]", plan(k("network-traffic:dst_port", "#-1"), exact=True)),
    ("[file:name = '#tag']", plan(k("file:name", "##tag"), exact=True)),
    ("[file:name = '80']", plan(k("file:name", "80"), exact=True)),
    ("[file:name = '']", plan(k("file:name", ""), exact=True)),
    ("[x-custom:'odd name' = 'v']", plan(k("x-custom:'odd name'", "v"), exact=True)),
    ("[file:hashes.MD5 = 'ab']", plan(k("file:hashes.MD5", "ab"), exact=True)),
    (
        "[network-traffic:src_ref = 'ipv4-addr--1']",
        plan(k("network-traffic:src_ref", "ipv4-addr--1"), exact=True),
    ),
    ("[file:name == 'a']", plan(k("file:name", "a"), exact=True)),
    # IN and OR inside one bracket: exact
    (
        "[ipv4-addr:value IN ('198.51.100.1', '198.51.100.2')]",
        plan(
            k("ipv4-addr:value", "198.51.100.1"), k("ipv4-addr:value", "198.51.100.2"), exact=True
        ),
    ),
    (
        "[network-traffic:dst_port IN (80, 443)]",
        plan(
            k("network-traffic:dst_port", "#80"), k("network-traffic:dst_port", "#443"), exact=True
        ),
    ),
    (
        "[ipv4-addr:value = '198.51.100.1' OR ipv6-addr:value = '2001:db8::1']",
        plan(k("ipv4-addr:value", "198.51.100.1"), k("ipv6-addr:value", "2001:db8::1"), exact=True),
    ),
    (
        f"[file:hashes.'SHA-256' = '{H1}' OR file:hashes.MD5 = 'cd' OR file:name IN ('x', 'y')]",
        plan(
            k(SHA, H1),
            k("file:hashes.MD5", "cd"),
            k("file:name", "x"),
            k("file:name", "y"),
            exact=True,
        ),
    ),
    (
        "[(file:name = 'a' OR file:name = 'b') OR file:name = 'c']",
        plan(k("file:name", "a"), k("file:name", "b"), k("file:name", "c"), exact=True),
    ),
    ("[file:name IN ('a', 'a')]", plan(k("file:name", "a"), exact=True)),
    # OR of brackets of equalities: exact
    (
        "[ipv4-addr:value = '1.2.3.4'] OR [domain-name:value = 'a.example']",
        plan(k("ipv4-addr:value", "1.2.3.4"), k("domain-name:value", "a.example"), exact=True),
    ),
    # AND inside a bracket: the most selective conjunct, candidate only
    (
        f"[file:hashes.'SHA-256' = '{H1}' AND file:size > 10]",
        plan(k(SHA, H1), exact=False),
    ),
    (
        "[network-traffic:dst_port = 443 AND network-traffic:src_port = 5]",
        plan(k("network-traffic:dst_port", "#443"), exact=False),
    ),
    (
        f"[file:name = 'a.exe' AND file:hashes.'SHA-256' = '{H1}']",
        plan(k(SHA, H1), exact=False),
    ),
    (
        "[network-traffic:dst_port = 443 AND network-traffic:src_ref.value = '1.2.3.4']",
        plan(k("network-traffic:dst_port", "#443"), exact=False),
    ),
    (
        "[file:name IN ('a', 'b', 'c') AND file:name = 'a']",
        plan(k("file:name", "a"), exact=False),
    ),
    (
        "[file:name LIKE 'a%' AND file:name = 'abc']",
        plan(k("file:name", "abc"), exact=False),
    ),
    (
        "[(file:name = 'a' OR file:name = 'b') AND file:size < 5]",
        plan(k("file:name", "a"), k("file:name", "b"), exact=False),
    ),
    # OR with an unkeyed operand: nothing usable
    ("[file:name = 'a' OR file:size > 5]", NONE),
    ("[ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value ISSUBSET '10.0.0.0/8']", NONE),
    # observation AND / FOLLOWEDBY: the most selective operand
    (
        f"[network-traffic:dst_port = 80] AND [file:hashes.'SHA-256' = '{H2}']",
        plan(k(SHA, H2), exact=False),
    ),
    (
        "[url:value = 'http://a.example/'] FOLLOWEDBY [file:name = 'x']",
        plan(k("url:value", "http://a.example/"), exact=False),
    ),
    (
        "[file:name MATCHES '^a'] FOLLOWEDBY [domain-name:value = 'a.example']",
        plan(k("domain-name:value", "a.example"), exact=False),
    ),
    (
        "([file:name = 'a'] OR [file:name = 'b']) AND [file:size > 0]",
        plan(k("file:name", "a"), k("file:name", "b"), exact=False),
    ),
    # qualifiers keep keys, lose exactness
    ("[file:name = 'a'] REPEATS 2 TIMES", plan(k("file:name", "a"), exact=False)),
    ("[file:name = 'a'] WITHIN 5 SECONDS", plan(k("file:name", "a"), exact=False)),
    (
        "[file:name = 'a'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
        plan(k("file:name", "a"), exact=False),
    ),
    (
        "([file:name = 'a'] OR [file:name = 'b']) WITHIN 5 SECONDS",
        plan(k("file:name", "a"), k("file:name", "b"), exact=False),
    ),
    (
        "[file:name = 'a'] REPEATS 2 TIMES OR [file:name = 'b']",
        plan(k("file:name", "a"), k("file:name", "b"), exact=False),
    ),
    # no usable equality
    ("[file:name != 'a']", NONE),
    ("[file:name NOT = 'a']", NONE),
    ("[file:name NOT IN ('a', 'b')]", NONE),
    ("[file:size < 10]", NONE),
    ("[file:name LIKE 'a%']", NONE),
    ("[file:name MATCHES 'a']", NONE),
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", NONE),
    ("[EXISTS file:name]", NONE),
    ("[NOT EXISTS file:name]", NONE),
    ("[file:is_encrypted = true]", NONE),
    ("[file:size = 1.5]", NONE),
    ("[artifact:payload_bin = h'00ff']", NONE),
    ("[artifact:payload_bin = b'AAEC']", NONE),
    ("[file:ctime = t'2020-01-01T00:00:00Z']", NONE),
    ("[file:name IN ('a', true)]", NONE),
    ("[file:name IN ()]", NONE),
    # list steps and dereferences: not keyed in this step
    ("[network-traffic:protocols[*] = 'tcp']", NONE),
    ("[network-traffic:protocols[0] = 'tcp']", NONE),
    ("[network-traffic:src_ref.value = '1.2.3.4']", NONE),
    ("[email-message:to_refs[*].value = 'a@example.com']", NONE),
    ("[file:name = 'a'] AND [file:size > 1]", plan(k("file:name", "a"), exact=False)),
    ("[file:size > 1] FOLLOWEDBY [file:size < 1]", NONE),
]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t for t, _ in TABLE])
def test_plan_table(text: str, expected: KeyPlan) -> None:
    assert plan_keys(parse(text)) == expected


def test_table_is_large() -> None:
    assert len(TABLE) >= 40


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        ("ABC", "ABC"),
        ("#abc", "##abc"),
        ("", ""),
        (80, "#80"),
        (-3, "#-3"),
        (80.0, "#80"),
        (-0.0, "#0"),
        (1.5, None),
        (float("inf"), None),
        (float("nan"), None),
        (True, None),
        (False, None),
        (None, None),
        (["a"], None),
        ({"a": 1}, None),
        (b"a", None),
    ],
)
def test_normalise(value: object, expected: str | None) -> None:
    assert normalise("x:y", value) == expected


def test_normalise_keeps_strings_and_numbers_apart() -> None:
    assert normalise("x:y", "80") != normalise("x:y", 80)
    assert normalise("x:y", "#80") != normalise("x:y", 80)
    assert normalise("x:y", 2**53 + 1) != normalise("x:y", float(2**53))


def test_path_text() -> None:
    assert path_text(parse("[file:hashes.'SHA-256' = 'a']").root.comparison.path) == SHA  # type: ignore[union-attr]
    assert path_text(ObjectPath("x", ("a", 0))) is None
    assert path_text(ObjectPath("x", ("a_ref", "b"))) is None
    assert path_text(ObjectPath("x", ("a_ref",))) == "x:a_ref"
    assert path_text(ObjectPath("x", ("it's",))) == "x:'it\\'s'"


def test_sco_keys() -> None:
    sco = {
        "type": "file",
        "name": "a.exe",
        "size": 10,
        "hashes": {"SHA-256": H1, "MD5": "#x"},
        "parent_directory_ref": "directory--1",
        "x_ref": {"nested": "skipped"},
        "list": ["skipped"],
        "is_encrypted": True,
    }
    assert sco_keys(sco) == {
        Key("file:type", "file"),
        Key("file:name", "a.exe"),
        Key("file:size", "#10"),
        Key(SHA, H1),
        Key("file:hashes.MD5", "##x"),
        Key("file:parent_directory_ref", "directory--1"),
    }
    assert sco_keys({"name": "no type"}) == set()


# --- soundness property ---------------------------------------------------------------------

PATHS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ipv4-addr:value": ("ipv4-addr", ("value",)),
    "domain-name:value": ("domain-name", ("value",)),
    SHA: ("file", ("hashes", "SHA-256")),
    "file:name": ("file", ("name",)),
    "network-traffic:dst_port": ("network-traffic", ("dst_port",)),
    "url:value": ("url", ("value",)),
}
TYPES = sorted({t for t, _ in PATHS.values()})

#: a small pool, so that generated observations often hold the pattern's constants; it mixes
#: case ("a"/"A"), numbers as text ("80", "#80") and int/float (80, 80.0) on purpose
STRINGS = ["a", "A", "80", "#80"]
NUMBERS: list[Constant] = [IntConst(80), IntConst(443), FloatConst(80.0)]
CONSTANTS: list[Constant] = [StringConst(s) for s in STRINGS] + NUMBERS
TELEMETRY_VALUES: list[Any] = [*STRINGS, 80, 443, 80.0, 1.5, True, None]
#: equality operators are drawn more often, so that matches with keys are common
OPS = ["=", "=", "=", "IN", "IN", "!=", "LIKE", "MATCHES", "<"]
PATTERNS_FOR_TEXT = {"LIKE": ["a%", "_", "%", "A"], "MATCHES": ["^a", "8", "(?i)a", "."]}


@st.composite
def comparisons(draw: st.DrawFn) -> Comparison:
    path_name = draw(st.sampled_from(sorted(PATHS)))
    object_type, steps = PATHS[path_name]
    path = ObjectPath(object_type, steps)
    op = draw(st.sampled_from(OPS))
    negated = draw(st.booleans()) if draw(st.integers(0, 4)) == 0 else False
    if op == "IN":
        value: Any = SetConst(tuple(draw(st.lists(st.sampled_from(CONSTANTS), max_size=3))))
    elif op in PATTERNS_FOR_TEXT:
        value = StringConst(draw(st.sampled_from(PATTERNS_FOR_TEXT[op])))
    else:
        value = draw(st.sampled_from(CONSTANTS))
    return Comparison(path, op, value, negated)


comparison_nodes: st.SearchStrategy[ComparisonNode] = st.recursive(
    comparisons(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ComparisonAnd(tuple(ops))),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ComparisonOr(tuple(ops))),
    ),
    max_leaves=4,
)

qualifiers = st.one_of(
    st.builds(Within, st.sampled_from([1.0, 5.0, 100.0])),
    st.builds(Repeats, st.integers(1, 2)),
    st.builds(StartStop, st.just(0), st.sampled_from([2_000_000, 10_000_000])),
)


def _qualify(node: ObservationNode, qualifier: Any) -> ObservationNode:
    return node if qualifier is None else Qualified(node, qualifier)


observation_nodes: st.SearchStrategy[ObservationNode] = st.recursive(
    st.builds(ObservationExpr, comparison_nodes),
    lambda inner: st.one_of(
        st.builds(_qualify, inner, st.none() | qualifiers),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ObservationAnd(tuple(ops))),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: ObservationOr(tuple(ops))),
        st.lists(inner, min_size=2, max_size=2).map(lambda ops: ObservationFollowedBy(tuple(ops))),
    ),
    max_leaves=3,
)


@st.composite
def scos(draw: st.DrawFn, types: list[str], values: list[Any]) -> dict[str, Any]:
    object_type = draw(st.sampled_from(types))
    sco: dict[str, Any] = {"type": object_type}
    for _, steps in (v for v in PATHS.values() if v[0] == object_type):
        if draw(st.integers(0, 3)):
            value = draw(st.sampled_from(values))
            target = sco
            for step in steps[:-1]:
                target = target.setdefault(step, {})
            target[steps[-1]] = value
    return sco


@st.composite
def observation_lists(draw: st.DrawFn, root: ObservationNode | None = None) -> list[Observation]:
    """1-3 observations of 1-3 SCOs; biased towards the types and constants of ``root``."""
    types, values = list(TYPES), list(TELEMETRY_VALUES)
    if root is not None:
        wanted_types, wanted_values = _mentions(root)
        types += sorted(wanted_types) * 6
        values += wanted_values * 6
    result = []
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.integers(0, 5)) * 1_000_000
        last = first + draw(st.sampled_from([0, 1_000_000]))
        result.append(
            observation_from_scos(
                draw(st.lists(scos(types, values), min_size=1, max_size=3)),
                first_observed_us=first,
                last_observed_us=last,
                number_observed=draw(st.integers(1, 2)),
            )
        )
    return result


def _mentions(node: ObservationNode | ComparisonNode) -> tuple[set[str], list[Any]]:
    """Object types and constant values a pattern mentions (for biased observations)."""
    if isinstance(node, Qualified):
        return _mentions(node.expr)
    if isinstance(node, ObservationExpr):
        return _mentions(node.comparison)
    if isinstance(node, Comparison):
        members = node.value.values if isinstance(node.value, SetConst) else (node.value,)
        return {node.path.object_type}, [
            m.value for m in members if isinstance(m, StringConst | IntConst | FloatConst)
        ]
    types: set[str] = set()
    values: list[Any] = []
    for operand in getattr(node, "operands", ()):
        t, v = _mentions(operand)
        types |= t
        values += v
    return types, values


def _value_at(sco: dict[str, Any], path: str) -> Any:
    """Independent of ``sco_keys``: resolve a grammar path in an SCO."""
    object_type, steps = PATHS[path]
    if sco.get("type") != object_type:
        return None
    current: Any = sco
    for step in steps:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def _hit(observations: list[Observation], keys: frozenset[Key]) -> bool:
    for observation in observations:
        for sco in observation.objects.values():
            for key in keys:
                value = _value_at(dict(sco), key.path)
                if value is not None and normalise(key.path, value) == key.value:
                    return True
    return False


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data(), observation_nodes)
def test_keys_are_sound(data: st.DataObject, root: ObservationNode) -> None:
    observations = data.draw(observation_lists(root))
    pattern = Pattern(root)
    key_plan = plan_keys(pattern)
    assert all(key.path in PATHS for key in key_plan.keys)
    matched = compile_pattern(pattern).matches(observations)
    hit = _hit(observations, key_plan.keys)
    event(f"keys={bool(key_plan.keys)} exact={key_plan.exact} matched={matched} hit={hit}")
    if matched and key_plan.keys:
        assert hit, "a match that no key finds"
    if key_plan.exact:
        assert key_plan.keys
        assert hit == matched, "an exact plan disagrees with the evaluator"
    # sco_keys offers the same hits as the independent resolver
    offered = {key for o in observations for sco in o.objects.values() for key in sco_keys(sco)}
    assert bool(offered & key_plan.keys) == hit


@settings(max_examples=100, deadline=None)
@given(st.data(), comparison_nodes)
def test_single_bracket_exactness(data: st.DataObject, node: ComparisonNode) -> None:
    """Single brackets reach the exact case often; check it on its own."""
    pattern = Pattern(ObservationExpr(node))
    observations = data.draw(observation_lists(pattern.root))
    key_plan = plan_keys(pattern)
    matched = compile_pattern(pattern).matches(observations)
    hit = _hit(observations, key_plan.keys)
    event(f"keys={bool(key_plan.keys)} exact={key_plan.exact} matched={matched} hit={hit}")
    if matched and key_plan.keys:
        assert hit
    if key_plan.exact:
        assert hit == matched


# --- simple_plan: plan_keys(parse(text)) straight from the text -------------------------------

_simple_types = st.sampled_from(["ipv4-addr", "domain-name", "url", "file", "x-custom", "a-"])
_simple_paths = st.one_of(
    st.just("value"),
    st.sampled_from(["MD5", "SHA-1", "SHA-256", "SHA3-512", "x y.z", "a_b"]).map(
        lambda n: f"hashes.'{n}'"
    ),
)
_literal_texts = st.lists(
    st.sampled_from([*"ab#' \\\u00e9.:/-0", "\U0001f600", "\\'", "\\\\"]), max_size=12
).map("".join)


def _mutated(text: str, data: st.DataObject) -> str:
    """The text, or the text with one character inserted, dropped or replaced."""
    how = data.draw(st.sampled_from(["same", "insert", "drop", "replace"]))
    if how == "same" or not text:
        return text
    at = data.draw(st.integers(0, len(text) - 1))
    char = data.draw(st.sampled_from(list("[]'\\ =:.aZ0-(),IN")))
    if how == "insert":
        return text[:at] + char + text[at:]
    if how == "drop":
        return text[:at] + text[at + 1 :]
    return text[:at] + char + text[at + 1 :]


@settings(max_examples=600, deadline=None)
@given(st.data(), _simple_types, _simple_paths, _literal_texts, st.sampled_from(["=", "IN"]))
def test_simple_plan_equals_the_parsers_plan(
    data: st.DataObject, object_type: str, path: str, literal: str, op: str
) -> None:
    """Whatever ``simple_plan`` plans parses, to the same keys and exactness, and is not
    correlated; well-formed and broken texts alike (escapes, quotes, hyphens, IN, junk)."""
    from kizuna.hunt.correlate import correlates
    from kizuna.hunt.keys import simple_plan
    from kizuna.patterns.parser import parse_with_grammar

    escaped = literal if data.draw(st.booleans()) else literal.replace("'", "\\'")
    operand = f"'{escaped}'" if op == "=" else f"('{escaped}')"
    text = _mutated(f"[{object_type}:{path} {op} {operand}]", data)
    planned = simple_plan(text)
    if planned is None:
        return
    event("planned from the text")
    pattern = parse_with_grammar(text)  # raises if simple_plan planned an invalid pattern
    assert planned == plan_keys(pattern)
    assert planned.exact
    assert not correlates(pattern)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", Key("ipv4-addr:value", "198.51.100.7")),
        ("[file:hashes.'SHA-256' = 'ab']", Key("file:hashes.'SHA-256'", "ab")),
        ("[file:hashes.'MD5' = 'ab']", Key("file:hashes.MD5", "ab")),
        ("[url:value = 'it\\'s']", Key("url:value", "it's")),
        ("[domain-name:value = '#1']", Key("domain-name:value", "##1")),
    ],
)
def test_simple_plan_examples(text: str, key: Key) -> None:
    from kizuna.hunt.keys import simple_plan

    assert simple_plan(text) == KeyPlan(frozenset({key}), exact=True)


@pytest.mark.parametrize(
    "text",
    [
        "[ipv4-addr:value = '1.2.3.4'] AND [url:value = 'x']",
        "[ipv4-addr:value IN ('1.2.3.4')]",
        "[ipv4-addr:value = 1]",
        "[file:hashes.MD5 = 'ab']",
        "[file:name = 'a.exe']",
        "[ipv4-addr:value = '1.2.3.4'] REPEATS 2 TIMES",
        "[ipv4-addr:value = 'a'b']",
    ],
)
def test_simple_plan_leaves_the_rest_to_the_parser(text: str) -> None:
    from kizuna.hunt.keys import simple_plan

    assert simple_plan(text) is None
