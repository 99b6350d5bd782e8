"""Correlation across events: which patterns need it, occurrences, limits and key plans."""

from __future__ import annotations

import pytest

from kizuna.hunt.correlate import Correlation, correlates
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator
from kizuna.hunt.keys import Key, plan_leaf_keys
from kizuna.patterns import Observation, compile_pattern, observation_from_scos, parse

A = "[ipv4-addr:value = '10.0.0.1']"
B = "[domain-name:value = 'evil.example']"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (A, False),
        (f"{A} OR {B}", False),
        (f"{A} WITHIN 5 SECONDS", False),
        (f"{A} REPEATS 1 TIMES", False),
        (f"{A} AND {B}", True),
        (f"{A} FOLLOWEDBY {B}", True),
        (f"{A} REPEATS 2 TIMES", True),
        (f"({A} OR ({A} AND {B})) WITHIN 5 SECONDS", True),
    ],
)
def test_correlates(pattern: str, expected: bool) -> None:
    assert correlates(parse(pattern)) is expected


def test_leaf_plan_covers_every_expression() -> None:
    plan = plan_leaf_keys(parse(f"{A} FOLLOWEDBY {B}"))
    assert plan.keys == {
        Key("ipv4-addr:value", "10.0.0.1"),
        Key("domain-name:value", "evil.example"),
    }
    assert plan.exact is False
    # one expression without keys: every event must be looked at
    assert not plan_leaf_keys(parse(f"{A} AND [domain-name:value LIKE '%.example']")).keys


def _obs(value: str, ts: int) -> Observation:
    scos = ({"type": "ipv4-addr", "value": value},)
    return observation_from_scos(scos, first_observed_us=ts, last_observed_us=ts)


def test_occurrences_are_disjoint_and_in_time_order() -> None:
    c: Correlation[str] = Correlation(compile_pattern(f"{A} REPEATS 2 TIMES"))
    for n, ts in enumerate((50, 10, 30, 20, 40)):
        assert c.offer(f"e{ts}", _obs("10.0.0.1", ts), n)
    assert not c.offer("other", _obs("10.0.0.2", 1), 9)
    assert c.occurrences() == [["e10", "e20"], ["e30", "e40"]]  # e50 is left over
    assert c.too_costly is None


def test_limits_are_reported() -> None:
    c: Correlation[int] = Correlation(compile_pattern(f"{A} REPEATS 2 TIMES"), max_events=3)
    for n in range(4):
        c.offer(n, _obs("10.0.0.1", n), n)
    assert c.occurrences() == []
    assert c.too_costly is not None
    assert "more than 3 events" in c.too_costly

    capped: Correlation[int] = Correlation(compile_pattern(A + " AND " + A), max_occurrences=2)
    for n in range(10):
        capped.offer(n, _obs("10.0.0.1", n), n)
    assert capped.occurrences() == [[0, 1], [2, 3]]


def test_engine_correlates_and_reports_too_costly() -> None:
    events = [
        HuntEvent(0, 1_000_000, ({"type": "domain-name", "value": "evil.example"},)),
        HuntEvent(1, 2_000_000, ({"type": "ipv4-addr", "value": "10.0.0.1"},)),
        HuntEvent(2, 9_000_000, ({"type": "domain-name", "value": "evil.example"},)),
    ]
    indicators = [
        HuntIndicator("indicator--1", f"({A} FOLLOWEDBY {B}) WITHIN 10 SECONDS"),
        HuntIndicator("indicator--2", f"({A} FOLLOWEDBY {B}) WITHIN 5 SECONDS"),
        HuntIndicator("indicator--3", f"{B} FOLLOWEDBY {A}"),
    ]
    report = EmbeddedEngine().hunt(indicators, events)
    rows = {m.indicator_id: m.rows for m in report.matches}
    assert rows == {"indicator--1": (1, 2), "indicator--3": (0, 1)}
    assert report.correlated_indicators == 3
    first = next(m for m in report.matches if m.indicator_id == "indicator--1")
    assert (first.first_seen_us, first.last_seen_us, first.count) == (2_000_000, 9_000_000, 2)
    assert report.too_costly == {}
