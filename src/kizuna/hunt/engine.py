"""Embedded hunt engine: match indicators (STIX patterns) against telemetry in-process.

:class:`EmbeddedEngine` joins a key table derived from the indicators
(:func:`kizuna.hunt.keys.plan_keys`) against the keys every event offers
(:func:`kizuna.hunt.keys.sco_keys`) inside an in-memory DuckDB database, then confirms the
candidate (indicator, event) pairs with the exact evaluator
(:func:`kizuna.patterns.compile_pattern`) unless the key plan is ``exact``:

1. parse and compile every indicator once; invalid patterns are skipped and listed in
   :attr:`HuntReport.invalid_indicators`;
2. key table ``(ind, path, value)``: one row per key of every keyed indicator; paths are
   interned to small integers;
3. events are streamed in batches of ``batch_size``; per batch the event keys
   ``(pos, path, value)`` (only keys whose path occurs in the key table) are handed to DuckDB as
   three Python lists bound to one query and ``unnest``-ed there, joined on ``(path, value)``
   and reduced to ``DISTINCT (ind, pos)``;
4. a candidate of an ``exact`` plan is a match; any other candidate is confirmed by evaluating
   the pattern on ``[observation_from_scos(event.scos, first_observed_us=ts or 0,
   last_observed_us=ts or 0)]``;
5. indicators without keys (``LIKE``, ``MATCHES``, ``ISSUBSET``, ``NOT``, ranges, paths through
   lists or ``*_ref``, ...) are evaluated by the exact evaluator on every event; their cost is
   reported in :attr:`HuntReport.exact_seconds` and :attr:`HuntReport.unkeyed_indicators`.

The result equals evaluating every pattern on every event as a one-observation list (the
property ``tests/hunt/test_engine.py`` checks).

**Across events:** a pattern whose bindings need several observations (observation-level
``AND`` / ``FOLLOWEDBY``, ``REPEATS`` n > 1) is correlated over the hunt's events together
(:mod:`kizuna.hunt.correlate`): its candidates come from the keys of *every* observation
expression (:func:`~kizuna.hunt.keys.plan_leaf_keys`), events satisfying one of them are kept,
and at the end disjoint satisfying bindings are searched for in time order; each event of a
binding is a matched row.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import duckdb

from kizuna.errors import InvalidInput
from kizuna.hunt.correlate import Correlation, correlates
from kizuna.hunt.keys import KeyPlan, plan_keys, plan_leaf_keys, sco_keys
from kizuna.patterns import (
    CompiledPattern,
    Observation,
    PatternError,
    compile_pattern,
    observation_from_scos,
)

__all__ = ["EmbeddedEngine", "HuntEvent", "HuntIndicator", "HuntReport", "Match"]


class HuntIndicator(NamedTuple):
    """An indicator to hunt for: its id and its STIX pattern text. What the store's hunt
    index (:mod:`kizuna.hunt.index`) already knows of the pattern, so that a hunt need not
    work it out again (``None``: worked out from the text): ``key``, its
    :func:`~kizuna.hunt.keys.simple_key`; ``plan``, the key plan of a pattern that does not
    correlate across events. (A named tuple: a hunt makes 100,000 of them, and a frozen
    dataclass costs three times as much to build.)"""

    indicator_id: str
    pattern: str
    key: tuple[str, str] | None = None
    plan: KeyPlan | None = None


@dataclass(frozen=True, slots=True)
class HuntEvent:
    """One telemetry event: its row number, its time (µs since the epoch) and its STIX SCOs."""

    row: int
    timestamp_us: int | None
    scos: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Match:
    """The events one indicator matched: their rows in input order, the earliest and latest
    event timestamps among them (``None`` if none had one), and how many events matched."""

    indicator_id: str
    rows: tuple[int, ...]
    first_seen_us: int | None
    last_seen_us: int | None
    count: int


@dataclass
class HuntReport:
    """What a hunt found and what it cost.

    ``matches``: one :class:`Match` per indicator that matched, in indicator order.
    ``indicators``: every indicator given (valid or not). ``keyed_indicators`` have a non-empty
    key plan; ``unkeyed_indicators`` are valid but have none and ran on every event.
    ``candidate_pairs``: distinct (indicator, event) pairs the join produced;
    ``confirmed_pairs``: of those, the ones that matched (exact plans without evaluation).
    ``exact_seconds``: time spent in the exact evaluator (confirmation and unkeyed scans).
    ``invalid_indicators``: ids of indicators whose pattern did not parse (skipped).
    ``events``: events read. ``correlated_indicators``: valid indicators correlated across
    events (see the module docstring); ``too_costly``: indicator id -> why its correlation
    stopped early (its matches so far are kept).
    """

    matches: list[Match]
    indicators: int
    keyed_indicators: int
    unkeyed_indicators: int
    candidate_pairs: int
    confirmed_pairs: int
    exact_seconds: float
    invalid_indicators: list[str] = field(default_factory=list)
    events: int = 0
    unkeyed_evaluations: int = 0
    correlated_indicators: int = 0
    too_costly: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Prepared:
    indicator_id: str
    compiled: CompiledPattern
    exact: bool
    correlation: Correlation[HuntEvent] | None = None
    rows: list[int] = field(default_factory=list)
    first_seen_us: int | None = None
    last_seen_us: int | None = None

    def add(self, event: HuntEvent) -> None:
        self.rows.append(event.row)
        ts = event.timestamp_us
        if ts is not None:
            if self.first_seen_us is None or ts < self.first_seen_us:
                self.first_seen_us = ts
            if self.last_seen_us is None or ts > self.last_seen_us:
                self.last_seen_us = ts


_JOIN_SQL = """
WITH ev AS (
    SELECT unnest($pos::INTEGER[]) AS pos,
           unnest($path::INTEGER[]) AS path,
           unnest($value::VARCHAR[]) AS value
)
SELECT DISTINCT k.ind, ev.pos
FROM ev JOIN hunt_keys AS k ON k.path = ev.path AND k.value = ev.value
"""


def _observed_scos(scos: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """The SCOs :func:`observation_from_scos` keeps (a later SCO with the same ``id`` replaces
    an earlier one), so a key is only offered by an SCO the evaluator will see."""
    if not any(isinstance(sco, Mapping) and isinstance(sco.get("id"), str) for sco in scos):
        for sco in scos:
            if not isinstance(sco, Mapping):
                raise InvalidInput(f"an SCO must be a JSON object, not {type(sco).__name__}")
            yield sco
        return
    objects: dict[str, Mapping[str, Any]] = {}
    for index, sco in enumerate(scos):
        if not isinstance(sco, Mapping):
            raise InvalidInput(f"an SCO must be a JSON object, not {type(sco).__name__}")
        key = sco.get("id")
        objects[key if isinstance(key, str) else str(index)] = sco
    yield from objects.values()


def _batches(events: Iterable[HuntEvent], size: int) -> Iterator[list[HuntEvent]]:
    batch: list[HuntEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _correlate(item: _Prepared, report: HuntReport) -> None:
    """Search the events ``item`` kept for occurrences; their events become its rows."""
    assert item.correlation is not None
    started = time.perf_counter()
    events = {e.row: e for group in item.correlation.occurrences() for e in group}
    for row in sorted(events):
        item.add(events[row])
    report.confirmed_pairs += len(events)
    if item.correlation.too_costly is not None:
        report.too_costly[item.indicator_id] = item.correlation.too_costly
    report.exact_seconds += time.perf_counter() - started


class EmbeddedEngine:
    """Hunt with an in-process DuckDB database (``:memory:``, one per :meth:`hunt` call).

    ``threads``: DuckDB worker threads (``None``: DuckDB's default).
    """

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads

    def hunt(
        self,
        indicators: Sequence[HuntIndicator],
        events: Iterable[HuntEvent],
        *,
        batch_size: int = 200_000,
    ) -> HuntReport:
        """Match every indicator against every event (one event = one observation)."""
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be >= 1, not {batch_size}")
        prepared: list[_Prepared] = []
        invalid: list[str] = []
        path_ids: dict[str, int] = {}
        key_ind: list[int] = []
        key_path: list[int] = []
        key_value: list[str] = []
        unkeyed: list[_Prepared] = []
        for indicator in indicators:
            try:
                compiled = compile_pattern(indicator.pattern)
            except PatternError:
                invalid.append(indicator.indicator_id)
                continue
            item = _Prepared(indicator.indicator_id, compiled, exact=False)
            if correlates(compiled.pattern):
                item.correlation = Correlation(compiled)
                plan = plan_leaf_keys(compiled.pattern)
            else:
                plan = plan_keys(compiled.pattern)
                item.exact = plan.exact
            index = len(prepared)
            prepared.append(item)
            if not plan.keys:
                unkeyed.append(item)
                continue
            for key in sorted(plan.keys, key=lambda k: (k.path, k.value)):
                key_ind.append(index)
                key_path.append(path_ids.setdefault(key.path, len(path_ids)))
                key_value.append(key.value)

        report = HuntReport(
            matches=[],
            indicators=len(indicators),
            keyed_indicators=len(prepared) - len(unkeyed),
            unkeyed_indicators=len(unkeyed),
            candidate_pairs=0,
            confirmed_pairs=0,
            exact_seconds=0.0,
            invalid_indicators=invalid,
        )
        config: dict[str, str | bool | int | float | list[str]] = {}
        if self._threads is not None:
            config["threads"] = self._threads
        con = duckdb.connect(":memory:", config=config)
        con.execute("SET enable_progress_bar = false")
        try:
            con.execute(
                "CREATE TEMP TABLE hunt_keys AS SELECT unnest($ind::INTEGER[]) AS ind, "
                "unnest($path::INTEGER[]) AS path, unnest($value::VARCHAR[]) AS value",
                {"ind": key_ind, "path": key_path, "value": key_value},
            )
            for batch in _batches(events, batch_size):
                report.events += len(batch)
                self._batch(con, batch, prepared, unkeyed, path_ids, report)
        finally:
            con.close()

        for item in prepared:
            if item.correlation is not None:
                report.correlated_indicators += 1
                _correlate(item, report)
            if item.rows:
                report.matches.append(
                    Match(
                        indicator_id=item.indicator_id,
                        rows=tuple(item.rows),
                        first_seen_us=item.first_seen_us,
                        last_seen_us=item.last_seen_us,
                        count=len(item.rows),
                    )
                )
        return report

    @staticmethod
    def _batch(
        con: duckdb.DuckDBPyConnection,
        batch: list[HuntEvent],
        prepared: list[_Prepared],
        unkeyed: list[_Prepared],
        path_ids: dict[str, int],
        report: HuntReport,
    ) -> None:
        # event keys -> three parallel lists (only paths some indicator keys on)
        ev_pos: list[int] = []
        ev_path: list[int] = []
        ev_value: list[str] = []
        seen: set[tuple[int, str]] = set()
        for pos, event in enumerate(batch):
            seen.clear()
            for sco in _observed_scos(event.scos):
                for key in sco_keys(sco):
                    path = path_ids.get(key.path)
                    if path is not None and (path, key.value) not in seen:
                        seen.add((path, key.value))
                        ev_pos.append(pos)
                        ev_path.append(path)
                        ev_value.append(key.value)

        # per indicator, the batch positions it matched (sorted later for input order)
        found: dict[int, set[int]] = {}
        observations: dict[int, list[Observation]] = {}

        def observation(pos: int) -> list[Observation]:
            obs = observations.get(pos)
            if obs is None:
                event = batch[pos]
                ts = event.timestamp_us or 0
                obs = [observation_from_scos(event.scos, first_observed_us=ts, last_observed_us=ts)]
                observations[pos] = obs
            return obs

        if ev_pos:
            pairs = con.execute(
                _JOIN_SQL, {"pos": ev_pos, "path": ev_path, "value": ev_value}
            ).fetchall()
            report.candidate_pairs += len(pairs)
            started = time.perf_counter()
            for ind, pos in pairs:
                item = prepared[ind]
                if item.correlation is not None:
                    item.correlation.offer(batch[pos], observation(pos)[0], batch[pos].row)
                elif item.exact or item.compiled.matches(observation(pos)):
                    found.setdefault(ind, set()).add(pos)
                    report.confirmed_pairs += 1
            report.exact_seconds += time.perf_counter() - started

        if unkeyed:
            started = time.perf_counter()
            index_of = {id(item): i for i, item in enumerate(prepared)}
            for pos in range(len(batch)):
                obs = observation(pos)
                for item in unkeyed:
                    if item.correlation is not None:
                        item.correlation.offer(batch[pos], obs[0], batch[pos].row)
                    elif item.compiled.matches(obs):
                        found.setdefault(index_of[id(item)], set()).add(pos)
            report.unkeyed_evaluations += len(batch) * len(unkeyed)
            report.exact_seconds += time.perf_counter() - started

        for ind in sorted(found):
            item = prepared[ind]
            for pos in sorted(found[ind]):
                item.add(batch[pos])
