"""Evaluate STIX 2.1 patterns against observations.

``compile_pattern`` turns a pattern into closures once: every comparison becomes a path
accessor plus a value predicate (regexes, LIKE translations, CIDR networks and constant
conversions are prepared at compile time); every observation expression becomes a binding
generator. Evaluation then only calls closures. See ``docs/patterns.md`` ("Evaluation") for the
semantics chosen where the specification is ambiguous.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

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
    Repeats,
    SetConst,
    StartStop,
    StringConst,
    TimestampConst,
    Within,
)
from kizuna.patterns.observations import Observation
from kizuna.patterns.parser import parse
from kizuna.patterns.printer import unparse
from kizuna.stix.timestamps import parse_timestamp

__all__ = ["CompiledPattern", "MatchResult", "compile_pattern"]

SCO: TypeAlias = Mapping[str, Any]
Objects: TypeAlias = Mapping[str, SCO]
#: ``(sco, objects of its observation) -> bool``
ObjectPredicate: TypeAlias = Callable[[SCO, Objects], bool]
ValuePredicate: TypeAlias = Callable[[Any], bool]
#: one value (``None`` when the path does not resolve)
SingleAccessor: TypeAlias = Callable[[SCO, Objects], Any]
#: every value the path resolves to (several with ``[*]``; empty when it does not resolve)
MultiAccessor: TypeAlias = Callable[[SCO, Objects], list[Any]]
#: ``((leaf number, observation index), ...)``; an observation index may repeat up to its
#: ``number_observed``
Binding: TypeAlias = tuple[tuple[int, int], ...]
Prune: TypeAlias = Callable[[Binding], bool] | None


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The observations of one satisfying binding, in binding order (distinct), and a
    readable explanation naming which observation satisfied which observation expression."""

    bindings: tuple[Observation, ...]
    explanation: str


# --- paths ---------------------------------------------------------------------------------

_KEY, _INDEX, _ALL, _DEREF = 0, 1, 2, 3


def _path_ops(path: ObjectPath) -> tuple[tuple[int, Any], ...]:
    """Steps as ``(kind, argument)``; ``_DEREF`` follows a ``*_ref`` value or an element of a
    ``*_refs`` list into another SCO of the observation, only when more steps follow."""
    ops: list[tuple[int, Any]] = []
    steps = path.steps
    last_key = ""
    for position, step in enumerate(steps):
        more = position + 1 < len(steps)
        if isinstance(step, str):
            ops.append((_KEY, step))
            last_key = step
            if more and step.endswith("_ref"):
                ops.append((_DEREF, None))
        elif step is STAR:
            ops.append((_ALL, None))
            if more and last_key.endswith("_refs"):
                ops.append((_DEREF, None))
            last_key = ""
        else:
            ops.append((_INDEX, step))
            if more and last_key.endswith("_refs"):
                ops.append((_DEREF, None))
            last_key = ""
    return tuple(ops)


def _single_accessor(ops: tuple[tuple[int, Any], ...]) -> SingleAccessor:
    if len(ops) == 1:
        name = ops[0][1]

        def get_one(sco: SCO, objects: Objects) -> Any:
            return sco.get(name)

        return get_one

    def get(sco: SCO, objects: Objects) -> Any:
        current: Any = sco
        for kind, arg in ops:
            if kind == _KEY:
                try:
                    current = current.get(arg)
                except AttributeError:
                    return None
            elif kind == _DEREF:
                if type(current) is not str:
                    return None
                current = objects.get(current)
            else:  # _INDEX
                if type(current) is not list or not 0 <= arg < len(current):
                    return None
                current = current[arg]
            if current is None:
                return None
        return current

    return get


def _multi_accessor(ops: tuple[tuple[int, Any], ...]) -> MultiAccessor:
    def get(sco: SCO, objects: Objects) -> list[Any]:
        values: list[Any] = [sco]
        for kind, arg in ops:
            found: list[Any] = []
            for current in values:
                if kind == _KEY:
                    try:
                        item = current.get(arg)
                    except AttributeError:
                        continue
                    if item is not None:
                        found.append(item)
                elif kind == _ALL:
                    if type(current) is list:
                        found.extend(v for v in current if v is not None)
                elif kind == _DEREF:
                    if type(current) is str:
                        target = objects.get(current)
                        if target is not None:
                            found.append(target)
                elif type(current) is list and 0 <= arg < len(current):
                    item = current[arg]
                    if item is not None:
                        found.append(item)
            if not found:
                return found
            values = found
        return values

    return get


