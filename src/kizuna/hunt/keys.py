"""Key tables for hunting: which (path, value) pairs a pattern's matches must contain.

:func:`plan_keys` derives, from a parsed pattern, a set of :class:`Key` such that

* **soundness**: whenever the pattern matches some observations and the set is non-empty,
  at least one SCO of those observations has, at some key's path, a value ``v`` with
  ``normalise(key.path, v) == key.value``; so joining telemetry against the keys finds every
  candidate, and only candidates need the exact evaluator;
* **exactness** (``KeyPlan.exact``): for patterns that are only equalities joined by ``OR``
  (inside one bracket, or ``OR`` of such brackets), no qualifier, no ``NOT``: a key hit on an
  SCO that is a root of its observation proves the match by itself.

Derivation per node (``None`` below means "no keys": the node cannot be covered):

* ``path = constant`` (not negated) with a string, int or integral float constant: one key;
  ``path IN (...)`` (not negated): one key per member, ``None`` if any member has no key
  (an empty set never matches: zero keys, but covered);
* ``ComparisonAnd`` / ``ObservationAnd`` / ``ObservationFollowedBy``: the keys of the most
  selective operand that has keys (every operand must hold, so one is enough);
* ``ComparisonOr`` / ``ObservationOr``: the union of the operands' keys, ``None`` unless every
  operand has keys;
* ``Qualified``: the keys of its expression (qualifiers only restrict), never exact;
* anything else has no keys: ``NOT``, ``!=``, ``<``..``>=``, ``LIKE``, ``MATCHES``,
  ``ISSUBSET``/``ISSUPERSET``, ``EXISTS``, booleans, hex/binary/timestamp/non-integral float
  constants, and every path with a list step (``[*]``, ``[n]``) or a ``*_ref`` dereference
  (a later step after a ``*_ref`` name); those need a join over referenced objects, a later step.

Normalisation follows the evaluator exactly. The evaluator compares strings by code point,
case-sensitively, for every path (hashes and domain names included), so strings are kept
as they are: lowering hashes would create keys that the evaluator then rejects, and more
importantly the ``exact`` promise would break. Numbers are compared numerically and never
equal strings or booleans, so they are tagged: ``int`` and integral ``float`` become ``"#"``
followed by decimal digits (``80`` and ``80.0`` both give ``"#80"``), and a string that
starts with ``"#"`` gets one more ``"#"`` in front, so no string ever meets a number.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kizuna.patterns.ast import (
    Comparison,
    ComparisonAnd,
    ComparisonNode,
    ComparisonOr,
    Constant,
    FloatConst,
    IntConst,
    ObjectPath,
    ObservationAnd,
    ObservationExpr,
    ObservationFollowedBy,
    ObservationNode,
    ObservationOr,
    Pattern,
    Qualified,
    SetConst,
    StringConst,
)

__all__ = [
    "Key",
    "KeyPlan",
    "normalise",
    "path_text",
    "plan_keys",
    "plan_leaf_keys",
    "raw_texts",
    "sco_keys",
    "simple_key",
    "simple_plan",
]

_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_NUMBER_TAG = "#"
#: observable types whose ``value`` is itself the indicator (selective keys)
_VALUE_TYPES = frozenset({"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "mac-addr"})


@dataclass(frozen=True, slots=True)
class Key:
    """One row of the key table: canonical path text and normalised value text."""

    path: str
    value: str


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """``keys``: empty when the pattern has no usable equality part (scan everything).
    ``exact``: a key hit alone proves a match; otherwise a hit is a candidate to confirm with
    the evaluator."""

    keys: frozenset[Key]
    exact: bool


# --- paths and values ------------------------------------------------------------------------


def _step_text(name: str) -> str:
    if _IDENT_RE.match(name):
        return name
    return "'" + name.replace("\\", "\\\\").replace("'", "\\'") + "'"


@lru_cache(maxsize=4096)
def _names_text(object_type: str, names: tuple[str, ...]) -> str:
    return object_type + ":" + ".".join(_step_text(n) for n in names)


def _plain_names(path: ObjectPath) -> tuple[str, ...] | None:
    """The property names of a path made only of names and without a ``*_ref``
    dereference; ``None`` for paths a key cannot express."""
    names: list[str] = []
    for position, step in enumerate(path.steps):
        if not isinstance(step, str):
            return None  # [*] or [n]
        if step.endswith("_ref") and position + 1 < len(path.steps):
            return None  # dereference into another SCO
        names.append(step)
    return tuple(names)


@lru_cache(maxsize=4096)
def path_text(path: ObjectPath) -> str | None:
    """Canonical text of a key path (``file:hashes.'SHA-256'``), as the pattern printer
    writes it; ``None`` for paths with list steps or ``*_ref`` dereferences. Cached: 100,000
    indicators use a handful of paths."""
    names = _plain_names(path)
    return None if names is None else _names_text(path.object_type, names)


def normalise(path: str, value: object) -> str | None:
    """The join text of ``value`` at ``path``, for pattern constants and telemetry alike;
    ``None`` when the value can never equal a keyed constant.

    ``path`` is accepted for per-path rules; the evaluator has none today (strings compare
    case-sensitively everywhere), so it does not change the result.
    """
    kind = type(value)
    if kind is str:
        text: str = value  # type: ignore[assignment]
        return _NUMBER_TAG + text if text.startswith(_NUMBER_TAG) else text
    if kind is int:
        try:
            return _NUMBER_TAG + str(value)
        except ValueError:  # more digits than int->str allows: no constant is that long
            return None
    if kind is float:
        number: float = value  # type: ignore[assignment]
        if not math.isfinite(number) or not number.is_integer():
            return None  # equal only to non-integral float constants, which have no keys
        return _NUMBER_TAG + str(int(number))
    return None  # bool, None, lists, objects: never equal to a string or number constant


def sco_keys(sco: Mapping[str, Any]) -> set[Key]:
    """Every key an SCO (a telemetry event) offers to the join: each scalar reached from the
    SCO through property names only (no lists, no ``*_ref`` dereference), normalised."""
    object_type = sco.get("type")
    found: set[Key] = set()
    if type(object_type) is not str:
        return found

    def walk(node: Mapping[str, Any], names: tuple[str, ...]) -> None:
        for name, item in node.items():
            if type(name) is not str:
                continue
            here = (*names, name)
            if isinstance(item, Mapping):
                if not name.endswith("_ref"):
                    walk(item, here)
                continue
            text = _names_text(object_type, here)
            value = normalise(text, item)
            if value is not None:
                found.add(Key(text, value))

    walk(sco, ())
    return found


# --- straight from the text ------------------------------------------------------------------

#: ``[type:value = '...']`` and ``[type:hashes.'NAME' = '...']``: most shared indicators. A
#: subset of the texts the parser's own fast path takes (same type, step and literal rules).
_SIMPLE_EQUALITY = re.compile(
    r"\[([a-z][a-z0-9-]*):(value|hashes\.'[A-Za-z0-9_ .-]+') = '((?:[^'\\]|\\['\\])*)'\]",
    re.ASCII,
)
_UNESCAPE = re.compile(r"\\(['\\])")


def raw_texts(value: str) -> list[str]:
    """The texts an engine shows for telemetry values whose normalised key is ``value``
    (a superset: ``'80'`` stands for the number and the string; the candidate is checked)."""
    if value.startswith("##"):
        return [value[1:]]
    if value.startswith("#"):
        digits = value[1:]
        return [digits, digits + ".0"]
    return [value]


def simple_key(text: str) -> tuple[str, str] | None:
    """The one key ``(path, normalised value)`` of a pattern that is one string equality on
    ``value`` or on one hash, read straight from the text; ``None`` for every other text."""
    if type(text) is not str:
        return None
    match = _SIMPLE_EQUALITY.fullmatch(text)
    if match is None:
        return None
    object_type, path, literal = match.groups()
    if "\\" in literal:
        literal = _UNESCAPE.sub(r"\1", literal)
    if path == "value":
        path_text = object_type + ":value"
    else:
        path_text = _names_text(object_type, ("hashes", path[8:-1]))
    value = normalise(path_text, literal)
    assert value is not None  # a string always normalises
    return path_text, value


def simple_plan(text: str) -> KeyPlan | None:
    """``plan_keys(parse(text))`` for a pattern that is one string equality on ``value`` or
    on one hash, read straight from the text (no syntax tree: preparing 100,000 such
    indicators is then a few hundred milliseconds); ``None`` for every other text, which
    takes the parser. Every text it plans parses, to that very plan (property-tested)."""
    key = simple_key(text)
    if key is None:
        return None
    return KeyPlan(frozenset((Key(*key),)), exact=True)


# --- derivation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cover:
    """Keys covering a node (every match of the node hits one), and whether a hit proves it."""

    keys: frozenset[Key]
    exact: bool


def _constant_key(path: str, const: Constant) -> Key | None:
    if not isinstance(const, StringConst | IntConst | FloatConst):
        return None  # booleans, hex, binary, timestamps: not keyed
    text = normalise(path, const.value)  # None for non-integral floats
    return None if text is None else Key(path, text)


def _comparison(node: Comparison) -> _Cover | None:
    if node.negated or node.op not in ("=", "IN"):
        return None
    path = path_text(node.path)
    if path is None:
        return None
    members = node.value.values if isinstance(node.value, SetConst) else (node.value,)
    keys: set[Key] = set()
    for member in members:
        key = _constant_key(path, member)
        if key is None:
            return None
        keys.add(key)
    return _Cover(frozenset(keys), exact=True)


def _weight(key: Key) -> int:
    """Lower is more selective."""
    if key.value.startswith(_NUMBER_TAG) and not key.value.startswith(_NUMBER_TAG * 2):
        return 3  # ports, sizes, counts
    object_type, _, rest = key.path.partition(":")
    if rest.startswith("hashes."):
        return 0
    if rest == "value" and object_type in _VALUE_TYPES:
        return 1
    return 2


def _rank(cover: _Cover) -> tuple[int, int]:
    if not cover.keys:
        return (-1, 0)  # never matches: the best choice
    return (max(_weight(k) for k in cover.keys), len(cover.keys))


def _any_one(covers: list[_Cover | None]) -> _Cover | None:
    """Conjunction: every operand must hold, so the most selective covered operand suffices."""
    usable = [c for c in covers if c is not None]
    if not usable:
        return None
    best = min(usable, key=_rank)  # first of equals: deterministic
    return _Cover(best.keys, exact=False)


def _union(covers: list[_Cover | None]) -> _Cover | None:
    """Disjunction: covered only if every operand is."""
    keys: set[Key] = set()
    exact = True
    for cover in covers:
        if cover is None:
            return None
        keys |= cover.keys
        exact = exact and cover.exact
    return _Cover(frozenset(keys), exact)


def _cover_comparison(node: ComparisonNode) -> _Cover | None:
    if isinstance(node, Comparison):
        return _comparison(node)
    if isinstance(node, ComparisonAnd):
        return _any_one([_cover_comparison(o) for o in node.operands])
    if isinstance(node, ComparisonOr):
        return _union([_cover_comparison(o) for o in node.operands])
    return None  # Exists


def _cover_observation(node: ObservationNode) -> _Cover | None:
    if isinstance(node, ObservationExpr):
        return _cover_comparison(node.comparison)
    if isinstance(node, ObservationOr):
        return _union([_cover_observation(o) for o in node.operands])
    if isinstance(node, ObservationAnd | ObservationFollowedBy):
        return _any_one([_cover_observation(o) for o in node.operands])
    if isinstance(node, Qualified):
        inner = _cover_observation(node.expr)
        return None if inner is None else _Cover(inner.keys, exact=False)
    raise TypeError(f"not an observation node: {node!r}")  # pragma: no cover


def plan_keys(pattern: Pattern) -> KeyPlan:
    """The keys every match of ``pattern`` hits, and whether a hit alone proves a match.

    ``keys`` is empty when no usable equality covers the pattern (and also when the pattern
    can never match, e.g. ``[x:y IN ()]``); then ``exact`` is ``False``.
    """
    cover = _cover_observation(pattern.root)
    if cover is None or not cover.keys:
        return KeyPlan(frozenset(), exact=False)
    return KeyPlan(cover.keys, cover.exact)


def _leaves(node: ObservationNode) -> Iterator[ObservationExpr]:
    if isinstance(node, ObservationExpr):
        yield node
    elif isinstance(node, Qualified):
        yield from _leaves(node.expr)
    else:
        for operand in node.operands:
            yield from _leaves(operand)


def plan_leaf_keys(pattern: Pattern) -> KeyPlan:
    """Keys that every observation satisfying *one* of the pattern's observation expressions
    hits: the union of each expression's cover. A pattern correlated across events is bound
    only to such observations, so these keys find every event that can take part in a match.
    Empty when some expression has no cover (scan everything); never ``exact``."""
    cover = _union([_cover_comparison(leaf.comparison) for leaf in _leaves(pattern.root)])
    if cover is None or not cover.keys:
        return KeyPlan(frozenset(), exact=False)
    return KeyPlan(cover.keys, exact=False)
