"""The hunt index: what the store records of each indicator version so that a hunt need not
read indicator bodies, nor parse most patterns again.

Ingest (:mod:`kizuna.store.ingest`) stores, in the ``hunt_*`` columns of every stored
version of a STIX-pattern indicator, what :func:`index_row` makes of it: the pattern text,
``valid_until`` in microseconds, and its key plan: for a pattern that is one string
equality (:func:`~kizuna.hunt.keys.simple_key`, most of a typical feed) the key itself,
for another pattern that does not correlate across events its plan as JSON
(:func:`plan_json`). A hunt then selects what to hunt with one query through the access
module (:func:`kizuna.hunt.sightings.readable_indicators`) and reads bodies only for the
indicators that matched. Nothing here decides who may read what: the columns are part of
the stored object's row, read only under the access rule on that row.

:data:`KEY_VERSION` says which derivation made a row's plan. A row made by another version
is still hunted, its plan worked out again from the text, so changing the key derivation
(:mod:`kizuna.hunt.keys`) only needs the constant bumped; a test pins the plans of a corpus
of patterns, so a change that forgets it fails.

:func:`pattern_plan` is the derivation itself, kept by pattern text for the hunts that
work a plan out from the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from kizuna.errors import InvalidInput
from kizuna.hunt.correlate import correlates
from kizuna.hunt.keys import (
    Key,
    KeyPlan,
    plan_keys,
    plan_leaf_keys,
    raw_texts,
    simple_key,
    simple_plan,
)
from kizuna.patterns import Pattern, PatternError, parse
from kizuna.stix.timestamps import parse_timestamp

__all__ = [
    "COLUMNS",
    "KEY_VERSION",
    "NOT_HUNTABLE",
    "UNINDEXED",
    "IndexRow",
    "Planned",
    "as_planned",
    "derive_plan",
    "index_row",
    "indicator_columns",
    "pattern_plan",
    "plan_json",
    "read_plan",
    "stored_row",
]

#: bump whenever :func:`index_row` would derive anything differently from some pattern text:
#: the key derivation (:mod:`kizuna.hunt.keys`), the parser and its fast path
#: (:mod:`kizuna.patterns`), or what correlates across events (:mod:`kizuna.hunt.correlate`)
KEY_VERSION = 1


class Planned(NamedTuple):
    """What :func:`pattern_plan` knows of one pattern text."""

    pattern: Pattern | None
    plan: KeyPlan
    across: bool
    #: the key paths, and the key table rows ``(path, raw text)`` of every key
    paths: frozenset[str]
    rows: tuple[tuple[str, str], ...]


def derive_plan(text: str) -> Planned | None:
    """A pattern parsed, its key plan (:func:`~kizuna.hunt.keys.plan_leaf_keys` when it
    correlates across events, else :func:`~kizuna.hunt.keys.plan_keys`) and whether it
    correlates; ``None``: not a valid pattern. A single equality is planned from the text
    (:func:`~kizuna.hunt.keys.simple_plan`) and left unparsed (a ``None`` pattern)."""
    simple = simple_plan(text)
    if simple is not None:
        return as_planned(None, simple, False)  # parsed only if the evaluator is ever needed
    try:
        pattern = parse(text)
    except PatternError:
        return None
    across = correlates(pattern)
    return as_planned(pattern, plan_leaf_keys(pattern) if across else plan_keys(pattern), across)


@lru_cache(maxsize=1 << 17)
def pattern_plan(text: str) -> Planned | None:
    """:func:`derive_plan`, kept by text. All of it follows from the text alone and is
    immutable, and a node hunts with much the same indicators again and again (131,072
    patterns kept, at most about 1 KB each)."""
    return derive_plan(text)


def as_planned(pattern: Pattern | None, plan: KeyPlan, across: bool = False) -> Planned:
    """A :class:`Planned` with its key paths and key table rows."""
    if len(plan.keys) == 1:  # most indicators: no generators
        (key,) = plan.keys
        value = key.value
        if value[:1] != "#":
            return Planned(pattern, plan, across, frozenset((key.path,)), ((key.path, value),))
    rows = tuple((k.path, raw) for k in plan.keys for raw in raw_texts(k.value))
    return Planned(pattern, plan, across, frozenset(k.path for k in plan.keys), rows)


def plan_json(plan: KeyPlan) -> str:
    """A key plan as stored: ``{"keys": [[path, value], ...], "exact": bool}``, keys sorted."""
    keys = sorted([k.path, k.value] for k in plan.keys)
    return orjson.dumps({"keys": keys, "exact": plan.exact}).decode()


def read_plan(text: str) -> KeyPlan:
    """The inverse of :func:`plan_json`."""
    data = orjson.loads(text)
    return KeyPlan(frozenset(Key(p, v) for p, v in data["keys"]), exact=bool(data["exact"]))


class IndexRow(NamedTuple):
    """What the hunt index holds of one indicator version (the ``hunt_*`` columns)."""

    pattern: str
    #: ``valid_until`` (µs since the epoch), ``None`` when the indicator has none
    valid_until_us: int | None
    #: :func:`~kizuna.hunt.keys.simple_key` of the pattern, ``None`` for other patterns
    key_path: str | None
    key_value: str | None
    #: :func:`plan_json` of a pattern that is neither a simple equality nor correlates
    #: across events; ``None`` otherwise (a correlating pattern is parsed by the hunt)
    plan: str | None
    key_version: int


#: the ``objects`` columns of :func:`stored_row`, in its order
COLUMNS = (
    "hunt_pattern",
    "hunt_valid_until_us",
    "hunt_key_path",
    "hunt_key_value",
    "hunt_plan",
    "hunt_key_version",
)
#: the columns of an object that is no indicator
UNINDEXED: tuple[object, ...] = (None,) * len(COLUMNS)
#: the columns of an indicator version that can never be hunted (:func:`index_row` is
#: ``None``): key version 0 says the index has seen it, so that a hunt can tell it from a
#: version stored without the index (every column NULL: by a process older than the index,
#: still running while the database was upgraded), which it then reads from the body.
#: No key derivation changes what can never be hunted (another pattern language, a
#: ``valid_until`` that is no timestamp); should that ever change, a migration must index
#: these rows again, as revision 0009 indexes the rows with no key version.
NOT_HUNTABLE: tuple[object, ...] = (None,) * (len(COLUMNS) - 1) + (0,)


def stored_row(row: IndexRow) -> tuple[object, ...]:
    """The row's values as stored (:data:`COLUMNS`): the pattern and the key value as UTF-8
    bytes (a STIX string may hold U+0000, which PostgreSQL text cannot)."""
    value = row.key_value
    return (
        row.pattern.encode(),
        row.valid_until_us,
        row.key_path,
        None if value is None else value.encode(),
        row.plan,
        row.key_version,
    )


def indicator_columns(obj: Mapping[str, Any]) -> tuple[object, ...]:
    """The hunt index columns (:data:`COLUMNS`) of one stored indicator version."""
    row = index_row(obj)
    return NOT_HUNTABLE if row is None else stored_row(row)


def index_row(obj: Mapping[str, Any]) -> IndexRow | None:
    """The index row of one indicator version, or ``None`` when it can never be hunted: not
    an indicator, not a STIX pattern, no pattern text, or a ``valid_until`` that is no
    timestamp. (Revocation is the stored row's own ``revoked`` flag; expiry is decided at
    hunt time from ``valid_until_us``.)"""
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
        return None
    pattern = obj.get("pattern")
    if not isinstance(pattern, str):
        return None
    valid_until = obj.get("valid_until")
    until: int | None = None
    if isinstance(valid_until, str):
        try:
            until = parse_timestamp(valid_until)
        except InvalidInput:
            return None
    key = simple_key(pattern)
    if key is not None:
        return IndexRow(pattern, until, key[0], key[1], None, KEY_VERSION)
    derived = derive_plan(pattern)
    plan = None if derived is None or derived.across else plan_json(derived.plan)
    return IndexRow(pattern, until, None, None, plan, KEY_VERSION)