def _binary_kind(path: ObjectPath) -> str:
    """``"bin"`` (base64 text) or ``"hex"`` (hex text) for binary properties, else ``""``."""
    names = [s for s in path.steps if isinstance(s, str)]
    name = names[-1] if names else ""
    if name.endswith("_bin"):
        return "bin"
    if name.endswith("_hex"):
        return "hex"
    return ""


# --- value conversions ---------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _timestamp(text: str) -> int | None:
    try:
        return parse_timestamp(text)
    except InvalidInput:
        return None


def _bytes_converter(kind: str) -> Callable[[Any], bytes | None]:
    """Property value -> bytes for comparison with ``h''``/``b''`` constants."""
    if kind == "bin":

        def from_base64(value: Any) -> bytes | None:
            if type(value) is not str:
                return None
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return None

        return from_base64
    if kind == "hex":

        def from_hex(value: Any) -> bytes | None:
            if type(value) is not str:
                return None
            try:
                return bytes.fromhex(value)
            except ValueError:
                return None

        return from_hex

    def from_text(value: Any) -> bytes | None:
        # spec: a string compares with binary data by code points; any code point > 255 -> false
        if type(value) is not str:
            return None
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return None

    return from_text


def _is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


#: ``(property value) -> comparable key or None``, and the constant's key
Keyed: TypeAlias = tuple[Callable[[Any], Any], Any]


def _keyed(const: Constant, binary_kind: str) -> Keyed:
    """How to turn a property value into something comparable with ``const``."""
    if isinstance(const, StringConst):
        return (lambda v: v if type(v) is str else None), const.value
    if isinstance(const, IntConst | FloatConst):
        return (lambda v: v if _is_number(v) else None), const.value
    if isinstance(const, BoolConst):
        return (lambda v: v if type(v) is bool else None), const.value
    if isinstance(const, HexConst | BinaryConst):
        return _bytes_converter(binary_kind), const.value
    if isinstance(const, TimestampConst):
        return (lambda v: _timestamp(v) if type(v) is str else None), const.micros
    raise TypeError(f"not a constant: {const!r}")  # pragma: no cover


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "!=": lambda a, b: bool(a != b),
    "<": lambda a, b: bool(a < b),
    "<=": lambda a, b: bool(a <= b),
    ">": lambda a, b: bool(a > b),
    ">=": lambda a, b: bool(a >= b),
}


def _equality_predicate(const: Constant, binary_kind: str) -> ValuePredicate:
    """``value = const`` (false for values of another type)."""
    if isinstance(const, StringConst):
        s = const.value
        return lambda v: type(v) is str and v == s
    if isinstance(const, BoolConst):
        b = const.value
        return lambda v: v is b
    if isinstance(const, IntConst | FloatConst):
        n = const.value
        return lambda v: (type(v) is int or type(v) is float) and v == n
    key, target = _keyed(const, binary_kind)

    def equal(v: Any) -> bool:
        k = key(v)
        return k is not None and bool(k == target)

    return equal


def _compare_predicate(op: str, const: Constant, binary_kind: str) -> ValuePredicate:
    if op == "=":
        return _equality_predicate(const, binary_kind)
    if op == "!=":
        eq = _equality_predicate(const, binary_kind)
        return lambda v: not eq(v)
    if isinstance(const, StringConst):
        s = const.value
        if op == "<":
            return lambda v: type(v) is str and v < s
        if op == "<=":
            return lambda v: type(v) is str and v <= s
        if op == ">":
            return lambda v: type(v) is str and v > s
        return lambda v: type(v) is str and v >= s
    if isinstance(const, IntConst | FloatConst):
        n = const.value
        if op == "<":
            return lambda v: (type(v) is int or type(v) is float) and v < n
        if op == "<=":
            return lambda v: (type(v) is int or type(v) is float) and v <= n
        if op == ">":
            return lambda v: (type(v) is int or type(v) is float) and v > n
        return lambda v: (type(v) is int or type(v) is float) and v >= n
    key, target = _keyed(const, binary_kind)
    relation = _ORDER[op]

    def ordered(v: Any) -> bool:
        k = key(v)
        return k is not None and relation(k, target)

    return ordered


def _in_predicate(values: SetConst, binary_kind: str) -> ValuePredicate:
    members = values.values
    if not members:
        return lambda v: False
    if all(isinstance(m, StringConst) for m in members):
        strings = frozenset(m.value for m in members if isinstance(m, StringConst))
        return lambda v: type(v) is str and v in strings
    if all(isinstance(m, IntConst | FloatConst) for m in members):
        numbers = frozenset(m.value for m in members if isinstance(m, IntConst | FloatConst))
        return lambda v: (type(v) is int or type(v) is float) and v in numbers
    tests = tuple(_equality_predicate(m, binary_kind) for m in members)
    return lambda v: any(t(v) for t in tests)


