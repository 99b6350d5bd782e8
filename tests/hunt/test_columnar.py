"""Columnar hunting equals the Python engine over ``read_events`` of the same files."""

from __future__ import annotations

import csv
import gzip
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kizuna.hunt.columnar import FileProgress, hunt_files
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator, HuntReport
from kizuna.hunt.readers import FieldMapping, ReadStats, read_events

IPS = ("10.0.0.1", "10.0.0.2", "192.168.1.5", "fe80::1", "evil.example", "#80")
DOMAINS = ("a.example", "b.example", "#80", "80", "c.example")
HASHES = ("aa" * 32, "bb" * 32, "cc" * 32)
PORTS: tuple[Any, ...] = (80, 443, "80", " 443 ", 8080, 80.0, "abc")
NAMES = ("#80", "80", "x.exe", "y.dll")

INDICATORS = [
    HuntIndicator("eq-ip", "[ipv4-addr:value = '10.0.0.1']"),
    HuntIndicator("eq-ip6", "[ipv6-addr:value = 'fe80::1']"),
    HuntIndicator("eq-dom-ref", "[domain-name:value = 'evil.example']"),
    HuntIndicator("eq-hash", f"[file:hashes.'SHA-256' = '{HASHES[0]}']"),
    HuntIndicator("in-dom", "[domain-name:value IN ('a.example', 'c.example')]"),
    HuntIndicator("or", "[url:value = 'http://a.example/1'] OR [ipv4-addr:value = '10.0.0.2']"),
    HuntIndicator("port-num", "[network-traffic:dst_port = 80]"),
    HuntIndicator("port-in", "[network-traffic:dst_port IN (443, 8080)]"),
    HuntIndicator("hash-name", "[file:name = '#80']"),
    HuntIndicator("plain-80", "[file:name = '80']"),
    HuntIndicator("num-name", "[file:name = 80]"),
    HuntIndicator("dom-hash", "[domain-name:value = '#80']"),
    HuntIndicator("size", "[file:size = 80]"),
    HuntIndicator("and", f"[file:name = 'x.exe' AND file:hashes.'SHA-256' = '{HASHES[1]}']"),
    HuntIndicator("like", "[domain-name:value LIKE 'b.%']"),
    HuntIndicator("subset", "[ipv4-addr:value ISSUBSET '192.168.0.0/16']"),
    HuntIndicator("type-key", "[file:type = 'file' AND file:name = 'y.dll']"),
    HuntIndicator("bad", "[this is not a pattern"),
    # across events: keyed on every observation expression, and one that must scan
    HuntIndicator(
        "followed", "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [domain-name:value = 'a.example']"
    ),
    HuntIndicator("repeats", "([network-traffic:dst_port = 443] REPEATS 3 TIMES) WITHIN 5 SECONDS"),
    HuntIndicator("and-like", "[ipv4-addr:value = '10.0.0.2'] AND [domain-name:value LIKE 'b.%']"),
]
ACROSS = ("followed", "repeats", "and-like")


def _record(rng: random.Random, index: int, dotted: bool) -> dict[str, Any]:
    record: dict[str, Any] = {"@timestamp": f"2026-01-01T00:00:{index % 60:02d}Z"}
    if rng.random() < 0.8:
        ip = rng.choice(IPS)
        if dotted:
            record["source.ip"] = ip
        else:
            record["source"] = {"ip": ip}
    if rng.random() < 0.5:
        record.setdefault("destination", {})["port"] = rng.choice(PORTS)
    if rng.random() < 0.5:
        record["dns"] = {"question": {"name": rng.choice(DOMAINS)}}
    if rng.random() < 0.3:
        record["url.full"] = f"http://{rng.choice(DOMAINS)}/{rng.randint(1, 2)}"
    if rng.random() < 0.4:
        record["file"] = {
            "hash": {"sha256": rng.choice(HASHES)},
            "name": rng.choice(NAMES),
            "size": rng.choice((80, 81, 80.0)),
        }
    return record


