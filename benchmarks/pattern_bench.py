"""STIX 2.1 pattern evaluation: kizuna's compiled patterns against the OASIS stix2-matcher.

    .venv/bin/python benchmarks/pattern_bench.py [--patterns 200] [--observations 2000]
        [--seed 1] [--matcher-pairs 20000]

A deterministic corpus is generated up front (not timed):

* patterns: an indicator-style mix (ipv4/ipv6/domain-name/url/email-addr equality, file
  hashes 'SHA-256' and MD5, network-traffic dst_port + dst_ref.value, CIDR ISSUBSET, LIKE,
  MATCHES, IN sets, AND/OR inside brackets, and a few observation-level AND/OR/FOLLOWEDBY
  with WITHIN);
* observations: one observed-data each (STIX 2.1 ``object_refs`` form) with 1-3 SCOs;
  about 5% are crafted from a pattern's witness so that something matches.

Timed: every (pattern, observation) pair. kizuna compiles each pattern once
(``compile_pattern``) and calls ``matches([obs])`` per pair; observations are converted once
with ``observations_from_stix`` (timed separately). stix2-matcher is driven the way it is
normally used, ``match(pattern, [bundle], stix_version="2.1")`` per pair, which parses the
pattern with ANTLR on every call; because that is slow it runs on a deterministic sample of
at most --matcher-pairs pairs. For fairness a second stix2-matcher row pre-parses each
pattern once (``stix2matcher.matcher.Pattern``) and calls ``Pattern.match`` per pair.

The sampled pairs are also checked for agreement (kizuna vs stix2-matcher); the count and up
to 5 examples are printed, but a disagreement does not fail the run: correctness is the job
of tests/patterns/test_differential.py, which also lists where stix2-matcher departs from
the specification.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from stix2matcher.matcher import Pattern as MatcherPattern
from stix2matcher.matcher import match as matcher_match

from kizuna.patterns import compile_pattern, observations_from_stix

Sco = dict[str, Any]
Stix = dict[str, Any]

BASE_TIME = dt.datetime(2024, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
TLDS = ("com", "net", "org", "io", "info", "biz")
WORDS = (
    "alpha",
    "bravo",
    "cobalt",
    "delta",
    "ember",
    "falcon",
    "garnet",
    "harbor",
    "indigo",
    "jasper",
    "kilo",
    "lumen",
    "mango",
    "nova",
    "onyx",
    "pylon",
    "quartz",
    "raven",
)
EXTS = ("exe", "dll", "doc", "pdf", "zip", "js", "ps1")
PORTS = (22, 25, 53, 80, 443, 445, 3389, 8080, 8443)


# --- deterministic building blocks ------------------------------------------------------------


def new_id(rng: random.Random, type_: str) -> str:
    return f"{type_}--{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def stix_time(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def rand_ipv4(rng: random.Random) -> str:
    return ".".join(str(rng.randrange(1, 255)) for _ in range(4))


def rand_ipv6(rng: random.Random) -> str:
    return "2001:db8:" + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6))


def rand_domain(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}{rng.randrange(10000)}.{rng.choice(WORDS)}.{rng.choice(TLDS)}"


def rand_hex(rng: random.Random, nbytes: int) -> str:
    return f"{rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


def rand_path(rng: random.Random) -> str:
    return "/".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))


def rand_url(rng: random.Random) -> str:
    scheme = rng.choice(("http", "https"))
    return f"{scheme}://{rand_domain(rng)}/{rand_path(rng)}?id={rng.randrange(10**6)}"


def rand_email(rng: random.Random) -> str:
    return f"{rng.choice(WORDS)}.{rng.choice(WORDS)}{rng.randrange(100)}@{rand_domain(rng)}"


def q(s: str) -> str:
    """A STIX pattern string literal."""
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def sco(rng: random.Random, type_: str, **props: Any) -> Sco:
    return {"type": type_, "spec_version": "2.1", "id": new_id(rng, type_), **props}


def file_sco(
    rng: random.Random,
    *,
    name: str | None = None,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
) -> Sco:
    hashes = {"SHA-256": sha256 or rand_hex(rng, 32), "MD5": md5 or rand_hex(rng, 16)}
    return sco(
        rng,
        "file",
        name=name or f"{rng.choice(WORDS)}_{rng.randrange(1000)}.{rng.choice(EXTS)}",
        size=size if size is not None else rng.randrange(100, 5_000_000),
        hashes=hashes,
    )


def traffic_scos(
    rng: random.Random, *, dst: str | None = None, port: int | None = None
) -> list[Sco]:
    src = sco(rng, "ipv4-addr", value=rand_ipv4(rng))
    dst_obj = sco(rng, "ipv4-addr", value=dst or rand_ipv4(rng))
    nt = sco(
        rng,
        "network-traffic",
        src_ref=src["id"],
        dst_ref=dst_obj["id"],
        src_port=rng.randrange(1024, 65536),
        dst_port=port if port is not None else rng.choice(PORTS),
        protocols=["ipv4", rng.choice(("tcp", "udp"))],
    )
    return [src, dst_obj, nt]


def random_scos(rng: random.Random) -> list[Sco]:
    """1-3 unrelated-looking SCOs (a network-traffic brings its two addresses)."""
    kind = rng.randrange(10)
    if kind <= 1:
        return traffic_scos(rng)
    makers: list[Callable[[], Sco]] = [
        lambda: sco(rng, "ipv4-addr", value=rand_ipv4(rng)),
        lambda: sco(rng, "ipv6-addr", value=rand_ipv6(rng)),
        lambda: sco(rng, "domain-name", value=rand_domain(rng)),
        lambda: sco(rng, "url", value=rand_url(rng)),
        lambda: file_sco(rng),
        lambda: sco(rng, "email-addr", value=rand_email(rng)),
    ]
    return [rng.choice(makers)() for _ in range(rng.randrange(1, 4))]


# --- patterns with witnesses ------------------------------------------------------------------


@dataclass(frozen=True)
class GenPattern:
    kind: str
    text: str
    witness: list[list[Sco]]  # per observation: SCOs that satisfy (part of) the pattern


def _eq(rng: random.Random, type_: str, value: str) -> GenPattern:
    return GenPattern(
        f"{type_}=", f"[{type_}:value = {q(value)}]", [[sco(rng, type_, value=value)]]
    )


def gen_pattern(rng: random.Random) -> GenPattern:
    r = rng.random()
    if r < 0.16:
        return _eq(rng, "ipv4-addr", rand_ipv4(rng))
    if r < 0.22:
        return _eq(rng, "ipv6-addr", rand_ipv6(rng))
    if r < 0.34:
        return _eq(rng, "domain-name", rand_domain(rng))
    if r < 0.42:
        return _eq(rng, "url", rand_url(rng))
    if r < 0.46:
        return _eq(rng, "email-addr", rand_email(rng))
    if r < 0.56:
        h = rand_hex(rng, 32)
        return GenPattern(
            "sha256", f"[file:hashes.'SHA-256' = {q(h)}]", [[file_sco(rng, sha256=h)]]
        )
    if r < 0.62:
        h = rand_hex(rng, 16)
        return GenPattern("md5", f"[file:hashes.MD5 = {q(h)}]", [[file_sco(rng, md5=h)]])
    if r < 0.68:
        ip, port = rand_ipv4(rng), rng.choice(PORTS)
        text = f"[network-traffic:dst_ref.value = {q(ip)} AND network-traffic:dst_port = {port}]"
        return GenPattern("traffic", text, [traffic_scos(rng, dst=ip, port=port)])
    if r < 0.73:
        a, b = rng.randrange(1, 224), rng.randrange(256)
        prefix = rng.choice((16, 24))
        net = f"{a}.{b}.{rng.randrange(256) if prefix == 24 else 0}.0"
        ip = net.rsplit(".", 1)[0] + f".{rng.randrange(1, 255)}"
        if prefix == 16:
            ip = f"{a}.{b}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        return GenPattern(
            "cidr",
            f"[ipv4-addr:value ISSUBSET '{net}/{prefix}']",
            [[sco(rng, "ipv4-addr", value=ip)]],
        )
    if r < 0.78:
        base = f"{rng.choice(WORDS)}-{rng.randrange(1000)}.{rng.choice(TLDS)}"
        return GenPattern(
            "like",
            f"[domain-name:value LIKE {q('%.' + base)}]",
            [[sco(rng, "domain-name", value=f"{rng.choice(WORDS)}.{base}")]],
        )
    if r < 0.82:
        word = rng.choice(WORDS)
        regex = f"^https?://[a-z0-9.-]+/{word}/[0-9]+\\.php$"
        value = f"http://{rand_domain(rng)}/{word}/{rng.randrange(10**5)}.php"
        return GenPattern(
            "matches", f"[url:value MATCHES {q(regex)}]", [[sco(rng, "url", value=value)]]
        )
    if r < 0.87:
        ips = [rand_ipv4(rng) for _ in range(rng.randrange(2, 6))]
        text = f"[ipv4-addr:value IN ({', '.join(q(i) for i in ips)})]"
        return GenPattern("in", text, [[sco(rng, "ipv4-addr", value=rng.choice(ips))]])
    if r < 0.90:
        v4, v6 = rand_ipv4(rng), rand_ipv6(rng)
        text = f"[ipv4-addr:value = {q(v4)} OR ipv6-addr:value = {q(v6)}]"
        return GenPattern("bracket-or", text, [[sco(rng, "ipv6-addr", value=v6)]])
    if r < 0.93:
        name = f"{rng.choice(WORDS)}_{rng.randrange(1000)}.exe"
        size = rng.randrange(1000, 100_000)
        text = f"[file:name = {q(name)} AND file:size > {size - 1}]"
        return GenPattern("bracket-and", text, [[file_sco(rng, name=name, size=size)]])
    if r < 0.955:
        d, u = rand_domain(rng), rand_url(rng)
        text = f"[domain-name:value = {q(d)}] OR [url:value = {q(u)}]"
        return GenPattern("obs-or", text, [[sco(rng, "url", value=u)]])
    if r < 0.98:
        ip, d = rand_ipv4(rng), rand_domain(rng)
        text = f"[ipv4-addr:value = {q(ip)}] AND [domain-name:value = {q(d)}]"
        return GenPattern(
            "obs-and", text, [[sco(rng, "ipv4-addr", value=ip)], [sco(rng, "domain-name", value=d)]]
        )
    h, d = rand_hex(rng, 32), rand_domain(rng)
    text = (
        f"([file:hashes.'SHA-256' = {q(h)}] FOLLOWEDBY [domain-name:value = {q(d)}]) "
        f"WITHIN {rng.choice((60, 300, 3600))} SECONDS"
    )
    return GenPattern(
        "followedby", text, [[file_sco(rng, sha256=h)], [sco(rng, "domain-name", value=d)]]
    )


# --- observations -----------------------------------------------------------------------------


@dataclass
class Event:
    """One observed-data (object_refs form) and the SCOs it references."""

    objects: list[Stix]
    crafted_from: int | None = None  # index of the pattern whose witness it carries
    bundle: Stix = field(default_factory=dict)  # the same, as stix2-matcher wants it

    @property
    def observed_data(self) -> Stix:
        return self.objects[0]


def make_event(
    rng: random.Random,
    scos: Sequence[Sco],
    when: dt.datetime,
    *,
    number_observed: int = 1,
    span_seconds: int = 0,
    crafted_from: int | None = None,
) -> Event:
    first, last = when, when + dt.timedelta(seconds=span_seconds)
    od: Stix = {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": new_id(rng, "observed-data"),
        "created": stix_time(last),
        "modified": stix_time(last),
        "first_observed": stix_time(first),
        "last_observed": stix_time(last),
        "number_observed": number_observed,
        "object_refs": [s["id"] for s in scos],
    }
    objects = [od, *scos]
    # stix2-matcher (STIX 2.1 mode) takes a list of bundle-like dicts whose "objects" hold
    # observed-data SDOs plus the SCOs their object_refs point at.
    bundle = {"type": "bundle", "id": "bundle--" + od["id"].split("--", 1)[1], "objects": objects}
    return Event(objects, crafted_from, bundle)


def make_corpus(
    n_patterns: int, n_observations: int, seed: int, crafted_share: float = 0.05
) -> tuple[list[GenPattern], list[Event]]:
    rng = random.Random(seed)
    patterns = [gen_pattern(rng) for _ in range(n_patterns)]
    events: list[Event] = []
    for i in range(n_observations):
        when = BASE_TIME + dt.timedelta(seconds=7 * i)
        span = rng.choice((0, 0, 0, 1, 30))
        if rng.random() < crafted_share and patterns:
            p_idx = rng.randrange(len(patterns))
            scos = list(patterns[p_idx].witness[0])
            if len(scos) < 3 and rng.random() < 0.5:
                scos.append(sco(rng, "domain-name", value=rand_domain(rng)))
            events.append(make_event(rng, scos, when, span_seconds=span, crafted_from=p_idx))
        else:
            events.append(make_event(rng, random_scos(rng), when, span_seconds=span))
    return patterns, events


# --- running ----------------------------------------------------------------------------------


def sample_pairs(n_patterns: int, n_events: int, limit: int, seed: int) -> list[tuple[int, int]]:
    """All pairs if they fit, else a deterministic uniform sample of `limit` pairs."""
    total = n_patterns * n_events
    if total <= limit:
        return [(p, e) for p in range(n_patterns) for e in range(n_events)]
    rng = random.Random(seed ^ 0x5EED)
    chosen = sorted(rng.sample(range(total), limit))
    return [divmod(k, n_events) for k in chosen]


def matcher_says(pattern: str, bundle: Stix) -> bool | str:
    try:
        return bool(matcher_match(pattern, [bundle], stix_version="2.1"))
    except Exception as exc:  # stix2-matcher raises on some inputs (e.g. ISSUBSET non-IP)
        return f"error: {type(exc).__name__}: {exc}"


@dataclass
class Row:
    engine: str
    pairs: int
    seconds: float
    matches: int

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds if self.seconds > 0 else float("inf")


def pkg_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--patterns", type=int, default=200)
    ap.add_argument("--observations", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--matcher-pairs",
        type=int,
        default=20_000,
        help="at most this many pairs for stix2-matcher (default 20000)",
    )
    args = ap.parse_args(argv)

    print("machine")
    print(f"  nproc           {os.cpu_count()}")
    print(
        f"  python          {platform.python_implementation()} {platform.python_version()}"
        f" ({sys.executable})"
    )
    print(f"  platform        {platform.platform()}")
    print(
        f"  stix2-matcher   {pkg_version('stix2-matcher')}"
        f"  (stix2-patterns {pkg_version('stix2-patterns')})"
    )
    print()

    t0 = time.perf_counter()
    patterns, events = make_corpus(args.patterns, args.observations, args.seed)
    gen_s = time.perf_counter() - t0
    crafted = sum(e.crafted_from is not None for e in events)
    kinds: dict[str, int] = {}
    for p in patterns:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    print(f"corpus (seed {args.seed}, generated in {gen_s:.2f} s)")
    print(
        f"  patterns        {len(patterns)}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    )
    print(f"  observations    {len(events)} (1-3 SCOs each; {crafted} crafted to match)")
    print()

    # kizuna: compile once per pattern, convert once per observation, then all pairs.
    t0 = time.perf_counter()
    compiled = [compile_pattern(p.text) for p in patterns]
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    kobs = [observations_from_stix(e.objects) for e in events]
    convert_s = time.perf_counter() - t0

    n_pairs = len(patterns) * len(events)
    k_hits = 0
    t0 = time.perf_counter()
    for cp in compiled:
        m = cp.matches
        for obs in kobs:
            if m(obs):
                k_hits += 1
    k_s = time.perf_counter() - t0
    k_row = Row("kizuna  compiled once, matches([obs])", n_pairs, k_s, k_hits)

    # stix2-matcher on a deterministic sample.
    pairs = sample_pairs(len(patterns), len(events), args.matcher_pairs, args.seed)
    m_results: list[bool | str] = []
    t0 = time.perf_counter()
    for p_idx, e_idx in pairs:
        m_results.append(matcher_says(patterns[p_idx].text, events[e_idx].bundle))
    m_s = time.perf_counter() - t0
    m_row = Row(
        "stix2-matcher  match() per pair (parses each call)",
        len(pairs),
        m_s,
        sum(r is True for r in m_results),
    )

    pre = [MatcherPattern(p.text, stix_version="2.1") for p in patterns]
    pre_hits = 0
    t0 = time.perf_counter()
    for p_idx, e_idx in pairs:
        try:
            if pre[p_idx].match([events[e_idx].bundle]):
                pre_hits += 1
        except Exception:  # counted as no match
            continue
    pre_s = time.perf_counter() - t0
    pre_row = Row("stix2-matcher  Pattern pre-parsed, .match()", len(pairs), pre_s, pre_hits)

    # kizuna on exactly the sampled pairs, for the agreement check.
    k_sample = [compiled[p].matches(kobs[e]) for p, e in pairs]

    rows = [k_row, m_row, pre_row]
    w = max(len(r.engine) for r in rows)
    print(
        f"kizuna setup: compile {len(patterns)} patterns {compile_s * 1e3:.1f} ms, "
        f"observations_from_stix x{len(events)} {convert_s * 1e3:.1f} ms (not in the rates)"
    )
    print()
    print(f"{'engine':<{w}}  {'pairs':>10}  {'seconds':>9}  {'pairs/s':>12}  {'matches':>8}")
    print(f"{'-' * w}  {'-' * 10}  {'-' * 9}  {'-' * 12}  {'-' * 8}")
    for r in rows:
        print(
            f"{r.engine:<{w}}  {r.pairs:>10,}  {r.seconds:>9.3f}  {r.rate:>12,.0f}  {r.matches:>8,}"
        )
    print()
    ratio = k_row.rate / m_row.rate if m_row.rate else float("inf")
    ratio_pre = k_row.rate / pre_row.rate if pre_row.rate else float("inf")
    verdict = "meets" if ratio >= 50 else "MISSES"
    print(f"speed-up vs match() per pair:        {ratio:,.1f}x  ({verdict} the 50x target)")
    print(f"speed-up vs pre-parsed Pattern.match: {ratio_pre:,.1f}x")
    print()

    disagreements: list[tuple[int, int, bool, bool | str]] = []
    errors = 0
    for (p_idx, e_idx), kres, mres in zip(pairs, k_sample, m_results, strict=True):
        if isinstance(mres, str):
            errors += 1
        if kres != mres:
            disagreements.append((p_idx, e_idx, kres, mres))
    print(
        f"agreement on {len(pairs):,} sampled pairs: {len(pairs) - len(disagreements):,} agree, "
        f"{len(disagreements):,} disagree ({errors} stix2-matcher errors)"
    )
    for p_idx, e_idx, kres, mres in disagreements[:5]:
        scos = events[e_idx].objects[1:]
        print(f"  pattern {patterns[p_idx].text}")
        print(f"    observation {e_idx}: " + "; ".join(f"{s['type']} {_brief(s)}" for s in scos))
        print(f"    kizuna={kres} stix2-matcher={mres}")
    return 0


def _brief(s: Sco) -> str:
    keys = [k for k in s if k not in ("type", "spec_version", "id")]
    return "{" + ", ".join(f"{k}={s[k]!r}" for k in keys) + "}"


if __name__ == "__main__":
    sys.exit(main())
