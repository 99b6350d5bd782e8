"""Text -> AST for STIX 2.1 patterns, and the one error type callers ever see."""

from __future__ import annotations

import base64
import binascii
import contextlib
import math
import re
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, NoReturn

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from kizuna.errors import InvalidInput
from kizuna.patterns.ast import (
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
    Qualified,
    Qualifier,
    Repeats,
    SetConst,
    StartStop,
    Step,
    StringConst,
    TimestampConst,
    Value,
    Within,
)

__all__ = ["PatternError", "parse"]


class PatternError(InvalidInput):
    """A pattern that is not valid STIX 2.1 patterning.

    ``position`` is the 0-based offset into the pattern text, ``line``/``column`` are
    1-based, ``expected`` names what could have come next (empty for semantic errors).
    """

    def __init__(
        self,
        message: str,
        *,
        text: str,
        position: int,
        expected: tuple[str, ...] = (),
    ) -> None:
        position = max(0, min(position, len(text)))
        line = text.count("\n", 0, position) + 1
        line_start = text.rfind("\n", 0, position) + 1
        column = position - line_start + 1
        self.reason = message
        self.text = text
        self.position = position
        self.line = line
        self.column = column
        self.expected = expected
        full = f"{message} (line {line}, column {column})"
        if expected:
            full += "; expected " + ", ".join(expected)
        super().__init__(
            full,
            details={
                "position": position,
                "line": line,
                "column": column,
                "expected": list(expected),
            },
        )

    def caret(self) -> str:
        """The offending line of the pattern and a ``^`` under the error position."""
        line_start = self.text.rfind("\n", 0, self.position) + 1
        line_end = self.text.find("\n", self.position)
        if line_end < 0:
            line_end = len(self.text)
        line = self.text[line_start:line_end]
        pad = "".join("\t" if ch == "\t" else " " for ch in line[: self.column - 1])
        return f"{line}\n{pad}^"


# --- grammar -------------------------------------------------------------------------------

_GRAMMAR = resources.files("kizuna.patterns").joinpath("grammar.lark").read_text("utf-8")
_LARK = Lark(_GRAMMAR, parser="lalr", propagate_positions=False, maybe_placeholders=True)

_COMPARISON_OPS = frozenset(
    ["EQ", "NE", "LT", "LE", "GT", "GE", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"]
)
_TERMINAL_NAMES: dict[str, str] = {
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "DOT": "'.'",
    "COMMA": "','",
    "STAR": "'*'",
    "OBJECT_TYPE": "object type",
    "IDENT": "property name",
    "STRING": "string",
    "INT": "integer",
    "FLOAT": "float",
    "HEX": "hex constant",
    "BINARY": "binary constant",
    "TIMESTAMP": "timestamp",
    "TRUE": "true",
    "FALSE": "false",
    "$END": "end of pattern",
}
# Stable display order for the expected list.
_ORDER = [
    "'['", "'('", "')'", "']'", "':'", "'.'", "','", "'*'",
    "object type", "property name", "NOT", "EXISTS", "comparison operator",
    "string", "integer", "float", "true", "false", "hex constant", "binary constant",
    "timestamp", "AND", "OR", "FOLLOWEDBY", "WITHIN", "REPEATS", "START", "STOP",
    "SECONDS", "TIMES", "end of pattern",
]  # fmt: skip
_RANK = {name: i for i, name in enumerate(_ORDER)}


def _expected_names(terminals: Any) -> tuple[str, ...]:
    names: set[str] = set()
    for term in terminals or ():
        if term in _COMPARISON_OPS:
            names.add("comparison operator")
        else:
            names.add(_TERMINAL_NAMES.get(term, term))
    return tuple(sorted(names, key=lambda n: (_RANK.get(n, len(_RANK)), n)))


# --- constants -----------------------------------------------------------------------------

_TS_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z\Z", re.ASCII)
_HEX_RE = re.compile(r"(?:[0-9a-fA-F]{2})*\Z")
_B64_RE = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)\Z"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)