def _records(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [_record(rng, i, dotted=i % 3 == 0) for i in range(count)]


def _write_jsonl(path: Path, records: Sequence[dict[str, Any]], *, gz: bool = False) -> Path:
    lines: list[bytes] = []
    for i, record in enumerate(records):
        lines.append(orjson.dumps(record))
        if i % 17 == 5:
            lines.append(b"")  # blank line: numbered, skipped
        if i % 29 == 7:
            lines.append(b"{not json")
        if i % 31 == 3:
            lines.append(b"[1, 2]")
    data = b"\n".join(lines) + b"\n"
    if gz:
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def _flat(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[prefix + key] = value
    return out


def _write_csv(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    flat = [_flat(r) for r in records]
    columns = sorted({k for r in flat for k in r})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in flat:
            writer.writerow(["" if r.get(c) is None else str(r.get(c)) for c in columns])
    return path


def _write_parquet(path: Path, records: Sequence[dict[str, Any]], tmp: Path) -> Path:
    # typed columns: ports as integers (strings dropped), nested structs, dotted url column
    clean = []
    for r in records:
        r = orjson.loads(orjson.dumps(r))
        dst = r.get("destination")
        if dst is not None:
            port = dst["port"]
            dst["port"] = int(port) if isinstance(port, int | float) else None
        if "file" in r:
            r["file"]["size"] = int(r["file"]["size"])
        if "source.ip" in r:
            r["source"] = {"ip": r.pop("source.ip")}
        clean.append(r)
    source = _write_jsonl(tmp / "for-parquet.json", [])
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in clean) + b"\n")
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (SELECT * FROM read_json('{source}', format = 'newline_delimited', "
            f"sample_size = -1)) TO '{path}' (FORMAT parquet)"
        )
    finally:
        con.close()
    return path


def _python(
    indicators: Sequence[HuntIndicator], path: Path, mapping: FieldMapping | None = None
) -> set[tuple[str, str, int, int | None, int | None]]:
    events = [
        HuntEvent(e.line, e.timestamp_us, e.scos)
        for e in read_events(path, mapping=mapping, stats=ReadStats())
    ]
    report = EmbeddedEngine().hunt(indicators, events)
    return {
        (m.indicator_id, path.name, row, m.first_seen_us, m.last_seen_us)
        for m in report.matches
        for row in m.rows
    }


def _read_stats(path: Path, mapping: FieldMapping | None = None) -> ReadStats:
    stats = ReadStats()
    for _ in read_events(path, mapping=mapping, stats=stats):
        pass
    return stats


def _columnar(report: HuntReport) -> set[tuple[str, str, int, int | None, int | None]]:
    file_matches = getattr(report, "file_matches", {})
    return {
        (m.indicator_id, source, row, m.first_seen_us, m.last_seen_us)
        for source, matches in file_matches.items()
        for m in matches
        for row in m.rows
    }


@pytest.mark.parametrize("kind", ["jsonl", "jsonl.gz", "csv", "parquet"])
def test_same_matches_as_python_engine(tmp_path: Path, kind: str) -> None:
    records = _records(seed=len(kind), count=400)
    if kind == "jsonl":
        path = _write_jsonl(tmp_path / "events.jsonl", records)
    elif kind == "jsonl.gz":
        path = _write_jsonl(tmp_path / "events.jsonl.gz", records, gz=True)
    elif kind == "csv":
        path = _write_csv(tmp_path / "events.csv", records)
    else:
        path = _write_parquet(tmp_path / "events.parquet", records, tmp_path)
    expected = _python(INDICATORS, path)
    stats = ReadStats()
    report = hunt_files(INDICATORS, [path], stats=stats)
    assert _columnar(report) == expected
    assert stats == _read_stats(path)
    assert report.events == stats.events
    assert {m[0] for m in expected} >= {
        "eq-ip",
        "in-dom",
        "or",
        "port-num",
        "like",
        "subset",
        "and",
        *ACROSS,
    }
    assert report.correlated_indicators == len(ACROSS)
    assert report.invalid_indicators == ["bad"]
    assert report.candidate_pairs >= report.confirmed_pairs > 0


def test_several_files_and_merged_matches(tmp_path: Path) -> None:
    first = _write_jsonl(tmp_path / "a.jsonl", _records(seed=1, count=100))
    second = _write_csv(tmp_path / "b.csv", _records(seed=2, count=100))
    single = ("like", "subset", "type-key", *ACROSS)  # across events: see the test below
    keyed = [i for i in INDICATORS if i.indicator_id not in single]
    report = hunt_files(keyed, [first, second])
    assert report.unkeyed_indicators == 0
    assert _columnar(report) == _python(keyed, first) | _python(keyed, second)
    for match in report.matches:
        per_file = [
            m
            for ms in report.file_matches.values()
            for m in ms
            if m.indicator_id == match.indicator_id
        ]
        assert match.count == sum(m.count for m in per_file)


def test_field_mapping(tmp_path: Path) -> None:
    path = tmp_path / "custom.jsonl"
    rows = [
        {"client": {"addr": "10.0.0.1"}, "t": "2026-01-01T00:00:00Z", "host": "a.example"},
        {"client.addr": "10.0.0.2", "t": 1767225600, "host": "b.example"},
        {"client": {"addr": 5}, "host": "a.example"},  # not a string: a bad record
    ]
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    mapping = FieldMapping(
        {"client.addr": "ipv4-addr:value", "host": "domain-name:value"}, timestamp_field="t"
    )
    indicators = [
        HuntIndicator("ip", "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]"),
        HuntIndicator("dom", "[domain-name:value = 'a.example']"),
    ]
    report = hunt_files(indicators, [path], mapping=mapping)
    assert _columnar(report) == _python(indicators, path, mapping)
    assert {(m.indicator_id, m.rows) for m in report.matches} == {("ip", (1, 2)), ("dom", (1,))}


ODD_LINES = [
    b"",
    b"   ",
    b"{not json",
    b'{"source": {"ip": "10.0.0.1"}',  # truncated
    b"[1, 2]",
    b'"text"',
    b"null",
    b'{"source": {"ip": "10.0.0.1"}, "x": NaN}',
    b'{"source": {"ip": "10.0.0.1"},}',
    b'{"source": {"ip": "10.0.0.1"}, "x": 1e400}',
    b'{"source": {"ip": "10.0.0.1"}} trailing',
    b'{"source": {"ip": "10.0.0.1"}, "x": "\\ud800"}',
    b'{"@timestamp": "2026-02-30T00:00:00Z", "source": {"ip": "10.0.0.1"}}',
    b'{"@timestamp": true, "source.ip": "10.0.0.2"}',
    b'{"@timestamp": 1e30, "source.ip": "10.0.0.2"}',
    b'{"@timestamp": "1767225600.5", "source.ip": "10.0.0.2"}',
    b'{"@timestamp": "2026-01-01T00:00:00+05:30", "source.ip": "10.0.0.2"}',
    b'{"@timestamp": "2026-01-01 00:00:00", "url.full": "http://a.example/1"}',
    b'{"@timestamp": "yesterday", "url.full": "http://a.example/1"}',
    b'{"destination": {"port": "8o"}, "source.ip": "10.0.0.1"}',
    b'{"destination": {"port": 80.5}, "source.ip": "10.0.0.1"}',
    b'{"destination": {"port": " 80 "}, "source.ip": "10.0.0.1"}',
    b'{"destination": {"port": 8e1}, "source.ip": "10.0.0.1"}',
    b'{"source.ip": 5}',
    b'{"source": {"ip": ["10.0.0.1", null]}}',
    b'{"network": {"transport": ["tcp", null]}, "source.ip": "10.0.0.1"}',
    b'{"network": {"transport": ["tcp"]}, "source.ip": "10.0.0.1"}',
    b'{"dns": {"question": {"name": ["a.example", 3]}}}',
    b'{"dns": {"question": {"name": ["a.example", "c.example"]}}}',
    b'{"file": {"size": true, "name": "x.exe"}}',
    b'{"file": {"size": "80", "name": "x.exe"}}',
]


@pytest.mark.parametrize("variant", ["plain", "gz", "crlf", "bom", "unended", "truncated"])
def test_stats_and_matches_on_odd_lines(tmp_path: Path, variant: str) -> None:
    """Blank, broken, non-object and ill-typed lines are counted (and described) exactly
    as ``read_events`` counts them, whatever the file's line ends, BOM or compression."""
    rng = random.Random(7)
    lines = [orjson.dumps(r) for r in _records(seed=3, count=60)]
    for line in ODD_LINES:
        lines.insert(rng.randrange(len(lines) + 1), line)
    end = b"\r\n" if variant == "crlf" else b"\n"
    data = end.join(lines)
    if variant == "bom":
        data = b"\xef\xbb\xbf" + data
    if variant == "truncated":
        data += end + b'{"source": {"ip": "10.0'
    elif variant != "unended":
        data += end
    name = "odd.jsonl.gz" if variant == "gz" else "odd.jsonl"
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if variant == "gz" else data)
    stats = ReadStats()
    report = hunt_files(INDICATORS, [path], stats=stats)
    expected = _read_stats(path)
    assert stats == expected
    assert expected.bad > 10
    assert report.events == expected.events
    assert _columnar(report) == _python(INDICATORS, path)


@pytest.mark.parametrize(
    "text",
    [
        "source.ip,destination.port\n10.0.0.1,80\n\n10.0.0.2,443\n",  # blank line
        "source.ip,destination.port\n10.0.0.1,80\n10.0.0.2\n10.0.0.1,8o\n",  # short row
        'source.ip,file.name\n10.0.0.1,"x\n.exe"\n10.0.0.2,y\n',  # quoted line break
        "source.ip\n10.0.0.1\n\n10.0.0.2\n",  # one column
        "source.ip,@timestamp\n10.0.0.1,2026-01-01T00:00:00Z\n10.0.0.2,soon\n",
    ],
)
def test_csv_rows_that_are_not_lines(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(text)
    indicators = [HuntIndicator("ip", "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2')]")]
    stats = ReadStats()
    report = hunt_files(indicators, [path], stats=stats)
    assert stats == _read_stats(path)
    assert _columnar(report) == _python(indicators, path)


def test_progress_and_stats_over_files(tmp_path: Path) -> None:
    first = _write_jsonl(tmp_path / "a.jsonl", _records(seed=1, count=100))
    second = _write_csv(tmp_path / "b.csv", _records(seed=2, count=100))
    third = _write_jsonl(tmp_path / "c.jsonl", _records(seed=3, count=50))
    seen: list[FileProgress] = []
    stats = ReadStats()
    report = hunt_files(INDICATORS, [first, second, third], stats=stats, progress=seen.append)
    per_file = [_read_stats(p) for p in (first, second, third)]
    assert [(p.name, p.events, p.bad) for p in seen] == [
        (p.name, s.events, s.bad) for p, s in zip((first, second, third), per_file, strict=True)
    ]
    assert stats.events == report.events == sum(s.events for s in per_file)
    assert stats.bad == sum(s.bad for s in per_file)
    assert stats.bad_examples == [e for s in per_file for e in s.bad_examples][:5]
    matched = [
        len({row for m in report.file_matches[p.name] for row in m.rows})
        for p in (first, second, third)
    ]
    assert [p.matching_events for p in seen] == [
        sum(matched[:1]),
        sum(matched[:2]),
        sum(matched),
    ]


def test_correlation_spans_files(tmp_path: Path) -> None:
    first = _write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"@timestamp": "2026-01-01T00:00:01Z", "source": {"ip": "10.0.0.1"}},
            {"@timestamp": "2026-01-01T00:00:09Z", "source": {"ip": "10.9.9.9"}},
        ],
    )
    second = _write_csv(
        tmp_path / "b.csv",
        [{"@timestamp": "2026-01-01T00:00:05Z", "dns": {"question": {"name": "a.example"}}}],
    )
    indicators = [
        HuntIndicator(
            "a-then-b",
            "[ipv4-addr:value = '10.0.0.1'] FOLLOWEDBY [domain-name:value = 'a.example']",
        ),
        HuntIndicator(
            "b-then-a",
            "[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '10.0.0.1']",
        ),
        HuntIndicator("like", "[ipv4-addr:value = '10.0.0.1'] AND [domain-name:value LIKE 'a.%']"),
    ]
    for engine_files in ([first, second], [second, first]):
        report = hunt_files(indicators, engine_files)
        by_id = {m.indicator_id: m for m in report.matches}
        assert set(by_id) == {"a-then-b", "like"}
        assert by_id["a-then-b"].count == 2
        assert by_id["a-then-b"].first_seen_us < by_id["a-then-b"].last_seen_us
        per_file = {
            (name, m.indicator_id): m.rows for name, ms in report.file_matches.items() for m in ms
        }
        assert per_file[("a.jsonl", "a-then-b")] == (1,)
        assert per_file[("b.csv", "a-then-b")] == (2,)
        assert report.correlated_indicators == 3


