# ruff: noqa: E501  (the case table keeps one case per line)
"""Evaluation of STIX 2.1 patterns: a spec-derived table plus property tests."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.patterns import (
    CompiledPattern,
    Observation,
    PatternError,
    compile_pattern,
    observation_from_scos,
    parse,
)

T0 = 1_600_000_000  # seconds; 2020-09-13T12:26:40Z
US = 1_000_000


def at(start: float, *scos: Mapping[str, Any], end: float | None = None, n: int = 1) -> Observation:
    """An observation of ``scos`` from ``T0 + start`` to ``T0 + end`` seconds."""
    stop = start if end is None else end
    return observation_from_scos(
        list(scos),
        first_observed_us=int((T0 + start) * US),
        last_observed_us=int((T0 + stop) * US),
        number_observed=n,
    )


FILE: dict[str, Any] = {
    "type": "file",
    "id": "file--1",
    "name": "evil.exe",
    "size": 1024,
    "hashes": {"SHA-256": "ab" * 32, "MD5": "0123456789abcdef0123456789abcdef"},
    "x_flag": True,
    "x_off": False,
    "x_ratio": 0.5,
    "ctime": "2020-01-01T00:00:00Z",
    "x_list": [1, 5, 9],
    "x_names": ["a.txt", "b.exe"],
    "x_unicode": "caf\u00e9 \u2603",
    "x_multiline": "line1\nline2",
    "x_magic_hex": "4d5a",
    "extensions": {
        "windows-pebinary-ext": {
            "pe_type": "exe",
            "sections": [{"name": ".text", "entropy": 7.5}, {"name": ".data", "entropy": 1.2}],
        }
    },
}
IP = {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"}
IP2 = {"type": "ipv4-addr", "id": "ipv4-addr--2", "value": "203.0.113.9"}
NET = {"type": "ipv4-addr", "id": "ipv4-addr--3", "value": "198.51.100.0/25"}
IP6 = {"type": "ipv6-addr", "id": "ipv6-addr--1", "value": "2001:db8::1"}
NT = {
    "type": "network-traffic",
    "id": "network-traffic--1",
    "src_ref": "ipv4-addr--1",
    "dst_ref": "ipv4-addr--2",
    "dst_port": 443,
    "src_port": 50000,
    "protocols": ["ipv4", "tcp"],
    "x_dangling_ref": "ipv4-addr--404",
}
PAYLOAD = b"\x00\x01hello\xff"
ART = {
    "type": "artifact",
    "id": "artifact--1",
    "payload_bin": base64.b64encode(PAYLOAD).decode(),
    "mime_type": "application/octet-stream",
}
FROM = {"type": "email-addr", "id": "email-addr--1", "value": "alice@example.com"}
TO1 = {"type": "email-addr", "id": "email-addr--2", "value": "bob@example.com"}
TO2 = {"type": "email-addr", "id": "email-addr--3", "value": "carol@example.org"}
MAIL = {
    "type": "email-message",
    "id": "email-message--1",
    "is_multipart": False,
    "from_ref": "email-addr--1",
    "to_refs": ["email-addr--2", "email-addr--3"],
    "subject": "Invoice 42",
}
FILE2 = {"type": "file", "id": "file--2", "name": "good.txt", "size": 10}

SETS: dict[str, list[Observation]] = {
    "file": [at(0, FILE)],
    "file2": [at(0, FILE2)],
    "both_files_one_obs": [at(0, FILE, FILE2)],
    "net": [at(0, NT, IP, IP2)],
    "ip": [at(0, IP)],
    "cidr": [at(0, NET)],
    "ip6": [at(0, IP6)],
    "art": [at(0, ART)],
    "mail": [at(0, MAIL, FROM, TO1, TO2)],
    "mixed": [at(0, FILE), at(5, IP), at(9, NT, IP, IP2)],
    "empty": [],
}

# (pattern, observation set, expected)
CASES: list[tuple[str, str, bool]] = [
    # --- string equality / inequality / ordering --------------------------------------------
    ("[file:name = 'evil.exe']", "file", True),
    ("[file:name = 'EVIL.exe']", "file", False),
    ("[file:name != 'evil.exe']", "file", False),
    ("[file:name != 'good.exe']", "file", True),
    ("[file:name NOT = 'evil.exe']", "file", False),
    ("[file:name NOT != 'evil.exe']", "file", True),
    ("[file:name < 'f']", "file", True),
    ("[file:name < 'e']", "file", False),
    ("[file:name <= 'evil.exe']", "file", True),
    ("[file:name > 'evil.exd']", "file", True),
    ("[file:name >= 'evil.exf']", "file", False),
    ("[file:name NOT < 'f']", "file", False),
    ("[file:x_unicode = 'caf\u00e9 \u2603']", "file", True),
    ("[file:x_unicode > 'cafe']", "file", True),  # code point order: e9 > 65
    ("[file:name = 'evil.exe' ]", "file2", False),
    ("[file:name = 1]", "file", False),
    ("[file:name NOT = 1]", "file", True),  # present value of another type: NOT flips
    # --- numbers ---------------------------------------------------------------------------
    ("[file:size = 1024]", "file", True),
    ("[file:size = 1024.0]", "file", True),
    ("[file:size = 1023]", "file", False),
    ("[file:size != 1023]", "file", True),
    ("[file:size > 1000]", "file", True),
    ("[file:size > 1024]", "file", False),
    ("[file:size >= 1024]", "file", True),
    ("[file:size < 1024.5]", "file", True),
    ("[file:size <= 1023.9]", "file", False),
    ("[file:size NOT > 1000]", "file", False),
    ("[file:size NOT < 1000]", "file", True),
    ("[file:size = '1024']", "file", False),
    ("[file:size > 'a']", "file", False),
    ("[file:x_ratio = 0.5]", "file", True),
    ("[file:x_ratio < 1]", "file", True),
    ("[file:x_ratio > -1]", "file", True),
    ("[file:x_ratio = .5]", "file", True),
    ("[file:x_flag = 1]", "file", False),  # booleans are not numbers
    ("[file:x_flag > 0]", "file", False),
    # --- booleans ----------------------------------------------------------------------------
    ("[file:x_flag = true]", "file", True),
    ("[file:x_flag = false]", "file", False),
    ("[file:x_flag != false]", "file", True),
    ("[file:x_off = false]", "file", True),
    ("[file:x_off NOT = true]", "file", True),
    ("[file:size = true]", "file", False),
    ("[email-message:is_multipart = false]", "mail", True),
    # --- timestamps ------------------------------------------------------------------------
    ("[file:ctime = t'2020-01-01T00:00:00Z']", "file", True),
    ("[file:ctime = t'2020-01-01T00:00:00.000Z']", "file", True),
    ("[file:ctime = '2020-01-01T00:00:00.000Z']", "file", False),  # strings compare as text
    ("[file:ctime = '2020-01-01T00:00:00Z']", "file", True),
    ("[file:ctime < t'2020-01-01T00:00:00.1Z']", "file", True),
    ("[file:ctime > t'2019-12-31T23:59:59Z']", "file", True),
    ("[file:ctime >= t'2020-01-01T00:00:01Z']", "file", False),
    ("[file:ctime != t'2020-01-01T00:00:01Z']", "file", True),
    ("[file:name = t'2020-01-01T00:00:00Z']", "file", False),  # not a timestamp
    ("[file:name NOT = t'2020-01-01T00:00:00Z']", "file", True),
    ("[file:size < t'2020-01-01T00:00:00Z']", "file", False),
    # --- hex / binary ------------------------------------------------------------------------
    ("[artifact:payload_bin = h'000168656c6c6fff']", "art", True),
    ("[artifact:payload_bin = h'0001']", "art", False),
    ("[artifact:payload_bin = b'AAFoZWxsb/8=']", "art", True),
    ("[artifact:payload_bin != b'AAFoZWxsb/8=']", "art", False),
    ("[artifact:payload_bin > h'00']", "art", True),
    ("[artifact:payload_bin < h'0002']", "art", True),
    ("[artifact:payload_bin >= h'01']", "art", False),
    ("[artifact:payload_bin = 'AAFoZWxsb/8=']", "art", True),  # string vs string: raw text
    ("[file:x_magic_hex = h'4d5a']", "file", True),
    ("[file:x_magic_hex = h'4D5A']", "file", True),
    ("[file:x_magic_hex = h'4d5b']", "file", False),
    ("[file:name = h'6576696c2e657865']", "file", True),  # text by code point (latin-1)
    ("[file:x_unicode = h'636166e920']", "file", False),  # code point > 255: never equal
    ("[file:size = h'00']", "file", False),
    ("[artifact:mime_type > b'YQ==']", "art", True),
    # --- IN ----------------------------------------------------------------------------------
    ("[file:name IN ('a', 'evil.exe')]", "file", True),
    ("[file:name IN ('a', 'b')]", "file", False),
    ("[file:name NOT IN ('a', 'b')]", "file", True),
    ("[file:name NOT IN ('evil.exe')]", "file", False),
    ("[file:name IN ()]", "file", False),
    ("[file:name NOT IN ()]", "file", True),
    ("[file:size IN (1, 1024)]", "file", True),
    ("[file:size IN (1.0, 1024.0)]", "file", True),
    ("[file:size IN ('1024')]", "file", False),
    ("[file:size IN ('x', 1024)]", "file", True),
    ("[file:x_flag IN (1, true)]", "file", True),
    ("[file:x_flag IN (1, 0)]", "file", False),
    ("[file:ctime IN (t'2020-01-01T00:00:00Z', 'x')]", "file", True),
    ("[artifact:payload_bin IN (h'00', b'AAFoZWxsb/8=')]", "art", True),
    # --- LIKE ----------------------------------------------------------------------------------
    ("[file:name LIKE 'evil%']", "file", True),
    ("[file:name LIKE '%.exe']", "file", True),
    ("[file:name LIKE 'evil']", "file", False),  # whole string
    ("[file:name LIKE 'e_il.exe']", "file", True),
    ("[file:name LIKE 'e_l.exe']", "file", False),
    ("[file:name LIKE 'EVIL%']", "file", False),  # case-sensitive
    ("[file:name LIKE '%']", "file", True),
    ("[file:name LIKE 'evil.ex.']", "file", False),  # '.' is literal
    ("[file:name NOT LIKE '%.dll']", "file", True),
    ("[file:x_multiline LIKE 'line1%2']", "file", True),  # % spans newlines
    ("[file:size LIKE '1024']", "file", False),
    ("[file:size NOT LIKE '1024']", "file", True),
    ("[file:name LIKE '(evil)%']", "file", False),
    # --- MATCHES -------------------------------------------------------------------------------
    ("[file:name MATCHES '^evil']", "file", True),
    ("[file:name MATCHES 'il\\\\.ex']", "file", True),
    ("[file:name MATCHES 'vil']", "file", True),  # search, not fullmatch
    ("[file:name MATCHES '^vil']", "file", False),
    ("[file:name MATCHES '^[a-z]+\\\\.exe$']", "file", True),
    ("[file:name NOT MATCHES 'dll$']", "file", True),
    ("[file:name NOT MATCHES 'exe$']", "file", False),
    ("[file:x_multiline MATCHES 'line1.line2']", "file", True),  # DOTALL
    ("[file:x_multiline MATCHES '^line2']", "file", False),  # no MULTILINE
    ("[file:name MATCHES '(?i)^EVIL']", "file", True),
    ("[artifact:payload_bin MATCHES 'hello']", "art", True),  # decoded bytes, latin-1
    ("[artifact:payload_bin MATCHES '^\\\\x00\\\\x01']", "art", True),
    ("[artifact:payload_bin MATCHES '\\\\xff$']", "art", True),
    ("[file:size MATCHES '1024']", "file", False),
    # --- ISSUBSET / ISSUPERSET -----------------------------------------------------------------
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "ip", True),
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/30']", "ip", False),
    ("[ipv4-addr:value ISSUBSET '198.51.100.7/32']", "ip", True),
    ("[ipv4-addr:value ISSUBSET '198.51.100.1/24']", "ip", True),  # host bits ignored
    ("[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']", "ip", True),
    ("[ipv4-addr:value ISSUBSET '2001:db8::/32']", "ip", False),  # version mismatch
    ("[ipv4-addr:value ISSUBSET 'not a network']", "ip", False),
    ("[ipv4-addr:value ISSUPERSET '198.51.100.7']", "ip", True),
    ("[ipv4-addr:value ISSUPERSET '198.51.100.0/24']", "ip", False),
    ("[ipv4-addr:value ISSUPERSET '198.51.100.5']", "cidr", True),
    ("[ipv4-addr:value ISSUPERSET '198.51.100.200']", "cidr", False),
    ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "cidr", True),
    ("[ipv6-addr:value ISSUBSET '2001:db8::/32']", "ip6", True),
    ("[ipv6-addr:value ISSUBSET '2001:db9::/32']", "ip6", False),
    ("[file:name ISSUBSET '0.0.0.0/0']", "file", False),
    ("[network-traffic:src_ref.value ISSUBSET '198.51.100.0/24']", "net", True),
    # --- EXISTS / missing properties -------------------------------------------------------------
    ("[EXISTS file:name]", "file", True),
    ("[EXISTS file:x_missing]", "file", False),
    ("[NOT EXISTS file:x_missing]", "file", True),
    ("[NOT EXISTS file:name]", "file", False),
    ("[EXISTS file:hashes.'SHA-256']", "file", True),
    ("[EXISTS file:hashes.'SHA-1']", "file", False),
    ("[EXISTS file:x_list[2]]", "file", True),
    ("[EXISTS file:x_list[3]]", "file", False),
    ("[EXISTS file:x_list[*]]", "file", True),
    ("[EXISTS network-traffic:src_ref.value]", "net", True),
    ("[EXISTS network-traffic:x_dangling_ref.value]", "net", False),
    ("[NOT EXISTS network-traffic:x_dangling_ref.value]", "net", True),
    ("[EXISTS ipv4-addr:value]", "file", False),  # no object of the type
    ("[NOT EXISTS ipv4-addr:x_missing]", "file", False),
    ("[file:x_missing = 'a']", "file", False),
    ("[file:x_missing != 'a']", "file", False),
    ("[file:x_missing NOT = 'a']", "file", False),
    ("[file:x_missing NOT IN ('a')]", "file", False),
    ("[file:x_missing NOT LIKE 'a']", "file", False),
    ("[file:x_missing NOT MATCHES 'a']", "file", False),
    ("[file:x_missing NOT ISSUBSET '10.0.0.0/8']", "file", False),
    ("[file:x_missing NOT > 5]", "file", False),
    ("[file:hashes.'SHA-1' NOT = 'x']", "file", False),
    ("[network-traffic:x_dangling_ref.value NOT = 'x']", "net", False),
    # --- hashes, quoted keys, extensions, lists ------------------------------------------------------
    ("[file:hashes.'SHA-256' = '" + "ab" * 32 + "']", "file", True),
    ("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']", "file", True),
    ("[file:'name' = 'evil.exe']", "file", True),
    ("[file:extensions.'windows-pebinary-ext'.pe_type = 'exe']", "file", True),
    ("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]", "file", True),
    ("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 8.0]", "file", False),
    ("[file:extensions.'windows-pebinary-ext'.sections[0].name = '.text']", "file", True),
    ("[file:extensions.'windows-pebinary-ext'.sections[1].name = '.text']", "file", False),
    ("[file:extensions.'windows-pebinary-ext'.sections[5].name = '.text']", "file", False),
    ("[file:extensions.'windows-pebinary-ext'.sections[-1].name = '.data']", "file", False),
    ("[file:x_list[0] = 1]", "file", True),
    ("[file:x_list[1] = 1]", "file", False),
    ("[file:x_list[*] = 9]", "file", True),
    ("[file:x_list[*] = 7]", "file", False),
    ("[file:x_list[*] NOT = 1]", "file", True),  # some element is not 1
    ("[file:x_list[*] > 8]", "file", True),
    ("[file:x_list[*] IN (5, 6)]", "file", True),
    ("[file:x_names[*] LIKE '%.exe']", "file", True),
    ("[file:x_names[*] NOT LIKE '%.txt']", "file", True),
    ("[file:x_names[*] MATCHES '^c']", "file", False),
    ("[file:x_list = 1]", "file", False),  # a list is not its elements
    ("[file:name[0] = 'e']", "file", False),  # strings are not lists
    ("[file:hashes = 'x']", "file", False),
    ("[file:hashes.MD5.x = 'x']", "file", False),
    # --- references ------------------------------------------------------------------------------
    ("[network-traffic:src_ref.value = '198.51.100.7']", "net", True),
    ("[network-traffic:dst_ref.value = '198.51.100.7']", "net", False),
    ("[network-traffic:dst_ref.value = '203.0.113.9']", "net", True),
    ("[network-traffic:src_ref = 'ipv4-addr--1']", "net", True),  # the ref itself
    ("[network-traffic:src_ref.type = 'ipv4-addr']", "net", True),
    ("[network-traffic:protocols[*] = 'tcp']", "net", True),
    ("[network-traffic:protocols[0] = 'tcp']", "net", False),
    ("[email-message:from_ref.value = 'alice@example.com']", "mail", True),
    ("[email-message:to_refs[*].value = 'carol@example.org']", "mail", True),
    ("[email-message:to_refs[0].value = 'carol@example.org']", "mail", False),
    ("[email-message:to_refs[1].value LIKE '%.org']", "mail", True),
    ("[email-message:to_refs[*].value NOT LIKE '%.org']", "mail", True),
    ("[email-message:to_refs[*].value MATCHES '^dave']", "mail", False),
    ("[email-message:to_refs[*] = 'email-addr--2']", "mail", True),
    ("[email-message:subject = 'Invoice 42' AND email-message:from_ref.value LIKE 'a%']", "mail", True),
    # --- boolean structure inside brackets: same object -----------------------------------------------
    ("[file:name = 'evil.exe' AND file:size = 1024]", "file", True),
    ("[file:name = 'evil.exe' AND file:size = 10]", "file", False),
    ("[file:name = 'evil.exe' AND file:size = 10]", "both_files_one_obs", False),  # same object
    ("[file:name = 'evil.exe' OR file:size = 10]", "both_files_one_obs", True),
    ("[file:name = 'x' OR file:size = 10]", "file", False),
    ("[file:name = 'x' OR file:size = 1024]", "file", True),
    ("[(file:name = 'x' OR file:size = 1024) AND file:x_flag = true]", "file", True),
    ("[file:name = 'x' OR file:size = 1 OR file:x_flag = true]", "file", True),
    ("[file:name = 'evil.exe' AND file:size = 1024 AND file:x_flag = false]", "file", False),
    ("[ipv4-addr:value = '198.51.100.7' OR ipv6-addr:value = '::1']", "ip", True),
    ("[ipv4-addr:value = '1.1.1.1' OR ipv6-addr:value = '2001:db8::1']", "ip6", True),
    ("[ipv4-addr:value = '198.51.100.7']", "net", True),  # any SCO of the observation
    ("[ipv4-addr:value = '198.51.100.7']", "file", False),
    ("[file:name = 'evil.exe']", "empty", False),
    # --- observation operators over several observations ----------------------------------------------
    ("[file:name = 'evil.exe'] AND [ipv4-addr:value = '198.51.100.7']", "mixed", True),
    ("[file:name = 'evil.exe'] AND [ipv4-addr:value = '9.9.9.9']", "mixed", False),
    ("[file:name = 'evil.exe'] OR [ipv4-addr:value = '9.9.9.9']", "mixed", True),
    ("[file:name = 'x'] OR [ipv4-addr:value = '9.9.9.9']", "mixed", False),
    ("[file:name = 'evil.exe'] AND [file:size = 1024]", "file", False),  # distinct observations
    ("[file:name = 'evil.exe'] AND [file:name = 'good.txt']", "both_files_one_obs", False),
    ("[ipv4-addr:value = '198.51.100.7'] AND [network-traffic:dst_port = 443]", "mixed", True),
    ("[ipv4-addr:value = '198.51.100.7'] AND [ipv4-addr:value = '203.0.113.9']", "mixed", True),
    ("[file:name = 'evil.exe'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']", "mixed", True),
    ("[ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [file:name = 'evil.exe']", "mixed", False),
    ("[file:size > 1] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7'] "
     "FOLLOWEDBY [network-traffic:dst_port = 443]", "mixed", True),
    ("[network-traffic:dst_port = 443] FOLLOWEDBY [ipv4-addr:value = '198.51.100.7']", "mixed", False),
    ("([file:name = 'evil.exe'] AND [ipv4-addr:value = '198.51.100.7']) WITHIN 5 SECONDS", "mixed", True),
    ("([file:name = 'evil.exe'] AND [ipv4-addr:value = '198.51.100.7']) WITHIN 4 SECONDS", "mixed", False),
    ("([file:name = 'evil.exe'] AND [ipv4-addr:value = '203.0.113.9']) WITHIN 5 SECONDS", "mixed", False),
    ("([file:name = 'evil.exe'] AND [ipv4-addr:value = '203.0.113.9']) WITHIN 9 SECONDS", "mixed", True),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES", "mixed", True),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 3 TIMES", "mixed", False),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES WITHIN 4 SECONDS", "mixed", True),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES WITHIN 3.9 SECONDS", "mixed", False),
    ("[file:name = 'evil.exe'] START t'2020-09-13T12:26:40Z' STOP t'2020-09-13T12:26:41Z'", "mixed", True),
    ("[file:name = 'evil.exe'] START t'2020-09-13T12:26:39Z' STOP t'2020-09-13T12:26:40Z'", "mixed", False),
    ("[file:name = 'evil.exe'] START t'2020-09-13T12:26:40.000001Z' STOP t'2021-01-01T00:00:00Z'", "mixed", False),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES START t'2020-09-13T12:26:40Z' "
     "STOP t'2020-09-13T12:26:49Z'", "mixed", False),
    ("[ipv4-addr:value = '198.51.100.7'] REPEATS 2 TIMES START t'2020-09-13T12:26:40Z' "
     "STOP t'2020-09-13T12:26:49.000001Z'", "mixed", True),
]  # fmt: skip


@pytest.mark.parametrize(("pattern", "observations", "expected"), CASES)
def test_table(pattern: str, observations: str, expected: bool) -> None:
    compiled = compile_pattern(pattern)
    obs = SETS[observations]
    assert compiled.matches(obs) is expected
    result = compiled.match(obs)
    assert (result is not None) is expected
    if result is not None:
        assert all(o in obs for o in result.bindings)


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 150


A = "[file:name = 'a']"
B = "[file:name = 'b']"
FA = {"type": "file", "name": "a"}
FB = {"type": "file", "name": "b"}


def _m(pattern: str, observations: Sequence[Observation]) -> bool:
    return compile_pattern(pattern).matches(observations)


# (pattern, observations, expected): timing edges
TIMING: list[tuple[str, list[Observation], bool]] = [
    (f"{A} FOLLOWEDBY {B}", [at(0, FA), at(10, FB)], True),
    (f"{A} FOLLOWEDBY {B}", [at(10, FA), at(0, FB)], False),
    (f"{A} FOLLOWEDBY {B}", [at(5, FA), at(5, FB)], True),  # equal instants: allowed
    (f"{A} FOLLOWEDBY {B}", [at(0, FA, end=10), at(5, FB, end=15)], False),  # overlap
    (f"{A} FOLLOWEDBY {B}", [at(0, FA, end=5), at(5, FB, end=15)], True),  # touching
    (f"{A} FOLLOWEDBY {A}", [at(0, FA)], False),  # one occurrence
    (f"{A} FOLLOWEDBY {A}", [at(0, FA, n=2)], True),  # two occurrences at one instant
    (f"{A} FOLLOWEDBY {A}", [at(0, FA, end=1, n=2)], False),  # order unknown inside window
    (f"{A} FOLLOWEDBY {B}", [at(10, FA), at(0, FB), at(20, FB)], True),
    (f"({A} AND {B}) WITHIN 10 SECONDS", [at(0, FA), at(10, FB)], True),
    (f"({A} AND {B}) WITHIN 10 SECONDS", [at(0, FA), at(10.5, FB)], False),
    (f"({A} AND {B}) WITHIN 10 SECONDS", [at(0, FA, end=8), at(9, FB, end=11)], False),
    (f"({A} AND {B}) WITHIN 0.5 SECONDS", [at(0, FA), at(0.5, FB)], True),
    (f"{A} WITHIN 1 SECONDS", [at(0, FA, end=2)], False),  # an observation wider than n
    (f"{A} WITHIN 2 SECONDS", [at(0, FA, end=2)], True),
    (f"{A} AND {B}", [at(0, FA, FB)], False),
    (f"{A} AND {B}", [at(0, FA, FB, n=2)], True),  # number_observed counts occurrences
    (f"{A} AND {A}", [at(0, FA)], False),
    (f"{A} AND {A}", [at(0, FA), at(1, FA)], True),
    (f"{A} REPEATS 1 TIMES", [at(0, FA)], True),
    (f"{A} REPEATS 2 TIMES", [at(0, FA)], False),
    (f"{A} REPEATS 2 TIMES", [at(0, FA, n=2)], True),
    (f"{A} REPEATS 5 TIMES", [at(0, FA, n=2), at(1, FA, n=2)], False),
    (f"{A} REPEATS 4 TIMES", [at(0, FA, n=2), at(1, FA, n=2)], True),
    (f"{A} REPEATS 3 TIMES WITHIN 5 SECONDS", [at(t, FA) for t in (0, 10, 20, 21, 25)], True),
    (f"{A} REPEATS 3 TIMES WITHIN 4 SECONDS", [at(t, FA) for t in (0, 10, 20, 21, 25)], False),
    (f"({A} REPEATS 3 TIMES) WITHIN 4 SECONDS", [at(t, FA) for t in range(0, 40, 3)], False),
    (f"({A} FOLLOWEDBY {B}) REPEATS 2 TIMES", [at(0, FA), at(1, FB), at(2, FA), at(3, FB)], True),
    (f"({A} FOLLOWEDBY {B}) REPEATS 2 TIMES", [at(0, FA), at(1, FB), at(2, FA)], False),
    (f"({A} OR {B}) REPEATS 2 TIMES", [at(0, FA), at(1, FB)], True),
    (f"({A} FOLLOWEDBY {B}) WITHIN 5 SECONDS", [at(0, FA), at(6, FB), at(3, FA)], True),
    (f"({A} FOLLOWEDBY {B}) WITHIN 5 SECONDS", [at(0, FA), at(6, FB)], False),
    (
        f"{A} START t'2020-09-13T12:26:40Z' STOP t'2020-09-13T12:26:50Z'",
        [at(0, FA, end=9.999999)],
        True,
    ),
    (
        f"{A} START t'2020-09-13T12:26:40Z' STOP t'2020-09-13T12:26:50Z'",
        [at(0, FA, end=10)],
        False,
    ),
    (
        f"{A} START t'2020-09-13T12:26:40Z' STOP t'2020-09-13T12:26:50Z'",
        [at(-1, FA, end=5)],
        False,
    ),
    (
        f"({A} AND {B}) START t'2020-09-13T12:26:40Z' STOP t'2020-09-13T12:26:50Z'",
        [at(0, FA), at(20, FB), at(3, FB)],
        True,
    ),
    (f"{A} AND ({B} WITHIN 1 SECONDS)", [at(0, FA), at(100, FB)], True),
]


@pytest.mark.parametrize(("pattern", "observations", "expected"), TIMING)
def test_timing(pattern: str, observations: list[Observation], expected: bool) -> None:
    assert _m(pattern, observations) is expected


def test_match_explains_bindings() -> None:
    obs = [at(0, FA), at(10, FB)]
    result = compile_pattern(f"{A} FOLLOWEDBY {B}").match(obs)
    assert result is not None
    assert result.bindings == (obs[0], obs[1])
    assert "[file:name = 'a'] <- observation #0" in result.explanation
    assert "[file:name = 'b'] <- observation #1" in result.explanation
    assert compile_pattern(f"{A} FOLLOWEDBY {B}").match([at(10, FA), at(0, FB)]) is None


def test_compile_accepts_ast_and_rejects_bad_text() -> None:
    compiled = compile_pattern(parse(A))
    assert isinstance(compiled, CompiledPattern)
    assert compiled.pattern == parse(A)
    assert compiled.matches([at(0, FA)])
    with pytest.raises(PatternError):
        compile_pattern("[file:name = ]")


def test_compiled_pattern_is_reusable() -> None:
    compiled = compile_pattern(f"{A} AND {B}")
    assert compiled.matches([at(0, FA), at(1, FB)])
    assert not compiled.matches([at(0, FA)])
    assert compiled.matches([at(1, FB), at(0, FA)])


# --- properties ------------------------------------------------------------------------------

LEAVES = [
    "[file:name = 'a']",
    "[file:name = 'b']",
    "[file:size > 5]",
    "[file:size <= 5]",
    "[file:name LIKE '%a%']",
    "[EXISTS file:size]",
    "[file:name IN ('a', 'c')]",
    "[file:name = 'a' AND file:size < 3]",
]

file_objects = st.fixed_dictionaries(
    {"type": st.just("file")},
    optional={
        "name": st.sampled_from(["a", "b", "c", "ba"]),
        "size": st.integers(min_value=0, max_value=10),
    },
)
observation_lists = st.lists(
    st.builds(
        lambda objs, start, width, n: at(start, *objs, end=start + width, n=n),
        st.lists(file_objects, min_size=1, max_size=2),
        st.integers(min_value=0, max_value=20),
        st.integers(min_value=0, max_value=3),
        st.integers(min_value=1, max_value=2),
    ),
    max_size=4,
)
leaves = st.sampled_from(LEAVES)
qualifiers = st.sampled_from(["", " WITHIN 5 SECONDS", " REPEATS 2 TIMES"])
operands = st.builds(lambda leaf, q: f"({leaf}{q})" if q else leaf, leaves, qualifiers)


@settings(max_examples=150, deadline=None)
@given(operands, operands, observation_lists)
def test_or_is_either(a: str, b: str, obs: list[Observation]) -> None:
    assert _m(f"{a} OR {b}", obs) == (_m(a, obs) or _m(b, obs))


@settings(max_examples=150, deadline=None)
@given(operands, operands, observation_lists)
def test_and_implies_both(a: str, b: str, obs: list[Observation]) -> None:
    both = _m(f"{a} AND {b}", obs)
    if both:
        assert _m(a, obs)
        assert _m(b, obs)
    followed = _m(f"{a} FOLLOWEDBY {b}", obs)
    if followed:
        assert both


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["=", "!=", "<", ">=", "LIKE", "MATCHES"]),
    st.sampled_from(["'a'", "'b%'", "5", "'^b'"]),
    file_objects,
)
def test_not_is_complement_on_present_values(op: str, value: str, sco: dict[str, Any]) -> None:
    prop = "size" if value == "5" else "name"
    if op in ("LIKE", "MATCHES") and value == "5":
        return
    plain = _m(f"[file:{prop} {op} {value}]", [at(0, sco)])
    negated = _m(f"[file:{prop} NOT {op} {value}]", [at(0, sco)])
    if prop in sco:
        assert plain != negated
    else:
        assert not plain
        assert not negated
