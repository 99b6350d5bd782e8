"""Embedded hunt engine: the join + confirmation equals the exact evaluator on every pair."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.errors import InvalidInput
from kizuna.hunt.correlate import MAX_OCCURRENCES, correlates
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator, HuntReport, Match
from kizuna.patterns import compile_pattern, observation_from_scos

H1 = "aa" * 32
H2 = "bb" * 32
IPS = ("10.0.0.1", "10.0.0.2", "192.168.1.5")
DOMAINS = ("a.example", "b.example", "#80")
PORTS: tuple[Any, ...] = (80, 443, 80.0, 8080)
NAMES = ("#80", "80", "x.exe")


def oracle(
    indicators: Sequence[HuntIndicator], events: Sequence[HuntEvent]
) -> set[tuple[str, int]]:
    """Every valid pattern evaluated without keys: a single-event pattern on every event as a
    one-observation list; a cross-event pattern over *all* events in time order, taking
    disjoint satisfying bindings one after another (what the engine must equal, having
    looked only at candidate events)."""
    found: set[tuple[str, int]] = set()
    ordered = sorted(enumerate(events), key=lambda p: (p[1].timestamp_us or 0, p[0]))
    for indicator in indicators:
        try:
            compiled = compile_pattern(indicator.pattern)
        except InvalidInput:
            continue
        observations = [
            observation_from_scos(e.scos, first_observed_us=ts, last_observed_us=ts)
            for _, e in ordered
            for ts in (e.timestamp_us or 0,)
        ]
        if not correlates(compiled.pattern):
            for (_, event), obs in zip(ordered, observations, strict=True):
                if compiled.matches([obs]):
                    found.add((indicator.indicator_id, event.row))
            continue
        remaining = list(range(len(ordered)))
        for _ in range(MAX_OCCURRENCES):
            binding = compiled.first_binding([observations[i] for i in remaining])
            if binding is None:
                break
            used = {remaining[i] for i in binding}
            found.update((indicator.indicator_id, ordered[i][1].row) for i in used)
            remaining = [i for i in remaining if i not in used]
    return found


def pairs(report: HuntReport) -> set[tuple[str, int]]:
    return {(m.indicator_id, row) for m in report.matches for row in m.rows}


def hunt(
    indicators: Sequence[HuntIndicator], events: Sequence[HuntEvent], batch_size: int = 200_000
) -> HuntReport:
    return EmbeddedEngine().hunt(indicators, events, batch_size=batch_size)


def ind(i: int, pattern: str) -> HuntIndicator:
    return HuntIndicator(f"indicator--{i}", pattern)


def ev(row: int, *scos: Mapping[str, Any], ts: int | None = None) -> HuntEvent:
    return HuntEvent(row, ts, tuple(scos))


def ip(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "ipv4-addr", "value": value, **extra}


# --- table -------------------------------------------------------------------------------------

EVENTS = [
    ev(0, ip("10.0.0.1"), ts=1_000),
    ev(1, {"type": "domain-name", "value": "a.example"}, ts=2_000),
    ev(2, {"type": "network-traffic", "dst_port": 80, "protocols": ["tcp"]}),
    ev(3, {"type": "file", "hashes": {"SHA-256": H1}, "name": "#80", "size": 80}, ts=3_000),
    ev(4, ip("10.0.0.2"), {"type": "domain-name", "value": "b.example"}, ts=500),
    ev(5, {"type": "network-traffic", "dst_port": 80.0, "src_port": 443}),
    ev(6, ip("10.0.0.1", id="ipv4-addr--1"), ip("10.0.0.9", id="ipv4-addr--1")),
    ev(7),
]

TABLE: list[tuple[str, set[int]]] = [
    ("[ipv4-addr:value = '10.0.0.1']", {0}),
    ("[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]", {0, 4}),
    ("[domain-name:value = 'a.example' OR ipv4-addr:value = '10.0.0.2']", {1, 4}),
    ("[network-traffic:dst_port = 80]", {2, 5}),
    ("[network-traffic:dst_port = 80 AND network-traffic:src_port = 443]", {5}),
    ("[network-traffic:dst_port = 80 AND network-traffic:protocols[*] = 'tcp']", {2}),
    ("[file:hashes.'SHA-256' = '" + H1 + "']", {3}),
    ("[file:name = '#80']", {3}),
    ("[file:name = 80]", set()),
    ("[file:size = 80]", {3}),
    ("[ipv4-addr:value = '10.0.0.2'] AND [domain-name:value = 'b.example']", set()),
    ("[ipv4-addr:value = '10.0.0.2'] OR [domain-name:value = 'a.example']", {1, 4}),
    ("[ipv4-addr:value = '10.0.0.1'] REPEATS 2 TIMES", set()),
    ("[ipv4-addr:value = '10.0.0.1'] WITHIN 5 SECONDS", {0}),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/24']", {0, 4, 6}),
    ("[domain-name:value LIKE '%.example']", {1, 4}),
    ("[ipv4-addr:value MATCHES '^10\\\\.0\\\\.0\\\\.[12]$']", {0, 4}),
    ("[ipv4-addr:value != '10.0.0.1']", {4, 6}),
    # duplicate ids: the evaluator keeps the last SCO, so the first one's key must not count
    ("[ipv4-addr:value = '10.0.0.9']", {6}),
    ("[ipv4-addr:value IN ()]", set()),
    # across events (each event is one observation, in time order; no time counts as 0)
    ("[ipv4-addr:value = '10.0.0.1'] AND [domain-name:value = 'a.example']", {0, 1}),
    ("[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [domain-name:value = 'a.example']", {0, 1}),
    ("[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']", set()),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/24'] REPEATS 3 TIMES", {0, 4, 6}),
    ("[ipv4-addr:value ISSUBSET '10.0.0.0/24'] REPEATS 4 TIMES", set()),
    ("([network-traffic:dst_port = 80] REPEATS 2 TIMES) WITHIN 1 SECONDS", {2, 5}),
    ("([ipv4-addr:value = '10.0.0.1'] AND [file:size = 80]) WITHIN 1 SECONDS", {0, 3}),
    ("[ipv4-addr:value = '10.0.0.1'] AND [file:name = 'nothing.exe']", set()),
]


@pytest.mark.parametrize(("pattern", "rows"), TABLE)
def test_table(pattern: str, rows: set[int]) -> None:
    indicators = [ind(0, pattern)]
    report = hunt(indicators, EVENTS)
    assert pairs(report) == {("indicator--0", r) for r in rows}
    assert pairs(report) == oracle(indicators, EVENTS)


def test_table_all_together_and_batched() -> None:
    indicators = [ind(i, p) for i, (p, _) in enumerate(TABLE)]
    expected = {(f"indicator--{i}", r) for i, (_, rows) in enumerate(TABLE) for r in rows}
    for batch_size in (1, 3, 200_000):
        assert pairs(hunt(indicators, EVENTS, batch_size)) == expected


def test_match_aggregation() -> None:
    report = hunt([ind(0, "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]")], EVENTS, 2)
    assert report.matches == [
        Match("indicator--0", rows=(0, 4), first_seen_us=500, last_seen_us=1_000, count=2)
    ]
    assert report.events == len(EVENTS)


def test_report_counts() -> None:
    indicators = [
        ind(0, "[ipv4-addr:value = '10.0.0.1']"),  # keyed, exact
        ind(1, "[network-traffic:dst_port = 80 AND network-traffic:src_port = 443]"),  # keyed
        ind(2, "[domain-name:value LIKE '%.example']"),  # unkeyed
        ind(3, "[ipv4-addr:value = "),  # invalid
        ind(4, "[ipv4-addr:value ISSUBSET '10.0.0.0/8'] OR [ipv4-addr:value = '1.1.1.1']"),
    ]
    report = hunt(indicators, EVENTS)
    assert report.indicators == 5
    assert report.keyed_indicators == 2
    assert report.unkeyed_indicators == 2
    assert report.invalid_indicators == ["indicator--3"]
    assert report.unkeyed_evaluations == 2 * len(EVENTS)
    assert report.correlated_indicators == 0
    # candidates: indicator 0 on row 0 (row 6's 10.0.0.1 SCO is replaced by a later SCO with
    # the same id); indicator 1 on rows 2 and 5 (its dst_port 80 key), confirmed on 5 only
    assert report.candidate_pairs == 3
    assert report.confirmed_pairs == 2
    assert report.exact_seconds >= 0.0
    assert pairs(report) == oracle(indicators, EVENTS)


def test_empty_inputs() -> None:
    report = hunt([], EVENTS)
    assert report.matches == []
    assert report.indicators == 0
    report = hunt([ind(0, "[ipv4-addr:value = '10.0.0.1']")], [])
    assert report.matches == []
    assert report.events == 0
    assert report.candidate_pairs == 0


def test_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        hunt([], EVENTS, batch_size=0)
    bad = HuntEvent(0, None, ("not an SCO",))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        hunt([ind(0, "[ipv4-addr:value = '10.0.0.1']")], [bad])


# --- differential property --------------------------------------------------------------------


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value)


def _comparisons(kind: str) -> st.SearchStrategy[str]:
    if kind == "ipv4-addr":
        one = st.sampled_from(IPS).map(_quote)
        return st.one_of(
            one.map(lambda v: f"ipv4-addr:value = {v}"),
            st.lists(one, max_size=3).map(lambda vs: f"ipv4-addr:value IN ({', '.join(vs)})"),
            one.map(lambda v: f"ipv4-addr:value != {v}"),
            st.sampled_from(("10.0.0.0/24", "192.168.0.0/16")).map(
                lambda c: f"ipv4-addr:value ISSUBSET '{c}'"
            ),
            st.just("ipv4-addr:value LIKE '10.%'"),
            st.just("ipv4-addr:value MATCHES '^192'"),
        )
    if kind == "domain-name":
        one = st.sampled_from(DOMAINS).map(_quote)
        return st.one_of(
            one.map(lambda v: f"domain-name:value = {v}"),
            st.lists(one, min_size=1, max_size=2).map(
                lambda vs: f"domain-name:value IN ({', '.join(vs)})"
            ),
            st.just("domain-name:value LIKE 'a%'"),
        )
    if kind == "network-traffic":
        port = st.sampled_from(PORTS).map(_quote)
        return st.one_of(
            port.map(lambda v: f"network-traffic:dst_port = {v}"),
            port.map(lambda v: f"network-traffic:src_port = {v}"),
            st.lists(port, min_size=1, max_size=2).map(
                lambda vs: f"network-traffic:dst_port IN ({', '.join(vs)})"
            ),
            st.just("network-traffic:dst_port > 100"),
            st.just("network-traffic:protocols[*] = 'tcp'"),
        )
    return st.one_of(
        st.sampled_from((H1, H2)).map(lambda h: f"file:hashes.'SHA-256' = '{h}'"),
        st.sampled_from(NAMES).map(lambda n: f"file:name = {_quote(n)}"),
        st.sampled_from((80, 443, "80")).map(lambda n: f"file:size = {_quote(n)}"),
        st.just("file:name LIKE '%.exe'"),
    )


KINDS = ("ipv4-addr", "domain-name", "network-traffic", "file")


@st.composite
def _bracket(draw: st.DrawFn) -> str:
    def group() -> str:
        kind = draw(st.sampled_from(KINDS))  # AND needs one object type
        parts = draw(st.lists(_comparisons(kind), min_size=1, max_size=2))
        return " AND ".join(parts)

    groups = [group() for _ in range(draw(st.integers(1, 2)))]
    return "[" + " OR ".join(groups) + "]"


@st.composite
def patterns(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # plain equality / IN: exact plans, confirmed without evaluation
        kind = draw(st.sampled_from(KINDS))
        return "[" + draw(_comparisons(kind).filter(lambda c: " = " in c or " IN " in c)) + "]"
    brackets = draw(st.lists(_bracket(), min_size=1, max_size=2))
    op = draw(st.sampled_from((" OR ", " AND ", " FOLLOWEDBY ")))
    text = op.join(brackets)
    qualifier = draw(st.sampled_from(("", " WITHIN 5 SECONDS", " REPEATS 2 TIMES", "")))
    if qualifier:
        text = f"({text}){qualifier}"
    return text


def _sco(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    sco: dict[str, Any] = {"type": kind}
    if kind == "ipv4-addr":
        sco["value"] = draw(st.sampled_from(IPS))
    elif kind == "domain-name":
        sco["value"] = draw(st.sampled_from(DOMAINS))
    elif kind == "network-traffic":
        if draw(st.booleans()):
            sco["dst_port"] = draw(st.sampled_from(PORTS))
        if draw(st.booleans()):
            sco["src_port"] = draw(st.sampled_from(PORTS))
        if draw(st.booleans()):
            sco["protocols"] = draw(st.lists(st.sampled_from(("tcp", "udp")), max_size=2))
    else:
        sco["hashes"] = {"SHA-256": draw(st.sampled_from((H1, H2)))}
        sco["name"] = draw(st.sampled_from(NAMES))
        sco["size"] = draw(st.sampled_from((80, 443, "80", 80.0)))
    sco_id = draw(st.sampled_from((None, None, "x--1")))
    if sco_id is not None:  # ids repeat within an event: the evaluator keeps the last SCO
        sco["id"] = sco_id
    return sco


@st.composite
def event_lists(draw: st.DrawFn) -> list[HuntEvent]:
    count = draw(st.integers(0, 12))
    out = []
    for row in range(count):
        scos = tuple(_sco(draw) for _ in range(draw(st.integers(0, 3))))
        ts = draw(st.one_of(st.none(), st.integers(0, 10_000_000)))
        out.append(HuntEvent(row, ts, scos))
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    texts=st.lists(patterns(), min_size=1, max_size=6),
    events=event_lists(),
    batch_size=st.sampled_from((1, 4, 200_000)),
)
def test_engine_equals_exact_evaluator(
    texts: list[str], events: list[HuntEvent], batch_size: int
) -> None:
    indicators = [ind(i, t) for i, t in enumerate(texts)]
    report = hunt(indicators, events, batch_size)
    assert pairs(report) == oracle(indicators, events)
    assert report.keyed_indicators + report.unkeyed_indicators == len(indicators)
    assert report.confirmed_pairs <= report.candidate_pairs + report.unkeyed_evaluations
    for match in report.matches:
        assert match.count == len(match.rows) == len(set(match.rows))
        assert list(match.rows) == sorted(match.rows)
