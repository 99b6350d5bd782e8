"""The STIX 2.1 pattern AST: frozen, slotted dataclasses with structural equality.

Shape of a parsed pattern (spec section 9)::

    Pattern(root)
      root: ObservationNode =
          ObservationExpr(comparison)                 # "[ ... ]"
        | ObservationAnd / ObservationOr / ObservationFollowedBy(operands)   # n-ary, >= 2
        | Qualified(expr, qualifier)                  # expr WITHIN/REPEATS/START..STOP
      comparison: ComparisonNode =
          Comparison(path, op, value, negated)        # path [NOT] op constant
        | Exists(path, negated)                       # [NOT] EXISTS path
        | ComparisonAnd / ComparisonOr(operands)      # n-ary, >= 2

Chains of the same operator written without parentheses become one n-ary node
(``A AND B AND C`` -> ``ObservationAnd((A, B, C))``); an explicitly parenthesised
group stays a nested node, so ``(A AND B) AND C`` ->
``ObservationAnd((ObservationAnd((A, B)), C))``.
Parentheses around a single operand leave no trace. Several qualifiers nest from the
inside out: ``[x] WITHIN 5 SECONDS REPEATS 2 TIMES`` ->
``Qualified(Qualified(ObservationExpr(x), Within(5.0)), Repeats(2))``.

Object paths: ``ObjectPath(object_type, steps)``; ``steps[0]`` is always the top-level
property name (``str``); later steps are property names (``str``, from ``.name`` or
``.'quoted name'``), list indexes (``int``, from ``[0]``) or ``STAR`` (from ``[*]``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias


class Star(enum.Enum):
    """The ``[*]`` list step ("any element")."""

    STAR = "*"

    def __repr__(self) -> str:
        return "STAR"


STAR = Star.STAR

Step: TypeAlias = str | int | Star


@dataclass(frozen=True, slots=True)
class ObjectPath:
    """``object_type:steps[0]`` followed by ``.name`` / ``[n]`` / ``[*]`` steps."""

    object_type: str
    steps: tuple[Step, ...]


# --- constants ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StringConst:
    """``'text'`` with the escapes ``\\'`` and ``\\\\`` already resolved."""

    value: str


@dataclass(frozen=True, slots=True)
class IntConst:
    value: int


@dataclass(frozen=True, slots=True)
class FloatConst:
    """Always finite."""

    value: float


@dataclass(frozen=True, slots=True)
class BoolConst:
    value: bool


@dataclass(frozen=True, slots=True)
class HexConst:
    """``h'0a1b'``."""

    value: bytes


@dataclass(frozen=True, slots=True)
class BinaryConst:
    """``b'AAEC'`` (base64, never empty)."""

    value: bytes


@dataclass(frozen=True, slots=True)
class TimestampConst:
    """``t'2016-01-01T00:00:00.5Z'``: ``text`` is what stood between the quotes,
    ``micros`` the instant as microseconds since 1970-01-01T00:00:00Z (fraction digits
    beyond the sixth are truncated; a leap second ``:60`` counts as the next minute's ``:00``).
    """

    text: str
    micros: int


Constant: TypeAlias = (
    StringConst | IntConst | FloatConst | BoolConst | HexConst | BinaryConst | TimestampConst
)


@dataclass(frozen=True, slots=True)
class SetConst:
    """``('a', 'b')``: the right-hand side of ``IN`` (may be empty)."""

    values: tuple[Constant, ...]


Value: TypeAlias = Constant | SetConst

# --- comparison expressions (inside brackets) ---------------------------------------------

#: Operators of :class:`Comparison` (``NOT`` is carried by ``negated``).
COMPARISON_OPERATORS = (
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "IN",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """``path [NOT] op value``. ``op`` is one of :data:`COMPARISON_OPERATORS`.

    The parser guarantees: ``IN`` -> :class:`SetConst`; ``LIKE``/``MATCHES``/``ISSUBSET``/
    ``ISSUPERSET`` -> :class:`StringConst`; ``<``/``<=``/``>``/``>=`` -> no ``BoolConst``;
    ``=``/``!=`` -> any :data:`Constant`.
    """

    path: ObjectPath
    op: str
    value: Value
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Exists:
    """``[NOT] EXISTS path``."""

    path: ObjectPath
    negated: bool = False


@dataclass(frozen=True, slots=True)
class ComparisonAnd:
    operands: tuple[ComparisonNode, ...]


@dataclass(frozen=True, slots=True)
class ComparisonOr:
    operands: tuple[ComparisonNode, ...]


ComparisonNode: TypeAlias = Comparison | Exists | ComparisonAnd | ComparisonOr

# --- observation expressions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObservationExpr:
    """``[ comparison ]``."""

    comparison: ComparisonNode


@dataclass(frozen=True, slots=True)
class ObservationAnd:
    operands: tuple[ObservationNode, ...]


@dataclass(frozen=True, slots=True)
class ObservationOr:
    operands: tuple[ObservationNode, ...]


@dataclass(frozen=True, slots=True)
class ObservationFollowedBy:
    """Operands in temporal order."""

    operands: tuple[ObservationNode, ...]


@dataclass(frozen=True, slots=True)
class Within:
    """``WITHIN n SECONDS``; ``seconds`` > 0 and finite."""

    seconds: float


@dataclass(frozen=True, slots=True)
class StartStop:
    """``START t'..' STOP t'..'``; microseconds since the epoch, ``start_us < stop_us``."""

    start_us: int
    stop_us: int


@dataclass(frozen=True, slots=True)
class Repeats:
    """``REPEATS n TIMES``; ``times`` >= 1."""

    times: int


Qualifier: TypeAlias = Within | StartStop | Repeats


@dataclass(frozen=True, slots=True)
class Qualified:
    expr: ObservationNode
    qualifier: Qualifier


ObservationNode: TypeAlias = (
    ObservationExpr | ObservationAnd | ObservationOr | ObservationFollowedBy | Qualified
)


@dataclass(frozen=True, slots=True)
class Pattern:
    root: ObservationNode