_PARQUET_TIMES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "2026-01-01T00:00:01Z",
            "2026-01-01T00:00:02.250Z",
            "2026-01-01 00:00:03+02:00",
            "1767225600",
            "1767225600.5",
            "2026-02-30T00:00:00Z",
            "yesterday",
            "",
            " 2026-01-01T00:00:04Z",
        ]
    ),
)
_PARQUET_VALUES = st.one_of(
    st.none(),
    st.sampled_from(
        [*IPS, '["10.0.0.1"]', '["a.example", "b.example"]', "10.0.0.1 ", "", "a.example"]
    ),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            _PARQUET_TIMES,
            _PARQUET_VALUES,
            _PARQUET_VALUES,
            st.one_of(st.none(), st.sampled_from([80, 443, 8080, 53])),
        ),
        min_size=1,
        max_size=30,
    ),
    typed_time=st.booleans(),
)
def test_parquet_differential(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[str | None, str | None, str | None, int | None]],
    typed_time: bool,
) -> None:
    """Parquet hunts equal the Python engine over ``read_events`` (matches and counts), with
    text columns holding JSON array texts, padded and empty values, and timestamps the
    reader accepts, rejects or lacks, as text or as a TIMESTAMP column."""
    tmp = tmp_path_factory.mktemp("parquet")
    source = tmp / "rows.jsonl"
    source.write_bytes(
        b"\n".join(
            orjson.dumps(
                {
                    "@timestamp": when,
                    "source": {"ip": ip},
                    "dns": {"question": {"name": name}},
                    "destination": {"port": port},
                }
            )
            for when, ip, name, port in rows
        )
        + b"\n"
    )
    when_type = "TIMESTAMP" if typed_time else "VARCHAR"
    path = tmp / "events.parquet"
    con = duckdb.connect()
    try:
        when_sql = (
            'TRY_CAST("@timestamp" AS TIMESTAMP) AS "@timestamp"'
            if typed_time
            else '"@timestamp" AS "@timestamp"'
        )
        con.execute(
            f"COPY (SELECT * REPLACE ({when_sql}) FROM read_json('{source}', columns = {{"
            "'@timestamp': 'VARCHAR', 'source': 'STRUCT(ip VARCHAR)', "
            "'dns': 'STRUCT(question STRUCT(name VARCHAR))', "
            f"'destination': 'STRUCT(port INTEGER)'}})) TO '{path}' (FORMAT parquet)"
        )
        assert con.execute(f"DESCRIBE SELECT * FROM '{path}'").fetchall()[0][1] == when_type
    finally:
        con.close()
    indicators = [
        HuntIndicator("ip", "[ipv4-addr:value = '10.0.0.1']"),
        HuntIndicator("ip6", "[ipv6-addr:value = 'fe80::1']"),
        HuntIndicator("array-text", "[ipv4-addr:value = '[\"10.0.0.1\"]']"),
        HuntIndicator("dom", "[domain-name:value IN ('a.example', 'b.example')]"),
        HuntIndicator("port", "[network-traffic:dst_port = 443]"),
        HuntIndicator("and", "[network-traffic:dst_port = 80 AND ipv4-addr:value = '10.0.0.2']"),
    ]
    stats = ReadStats()
    report = hunt_files(indicators, [path], stats=stats)
    assert _columnar(report) == _python(indicators, path)
    assert stats == _read_stats(path)