class _Fail(Exception):
    """Internal: a semantic error at an offset; turned into PatternError by parse()."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _fail(message: str, tok: Token, offset: int = 0) -> NoReturn:
    raise _Fail(message, (tok.start_pos or 0) + offset)


def _string(tok: Token) -> str:
    raw = str(tok)[1:-1]
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            nxt = raw[i + 1]
            if nxt not in "'\\":
                _fail(
                    f"invalid escape '\\{nxt}' in string: only \\' and \\\\ are allowed",
                    tok,
                    i + 1,
                )
            out.append(nxt)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def timestamp_micros(text: str) -> int | None:
    """Microseconds since the epoch for an RFC 3339 ``...Z`` timestamp, or None if invalid."""
    m = _TS_RE.match(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or ""
    leap = second == 60
    try:
        dt = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=UTC)
        if leap:
            dt += timedelta(seconds=1)
    except (ValueError, OverflowError):
        return None
    micros = (dt - _EPOCH) // _ONE_US
    return micros + int((frac + "000000")[:6])


def _timestamp(tok: Token) -> TimestampConst:
    text = str(tok)[2:-1]
    micros = timestamp_micros(text)
    if micros is None:
        _fail(
            f"invalid timestamp '{text}': expected YYYY-MM-DDTHH:MM:SS[.fraction]Z, a real date",
            tok,
        )
    return TimestampConst(text, micros)


def _int(tok: Token) -> int:
    try:
        return int(str(tok))
    except ValueError:
        _fail("integer constant has too many digits", tok)


def _float(tok: Token) -> float:
    value = float(str(tok))
    if not math.isfinite(value):
        _fail("float constant out of range", tok)
    return value


def _constant(tok: Token) -> Constant:
    kind = tok.type
    if kind == "STRING":
        return StringConst(_string(tok))
    if kind == "INT":
        return IntConst(_int(tok))
    if kind == "FLOAT":
        return FloatConst(_float(tok))
    if kind == "TRUE":
        return BoolConst(True)
    if kind == "FALSE":
        return BoolConst(False)
    if kind == "HEX":
        digits = str(tok)[2:-1]
        if not _HEX_RE.match(digits):
            _fail("hex constant needs an even number of hex digits (0-9, a-f)", tok)
        return HexConst(bytes.fromhex(digits))
    if kind == "BINARY":
        data = str(tok)[2:-1]
        if not _B64_RE.match(data):
            _fail("binary constant must be non-empty, padded base64", tok)
        try:
            return BinaryConst(base64.b64decode(data, validate=True))
        except (binascii.Error, ValueError):  # pragma: no cover - regex already checked
            _fail("binary constant must be non-empty, padded base64", tok)
    if kind == "TIMESTAMP":
        return _timestamp(tok)
    raise AssertionError(f"unexpected constant token {kind}")  # pragma: no cover


_OP_ALIASES = {"EQ": "=", "NE": "!="}

# --- tree -> AST ---------------------------------------------------------------------------


def _types(node: ComparisonNode) -> frozenset[str]:
    if isinstance(node, Comparison | Exists):
        return frozenset((node.path.object_type,))
    types: frozenset[str] = frozenset()
    for operand in node.operands:
        types |= _types(operand)
    return types


class _ToAst(Transformer[Token, Pattern]):
    """Builds the AST; keeps the start offset of each comparison node for error messages."""

    def __init__(self) -> None:
        super().__init__(visit_tokens=False)
        self.pos: dict[int, int] = {}

    def _mark(self, node: object, position: int) -> None:
        self.pos[id(node)] = position

    # observation level
    def start(self, children: list[ObservationNode]) -> Pattern:
        return Pattern(children[0])

    def obs_followedby(self, children: list[ObservationNode]) -> ObservationNode:
        return ObservationFollowedBy(tuple(children))

    def obs_or_n(self, children: list[ObservationNode]) -> ObservationNode:
        return ObservationOr(tuple(children))

    def obs_and_n(self, children: list[ObservationNode]) -> ObservationNode:
        return ObservationAnd(tuple(children))

    def observation(self, children: list[ComparisonNode]) -> ObservationNode:
        return ObservationExpr(children[0])

    def qualified(self, children: list[Any]) -> ObservationNode:
        node: ObservationNode = children[0]
        for qualifier in children[1:]:
            node = Qualified(node, qualifier)
        return node

    def within(self, children: list[Token]) -> Qualifier:
        (tok,) = children
        try:
            seconds = float(str(tok))
        except OverflowError:  # pragma: no cover - float() of a digit string gives inf
            seconds = math.inf
        if not math.isfinite(seconds):
            _fail("WITHIN seconds out of range", tok)
        if seconds <= 0:
            _fail("WITHIN needs a positive number of seconds", tok)
        return Within(seconds)

    def repeats(self, children: list[Token]) -> Qualifier:
        (tok,) = children
        if tok.type != "INT":
            _fail("REPEATS needs a positive integer", tok)
        times = _int(tok)
        if times <= 0:
            _fail("REPEATS needs a positive integer", tok)
        return Repeats(times)

    def startstop(self, children: list[Token]) -> Qualifier:
        start_tok, stop_tok = children
        start, stop = _timestamp(start_tok), _timestamp(stop_tok)
        if start.micros >= stop.micros:
            _fail("STOP must be later than START", stop_tok)
        return StartStop(start.micros, stop.micros)

    # comparison level
    def cmp_or_n(self, children: list[ComparisonNode]) -> ComparisonNode:
        node = ComparisonOr(tuple(children))
        self._mark(node, self.pos[id(children[0])])
        return node

    def cmp_and_n(self, children: list[ComparisonNode]) -> ComparisonNode:
        first = _types(children[0])
        for operand in children:
            types = _types(operand)
            if len(types) != 1 or types != first:
                names = " vs ".join(f"'{t}'" for t in sorted(first | types))
                raise _Fail(
                    "comparison expressions joined by AND must all use the same object type"
                    f" ({names})",
                    self.pos[id(operand)],
                )
        node = ComparisonAnd(tuple(children))
        self._mark(node, self.pos[id(children[0])])
        return node

    def exists(self, children: list[Any]) -> ComparisonNode:
        not_tok, exists_tok, (path, _) = children
        node = Exists(path, negated=not_tok is not None)
        self._mark(node, (not_tok or exists_tok).start_pos)
        return node

    def comparison(self, children: list[Any]) -> ComparisonNode:
        (path, path_pos), not_tok, op_tok, value_node = children
        op = _OP_ALIASES.get(op_tok.type) or str(op_tok)
        value: Value
        if isinstance(value_node, SetConst):
            value = value_node
        else:
            value = _constant(value_node)
            if op == "MATCHES":
                assert isinstance(value, StringConst)
                try:
                    re.compile(value.value)
                except (re.error, RecursionError, OverflowError, ValueError) as exc:
                    _fail(f"MATCHES regular expression does not compile: {exc}", value_node)
        node = Comparison(path, op, value, negated=not_tok is not None)
        self._mark(node, path_pos)
        return node

    def set_lit(self, children: list[Token]) -> SetConst:
        return SetConst(tuple(_constant(tok) for tok in children))

    def object_path(self, children: list[Token]) -> tuple[ObjectPath, int]:
        type_tok = children[0]
        steps: list[Step] = []
        for tok in children[1:]:
            kind = tok.type
            if kind == "IDENT":
                steps.append(str(tok))
            elif kind == "STRING":
                steps.append(_string(tok))
            elif kind == "INT":
                steps.append(_int(tok))
            else:
                steps.append(STAR)
        return ObjectPath(str(type_tok), tuple(steps)), type_tok.start_pos or 0


# --- entry point ---------------------------------------------------------------------------


def _accepted(exc: UnexpectedInput, fallback: Any) -> tuple[str, ...]:
    """What the parser would really accept here (LALR's own sets over-approximate)."""
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:
        with contextlib.suppress(Exception):  # fall back to lark's approximation
            return _expected_names(interactive.accepts())
    return _expected_names(fallback)


def _syntax_error(text: str, exc: UnexpectedInput) -> PatternError:
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
        if ch == "'" or text[pos : pos + 2] in ("h'", "b'", "t'"):
            message = "unterminated string or constant"
        else:
            message = f"unexpected character {ch!r}"
        return PatternError(message, text=text, position=pos, expected=_accepted(exc, exc.allowed))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            return PatternError(
                "unexpected end of pattern",
                text=text,
                position=len(text),
                expected=_accepted(exc, exc.expected),
            )
        pos = tok.start_pos if tok.start_pos is not None else len(text)
        return PatternError(
            f"unexpected {str(tok)!r}",
            text=text,
            position=pos,
            expected=_accepted(exc, exc.expected),
        )
    if isinstance(exc, UnexpectedEOF):  # pragma: no cover - LALR reports $END tokens instead
        return PatternError(
            "unexpected end of pattern",
            text=text,
            position=len(text),
            expected=_expected_names(exc.expected),
        )
    return PatternError(str(exc), text=text, position=0)  # pragma: no cover


# Most shared indicators are one equality (or IN set of strings) on one property, e.g.
# [ipv4-addr:value = '...'], and most others a few such comparisons (or LIKE) joined by AND
# on one object, e.g. [file:hashes.'SHA-256' = '...' AND file:name LIKE '%.exe'].
# Those shapes are recognised by one regular expression per comparison and built directly,
# giving the very AST the grammar would (tests/patterns/test_fast_path.py proves it); hunting
# and ingest compile hundreds of thousands of such patterns, and the grammar takes about
# half a millisecond for each.
_FAST_NAME = r"[a-z_][a-z0-9_]*"
_FAST_QUOTED = r"'[A-Za-z0-9_ .-]+'"
_FAST_STEP = rf"(?:{_FAST_NAME}|{_FAST_QUOTED})"
_FAST_LITERAL = r"'(?:[^'\\]|\\['\\])*'"
_FAST_COMPARISON = re.compile(
    rf"([a-z][a-z0-9-]*):({_FAST_STEP}(?:\.{_FAST_STEP})*) "
    rf"(=|IN|LIKE) ({_FAST_LITERAL}|\({_FAST_LITERAL}(?:, {_FAST_LITERAL})*\))",
    re.ASCII,
)
_FAST_LITERALS = re.compile(_FAST_LITERAL, re.ASCII)
_FAST_STEPS = re.compile(rf"{_FAST_NAME}|{_FAST_QUOTED}", re.ASCII)
_FAST_UNESCAPE = re.compile(r"\\(['\\])")
_FAST_KEYWORDS = frozenset({"true", "false"})


def _fast_comparison(match: re.Match[str]) -> Comparison | None:
    object_type, path, op, operand = match.groups()
    if (op == "IN") != operand.startswith("("):
        return None
    steps = tuple(
        step[1:-1] if step.startswith("'") else step for step in _FAST_STEPS.findall(path)
    )
    if any(step in _FAST_KEYWORDS for step in steps):
        return None
    strings = tuple(
        StringConst(_FAST_UNESCAPE.sub(r"\1", literal[1:-1]))
        for literal in _FAST_LITERALS.findall(operand)
    )
    return Comparison(
        path=ObjectPath(object_type=object_type, steps=steps),
        op=op,
        value=SetConst(strings) if op == "IN" else strings[0],
        negated=False,
    )


def _parse_simple_equality(text: str) -> Pattern | None:
    """``[type:path = 'text']``, ``[type:path IN ('a', 'b')]``, ``[type:path LIKE 'a%']`` and
    such comparisons on one object type joined by ``AND``, built directly; ``None`` for
    anything else (the grammar decides, and reports the errors)."""
    end = len(text) - 1
    if end < 1 or text[0] != "[" or text[end] != "]":
        return None
    comparisons: list[Comparison] = []
    position = 1
    while True:
        match = _FAST_COMPARISON.match(text, position, end)
        if match is None:
            return None
        comparison = _fast_comparison(match)
        if comparison is None:
            return None
        comparisons.append(comparison)
        position = match.end()
        if position == end:
            break
        if not text.startswith(" AND ", position):
            return None
        position += 5
    if len(comparisons) == 1:
        return Pattern(root=ObservationExpr(comparison=comparisons[0]))
    if len({c.path.object_type for c in comparisons}) != 1:
        return None  # the grammar's error: AND across object types
    return Pattern(root=ObservationExpr(comparison=ComparisonAnd(tuple(comparisons))))


def parse(text: str) -> Pattern:
    """Parse a STIX 2.1 pattern; raises :class:`PatternError` for anything invalid."""
    if not isinstance(text, str):
        raise PatternError("pattern must be a string", text="", position=0)
    simple = _parse_simple_equality(text)
    if simple is not None:
        return simple
    return parse_with_grammar(text)


#: the deepest a pattern's expressions may nest (qualifiers on qualifiers, alternating
#: AND / OR groups): far beyond any real indicator, and shallow enough that every walk of
#: the tree (key plans, the evaluator, the printer) stays well inside Python's stack
MAX_NESTING = 100


_GROUPS = (ComparisonAnd, ComparisonOr, ObservationAnd, ObservationOr, ObservationFollowedBy)


def _nesting(pattern: Pattern) -> int:
    """How deep the expression tree goes (iteratively: the tree may be deeper than the
    stack)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(pattern.root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, _GROUPS):
            stack += [(o, depth + 1) for o in node.operands]
        elif isinstance(node, ObservationExpr):
            stack.append((node.comparison, depth + 1))
        elif isinstance(node, Qualified):
            stack.append((node.expr, depth + 1))
    return deepest


def parse_with_grammar(text: str) -> Pattern:
    """The full LALR parser, without the fast path (tests compare the two)."""
    try:
        tree = _LARK.parse(text)
        pattern: Pattern = _ToAst().transform(tree)
        if _nesting(pattern) > MAX_NESTING:
            raise PatternError(
                f"pattern is nested too deeply (more than {MAX_NESTING} levels)",
                text=text,
                position=0,
            )
        return pattern
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except VisitError as exc:
        inner = exc.orig_exc
        if isinstance(inner, _Fail):
            raise PatternError(inner.message, text=text, position=inner.position) from None
        if isinstance(inner, RecursionError):
            raise PatternError("pattern is nested too deeply", text=text, position=0) from None
        raise
    except RecursionError:
        raise PatternError("pattern is nested too deeply", text=text, position=0) from None
