"""Differential test: kizuna's pattern evaluator against the OASIS stix2-matcher (STIX 2.1 mode).

Three sources of cases, all deterministic:

* a generated indicator corpus (``benchmarks/pattern_bench.py``'s generator: the same pattern
  and observation mix the benchmark times), every pattern x every observation, plus
  two-observation sequences for the observation-level AND/OR/FOLLOWEDBY patterns;
* ``PROBES``: hand-written cases for the places where matchers usually differ (NOT and missing
  properties, MATCHES anchoring and newlines, LIKE case, timestamps, ISSUBSET on non-addresses,
  ``[*]`` with NOT, EXISTS, number_observed/REPEATS, FOLLOWEDBY timing, AND over one
  observation);
* a hypothesis strategy (``derandomize=True``) over simple comparison patterns on a fixed
  set of paths x generated SCOs.

Both engines must agree (True / False / "error"), except where a ``KNOWN_DIFFERENCES`` entry
recognises the case: those are places where stix2-matcher 3.0.0 does not follow the STIX 2.1
specification (section numbers refer to STIX Version 2.1, OASIS Standard, 10 June 2021,
section 9 "STIX Patterning"). Each entry was checked against stix2matcher/matcher.py.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

try:
    import kizuna.patterns.evaluate  # noqa: F401
except ImportError as exc:  # the evaluator is being written in parallel
    pytest.skip(f"kizuna.patterns.evaluate cannot be imported: {exc}", allow_module_level=True)

from stix2matcher.matcher import match as matcher_match

from kizuna.patterns import compile_pattern, observations_from_stix

ROOT = Path(__file__).resolve().parents[2]


def _load_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "pattern_bench", ROOT / "benchmarks" / "pattern_bench.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pattern_bench"] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()

Obj = dict[str, Any]
Outcome = bool | str  # True / False / "error"


# --- running both engines ---------------------------------------------------------------------

_ids = iter(range(1, 10**9))


def _id(type_: str) -> str:
    return f"{type_}--{uuid.UUID(int=next(_ids), version=4)}"


def event(
    *scos: Obj, first: str = "2020-01-01T00:00:00Z", last: str | None = None, n: int = 1
) -> list[Obj]:
    """observed-data (object_refs form) + its SCOs; SCOs without an id get a fresh one."""
    objs = [s if "id" in s else {**s, "id": _id(s["type"])} for s in scos]
    od = {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": _id("observed-data"),
        "created": first,
        "modified": first,
        "first_observed": first,
        "last_observed": last or first,
        "number_observed": n,
        "object_refs": [o["id"] for o in objs],
    }
    return [od, *objs]


@dataclass(frozen=True)
class Case:
    pattern: str
    events: tuple[tuple[Obj, ...], ...]  # each: observed-data first, then its SCOs
    label: str = ""

    def describe(self) -> str:
        lines = [f"pattern: {self.pattern}"]
        for i, ev in enumerate(self.events):
            od = ev[0]
            lines.append(
                f"  observation {i}: {od['first_observed']}..{od['last_observed']} "
                f"x{od['number_observed']}"
            )
            for s in ev[1:]:
                props = {k: v for k, v in s.items() if k not in ("spec_version", "id")}
                lines.append(f"    {props}")
        return "\n".join(lines)


def make_case(pattern: str, *events: list[Obj], label: str = "") -> Case:
    return Case(pattern, tuple(tuple(e) for e in events), label)


def run_kizuna(case: Case) -> Outcome:
    try:
        cp = compile_pattern(case.pattern)
        obs = observations_from_stix([o for ev in case.events for o in ev])
        return bool(cp.matches(obs))
    except Exception:
        return "error"


def run_matcher(case: Case) -> Outcome:
    bundles = [
        {"type": "bundle", "id": "bundle--" + ev[0]["id"].split("--")[1], "objects": list(ev)}
        for ev in case.events
    ]
    try:
        return bool(matcher_match(case.pattern, bundles, stix_version="2.1"))
    except Exception:
        return "error"


# --- where stix2-matcher departs from the specification -----------------------------------------


def _scos(case: Case) -> list[Obj]:
    return [o for ev in case.events for o in ev[1:]]


def _exists(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher has no EXISTS callback (cti-pattern-matcher issue #78): the walk leaves the
    # path's raw selection on the stack, so a lone [EXISTS x:p] works by accident, NOT is
    # silently dropped, and AND/OR then combine structures of the wrong shape (errors or
    # wrong answers).
    if "EXISTS" not in case.pattern:
        return False
    return (
        "NOT EXISTS" in case.pattern
        or m == "error"
        or re.search(r"\b(AND|OR)\b", case.pattern.split("]")[0]) is not None
    )


def _not_order_mismatch(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher's order_pred returns False for incomparable types *before* applying NOT.
    return re.search(r"\bNOT\s+[<>]", case.pattern) is not None


def _subset_non_address(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher raises MatcherException when ISSUBSET/ISSUPERSET meets a value that is
    # not an IPv4 address/CIDR (e.g. a file name) or an IP without a prefix on the right.
    return (
        m == "error" and k != "error" and re.search(r"\bISSU(B|PER)SET\b", case.pattern) is not None
    )


def _has_newline_value(case: Case) -> bool:
    def walk(v: Any) -> bool:
        if isinstance(v, str):
            return "\n" in v
        if isinstance(v, dict):
            return any(walk(x) for x in v.values())
        if isinstance(v, list):
            return any(walk(x) for x in v)
        return False

    return any(walk(s) for s in _scos(case))


def _like_newline(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher turns LIKE's % into ".*" and _ into "." without re.DOTALL, so neither
    # matches a newline inside the property value.
    return " LIKE " in case.pattern and _has_newline_value(case)


def _matches_dotall(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher: re.search without DOTALL; kizuna: re.search with DOTALL.
    return " MATCHES " in case.pattern and _has_newline_value(case)


def _followedby_overlap(case: Case, k: Outcome, m: Outcome) -> bool:
    # stix2-matcher accepts a FOLLOWEDBY b when a's first_observed <= b's last_observed (some
    # choice of instants inside the windows is ordered); kizuna requires b's first_observed >=
    # a's last_observed. They differ only when the windows overlap.
    if "FOLLOWEDBY" not in case.pattern or len(case.events) < 2:
        return False
    spans = [(ev[0]["first_observed"], ev[0]["last_observed"]) for ev in case.events]
    return any(
        a[0] <= b[1] and b[0] < a[1] for i, a in enumerate(spans) for b in spans[i + 1 :]
    ) or any(a[0] <= b[1] and b[0] < a[1] for i, b in enumerate(spans) for a in spans[i + 1 :])


@dataclass(frozen=True)
class KnownDifference:
    name: str
    applies: Callable[[Case, Outcome, Outcome], bool]
    reason: str
    #: "matcher-bug": stix2-matcher contradicts the spec text; "interpretation": the spec is
    #: silent or ambiguous and the two engines chose differently (kizuna's choice is noted).
    kind: str = "matcher-bug"


KNOWN_DIFFERENCES: list[KnownDifference] = [
    KnownDifference(
        "EXISTS (NOT, or inside AND/OR)",
        _exists,
        "9.5 (EXISTS a: true when the property exists; NOT negates the comparison "
        "expression): 'NOT EXISTS a' is true when the property is absent, and EXISTS combines "
        "with AND/OR like any comparison. stix2-matcher 3.0.0 implements no EXISTS callback "
        "(cti-pattern-matcher issue #78): NOT is ignored, so [NOT EXISTS x:p] behaves as "
        "[EXISTS x:p], and inside AND/OR it raises or answers from a malformed stack.",
    ),
    KnownDifference(
        "NOT with <, <=, >, >= on incomparable types",
        _not_order_mismatch,
        "9.5: an ordering comparison between incompatible types (a string and an integer) is "
        "false, and 'A Comparison Operator MAY be preceded by the modifier NOT, in which case "
        "the resultant Comparison Expression is logically negated', so NOT > is true there. "
        "stix2-matcher's order_pred returns False for incomparable operands before it applies "
        "NOT (while its = / != path does apply NOT: [x:s NOT = 1] is true for a string s).",
    ),
    KnownDifference(
        "ISSUBSET/ISSUPERSET error",
        _subset_non_address,
        "9.5 (ISSUBSET/ISSUPERSET compare IP addresses/CIDR ranges); a comparison whose operand "
        "is of another kind evaluates to false, it is not an error. stix2-matcher raises "
        "MatcherException('Invalid IPv4 address: ...') for a non-address value and for a "
        "bare address as the ISSUPERSET operand.",
    ),
    KnownDifference(
        "LIKE and newlines",
        _like_newline,
        "9.5 (LIKE): '%' matches any sequence of zero or more characters and '_' any single "
        "character, as in SQL; a newline is a character. stix2-matcher translates them to "
        "'.*' and '.' without re.DOTALL, so e.g. url:value LIKE 'http%y' misses "
        "'http://a.example/x\\ny'.",
    ),
    KnownDifference(
        "MATCHES and newlines",
        _matches_dotall,
        "9.5 (MATCHES, PCRE regular expressions): the spec gives no flags. kizuna compiles "
        "with DOTALL so '.' matches every character, newline included (its choice); "
        "stix2-matcher uses Python re defaults, where '.' stops at a newline. Both use "
        "search (unanchored) semantics.",
        kind="interpretation",
    ),
    KnownDifference(
        "FOLLOWEDBY with overlapping windows",
        _followedby_overlap,
        "9.5 (FOLLOWEDBY: a's observation precedes or is simultaneous with b's) does not say "
        "how first_observed..last_observed windows compare. stix2-matcher accepts when some "
        "instants in the windows are ordered (a.first_observed <= b.last_observed); kizuna "
        "requires b.first_observed >= a.last_observed. They agree on disjoint windows.",
        kind="interpretation",
    ),
]


def known_difference(case: Case, k: Outcome, m: Outcome) -> KnownDifference | None:
    for kd in KNOWN_DIFFERENCES:
        if kd.applies(case, k, m):
            return kd
    return None


def check(cases: list[Case]) -> tuple[int, dict[str, int], list[str]]:
    """(agreeing, known-difference counts, unexplained disagreements)."""
    agree = 0
    known: dict[str, int] = {}
    bad: list[str] = []
    for case in cases:
        k, m = run_kizuna(case), run_matcher(case)
        if k == m:
            agree += 1
            continue
        kd = known_difference(case, k, m)
        if kd is not None:
            known[kd.name] = known.get(kd.name, 0) + 1
            continue
        bad.append(f"{case.describe()}\n  kizuna={k} stix2-matcher={m}")
    return agree, known, bad


def _fail_message(bad: list[str]) -> str:
    return f"{len(bad)} unexplained disagreement(s); first 10:\n\n" + "\n\n".join(bad[:10])


# --- 1. the benchmark corpus ------------------------------------------------------------------


def corpus_cases() -> list[Case]:
    patterns, events = bench.make_corpus(60, 40, seed=7, crafted_share=0.25)
    cases = [Case(p.text, (tuple(e.objects),), p.kind) for p in patterns for e in events]
    # multi-observation sequences for the observation-level patterns (and a few others)
    t = ("2020-01-01T00:00:00Z", "2020-01-01T00:00:30Z", "2020-01-01T02:00:00Z")
    for p in patterns:
        if len(p.witness) < 2:
            continue
        w0, w1 = p.witness
        for a, b in ((0, 1), (1, 0), (0, 0), (0, 2), (2, 0)):
            cases.append(
                make_case(
                    p.text, event(*w0, first=t[a]), event(*w1, first=t[b]), label=p.kind + "-seq"
                )
            )
        cases.append(make_case(p.text, event(*w0, *w1), label=p.kind + "-one-obs"))
    assert len(cases) <= 3000
    return cases


def test_corpus_agrees() -> None:
    cases = corpus_cases()
    agree, known, bad = check(cases)
    matched = sum(run_kizuna(c) is True for c in cases[:: max(1, len(cases) // 400)])
    assert matched > 0, "the corpus should contain matching pairs"
    assert not bad, _fail_message(bad)
    assert agree + sum(known.values()) == len(cases)


# --- 2. hand-written probes -------------------------------------------------------------------

F = {
    "type": "file",
    "name": "Evil.EXE",
    "size": 10,
    "hashes": {"MD5": "aa"},
    "ctime": "2020-01-01T00:00:00Z",
}
U = {"type": "url", "value": "http://a.example/x\ny"}
IP = {"type": "ipv4-addr", "value": "10.0.0.1"}
NT = {"type": "network-traffic", "protocols": ["ipv4", "tcp"], "dst_port": 443}

PROBES: list[Case] = [
    # NOT / != with a present and a missing property
    make_case("[file:name NOT = 'x']", event(F)),
    make_case("[file:name != 'x']", event(F)),
    make_case("[file:missing NOT = 'x']", event(F)),
    make_case("[file:missing != 'x']", event(F)),
    make_case("[file:missing NOT IN ('x')]", event(F)),
    make_case("[file:missing NOT LIKE 'x%']", event(F)),
    # MATCHES: search, not match; newline handling
    make_case("[file:name MATCHES 'vil']", event(F)),
    make_case("[file:name MATCHES '^vil']", event(F)),
    make_case("[file:name MATCHES '(?i)^evil\\\\.exe$']", event(F)),
    make_case("[url:value MATCHES 'x.y']", event(U)),
    make_case("[url:value MATCHES '^y$']", event(U)),
    make_case("[url:value MATCHES 'x$']", event(U)),
    # LIKE is case-sensitive
    make_case("[file:name LIKE 'evil%']", event(F)),
    make_case("[file:name LIKE 'Evil%']", event(F)),
    make_case("[file:name LIKE '_vil.EXE']", event(F)),
    make_case("[url:value LIKE 'http%y']", event(U)),
    # timestamps: a t'' constant against a timestamp string
    make_case("[file:ctime = t'2020-01-01T00:00:00Z']", event(F)),
    make_case("[file:ctime = t'2020-01-01T00:00:00.000Z']", event(F)),
    make_case("[file:ctime > t'2019-12-31T23:59:59Z']", event(F)),
    make_case("[file:ctime < t'2019-12-31T23:59:59Z']", event(F)),
    make_case("[file:ctime = '2020-01-01T00:00:00Z']", event(F)),
    # ISSUBSET / ISSUPERSET
    make_case("[ipv4-addr:value ISSUBSET '10.0.0.0/8']", event(IP)),
    make_case("[ipv4-addr:value ISSUBSET '11.0.0.0/8']", event(IP)),
    make_case("[ipv4-addr:value NOT ISSUBSET '11.0.0.0/8']", event(IP)),
    make_case(
        "[ipv4-addr:value ISSUPERSET '10.0.0.1/32']",
        event({"type": "ipv4-addr", "value": "10.0.0.0/24"}),
    ),
    make_case("[file:name ISSUBSET '10.0.0.0/8']", event(F)),
    make_case(
        "[ipv4-addr:value ISSUPERSET '10.0.0.1']",
        event({"type": "ipv4-addr", "value": "10.0.0.0/24"}),
    ),
    # EXISTS
    make_case("[EXISTS file:name]", event(F)),
    make_case("[EXISTS file:missing]", event(F)),
    make_case("[NOT EXISTS file:missing]", event(F)),
    make_case("[NOT EXISTS file:name]", event(F)),
    # lists and NOT
    make_case("[network-traffic:protocols[*] = 'tcp']", event(NT)),
    make_case("[network-traffic:protocols[*] NOT = 'tcp']", event(NT)),
    make_case("[network-traffic:protocols[0] = 'ipv4']", event(NT)),
    make_case("[network-traffic:protocols[*] = 'udp']", event(NT)),
    # type mismatches
    make_case("[file:size = '10']", event(F)),
    make_case("[file:size != '10']", event(F)),
    make_case("[file:name > 5]", event(F)),
    make_case("[file:size = 10.0]", event(F)),
    make_case("[file:size IN (10, 11)]", event(F)),
    # number_observed and REPEATS
    make_case("[file:name = 'Evil.EXE'] REPEATS 2 TIMES", event(F)),
    make_case("[file:name = 'Evil.EXE'] REPEATS 2 TIMES", event(F, n=2)),
    make_case("[file:name = 'Evil.EXE'] REPEATS 2 TIMES", event(F), event(F)),
    # observation AND over one observed-data
    make_case("[file:name = 'Evil.EXE'] AND [file:size = 10]", event(F)),
    make_case("[file:name = 'Evil.EXE'] AND [file:size = 10]", event(F, n=2)),
    make_case("[file:name = 'Evil.EXE'] AND [ipv4-addr:value = '10.0.0.1']", event(F, IP)),
    make_case("[file:name = 'Evil.EXE'] AND [ipv4-addr:value = '10.0.0.1']", event(F), event(IP)),
    make_case("[file:name = 'Evil.EXE'] OR [ipv4-addr:value = '10.0.0.1']", event(IP)),
    # FOLLOWEDBY timing
    make_case(
        "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'Evil.EXE']",
        event(IP, first="2020-01-01T00:00:00Z"),
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "[file:name = 'Evil.EXE'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']",
        event(IP, first="2020-01-01T00:00:00Z"),
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "[file:name = 'Evil.EXE'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']",
        event(IP, first="2020-01-01T00:00:00Z", last="2020-01-01T00:01:00Z"),
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'Evil.EXE']",
        event(IP, F, first="2020-01-01T00:00:00Z"),
    ),
    make_case(
        "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'Evil.EXE']",
        event(IP, F, first="2020-01-01T00:00:00Z", n=2),
    ),
    make_case(
        "([ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'Evil.EXE']) WITHIN 5 SECONDS",
        event(IP, first="2020-01-01T00:00:00Z"),
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "([ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [file:name = 'Evil.EXE']) WITHIN 10 SECONDS",
        event(IP, first="2020-01-01T00:00:00Z"),
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "[file:name = 'Evil.EXE'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:10Z'",
        event(F, first="2020-01-01T00:00:10Z"),
    ),
    make_case(
        "[file:name = 'Evil.EXE'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:00:10Z'",
        event(F, first="2020-01-01T00:00:00Z"),
    ),
]


@pytest.mark.parametrize("case", PROBES, ids=lambda c: f"{c.pattern[:60]}/{len(c.events)}obs")
def test_probe_agrees(case: Case) -> None:
    k, m = run_kizuna(case), run_matcher(case)
    if k == m:
        return
    kd = known_difference(case, k, m)
    assert kd is not None, f"{case.describe()}\n  kizuna={k} stix2-matcher={m}"


# --- 3. hypothesis: simple comparisons x generated SCOs ------------------------------------

STRINGS = ["evil.exe", "Evil.EXE", "report.pdf", "a\nb.exe", "", "it's"]
LIKES = ["evil%", "Evil%", "%.exe", "_vil.exe", "%", "%\n%", "e_il%"]
REGEXES = ["evil", "^evil", "exe$", "^E.*E$", "a.b", "(?i)evil", "^$", "\\.pdf$"]
INTS = [0, 10, 443, 1000, -1]
TIMES = ["2020-01-01T00:00:00Z", "2020-06-01T12:00:00.5Z", "2019-12-31T23:59:59Z"]
IPS = ["10.1.2.3", "192.168.1.7", "10.0.0.0/24", "8.8.8.8"]
CIDRS = ["10.0.0.0/8", "10.1.0.0/16", "192.168.1.0/24", "10.0.0.0/24"]
PROTOCOLS = ["ipv4", "tcp", "udp", "dns"]

# path -> kind of value it holds
PATHS: dict[str, list[tuple[str, str]]] = {
    "file": [
        ("name", "str"),
        ("size", "int"),
        ("hashes.MD5", "str"),
        ("ctime", "time"),
        ("missing", "str"),
    ],
    "ipv4-addr": [("value", "ip")],
    "network-traffic": [
        ("dst_port", "int"),
        ("protocols[*]", "str"),
        ("protocols[0]", "str"),
        ("dst_ref.value", "ip"),
    ],
}


def _lit_str(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def comparison(draw: st.DrawFn, type_: str) -> str:
    path, kind = draw(st.sampled_from(PATHS[type_]))
    full = f"{type_}:{path}"
    neg = "NOT " if draw(st.booleans()) else ""
    op = draw(st.sampled_from(["=", "!=", "<", ">", "IN", "LIKE", "MATCHES", "ISSUBSET", "EXISTS"]))
    if op == "EXISTS":
        return f"{neg}EXISTS {full}"
    if op in ("=", "!=", "<", ">"):
        if kind == "int":
            lit = str(draw(st.sampled_from(INTS)))
        elif kind == "time":
            lit = draw(st.sampled_from([f"t'{t}'" for t in TIMES] + [_lit_str(TIMES[0])]))
        elif kind == "ip":
            lit = _lit_str(draw(st.sampled_from(IPS)))
        else:
            lit = draw(st.sampled_from([_lit_str(s) for s in STRINGS] + ["10"]))
        return f"{full} {neg}{op} {lit}"
    if op == "IN":
        pool = [str(i) for i in INTS] if kind == "int" else [_lit_str(s) for s in STRINGS + IPS]
        items = draw(st.lists(st.sampled_from(pool), max_size=3, unique=True))
        return f"{full} {neg}IN ({', '.join(items)})"
    if op == "LIKE":
        return f"{full} {neg}LIKE {_lit_str(draw(st.sampled_from(LIKES)))}"
    if op == "MATCHES":
        return f"{full} {neg}MATCHES {_lit_str(draw(st.sampled_from(REGEXES)))}"
    return f"{full} {neg}ISSUBSET {_lit_str(draw(st.sampled_from(CIDRS)))}"


@st.composite
def pattern_and_scos(draw: st.DrawFn) -> Case:
    type_ = draw(st.sampled_from(sorted(PATHS)))
    parts = draw(st.lists(comparison(type_), min_size=1, max_size=3))
    joins = [draw(st.sampled_from(["AND", "OR"])) for _ in parts[1:]]
    text = parts[0]
    rest = list(zip(joins, parts[1:], strict=True))
    if rest and draw(st.booleans()):  # a parenthesised OR group first
        text = f"({parts[0]} OR {parts[1]})"
        rest = rest[1:]
    for join, part in rest:
        text = f"{text} {join} {part}"
    scos: list[Obj] = []
    maybe = st.booleans()
    if type_ == "file":
        f: Obj = {"type": "file"}
        if draw(maybe):
            f["name"] = draw(st.sampled_from(STRINGS))
        if draw(maybe):
            f["size"] = draw(st.sampled_from(INTS))
        if draw(maybe):
            f["hashes"] = {"MD5": draw(st.sampled_from(STRINGS))}
        if draw(maybe):
            f["ctime"] = draw(st.sampled_from(TIMES))
        scos.append(f)
    elif type_ == "ipv4-addr":
        scos.append({"type": "ipv4-addr", "value": draw(st.sampled_from(IPS))})
    else:
        dst = {"type": "ipv4-addr", "value": draw(st.sampled_from(IPS)), "id": _id("ipv4-addr")}
        nt: Obj = {"type": "network-traffic"}
        if draw(maybe):
            nt["dst_port"] = draw(st.sampled_from(INTS))
        if draw(maybe):
            nt["protocols"] = draw(st.lists(st.sampled_from(PROTOCOLS), max_size=3))
        if draw(maybe):
            nt["dst_ref"] = dst["id"]
        scos.extend([dst, nt])
    if draw(st.booleans()):  # a second object of the same type
        scos.append(
            {"type": "ipv4-addr", "value": draw(st.sampled_from(IPS))}
            if type_ != "file"
            else {"type": "file", "name": draw(st.sampled_from(STRINGS))}
        )
    return make_case(f"[{text}]", event(*scos))


@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(pattern_and_scos())
def test_generated_comparisons_agree(case: Case) -> None:
    k, m = run_kizuna(case), run_matcher(case)
    if k == m:
        return
    kd = known_difference(case, k, m)
    assert kd is not None, f"{case.describe()}\n  kizuna={k} stix2-matcher={m}"


def test_known_differences_are_documented() -> None:
    for kd in KNOWN_DIFFERENCES:
        assert re.search(r"\b9\.\d", kd.reason), kd.name
        assert kd.kind in ("matcher-bug", "interpretation"), kd.name
