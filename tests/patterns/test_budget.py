"""A pathological pattern gets a clear error instead of running without end."""

from __future__ import annotations

import time

import pytest

from kizuna.patterns import compile_pattern, observation_from_scos
from kizuna.patterns import evaluate as evaluate_module
from kizuna.patterns.evaluate import EvaluationTooCostly


def _observations(count: int) -> list[evaluate_module.Observation]:
    return [
        observation_from_scos(
            [{"type": "ipv4-addr", "value": "203.0.113.9"}],
            first_observed_us=i * 100_000,
            last_observed_us=i * 100_000,
        )
        for i in range(count)
    ]


def test_combinatorial_search_is_cut_off_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(evaluate_module, "STEP_BUDGET", 5_000)
    pattern = compile_pattern(
        "([ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.9'])"
        " REPEATS 12 TIMES WITHIN 1 SECONDS"
    )
    started = time.monotonic()
    with pytest.raises(EvaluationTooCostly, match="narrow it with WITHIN"):
        pattern.matches(_observations(60))
    assert time.monotonic() - started < 30


def test_ordinary_patterns_stay_well_inside_the_budget() -> None:
    pattern = compile_pattern("[ipv4-addr:value = '203.0.113.9'] REPEATS 5 TIMES WITHIN 2 SECONDS")
    assert pattern.matches(_observations(100))