def like_to_regex(like: str) -> re.Pattern[str]:
    """SQL ``LIKE`` -> an anchored regex: ``%`` any run, ``_`` one character; no escapes."""
    parts = ["(?s)"]
    for ch in like:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    parts.append(r"\Z")
    return re.compile("".join(parts))


def _text_of(binary_kind: str) -> Callable[[Any], str | None]:
    """Property value -> the text a ``MATCHES`` regex runs on (binary data as latin-1)."""
    if not binary_kind:
        return lambda v: v if type(v) is str else None
    to_bytes = _bytes_converter(binary_kind)

    def text(v: Any) -> str | None:
        data = to_bytes(v)
        return None if data is None else data.decode("latin-1")

    return text


IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8192)
def _network(text: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _network_predicate(op: str, text: str) -> ValuePredicate:
    constant = _network(text)
    if constant is None:
        return lambda v: False
    version = constant.version
    if op == "ISSUBSET":

        def subset(v: Any) -> bool:
            net = _network(v) if type(v) is str else None
            return net is not None and net.version == version and net.subnet_of(constant)  # type: ignore[arg-type]

        return subset

    def superset(v: Any) -> bool:
        net = _network(v) if type(v) is str else None
        return net is not None and net.version == version and constant.subnet_of(net)  # type: ignore[arg-type]

    return superset


def _value_predicate(node: Comparison) -> ValuePredicate:
    binary_kind = _binary_kind(node.path)
    op, value = node.op, node.value
    if op == "IN":
        assert isinstance(value, SetConst)
        return _in_predicate(value, binary_kind)
    if isinstance(value, SetConst):  # pragma: no cover - the parser forbids it
        raise TypeError(f"{op} does not take a set")
    if op in _ORDER:
        return _compare_predicate(op, value, binary_kind)
    assert isinstance(value, StringConst)
    if op == "LIKE":
        like = like_to_regex(value.value).match
        return lambda v: type(v) is str and like(v) is not None
    if op == "MATCHES":
        search = re.compile(value.value, re.DOTALL).search
        text = _text_of(binary_kind)

        def matches(v: Any) -> bool:
            t = text(v)
            return t is not None and search(t) is not None

        return matches
    if op in ("ISSUBSET", "ISSUPERSET"):
        return _network_predicate(op, value.value)
    raise ValueError(f"unknown operator {op}")  # pragma: no cover


# --- comparison expressions ----------------------------------------------------------------


def _compile_comparison(node: ComparisonNode) -> ObjectPredicate:
    if isinstance(node, ComparisonAnd | ComparisonOr):
        parts = tuple(_compile_comparison(o) for o in node.operands)
        if isinstance(node, ComparisonAnd):
            if len(parts) == 2:
                a, b = parts
                return lambda s, o: a(s, o) and b(s, o)

            def all_of(s: SCO, o: Objects) -> bool:
                return all(p(s, o) for p in parts)

            return all_of
        if len(parts) == 2:
            a, b = parts
            return lambda s, o: a(s, o) or b(s, o)

        def any_of(s: SCO, o: Objects) -> bool:
            return any(p(s, o) for p in parts)

        return any_of
    object_type = node.path.object_type
    ops = _path_ops(node.path)
    multi = any(kind == _ALL for kind, _ in ops)
    if isinstance(node, Exists):
        negated = node.negated
        if multi:
            get_all = _multi_accessor(ops)
            return lambda s, o: s.get("type") == object_type and (not get_all(s, o)) is negated
        get = _single_accessor(ops)
        return lambda s, o: s.get("type") == object_type and (get(s, o) is None) is negated
    test = _value_predicate(node)
    if node.negated:
        positive = test

        def test(v: Any) -> bool:
            return not positive(v)

    if multi:
        get_all = _multi_accessor(ops)

        def any_element(s: SCO, o: Objects) -> bool:
            if s.get("type") != object_type:
                return False
            return any(test(v) for v in get_all(s, o))

        return any_element
    get = _single_accessor(ops)

    def one(s: SCO, o: Objects) -> bool:
        if s.get("type") != object_type:
            return False
        v = get(s, o)
        return v is not None and test(v)

    return one


def _observation_predicate(node: ComparisonNode) -> Callable[[Observation], bool]:
    test = _compile_comparison(node)

    def observed(obs: Observation) -> bool:
        objects = obs.objects
        for key in obs.roots:
            sco = objects.get(key)
            if sco is not None and test(sco, objects):
                return True
        return False

    return observed


# --- observation expressions ---------------------------------------------------------------


class EvaluationTooCostly(InvalidInput):
    """A pattern's qualifiers and observation operators would need more combinations of
    observations than the budget allows (a hostile or pathological pattern)."""


#: Candidate bindings one evaluation may consider before it gives up with a clear error.
STEP_BUDGET = 2_000_000


class _Run:
    """State of one evaluation: the observations, per leaf the indexes it matches, and the
    steps left in the budget."""

    __slots__ = ("budget", "cache", "observations")

    def __init__(self, observations: Sequence[Observation], leaves: int) -> None:
        self.observations = observations
        self.cache: list[list[int] | None] = [None] * leaves
        self.budget = STEP_BUDGET

    def spend(self) -> None:
        """Count one candidate binding against the budget."""
        self.budget -= 1
        if self.budget < 0:
            raise EvaluationTooCostly(
                f"evaluating this pattern against {len(self.observations)} observations "
                f"needs more than {STEP_BUDGET:,} steps; narrow it with WITHIN or "
                "START/STOP, or evaluate fewer observations at a time"
            )


Generator: TypeAlias = Callable[[_Run, Prune], Iterator[Binding]]


def _capacity_ok(binding: Binding, observations: Sequence[Observation]) -> bool:
    counts = Counter(i for _, i in binding)
    return all(n == 1 or n <= observations[i].number_observed for i, n in counts.items())


def _joinable(left: Binding, right: Binding, observations: Sequence[Observation]) -> bool:
    shared = {i for _, i in left}.intersection(i for _, i in right)
    return not shared or _capacity_ok(left + right, observations)


def _both(first: Prune, second: Callable[[Binding], bool]) -> Callable[[Binding], bool]:
    if first is None:
        return second
    outer = first
    return lambda b: second(b) and outer(b)


class _Compiler:
    def __init__(self) -> None:
        self.leaves: list[tuple[ObservationExpr, Callable[[Observation], bool]]] = []

    def compile(self, node: ObservationNode) -> Generator:
        if isinstance(node, ObservationExpr):
            return self._leaf(node)
        if isinstance(node, ObservationOr):
            return self._or(tuple(self.compile(o) for o in node.operands))
        if isinstance(node, ObservationAnd):
            return self._sequence(tuple(self.compile(o) for o in node.operands), ordered=False)
        if isinstance(node, ObservationFollowedBy):
            return self._sequence(tuple(self.compile(o) for o in node.operands), ordered=True)
        if isinstance(node, Qualified):
            inner = self.compile(node.expr)
            q = node.qualifier
            if isinstance(q, Repeats):
                return self._repeats(inner, q.times)
            if isinstance(q, Within):
                return self._within(inner, q.seconds)
            if isinstance(q, StartStop):
                return self._start_stop(inner, q.start_us, q.stop_us)
        raise TypeError(f"not an observation node: {node!r}")  # pragma: no cover

    def _leaf(self, node: ObservationExpr) -> Generator:
        number = len(self.leaves)
        test = _observation_predicate(node.comparison)
        self.leaves.append((node, test))

        def leaf(run: _Run, prune: Prune) -> Iterator[Binding]:
            matched = run.cache[number]
            if matched is None:
                matched = [i for i, o in enumerate(run.observations) if test(o)]
                run.cache[number] = matched
            for i in matched:
                run.spend()
                binding = ((number, i),)
                if prune is None or prune(binding):
                    yield binding

        return leaf

    @staticmethod
    def _or(parts: tuple[Generator, ...]) -> Generator:
        def either(run: _Run, prune: Prune) -> Iterator[Binding]:
            for part in parts:
                yield from part(run, prune)

        return either

    @staticmethod
    def _sequence(parts: tuple[Generator, ...], *, ordered: bool) -> Generator:
        count = len(parts)

        def sequence(run: _Run, prune: Prune) -> Iterator[Binding]:
            observations = run.observations
            options: list[list[Binding]] = []
            for part in parts:
                found = list(part(run, prune))
                if not found:
                    return
                options.append(found)

            def extend(position: int, acc: Binding, floor: int) -> Iterator[Binding]:
                if position == count:
                    yield acc
                    return
                for option in options[position]:
                    run.spend()
                    if (
                        ordered
                        and position
                        and min(observations[i].first_observed_us for _, i in option) < floor
                    ):
                        continue
                    if not _joinable(acc, option, observations):
                        continue
                    combined = acc + option
                    if prune is not None and not prune(combined):
                        continue
                    last = max(observations[i].last_observed_us for _, i in option)
                    yield from extend(position + 1, combined, last)

            yield from extend(0, (), 0)

        return sequence

    @staticmethod
    def _repeats(inner: Generator, times: int) -> Generator:
        def repeated(run: _Run, prune: Prune) -> Iterator[Binding]:
            observations = run.observations
            unique: dict[tuple[tuple[int, int], ...], Binding] = {}
            for b in inner(run, prune):
                unique.setdefault(tuple(sorted(b)), b)
            options = list(unique.values())
            # necessary condition: enough occurrences in total (each option uses >= 1)
            used = {i for b in options for _, i in b}
            if sum(observations[i].number_observed for i in used) < times:
                return

            def extend(start: int, depth: int, acc: Binding) -> Iterator[Binding]:
                if depth == times:
                    yield acc
                    return
                for k in range(start, len(options)):
                    run.spend()
                    option = options[k]
                    if not _joinable(acc, option, observations):
                        continue
                    combined = acc + option
                    if prune is not None and not prune(combined):
                        continue
                    yield from extend(k, depth + 1, combined)

            yield from extend(0, 0, ())

        return repeated

    @staticmethod
    def _within(inner: Generator, seconds: float) -> Generator:
        limit = seconds * 1_000_000

        def within(run: _Run, prune: Prune) -> Iterator[Binding]:
            observations = run.observations

            def fits(binding: Binding) -> bool:
                first = min(observations[i].first_observed_us for _, i in binding)
                last = max(observations[i].last_observed_us for _, i in binding)
                return last - first <= limit

            return inner(run, _both(prune, fits))

        return within

    @staticmethod
    def _start_stop(inner: Generator, start: int, stop: int) -> Generator:
        def start_stop(run: _Run, prune: Prune) -> Iterator[Binding]:
            observations = run.observations

            def inside(binding: Binding) -> bool:
                for _, i in binding:
                    o = observations[i]
                    if o.first_observed_us < start or o.last_observed_us >= stop:
                        return False
                return True

            return inner(run, _both(prune, inside))

        return start_stop


class CompiledPattern:
    """A pattern compiled to closures; evaluate it with :meth:`matches` or :meth:`match`."""

    __slots__ = ("_generate", "_leaves", "_simple", "pattern")

    def __init__(self, pattern: Pattern) -> None:
        self.pattern = pattern
        compiler = _Compiler()
        self._generate = compiler.compile(pattern.root)
        self._leaves = tuple(compiler.leaves)
        root = pattern.root
        self._simple: Callable[[Observation], bool] | None = (
            self._leaves[0][1] if isinstance(root, ObservationExpr) else None
        )

    def __repr__(self) -> str:
        return f"compile_pattern({unparse(self.pattern)!r})"

    def _first(self, observations: Sequence[Observation]) -> Binding | None:
        run = _Run(observations, len(self._leaves))
        return next(self._generate(run, None), None)

    def matches(self, observations: Sequence[Observation]) -> bool:
        """Whether some binding of ``observations`` satisfies the pattern."""
        simple = self._simple
        if simple is not None:
            return any(simple(o) for o in observations)
        return self._first(observations) is not None

    def relevant(self, observation: Observation) -> bool:
        """Whether ``observation`` satisfies one of the pattern's observation expressions:
        only such observations can take part in a binding, so the others may be dropped
        before evaluating a cross-observation pattern over many of them."""
        return any(test(observation) for _, test in self._leaves)

    def first_binding(self, observations: Sequence[Observation]) -> tuple[int, ...] | None:
        """The indexes (distinct, in binding order) of the observations of the first
        satisfying binding found; ``None`` if none."""
        binding = self._first(observations)
        if binding is None:
            return None
        return tuple(dict.fromkeys(index for _, index in binding))

    def match(self, observations: Sequence[Observation]) -> MatchResult | None:
        """The first satisfying binding found, with an explanation; ``None`` if none."""
        binding = self._first(observations)
        if binding is None:
            return None
        seen: dict[int, None] = {}
        lines = [f"pattern {unparse(self.pattern)} matched:"]
        for leaf, index in binding:
            seen.setdefault(index, None)
            obs = observations[index]
            text = unparse(Pattern(self._leaves[leaf][0]))
            source = obs.source_id or "(no id)"
            lines.append(f"  {text} <- observation #{index} {source}")
        return MatchResult(
            bindings=tuple(observations[i] for i in seen),
            explanation="\n".join(lines),
        )


def compile_pattern(pattern: str | Pattern) -> CompiledPattern:
    """Parse (if given text) and compile once; raises ``PatternError`` for invalid text."""
    return CompiledPattern(parse(pattern) if isinstance(pattern, str) else pattern)
