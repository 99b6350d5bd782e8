"""STIX 2.1 patterning: parse pattern text into an AST, print it back, explain errors.

>>> p = parse("[file:hashes.'SHA-256' = 'ab' AND file:size > 10] WITHIN 5 SECONDS")
>>> unparse(p)
"[file:hashes.'SHA-256' = 'ab' AND file:size > 10] WITHIN 5 SECONDS"

See ``kizuna.patterns.ast`` for the node types and ``docs/patterns.md`` for the grammar.
"""

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
    Star,
    StartStop,
    Step,
    StringConst,
    TimestampConst,
    Value,
    Within,
)
from kizuna.patterns.evaluate import CompiledPattern, MatchResult, compile_pattern
from kizuna.patterns.observations import (
    Observation,
    observation_from_scos,
    observations_from_stix,
)
from kizuna.patterns.parser import PatternError, parse
from kizuna.patterns.printer import unparse

__all__ = [
    "STAR",
    "BinaryConst",
    "BoolConst",
    "Comparison",
    "ComparisonAnd",
    "ComparisonNode",
    "ComparisonOr",
    "CompiledPattern",
    "Constant",
    "Exists",
    "FloatConst",
    "HexConst",
    "IntConst",
    "MatchResult",
    "ObjectPath",
    "Observation",
    "ObservationAnd",
    "ObservationExpr",
    "ObservationFollowedBy",
    "ObservationNode",
    "ObservationOr",
    "Pattern",
    "PatternError",
    "Qualified",
    "Qualifier",
    "Repeats",
    "SetConst",
    "Star",
    "StartStop",
    "Step",
    "StringConst",
    "TimestampConst",
    "Value",
    "Within",
    "compile_pattern",
    "observation_from_scos",
    "observations_from_stix",
    "parse",
    "unparse",
]
