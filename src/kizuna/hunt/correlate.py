"""Correlation across events: patterns such as ``[a] FOLLOWEDBY [b] WITHIN 300 SECONDS``,
``[a] AND [b]`` over two events, or ``[a] REPEATS 5 TIMES``.

A hunt treats every event as one observation (``number_observed = 1``). A pattern whose
binding needs several observations (an observation-level ``AND`` or ``FOLLOWEDBY``, or
``REPEATS`` more than once, anywhere in it) cannot match one event alone; it is evaluated over
the hunt's events together:

1. while the events stream past, an event is kept only when it satisfies one of the pattern's
   observation expressions (:meth:`CompiledPattern.relevant`); no other event can be part of
   a binding, so dropping them changes nothing. Candidates come from the union of every
   expression's keys (:func:`kizuna.hunt.keys.plan_leaf_keys`), or from a scan when some
   expression has none;
2. at the end the kept events are ordered by time (events without a time count as the epoch,
   then input order), and the evaluator finds satisfying bindings greedily: the first binding,
   then the first over the events it did not use, and so on. Each binding is one occurrence;
   the match counts the events of all occurrences.

Limits that keep a hunt bounded, reported rather than silently applied: at most
:data:`MAX_EVENTS` kept events per pattern (beyond that the pattern is too broad to correlate
and is reported as too costly), at most :data:`MAX_OCCURRENCES` occurrences, and the
evaluator's own step budget per search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kizuna.patterns import CompiledPattern, Observation
from kizuna.patterns.ast import (
    ObservationAnd,
    ObservationExpr,
    ObservationFollowedBy,
    ObservationNode,
    Pattern,
    Qualified,
    Repeats,
)
from kizuna.patterns.evaluate import EvaluationTooCostly

__all__ = ["MAX_EVENTS", "MAX_OCCURRENCES", "Correlation", "correlates"]

#: events one pattern may keep for correlation before it is reported as too costly
MAX_EVENTS = 100_000
#: occurrences (disjoint bindings) looked for per pattern and hunt
MAX_OCCURRENCES = 100

T = TypeVar("T")


def _needs_several(node: ObservationNode) -> bool:
    if isinstance(node, ObservationExpr):
        return False
    if isinstance(node, ObservationAnd | ObservationFollowedBy):
        return True
    if isinstance(node, Qualified):
        q = node.qualifier
        return (isinstance(q, Repeats) and q.times > 1) or _needs_several(node.expr)
    return any(_needs_several(o) for o in node.operands)


def correlates(pattern: Pattern) -> bool:
    """Whether some binding of ``pattern`` needs more than one observation, so the pattern
    must be evaluated across events rather than on each event alone. ``[a] OR [b]`` and
    ``[a] WITHIN 5 SECONDS`` do not; ``[a] AND [b]``, ``FOLLOWEDBY`` and ``REPEATS 2 TIMES``
    do."""
    return _needs_several(pattern.root)


@dataclass(slots=True)
class _Kept(Generic[T]):
    order: tuple[int, int]
    item: T
    observation: Observation


@dataclass
class Correlation(Generic[T]):
    """The events one cross-event pattern keeps, and the occurrences found among them.

    ``offer`` each event (any value identifying it: a row, a ``(file, row)`` pair, an event
    object) with its observation; ``occurrences`` then returns the items of each disjoint
    satisfying binding. ``too_costly`` says why the search stopped early, if it did.
    """

    compiled: CompiledPattern
    max_events: int = MAX_EVENTS
    max_occurrences: int = MAX_OCCURRENCES
    too_costly: str | None = None
    _kept: list[_Kept[T]] = field(default_factory=list)

    def offer(self, item: T, observation: Observation, position: int) -> bool:
        """Keep ``item`` if its observation can take part in a binding; ``True`` if kept.
        ``position`` (the event's place in the input) orders events of the same time, so the
        result does not depend on the order in which candidates are offered."""
        if self.too_costly is not None or not self.compiled.relevant(observation):
            return False
        if len(self._kept) >= self.max_events:
            self.too_costly = (
                f"more than {self.max_events:,} events satisfy one of its observation "
                "expressions; narrow the pattern to correlate it"
            )
            self._kept.clear()
            return False
        order = (observation.first_observed_us, position)
        self._kept.append(_Kept(order, item, observation))
        return True

    def occurrences(self) -> list[list[T]]:
        """Disjoint satisfying bindings, greedily: each search runs over the kept events the
        earlier bindings did not use, in time order. Items of one binding are in time order."""
        if self.too_costly is not None:
            return []
        remaining = sorted(self._kept, key=lambda k: k.order)
        found: list[list[T]] = []
        while remaining and len(found) < self.max_occurrences:
            try:
                binding = self.compiled.first_binding([k.observation for k in remaining])
            except EvaluationTooCostly as exc:
                self.too_costly = str(exc)
                break
            if binding is None:
                break
            used = set(binding)
            found.append([remaining[i].item for i in sorted(used)])
            remaining = [k for i, k in enumerate(remaining) if i not in used]
        return found
