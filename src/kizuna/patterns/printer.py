"""AST -> canonical pattern text. ``parse(unparse(p)) == p`` for every AST the parser makes.

Canonical form: one space around binary operators and comparison operators, no space
inside brackets, parentheses only where the AST shape needs them, property names bare
when they are plain identifiers and quoted otherwise, floats in positional notation,
hex in lower case, binary as padded base64, START/STOP in UTC with at most 6 fraction digits.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from kizuna.patterns.ast import (
    BinaryConst,
    BoolConst,
    Comparison,
    ComparisonAnd,
    ComparisonNode,
    ComparisonOr,
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
    Qualified,
    Qualifier,
    Repeats,
    SetConst,
    Star,
    StartStop,
    StringConst,
    TimestampConst,
    Value,
    Within,
)

__all__ = ["format_timestamp_micros", "unparse"]

_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number(value: float) -> str:
    """Positional notation the grammar accepts (no exponent); integral values without '.'."""
    if not math.isfinite(value):
        raise ValueError(f"cannot print non-finite number {value!r}")
    text = format(Decimal(repr(value)), "f")
    if "." not in text:
        text += ".0"
    return text


def format_timestamp_micros(micros: int) -> str:
    """RFC 3339 UTC text (``Z``) for microseconds since the epoch; fraction trimmed."""
    dt = _EPOCH + timedelta(microseconds=micros)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if len(text) < 19:  # years below 1000: strftime may not zero-pad
        text = f"{dt.year:04d}" + text[text.index("-") :]
    if dt.microsecond:
        text += "." + f"{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def _value(value: Value) -> str:
    match value:
        case StringConst(v):
            return _quote(v)
        case BoolConst(v):
            return "true" if v else "false"
        case IntConst(v):
            return str(v)
        case FloatConst(v):
            return _number(v)
        case HexConst(v):
            return "h'" + v.hex() + "'"
        case BinaryConst(v):
            return "b'" + base64.b64encode(v).decode("ascii") + "'"
        case TimestampConst(text, _):
            return "t'" + text + "'"
        case SetConst(values):
            return "(" + ", ".join(_value(v) for v in values) + ")"
    raise TypeError(f"not a constant: {value!r}")  # pragma: no cover


def _path(path: ObjectPath) -> str:
    parts = [path.object_type, ":"]
    for i, step in enumerate(path.steps):
        if isinstance(step, Star):
            parts.append("[*]")
        elif isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            if i:
                parts.append(".")
            parts.append(step if _IDENT_RE.match(step) else _quote(step))
    return "".join(parts)


def _cmp_level(node: ComparisonNode) -> int:
    if isinstance(node, ComparisonOr):
        return 1
    if isinstance(node, ComparisonAnd):
        return 2
    return 3


def _comparison(node: ComparisonNode) -> str:
    match node:
        case Comparison(path, op, value, negated):
            return f"{_path(path)} {'NOT ' if negated else ''}{op} {_value(value)}"
        case Exists(path, negated):
            return f"{'NOT ' if negated else ''}EXISTS {_path(path)}"
        case ComparisonAnd(operands) | ComparisonOr(operands):
            level = _cmp_level(node)
            joiner = " AND " if level == 2 else " OR "
            return joiner.join(
                f"({_comparison(o)})" if _cmp_level(o) <= level else _comparison(o)
                for o in operands
            )
    raise TypeError(f"not a comparison node: {node!r}")  # pragma: no cover


def _qualifier(q: Qualifier) -> str:
    match q:
        case Within(seconds):
            text = (
                str(int(seconds))
                if seconds.is_integer() and abs(seconds) < 1e16
                else _number(seconds)
            )
            return f"WITHIN {text} SECONDS"
        case Repeats(times):
            return f"REPEATS {times} TIMES"
        case StartStop(start_us, stop_us):
            return (
                f"START t'{format_timestamp_micros(start_us)}'"
                f" STOP t'{format_timestamp_micros(stop_us)}'"
            )
    raise TypeError(f"not a qualifier: {q!r}")  # pragma: no cover


_OBS_JOIN = {ObservationFollowedBy: " FOLLOWEDBY ", ObservationOr: " OR ", ObservationAnd: " AND "}
_OBS_LEVEL = {ObservationFollowedBy: 1, ObservationOr: 2, ObservationAnd: 3}


def _obs_level(node: ObservationNode) -> int:
    return _OBS_LEVEL.get(type(node), 4)


def _observation(node: ObservationNode) -> str:
    match node:
        case ObservationExpr(comparison):
            return f"[{_comparison(comparison)}]"
        case Qualified(expr, qualifier):
            inner = _observation(expr)
            if _obs_level(expr) < 4:
                inner = f"({inner})"
            return f"{inner} {_qualifier(qualifier)}"
        case ObservationAnd(operands) | ObservationOr(operands) | ObservationFollowedBy(operands):
            level = _obs_level(node)
            return _OBS_JOIN[type(node)].join(
                f"({_observation(o)})" if _obs_level(o) <= level else _observation(o)
                for o in operands
            )
    raise TypeError(f"not an observation node: {node!r}")  # pragma: no cover


def unparse(pattern: Pattern) -> str:
    """Canonical text for a pattern AST."""
    return _observation(pattern.root)