@settings(max_examples=300, deadline=None)
@given(
    object_type=st.sampled_from(["ipv4-addr", "domain-name", "file", "x-custom"]),
    path=st.sampled_from(["value", "hashes.'SHA-256'", "hashes.'MD5'", "hashes.'a b'", "name"]),
    literal=st.lists(st.sampled_from([*"a#' \\.é0", "\\'", "\\\\", "##"]), max_size=8).map("".join),
)
def test_simple_rows_are_the_full_plans_rows(object_type: str, path: str, literal: str) -> None:
    """The key table row a simple equality takes without a plan is the row of its full plan
    (``pattern_plan``), and its keys, worked out later, are the plan's keys."""
    from kizuna.hunt.columnar import _plan, _simple_row, pattern_plan

    text = f"[{object_type}:{path} = '{literal}']"
    planned = pattern_plan(text)
    row = _simple_row(text)
    if row is None:
        return
    assert planned is not None
    assert planned.rows == (row,)
    prepared, invalid, plan = _plan([HuntIndicator("i", text)], None)
    assert invalid == []
    assert prepared[0].keys == planned.plan.keys
    assert prepared[0].exact
    if prepared[0].columnar:
        assert [(path, raw) for _ind, path, raw in plan.key_rows()] == [row]


def _parquet_from(path: Path, select: str) -> Path:
    con = duckdb.connect()
    try:
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    finally:
        con.close()
    return path


