"""Telemetry readers: every format, bad records counted, mappings, keys that meet the planner."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import stix2

from kizuna.errors import InvalidInput
from kizuna.hunt.keys import normalise, plan_keys, sco_keys
from kizuna.hunt.readers import Event, FieldMapping, ReadStats, event_keys, read_events
from kizuna.patterns import compile_pattern, observation_from_scos, parse

DATA = Path(__file__).parent / "data"
SHA = "file:hashes.'SHA-256'"
H256 = "a" * 64
MD5 = "b" * 32
IP = "198.51.100.7"
IP_PATTERN = f"[ipv4-addr:value = '{IP}']"


def read(path: Path, **kwargs: Any) -> tuple[list[Event], ReadStats]:
    stats = ReadStats()
    events = list(read_events(path, stats=stats, **kwargs))
    assert stats.events == len(events)
    return events, stats


def by_type(event: Event, kind: str) -> list[dict[str, Any]]:
    return [sco for sco in event.scos if sco["type"] == kind]


def keys_of(event: Event) -> set[tuple[str, str]]:
    pairs = list(event_keys(event))
    assert len(pairs) == len(set(pairs))
    return set(pairs)


def assert_hunt_finds(event: Event, pattern: str) -> None:
    """The planner's keys meet the event's keys (when it has keys: a ``*_ref`` dereference
    has none and means a scan), and the evaluator confirms the match."""
    plan = plan_keys(parse(pattern))
    if plan.keys:
        assert {(k.path, k.value) for k in plan.keys} & keys_of(event)
    assert compile_pattern(pattern).matches([observation_from_scos(list(event.scos))])


# --- JSON lines --------------------------------------------------------------------------------


def test_jsonl_ecs_nested_and_dotted() -> None:
    events, _ = read(DATA / "ecs.jsonl")
    assert [e.line for e in events] == [1, 2, 5]
    assert {e.source for e in events} == {"ecs.jsonl"}
    first, second, third = events

    assert first.timestamp_us == 1_714_564_800_250_000
    (traffic,) = by_type(first, "network-traffic")
    src = next(s for s in first.scos if s["id"] == traffic["src_ref"])
    dst = next(s for s in first.scos if s["id"] == traffic["dst_ref"])
    assert (src["type"], src["value"]) == ("ipv4-addr", "10.0.0.5")
    assert (dst["type"], dst["value"]) == ("ipv4-addr", IP)
    assert (traffic["src_port"], traffic["dst_port"], traffic["protocols"]) == (51515, 443, ["tcp"])
    assert dst["id"].startswith("ipv4-addr--")

    assert second.timestamp_us == first.timestamp_us + 750_000  # +02:00 offset honoured
    assert [s["value"] for s in by_type(second, "domain-name")] == ["evil.example"]
    assert [s["value"] for s in by_type(second, "ipv6-addr")] == ["2001:db8::1"]

    assert third.timestamp_us is None
    (file,) = by_type(third, "file")
    assert file["name"] == "a.exe"
    assert file["hashes"] == {"SHA-256": H256, "MD5": MD5}
    assert [s["value"] for s in by_type(third, "url")] == ["http://evil.example/x"]
    assert [s["value"] for s in by_type(third, "email-addr")] == ["a@evil.example"]


def test_jsonl_bad_lines_are_counted_not_fatal() -> None:
    _, stats = read(DATA / "ecs.jsonl")
    assert stats.events == 3
    assert stats.bad == 3  # broken JSON, a list, a port that is not a number
    assert stats.bad_examples[0].startswith("ecs.jsonl:3: not JSON")
    assert stats.bad_examples[1] == "ecs.jsonl:6: not a JSON object"
    assert stats.bad_examples[2].startswith("ecs.jsonl:7: ")
    assert "'http' is not an integer" in stats.bad_examples[2]


def test_bad_examples_are_capped_at_five(tmp_path: Path) -> None:
    path = tmp_path / "noise.jsonl"
    path.write_text("nope\n" * 9 + '{"source.ip": "10.0.0.1"}\n')
    events, stats = read(path)
    assert (len(events), stats.bad, len(stats.bad_examples)) == (1, 9, 5)
    assert events[0].line == 10


def test_gzipped_jsonl_is_read_transparently(tmp_path: Path) -> None:
    path = tmp_path / "ecs.jsonl.gz"
    with (DATA / "ecs.jsonl").open("rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain, _ = read(DATA / "ecs.jsonl")
    zipped, stats = read(path)
    assert [(e.line, e.timestamp_us, e.scos) for e in zipped] == [
        (e.line, e.timestamp_us, e.scos) for e in plain
    ]
    assert {e.source for e in zipped} == {"ecs.jsonl.gz"}
    assert stats.bad == 3


def test_gzipped_zeek_without_gz_suffix_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_bytes(gzip.compress((DATA / "conn.log").read_bytes()))
    events, _ = read(path)
    assert len(events) == 2


# --- CSV ---------------------------------------------------------------------------------------


def test_csv_with_ecs_columns() -> None:
    events, stats = read(DATA / "ecs.csv")
    assert [e.line for e in events] == [2, 3]
    assert stats.bad == 1
    assert stats.bad_examples == ["ecs.csv:4: 2 columns, header has 6"]
    first, second = events
    assert first.timestamp_us == 1_714_564_800_000_000
    assert not by_type(first, "url")  # empty cell: missing
    assert ("network-traffic:dst_port", "#443") in keys_of(first)
    assert ("url:value", "http://evil.example/a") in keys_of(second)
    assert_hunt_finds(first, IP_PATTERN)


# --- Zeek --------------------------------------------------------------------------------------


def test_zeek_conn() -> None:
    events, stats = read(DATA / "conn.log")
    assert stats.bad == 1
    assert stats.bad_examples == ["conn.log:10: 3 fields, header has 8"]
    first, second = events
    assert first.line == 8
    assert first.timestamp_us == 1_714_564_800_250_000
    (traffic,) = by_type(first, "network-traffic")
    assert (traffic["src_port"], traffic["dst_port"], traffic["protocols"]) == (51515, 443, ["tcp"])
    assert [s["type"] for s in by_type(second, "ipv6-addr")] == ["ipv6-addr"]
    assert_hunt_finds(first, IP_PATTERN)
    assert_hunt_finds(first, f"[network-traffic:dst_ref.value = '{IP}']")
    assert_hunt_finds(first, "[network-traffic:dst_port = 443]")


def test_zeek_dns_http_files_ssl() -> None:
    dns, _ = read(DATA / "dns.log")
    assert [s["value"] for s in by_type(dns[0], "domain-name")] == ["evil.example"]
    assert not by_type(dns[1], "domain-name")  # "-" is missing
    assert dns[0].timestamp_us == 1_714_564_803_500_000

    http, _ = read(DATA / "http.log")
    assert [s["value"] for s in by_type(http[0], "url")] == ["http://evil.example:8080/payload.bin"]
    assert [s["value"] for s in by_type(http[0], "domain-name")] == ["evil.example"]
    assert not by_type(http[1], "domain-name")  # an IP literal host is no domain
    assert [s["value"] for s in by_type(http[1], "url")] == [f"http://{IP}/x"]

    files, _ = read(DATA / "files.log")
    (file,) = by_type(files[0], "file")
    assert file["hashes"] == {"MD5": MD5, "SHA-1": "c" * 40, "SHA-256": H256}
    assert (file["name"], file["size"]) == ("payload.bin", 1024)
    assert files[1].scos == ()
    assert_hunt_finds(files[0], f"[{SHA} = '{H256}']")
    assert_hunt_finds(files[0], f"[file:hashes.MD5 = '{MD5}']")

    ssl, _ = read(DATA / "ssl.log")
    assert_hunt_finds(ssl[0], "[domain-name:value = 'evil.example']")


# --- STIX --------------------------------------------------------------------------------------


def test_stix_bundle_one_event_per_observed_data() -> None:
    events, stats = read(DATA / "bundle.json")
    assert stats.bad == 1
    assert stats.bad_examples[0].startswith("bundle.json:5: observed-data without first_observed")
    refs, local, bare = events
    assert (refs.line, refs.timestamp_us) == (3, 1_714_564_800_500_000)
    assert {s["type"] for s in refs.scos} == {"network-traffic", "ipv4-addr"}
    assert_hunt_finds(refs, IP_PATTERN)
    assert_hunt_finds(refs, f"[network-traffic:dst_ref.value = '{IP}']")
    assert local.timestamp_us == 1_714_568_400_000_000
    assert_hunt_finds(local, f"[{SHA} = '{H256}']")
    assert (bare.line, bare.timestamp_us) == (6, None)  # an SCO no observed-data references
    assert [s["type"] for s in bare.scos] == ["url"]


# --- parquet -----------------------------------------------------------------------------------


def test_parquet_via_duckdb(tmp_path: Path) -> None:
    path = tmp_path / "flows.parquet"
    duckdb.sql(
        f"""COPY (
            SELECT TIMESTAMP '2024-05-01 12:00:00.25' AS "@timestamp",
                   {{'ip': '10.0.0.5', 'port': 51515}} AS source,
                   '{IP}' AS "destination.ip", 443 AS "destination.port",
                   '{H256}' AS "file.hash.sha256"
            UNION ALL
            SELECT NULL, {{'ip': '10.0.0.6', 'port': NULL}}, NULL, NULL, NULL
        ) TO '{path}' (FORMAT PARQUET)"""
    )
    events, stats = read(path)
    assert stats.bad == 0
    assert [e.line for e in events] == [1, 2]
    first, second = events
    assert first.timestamp_us == 1_714_564_800_250_000
    (traffic,) = by_type(first, "network-traffic")
    assert (traffic["src_port"], traffic["dst_port"]) == (51515, 443)
    assert_hunt_finds(first, IP_PATTERN)
    assert_hunt_finds(first, f"[{SHA} = '{H256}']")
    assert second.timestamp_us is None
    assert [s["value"] for s in by_type(second, "ipv4-addr")] == ["10.0.0.6"]


# --- mappings ----------------------------------------------------------------------------------


def test_mapping_file_replaces_ecs_fields() -> None:
    mapping = FieldMapping.load(DATA / "mapping.json")
    assert mapping.timestamp_field == "time"
    events, stats = read(DATA / "custom.jsonl", mapping=mapping)
    assert stats.bad == 1
    assert "'yesterday' is not a timestamp" in stats.bad_examples[0]
    first, second = events
    assert first.timestamp_us == 1_714_564_800_123_000  # epoch milliseconds
    keys = keys_of(first)
    assert {
        ("ipv4-addr:value", IP),
        ("domain-name:value", "evil.example"),
        ("network-traffic:dst_port", "#8443"),
        ("ipv4-addr:value", "192.0.2.10"),
    } <= keys
    (traffic,) = by_type(first, "network-traffic")
    assert next(s for s in first.scos if s["id"] == traffic["dst_ref"])["value"] == "192.0.2.10"
    assert_hunt_finds(first, IP_PATTERN)
    assert (SHA, H256) in keys_of(second)
    assert ("ipv4-addr:value", "10.9.9.9") not in keys_of(second)  # ECS names not used


def test_mapping_on_csv_columns(tmp_path: Path) -> None:
    path = tmp_path / "proxy.csv"
    path.write_text("when,client,port\n1714564800,198.51.100.7,8080\n")
    fields = {"client": "ipv4-addr:value", "port": "network-traffic:dst_port"}
    mapping = FieldMapping(fields, timestamp_field="when")
    (event,), _ = read(path, mapping=mapping)
    assert event.timestamp_us == 1_714_564_800_000_000
    assert ("network-traffic:dst_port", "#8080") in keys_of(event)
    assert_hunt_finds(event, IP_PATTERN)


@pytest.mark.parametrize(
    "fields",
    [
        {"x": "not a path"},
        {"x": "file:hashes[*]"},
        {"x": "email-message:from_ref.value"},
        {"x": 3},
    ],
)
def test_bad_mappings_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        FieldMapping(fields)


def test_mapping_load_errors(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"fields": []}')
    with pytest.raises(InvalidInput, match="fields"):
        FieldMapping.load(path)
    with pytest.raises(InvalidInput, match="cannot read"):
        FieldMapping.load(tmp_path / "missing.json")


# --- keys --------------------------------------------------------------------------------------


def test_event_keys_are_normalised_values_with_canonical_paths() -> None:
    events, _ = read(DATA / "ecs.jsonl")
    first, _, third = events
    keys = keys_of(third)
    assert (SHA, normalise(SHA, H256)) in keys
    assert ("file:hashes.MD5", normalise("file:hashes.MD5", MD5)) in keys
    assert ("file:name", normalise("file:name", "a.exe")) in keys
    assert ("network-traffic:dst_port", normalise("network-traffic:dst_port", 443)) in keys_of(
        first
    )
    assert ("network-traffic:src_port", "#51515") in keys_of(first)
    for event in events:  # exactly what the planner's sco_keys offers, nothing more
        expected = {(k.path, k.value) for sco in event.scos for k in sco_keys(sco)}
        assert keys_of(event) == expected


def test_end_to_end_ip_hunt() -> None:
    events, _ = read(DATA / "ecs.jsonl")
    event = next(e for e in events if any(s.get("value") == IP for s in e.scos))
    plan = plan_keys(parse(IP_PATTERN))
    assert plan.keys
    assert {(k.path, k.value) for k in plan.keys} & set(event_keys(event))
    assert compile_pattern(IP_PATTERN).matches([observation_from_scos(list(event.scos))])
    other = events[1]  # an event without the address
    assert not {(k.path, k.value) for k in plan.keys} & set(event_keys(other))


def test_same_value_same_id_across_events() -> None:
    jsonl, _ = read(DATA / "ecs.jsonl")
    conn, _ = read(DATA / "conn.log")
    ids = {s["id"] for e in (jsonl[0], conn[0]) for s in e.scos if s.get("value") == IP}
    assert len(ids) == 1
    # The STIX 2.1 deterministic id, as the stix2 library computes it.
    assert ids == {stix2.IPv4Address(value=IP).id}


# --- formats and unreadable files --------------------------------------------------------------


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text('{"source.ip": "10.0.0.1"}\n')
    events, _ = read(path, format="jsonl")
    assert len(events) == 1
    with pytest.raises(InvalidInput, match="unknown telemetry format"):
        read(path, format="xml")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.jsonl", None, "not a file"),
        ("blob.bin", b"\x00\x01binary", "cannot tell the format"),
        ("broken.jsonl.gz", b"\x1f\x8b\x08\x00garbage-not-deflate", "cannot read"),
        ("fake.parquet", b"not parquet at all", "parquet"),
        ("bad.json", b'{"type": "bundle", "objects": [', "not STIX JSON"),
    ],
)
def test_unreadable_files_raise_invalid_input(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message):
        read(path)
