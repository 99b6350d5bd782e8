"""Indicator hunting end to end on a node: telemetry files on disk -> sightings stored.

    .venv/bin/python benchmarks/hunt_bench.py [--events 10000000] [--indicators 100000]
        [--hits 100,1000] [--shape mixed|dense] [--no-jsonl]
        [--matcher-sample 2000] [--python-sample 50000] [--unkeyed-sample 5000]
        [--database postgresql+psycopg://postgres@127.0.0.1:5432/test]

Not timed (set-up):

* DuckDB writes the telemetry: ECS events as Parquet (``@timestamp`` a TIMESTAMP column,
  as Parquet writers store time) and, after the Parquet hunts, the same events as JSON lines
  (``@timestamp`` text with milliseconds). ``--shape mixed`` (default): every event has source and
  destination address and port and ``network.transport``; 4 in 20 are DNS events
  (``dns.question.name``), 3 in 20 HTTP (``url.full``), 1 in 20 file events
  (``file.hash.sha256``, ``file.name``). ``--shape dense``: every event carries all of them
  (the workload of earlier figures);
* 100,000 indicators on a node (SQLite, or PostgreSQL with ``--database``), ingested
  through the store: ``--hits`` of them carry
  a value taken from the telemetry (a destination address recurs in about 10 events, so more
  events match than there are hits), the rest miss; about 1% are complex (``AND`` with
  ``LIKE``, confirmed by the evaluator; half of the hashes that hit take that form); IN sets
  of three domains, IPv4, domain, URL and SHA-256 equalities. Markings: most TLP:GREEN, some
  TLP:AMBER for the hunting org, and 1% TLP:RED of the producer that the hunter may not read
  (and so never hunts).

Timed, per ``--hits`` value: ``run_hunt`` (what ``kizuna hunt`` and the REST hunts run) as
the hunting org over the Parquet file, storing sightings in a fresh collection: choosing the
readable indicators through the access module, preparing them, DuckDB's scan, confirming,
building and storing the sightings. ``cold``: the first hunt with that indicator set (the
first hunt in the process for the first ``--hits``); ``warm``: the same hunt again (plans
are kept by pattern text across hunts, as in a serving node). events/s = events / wall time
of the whole call. Then the JSON lines file, once, with the first indicator set.

Reference rates on samples: the Python engine (``read_events`` + ``EmbeddedEngine.hunt``) on
the first --python-sample events; stix2-matcher, ``match(pattern, [bundle],
stix_version="2.1")`` on --matcher-sample (pattern, event) pairs, scaled to the whole
workload (events x indicators pairs): events/s = 1 / (seconds per pair x indicators).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import duckdb

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking, kizuna_identity
from kizuna.db.engine import make_engine, write_transaction
from kizuna.db.migrate import upgrade
from kizuna.db.scratch import scratch_schema
from kizuna.hunt.columnar import hunt_files
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator
from kizuna.hunt.readers import ReadStats, read_events
from kizuna.hunt.run import HuntOutcome, HuntRequest, run_hunt
from kizuna.store.collections import add_collection, grant
from kizuna.store.ingest import add_objects

# value of field kind k for event i (SQL); indicators take theirs through the same SQL
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
#: event i carries kind k when (SQL / Python), per shape
_HAS = {
    "mixed": {
        "dom": ("i % 20 BETWEEN 12 AND 15", lambda i: 12 <= i % 20 <= 15),
        "url": ("i % 20 BETWEEN 16 AND 18", lambda i: 16 <= i % 20 <= 18),
        "sha": ("i % 20 = 19", lambda i: i % 20 == 19),
    },
    "dense": {k: ("true", lambda i: True) for k in ("dom", "url", "sha")},
}


def generate(directory: Path, events: int, shape: str) -> Path:
    """The telemetry as Parquet."""
    has = {k: sql for k, (sql, _) in _HAS[shape].items()}
    parquet = directory / "events.parquet"
    con = duckdb.connect()
    try:
        con.execute(
            f"""COPY (SELECT
                TIMESTAMP '2026-01-01' + to_microseconds(i * 8640) AS "@timestamp",
                {{'ip': {_EXPRS["src"]}, 'port': 1024 + hash(i * 16 + 9) % 60000}} AS source,
                {{'ip': {_EXPRS["dst"]},
                  'port': CASE WHEN {has["dom"]} THEN 53 WHEN {has["url"]} THEN 443
                          ELSE 80 + i % 7 END}} AS destination,
                {{'transport': CASE WHEN {has["dom"]} THEN 'udp' ELSE 'tcp' END}} AS network,
                CASE WHEN {has["dom"]} THEN {{'question': {{'name': {_EXPRS["dom"]}}}}} END
                    AS dns,
                CASE WHEN {has["url"]} THEN {{'full': {_EXPRS["url"]}}} END AS url,
                CASE WHEN {has["sha"]} THEN {{'hash': {{'sha256': {_EXPRS["sha"]}}},
                                              'name': 'f' || (i % 1000) || '.exe'}} END AS file
            FROM range({events}) AS t(i)) TO '{parquet}' (FORMAT parquet)"""
        )
    finally:
        con.close()
    os.sync()  # the file's write-back would otherwise compete with the timed hunts
    return parquet


def as_jsonl(parquet: Path, target: Path, limit: int | None = None) -> Path:
    """The same events as JSON lines (``@timestamp`` as text with milliseconds)."""
    con = duckdb.connect()
    try:
        con.execute(
            f"""COPY (SELECT * REPLACE (strftime("@timestamp", '%Y-%m-%dT%H:%M:%S.%gZ')
                AS "@timestamp") FROM read_parquet('{parquet}')
                {"" if limit is None else f"LIMIT {limit}"}) TO '{target}' (FORMAT json)"""
        )
    finally:
        con.close()
    os.sync()
    return target


def indicators(events: int, count: int, hits: int, shape: str, seed: int) -> list[HuntIndicator]:
    """``hits`` indicators with a value from the telemetry, misses up to ``count``; ~1%
    complex (and half of the hashes that hit)."""
    rng = random.Random(seed)
    chosen: list[tuple[int, str]] = []
    for _ in range(min(hits, count)):
        i = rng.randrange(events)
        kinds = ["src", "dst"] + [k for k, (_, has) in _HAS[shape].items() if has(i)]
        chosen.append((i, rng.choice(kinds)))
    con = duckdb.connect()
    values: list[tuple[str, str]] = []
    try:
        for kind in _EXPRS:
            rows = [i for i, k in chosen if k == kind]
            if rows:
                found = con.execute(
                    f"SELECT {_EXPRS[kind]} FROM (SELECT unnest($ids::BIGINT[]) AS i)",
                    {"ids": rows},
                ).fetchall()
                values.extend((kind, str(v)) for (v,) in found)
    finally:
        con.close()
    out: list[HuntIndicator] = []
    for n, (kind, value) in enumerate(values):
        pattern = f"[{_PATHS[kind]} = '{value}']"
        if kind == "sha" and n % 2:
            pattern = f"[{_PATHS[kind]} = '{value}' AND file:name LIKE '%.exe']"
        out.append(HuntIndicator(f"hit-{n}", pattern))
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


class Node:
    """A SQLite node: NCSC produces the indicators, Severn Vale Water hunts."""

    def __init__(self, url: str, inds: list[HuntIndicator]) -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        with write_transaction(self.engine) as conn:
            ncsc = service.add_org(conn, name="NCSC", country="GB", sector="government")
            water = service.add_org(conn, name="Severn Vale Water", country="GB", sector="water")
            self.collection = add_collection(conn, title="Partnership intel")
            grant(conn, collection_id=self.collection, role=Role.ANALYST, write=True)
        self.hunter = Subject(org_id=water.id, identity_id=water.identity_id, role=Role.ANALYST)
        producer = Subject(org_id=ncsc.id, identity_id=ncsc.identity_id, role=Role.ANALYST)
        for_water = audience_marking([str(water.identity_id)])
        self.red = 0
        objects: list[dict[str, Any]] = []
        for n, ind in enumerate(inds):
            markings = [TLP2_MARKINGS[Tlp.GREEN]]
            if n % 10 == 3:
                markings = [TLP2_MARKINGS[Tlp.AMBER], str(for_water["id"])]
            elif n % 100 == 7:
                markings = [TLP2_MARKINGS[Tlp.RED]]  # NCSC's alone: never hunted by Water
                self.red += 1
            objects.append(
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, ind.indicator_id)}",
                    "created": "2026-01-02T00:00:00.000Z",
                    "modified": "2026-01-02T00:00:00.000Z",
                    "name": ind.indicator_id,
                    "pattern": ind.pattern,
                    "pattern_type": "stix",
                    "valid_from": "2026-01-01T00:00:00Z",
                    "created_by_ref": ncsc.identity_id,
                    "object_marking_refs": markings,
                }
            )
        head: list[object] = [kizuna_identity(), for_water]
        for start in range(0, len(objects), 5000):
            with write_transaction(self.engine) as conn:
                outcomes = add_objects(
                    conn,
                    subject=producer,
                    collection_id=self.collection,
                    submitted=[*head, *objects[start : start + 5000]],
                )
            head = []
            refused = [o for o in outcomes if not o.ok]
            if refused:
                raise SystemExit(f"indicators refused: {refused[:3]}")
        self.runs = 0

    def hunt(self, path: Path) -> tuple[float, HuntOutcome]:
        """One timed ``run_hunt`` storing sightings in a fresh collection."""
        self.runs += 1
        with write_transaction(self.engine) as conn:
            into = add_collection(conn, title=f"Water sightings {self.runs}")
            grant(conn, collection_id=into, org_id=self.hunter.org_id, write=True)
        started = time.perf_counter()
        outcome = run_hunt(
            self.engine,
            self.hunter,
            HuntRequest(files=[path], collection_ids=[self.collection], store_into=into),
        )
        return time.perf_counter() - started, outcome


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


def _phases(outcome: HuntOutcome) -> str:
    return " ".join(f"{name} {seconds:.2f}" for name, seconds in outcome.phases.items())


def _stored(outcome: HuntOutcome) -> int:
    return sum(outcome.stored.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--hits", default="100,1000", help="comma-separated hit counts")
    parser.add_argument("--shape", choices=sorted(_HAS), default="mixed")
    parser.add_argument("--no-jsonl", action="store_true", help="skip the JSON lines hunt")
    parser.add_argument("--matcher-sample", type=int, default=2000)
    parser.add_argument("--python-sample", type=int, default=50_000)
    parser.add_argument("--unkeyed-sample", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database",
        metavar="URL",
        help="a PostgreSQL URL for the nodes (a schema of their own, dropped at the end); "
        "default: SQLite files",
    )
    args = parser.parse_args(argv)
    hit_counts = [int(h) for h in args.hits.split(",") if h]

    print(f"python {sys.version.split()[0]}  duckdb {duckdb.__version__}  {platform.platform()}")
    print(f"cpus {os.cpu_count()}  machine {platform.machine()}  {platform.processor() or ''}")
    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="hunt-bench-") as tmp, ExitStack() as stack:
        directory = Path(tmp)
        started = time.perf_counter()
        parquet = generate(directory, args.events, args.shape)
        print(
            f"generated {args.events:,} events, shape {args.shape} (parquet "
            f"{parquet.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - started:.1f} s "
            "(not timed)"
        )
        sample_inds: list[HuntIndicator] = []
        first: Node | None = None
        for hits in hit_counts:
            started = time.perf_counter()
            inds = indicators(args.events, args.indicators, hits, args.shape, args.seed)
            sample_inds = sample_inds or inds
            (directory / f"node-{hits}").mkdir()
            url = f"sqlite:///{directory / f'node-{hits}' / 'node.db'}"
            if args.database:
                url = stack.enter_context(scratch_schema(args.database, "hunt_bench"))
            node = Node(url, inds)
            first = first or node
            os.sync()
            print(
                f"{node.engine.dialect.name} node with {len(inds):,} indicators ({hits:,} "
                f"hitting, {node.red:,} TLP:RED the hunter may not read) in "
                f"{time.perf_counter() - started:.1f} s (not timed)"
            )
            for label in ("cold", "warm"):
                seconds, outcome = node.hunt(parquet)
                rows.append(
                    (
                        f"run_hunt parquet, {hits:,} hits, {label}",
                        outcome.stats.events / seconds,
                        f"{seconds:.2f} s; {outcome.indicators:,} indicators hunted, "
                        f"{outcome.matching_events:,} matching events, {len(outcome.matches):,} "
                        f"sightings, {_stored(outcome):,} objects stored; {_phases(outcome)}",
                    )
                )
                print(f"  {rows[-1][0]}: {rows[-1][1]:,.0f} events/s  ({rows[-1][2]})")
        if not args.no_jsonl and first is not None:
            started = time.perf_counter()
            jsonl = as_jsonl(parquet, directory / "events.jsonl")
            print(
                f"the same events as JSON lines ({jsonl.stat().st_size / 1e6:,.0f} MB) in "
                f"{time.perf_counter() - started:.1f} s (not timed)"
            )
            seconds, outcome = first.hunt(jsonl)
            rows.append(
                (
                    f"run_hunt jsonl, {hit_counts[0]:,} hits, warm",
                    outcome.stats.events / seconds,
                    f"{seconds:.2f} s; {outcome.matching_events:,} matching events, "
                    f"{len(outcome.matches):,} sightings; {_phases(outcome)}",
                )
            )
            print(f"  {rows[-1][0]}: {rows[-1][1]:,.0f} events/s  ({rows[-1][2]})")
        sample = as_jsonl(parquet, directory / "sample.jsonl", args.python_sample)
        rate, count, seconds = python_rate(sample, sample_inds)
        rows.append(
            ("python engine (sample, excl. prep)", rate, f"{count:,} events in {seconds:.2f} s")
        )
        per_pair, pairs = matcher_rate(sample, sample_inds, args.matcher_sample, args.seed)
        matcher = 1.0 / (per_pair * len(sample_inds))
        rows.append(
            (
                "stix2-matcher (scaled)",
                matcher,
                f"{pairs:,} pairs, {per_pair * 1e6:,.0f} us/pair x {len(sample_inds):,} indicators",
            )
        )
        unkeyed = [
            HuntIndicator("u-like", "[domain-name:value LIKE 'h1234%.example.com']"),
            HuntIndicator("u-subset", "[ipv4-addr:value ISSUBSET '10.1.2.0/24']"),
        ]
        small = head(sample, args.unkeyed_sample, directory / "unkeyed.jsonl")
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
    print(f"{'path':40} {'events/s':>14}  detail")
    for name, rate, detail in rows:
        shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.4f}"
        print(f"{name:40} {shown:>14}  {detail}")
    print()
    hunts = [(name, rate) for name, rate, _ in rows if name.startswith("run_hunt parquet")]
    python = next(rate for name, rate, _ in rows if name.startswith("python"))
    slowest = min(rate for _, rate in hunts)
    print(f"slowest parquet run_hunt / python engine: {slowest / python:,.0f}x")
    print(
        f"slowest parquet run_hunt / stix2-matcher: {slowest / matcher:,.0f}x "
        f"(target >= 10,000x: {'met' if slowest / matcher >= 10_000 else 'NOT met'})"
    )
    for name, rate in hunts:
        verdict = "met" if rate >= 5e6 else "NOT met"
        print(f"target >= 5,000,000 events/s end to end, {name}: {verdict}")


if __name__ == "__main__":
    main()