@pytest.mark.parametrize(
    ("name", "build"),
    [
        # a column named like the engine's own aliases
        (
            "record-struct.parquet",
            lambda p: _parquet_from(
                p,
                "SELECT * FROM (VALUES ('10.0.0.1', {'note': 'a'})) t(\"source.ip\", hunt_record)",
            ),
        ),
        (
            "record-text.parquet",
            lambda p: _parquet_from(
                p, "SELECT * FROM (VALUES ('10.0.0.1', 'a')) t(\"source.ip\", hunt_record)"
            ),
        ),
        # MAP columns: the reader looks inside them like JSON objects
        (
            "map.parquet",
            lambda p: _parquet_from(
                p,
                "SELECT * FROM (VALUES (MAP {'ip': '10.0.0.1'}, MAP {'port': 'abc'}), "
                "(MAP {'ip': '10.0.0.2'}, MAP {'port': '80'})) t(source, destination)",
            ),
        ),
        # a CSV header naming a column twice: the reader reads both
        (
            "twice.csv",
            lambda p: p.write_text(
                "source.ip,source.ip,x\n10.0.0.1,10.0.0.2,a\n10.0.0.3,10.0.0.1,b\n"
            ),
        ),
        # bytes that are not UTF-8, and a carriage return inside a line: bad records only
        (
            "latin.jsonl",
            lambda p: p.write_bytes(
                b'{"source":{"ip":"10.0.0.1"}}\n{"file":{"name":"\xff"}}\n'
                b'{"source":{"ip":"10.0.0.1"}}\n'
            ),
        ),
        (
            "cr.jsonl",
            lambda p: p.write_bytes(
                b'{"source":{"ip":"10.0.0.1"}}\n{"source":\r{"ip":"10.0.0.2"}}\n'
                b'{"source":{"ip":"10.0.0.1"}}\n'
            ),
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_files_the_engine_reads_differently_take_the_readers_view(
    tmp_path: Path, name: str, build: Any
) -> None:
    """Files whose shape DuckDB would read otherwise than the reader still give the
    reader's matches and counts (the engine hands them to the Python path), and the hunt
    does not fail."""
    path = tmp_path / name
    build(path)
    indicators = [
        HuntIndicator("ip", "[ipv4-addr:value = '10.0.0.1']"),
        HuntIndicator("ip2", "[ipv4-addr:value = '10.0.0.2']"),
        HuntIndicator("port", "[network-traffic:dst_port = 80]"),
    ]
    stats = ReadStats()
    report = hunt_files(indicators, [path], stats=stats)
    expected = _python(indicators, path)
    assert expected  # each file has something to find
    assert _columnar(report) == expected
    assert stats == _read_stats(path)


def test_a_pattern_that_is_not_text_is_an_invalid_indicator(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "e.jsonl", [{"source": {"ip": "10.0.0.1"}}])
    odd: list[Any] = [None, 5, b"[ipv4-addr:value = '10.0.0.1']", ["x"]]
    indicators = [HuntIndicator(f"odd-{n}", value) for n, value in enumerate(odd)]
    report = hunt_files(
        [*indicators, HuntIndicator("ok", "[ipv4-addr:value = '10.0.0.1']")], [path]
    )
    assert report.invalid_indicators == [f"odd-{n}" for n in range(len(odd))]
    assert [m.indicator_id for m in report.matches] == ["ok"]


@settings(max_examples=1000, deadline=None)
@given(
    st.tuples(
        st.sampled_from(["2026", "2024", "1999", "9999", "0999"]),
        st.sampled_from(["01", "02", "12", "13"]),
        st.sampled_from(["01", "28", "29", "30", "31", "00"]),
        st.sampled_from(["T", " ", "t"]),
        st.sampled_from(["00", "09", "23", "24"]),
        st.sampled_from(["00", "59", "60"]),
        st.sampled_from(["00", "59", "60"]),
        st.sampled_from(["", ".5", ".123456", ".1234567"]),
        st.sampled_from(
            [
                *("", "Z", "+00", "-05", "+0530", "+05:30", "-23:59"),
                *("+24", "+2", "+123", "+23:60", "+0560", "-24:00"),
            ]
        ),
    ).map(lambda p: f"{p[0]}-{p[1]}-{p[2]}{p[3]}{p[4]}:{p[5]}:{p[6]}{p[7]}{p[8]}")
)
def test_iso_time_is_a_subset_of_what_the_reader_accepts(text: str) -> None:
    """A time the candidate stage passes as certainly readable (``ISO_TIME`` and a valid
    date) is one the reader reads."""
    import re
    from datetime import date, datetime

    from kizuna.hunt.columnar import ISO_TIME

    if re.fullmatch(ISO_TIME, text) is None:
        return
    event("ISO_TIME passes it")
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return  # TRY_CAST(left(text, 10) AS DATE) refuses it too
    datetime.fromisoformat(text)


@pytest.mark.parametrize(
    "stamp",
    ["2026-01-01 00:00:00+00", "2026-01-01T00:00:00+0530", "2026-01-01T00:00:00.5-03:00"],
)
def test_offsets_as_databases_print_them_are_not_suspects(tmp_path: Path, stamp: str) -> None:
    """``+00`` and ``+0530`` offsets are read by the engine, not sent line by line to Python
    (which made a whole file of them run at the reader's speed)."""
    from kizuna.hunt.columnar import ScanPlan, _DuckStage, _plan

    records = [{"@timestamp": stamp, "source": {"ip": "10.0.0.1"}}] * 3
    path = _write_jsonl(tmp_path / "t.jsonl", [])
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in records) + b"\n")
    indicators = [HuntIndicator("ip", "[ipv4-addr:value = '10.0.0.1']")]
    _prepared, _invalid, plan = _plan(indicators, None)
    assert isinstance(plan, ScanPlan)
    con = duckdb.connect()
    try:
        scan = _DuckStage(con, plan)(path, "jsonl")
    finally:
        con.close()
    assert scan is not None
    assert scan.suspects == [1]  # line 1 is always read again (a byte order mark)
    assert scan.clean == 2
    assert _columnar(hunt_files(indicators, [path])) == _python(indicators, path)
