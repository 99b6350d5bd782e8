"""Indicator hunting end to end: files on disk -> matches, columnar vs Python vs stix2-matcher.

    .venv/bin/python benchmarks/hunt_bench.py [--events 10000000] [--indicators 100000]
        [--matcher-sample 2000] [--python-sample 50000] [--parquet] [--unkeyed-sample 5000]

Not timed: DuckDB writes ECS JSON lines (nested objects: source/destination ip and port,
dns.question.name, url.full, file.hash.sha256, file.name, @timestamp) into a temp dir; about
0.1% of events carry a value some indicator has. Indicators: mostly equality (ipv4, domain,
url, SHA-256, IN sets), about 1% complex keyed ones (``AND`` with ``LIKE``, confirmed by the
evaluator); indicators without keys (``LIKE`` / ``ISSUBSET`` alone) are timed on their own
on a sample, since each one means a Python pass over every event.

Timed:

* ``hunt_files`` over the file(s) (columnar: DuckDB reads, projects, joins; candidates are
  confirmed in Python), events/s = events / wall time;
* the Python path (``read_events`` + ``EmbeddedEngine.hunt``) on the first --python-sample
  events, scaled: events/s = sample / time;
* stix2-matcher, ``match(pattern, [bundle], stix_version="2.1")`` on --matcher-sample
  (pattern, event) pairs; the full workload is events x indicators pairs, so its equivalent
  events/s = 1 / (seconds per pair x indicators).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from kizuna.hunt.columnar import hunt_files
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator
from kizuna.hunt.readers import ReadStats, read_events

# value of field kind k for event i (SQL); Python mirrors it through DuckDB for indicators
_EXPRS = {
    "src": "'10.' || (hash(i * 16 + 1) % 256) || '.' || (hash(i * 16 + 2) % 256) || '.' "
    "|| (hash(i * 16 + 3) % 256)",
    "dst": "'172.' || (16 + hash(i * 16 + 4) % 16) || '.' || (hash(i * 16 + 5) % 256) || '.' "
    "|| (hash(i * 16 + 6) % 256)",
    "dom": "'h' || (hash(i * 16 + 7) % 100000000) || '.example.com'",
    "url": "'https://u' || (hash(i * 16 + 8) % 100000000) || '.example.org/p'",
    "sha": "sha256(CAST(i AS VARCHAR))",
}
_PATHS = {
    "src": "ipv4-addr:value",
    "dst": "ipv4-addr:value",
    "dom": "domain-name:value",
    "url": "url:value",
    "sha": "file:hashes.'SHA-256'",
}


def generate(directory: Path, events: int, parquet: bool) -> list[Path]:
    con = duckdb.connect()
    try:
        con.execute(
            f"""CREATE VIEW ev AS SELECT
                strftime(TIMESTAMP '2026-01-01' + to_seconds(i % 86400), '%Y-%m-%dT%H:%M:%SZ')
                    AS "@timestamp",
                {{'ip': {_EXPRS["src"]}, 'port': 1024 + hash(i * 16 + 9) % 60000}} AS source,
                {{'ip': {_EXPRS["dst"]},
                  'port': CASE i % 3 WHEN 0 THEN 443 WHEN 1 THEN 80 ELSE 53 END}} AS destination,
                {{'question': {{'name': {_EXPRS["dom"]}}}}} AS dns,
                {{'full': {_EXPRS["url"]}}} AS url,
                {{'hash': {{'sha256': {_EXPRS["sha"]}}}, 'name': 'f' || (i % 1000) || '.exe'}}
                    AS file
            FROM range({events}) AS t(i)"""
        )
        path = directory / "events.jsonl"
        con.execute(f"COPY ev TO '{path}' (FORMAT json)")
        paths = [path]
        if parquet:
            pq = directory / "events.parquet"
            con.execute(f"COPY ev TO '{pq}' (FORMAT parquet)")
            paths.append(pq)
    finally:
        con.close()
    return paths


def indicators(events: int, count: int, seed: int) -> list[HuntIndicator]:
    """~0.1% of events hit (one field each); the rest of the indicators miss; 1% complex."""
    rng = random.Random(seed)
    hits = min(count, max(1, events // 1000))
    kinds = list(_EXPRS)
    rows = [(rng.randrange(events), rng.choice(kinds)) for _ in range(hits)]
    con = duckdb.connect()
    try:
        values: list[str] = []
        for kind in kinds:
            chosen = [i for i, k in rows if k == kind]
            if chosen:
                found = con.execute(
                    f"SELECT {_EXPRS[kind]} FROM (SELECT unnest($ids::BIGINT[]) AS i)",
                    {"ids": chosen},
                ).fetchall()
                values.extend(f"{kind}\t{v}" for (v,) in found)
    finally:
        con.close()
    out: list[HuntIndicator] = []
    for n, item in enumerate(values):
        kind, value = item.split("\t", 1)
        out.append(HuntIndicator(f"hit-{n}", f"[{_PATHS[kind]} = '{value}']"))
    n = 0
    while len(out) < count:
        n += 1
        roll = rng.random()
        if roll < 0.01:
            digest = f"{rng.getrandbits(256):064x}"
            pattern = f"[file:hashes.'SHA-256' = '{digest}' AND file:name LIKE '%.exe']"
        elif roll < 0.05:
            pattern = (
                f"[domain-name:value IN ('m{n}a.example.net', 'm{n}b.example.net', "
                f"'m{n}c.example.net')]"
            )
        elif roll < 0.3:
            pattern = f"[ipv4-addr:value = '198.{n % 256}.{(n >> 8) % 256}.{n % 7}']"
        elif roll < 0.55:
            pattern = f"[domain-name:value = 'miss{n}.example.com']"
        elif roll < 0.8:
            pattern = f"[url:value = 'https://miss{n}.example.org/p']"
        else:
            pattern = f"[file:hashes.'SHA-256' = '{rng.getrandbits(256):064x}']"
        out.append(HuntIndicator(f"miss-{n}", pattern))
    return out


def head(path: Path, lines: int, target: Path) -> Path:
    with path.open("rb") as src, target.open("wb") as dst:
        for n, line in enumerate(src):
            if n >= lines:
                break
            dst.write(line)
    return target


def matcher_rate(
    sample_file: Path, inds: list[HuntIndicator], pairs: int, seed: int
) -> tuple[float, int]:
    """Seconds per (pattern, event) pair with stix2-matcher, and the pairs timed."""
    from stix2matcher.matcher import match

    events = list(read_events(sample_file, stats=ReadStats()))
    rng = random.Random(seed)
    bundles: list[dict[str, Any]] = []
    for event in events[: max(1, min(len(events), pairs))]:
        bundles.append(
            {
                "type": "bundle",
                "id": "bundle--00000000-0000-4000-8000-000000000000",
                "objects": [
                    {
                        "type": "observed-data",
                        "spec_version": "2.1",
                        "id": "observed-data--00000000-0000-4000-8000-000000000001",
                        "created": "2026-01-01T00:00:00.000Z",
                        "modified": "2026-01-01T00:00:00.000Z",
                        "first_observed": "2026-01-01T00:00:00Z",
                        "last_observed": "2026-01-01T00:00:00Z",
                        "number_observed": 1,
                        "object_refs": [sco["id"] for sco in event.scos],
                    },
                    *[{**sco, "spec_version": "2.1"} for sco in event.scos],
                ],
            }
        )
    chosen = [(rng.choice(inds).pattern, rng.choice(bundles)) for _ in range(pairs)]
    started = time.perf_counter()
    for pattern, bundle in chosen:
        match(pattern, [bundle], stix_version="2.1")
    return (time.perf_counter() - started) / max(1, pairs), pairs


def python_rate(sample_file: Path, inds: list[HuntIndicator]) -> tuple[float, int, float]:
    """Events/s of the Python path per event (indicator compile, timed apart, subtracted)."""
    started = time.perf_counter()
    EmbeddedEngine().hunt(inds, [])
    prep = time.perf_counter() - started
    started = time.perf_counter()
    events = (
        HuntEvent(e.line, e.timestamp_us, e.scos)
        for e in read_events(sample_file, stats=ReadStats())
    )
    report = EmbeddedEngine().hunt(inds, events)
    seconds = time.perf_counter() - started - prep
    return report.events / seconds, report.events, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--matcher-sample", type=int, default=2000)
    parser.add_argument("--python-sample", type=int, default=50_000)
    parser.add_argument("--unkeyed-sample", type=int, default=5000)
    parser.add_argument("--parquet", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]}  duckdb {duckdb.__version__}  {platform.platform()}")
    print(f"cpus {os.cpu_count()}  machine {platform.machine()}  {platform.processor() or ''}")
    with tempfile.TemporaryDirectory(prefix="hunt-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        paths = generate(directory, args.events, args.parquet)
        inds = indicators(args.events, args.indicators, args.seed)
        size = paths[0].stat().st_size
        print(
            f"generated {args.events:,} events ({size / 1e6:,.0f} MB JSON lines), "
            f"{len(inds):,} indicators in {time.perf_counter() - started:.1f} s (not timed)"
        )
        rows: list[tuple[str, float, str]] = []
        for path in paths:
            started = time.perf_counter()
            report = hunt_files(inds, [path])
            seconds = time.perf_counter() - started
            matched = sum(m.count for m in report.matches)
            rows.append(
                (
                    f"columnar hunt_files ({path.suffix[1:]})",
                    args.events / seconds,
                    f"{seconds:.2f} s, {matched:,} matched pairs, "
                    f"{report.candidate_pairs:,} candidates, sql {report.sql_seconds:.2f} s",
                )
            )
            steady = seconds - report.prepare_seconds
            rows.append(
                (
                    f"  same, excl. indicator prep ({path.suffix[1:]})",
                    args.events / steady,
                    f"{steady:.2f} s; prep (parse+plan+key table) {report.prepare_seconds:.2f} s",
                )
            )
        sample = head(paths[0], args.python_sample, directory / "sample.jsonl")
        rate, count, seconds = python_rate(sample, inds)
        rows.append(
            ("python engine (sample, excl. prep)", rate, f"{count:,} events in {seconds:.2f} s")
        )
        per_pair, pairs = matcher_rate(sample, inds, args.matcher_sample, args.seed)
        matcher = 1.0 / (per_pair * len(inds))
        rows.append(
            (
                "stix2-matcher (scaled)",
                matcher,
                f"{pairs:,} pairs, {per_pair * 1e6:,.0f} us/pair x {len(inds):,} indicators",
            )
        )
        unkeyed = [
            HuntIndicator("u-like", "[domain-name:value LIKE 'h1234%.example.com']"),
            HuntIndicator("u-subset", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
        ]
        small = head(paths[0], args.unkeyed_sample, directory / "unkeyed.jsonl")
        started = time.perf_counter()
        hunt_files(unkeyed, [small])
        seconds = time.perf_counter() - started
        rows.append(
            (
                "unkeyed: 2 LIKE/ISSUBSET (sample)",
                args.unkeyed_sample / seconds,
                f"{args.unkeyed_sample:,} events in {seconds:.2f} s (Python fallback)",
            )
        )

    print()
    print(f"{'path':38} {'events/s':>14}  detail")
    for name, rate, detail in rows:
        shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.4f}"
        print(f"{name:38} {shown:>14}  {detail}")
    best = rows[0][1]
    python = next(rate for name, rate, _ in rows if name.startswith("python"))
    print()
    print(f"columnar (end to end, jsonl) / python engine: {best / python:,.0f}x")
    print(f"columnar (end to end, jsonl) / stix2-matcher: {best / matcher:,.0f}x")
    print(f"target >= 5,000,000 events/s: {'met' if best >= 5e6 else 'NOT met'}")


if __name__ == "__main__":
    main()
