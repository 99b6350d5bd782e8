"""Telemetry readers for hunting: files of events turned into STIX SCOs and join keys.

:func:`read_events` reads one file and yields an :class:`Event` per record, holding the record
as STIX cyber-observable objects (SCOs); :func:`event_keys` gives the ``(path, value)`` pairs an
event offers to the key join (the same pairs :func:`kizuna.hunt.keys.sco_keys` derives, so a
pattern's :class:`~kizuna.hunt.keys.KeyPlan` meets them exactly).

Formats (``format=`` or detected from the name and the first bytes; ``.gz`` / gzip magic is
decompressed transparently for every text format):

* ``jsonl``: one JSON object per line, ECS field names, nested objects or dotted keys;
* ``csv``: a header row, then rows; columns named like ECS dotted fields;
* ``zeek``: Zeek TSV logs with ``#fields`` headers (conn, dns, http, files, ssl; any other
  log contributes its ``id.*`` connection fields); ``-`` and ``(empty)`` mean missing;
* ``stix``: a bundle, one observed-data, or a list of STIX objects; one event per
  observed-data (and per SCO that no observed-data references);
* ``parquet``: read through duckdb; columns named like ECS fields (dotted or structs).

A :class:`FieldMapping` replaces the ECS (or Zeek) field table for other sources: source
field name -> STIX path such as ``ipv4-addr:value``, ``network-traffic:dst_port``,
``network-traffic:src_ref.value`` or ``file:hashes.'SHA-256'``.

Records that cannot be parsed, or whose values do not fit their path (a port that is not an
integer, a bad timestamp), are skipped and counted in :class:`ReadStats`; only a file that
cannot be read at all raises :class:`~kizuna.errors.InvalidInput`.

SCO ids are STIX 2.1 deterministic ids (UUIDv5 in the SCO namespace over the contributing
properties), so the same address gets the same id in every event.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TextIO

import orjson

from kizuna.errors import InvalidInput
from kizuna.hunt.keys import sco_keys
from kizuna.patterns import (
    Comparison,
    ObservationExpr,
    PatternError,
    observations_from_stix,
    parse,
)

__all__ = ["FORMATS", "Event", "FieldMapping", "ReadStats", "event_keys", "read_events"]

FORMATS: Final = frozenset({"jsonl", "csv", "zeek", "stix", "parquet"})

_MAX_EXAMPLES = 5
_SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_VALUE_TYPES = frozenset({"ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "mac-addr"})
_INT_PROPERTIES = frozenset(
    {
        ("network-traffic", "src_port"),
        ("network-traffic", "dst_port"),
        ("network-traffic", "src_byte_count"),
        ("network-traffic", "dst_byte_count"),
        ("network-traffic", "src_packets"),
        ("network-traffic", "dst_packets"),
        ("file", "size"),
    }
)
#: STIX 2.1 id-contributing properties (others: every property)
_CONTRIBUTING: Final[Mapping[str, tuple[str, ...]]] = {
    "file": ("hashes", "name", "extensions", "parent_directory_ref"),
    "network-traffic": (
        "start",
        "end",
        "src_ref",
        "dst_ref",
        "src_port",
        "dst_port",
        "protocols",
        "extensions",
    ),
}
_HASH_PREFERENCE = ("MD5", "SHA-1", "SHA-256", "SHA-512")

ECS_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "source.ip": "network-traffic:src_ref.value",
        "destination.ip": "network-traffic:dst_ref.value",
        "source.port": "network-traffic:src_port",
        "destination.port": "network-traffic:dst_port",
        "network.transport": "network-traffic:protocols",
        "dns.question.name": "domain-name:value",
        "url.domain": "domain-name:value",
        "source.domain": "domain-name:value",
        "destination.domain": "domain-name:value",
        "url.full": "url:value",
        "url.original": "url:value",
        "file.hash.md5": "file:hashes.MD5",
        "file.hash.sha1": "file:hashes.'SHA-1'",
        "file.hash.sha256": "file:hashes.'SHA-256'",
        "file.hash.sha512": "file:hashes.'SHA-512'",
        "file.name": "file:name",
        "file.size": "file:size",
        "email.from.address": "email-addr:value",
        "email.to.address": "email-addr:value",
    }
)
ECS_TIMESTAMP: Final = "@timestamp"

_ZEEK_COMMON: Final[Mapping[str, str]] = {
    "id.orig_h": "network-traffic:src_ref.value",
    "id.resp_h": "network-traffic:dst_ref.value",
    "id.orig_p": "network-traffic:src_port",
    "id.resp_p": "network-traffic:dst_port",
    "proto": "network-traffic:protocols",
}
ZEEK_FIELDS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "conn": _ZEEK_COMMON,
        "dns": {**_ZEEK_COMMON, "query": "domain-name:value"},
        # "host" also becomes url "http://" + host + uri (see _zeek_events)
        "http": {**_ZEEK_COMMON, "host": "domain-name:value"},
        "files": {
            "md5": "file:hashes.MD5",
            "sha1": "file:hashes.'SHA-1'",
            "sha256": "file:hashes.'SHA-256'",
            "filename": "file:name",
            "total_bytes": "file:size",
        },
        "ssl": {**_ZEEK_COMMON, "server_name": "domain-name:value"},
    }
)
ZEEK_TIMESTAMP: Final = "ts"


# --- public types ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One telemetry record as STIX SCOs.

    ``line``: 1-based line (JSON lines, CSV, Zeek), row (parquet) or object position (STIX).
    """

    line: int
    source: str
    timestamp_us: int | None
    scos: tuple[dict[str, Any], ...]


@dataclass
class ReadStats:
    """Counts of one or more reads; ``bad_examples`` keeps the first few ``file:line: reason``."""

    events: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)

    def add_bad(self, source: str, line: int, reason: str) -> None:
        self.bad += 1
        if len(self.bad_examples) < _MAX_EXAMPLES:
            self.bad_examples.append(f"{source}:{line}: {reason}")


@dataclass(frozen=True)
class FieldMapping:
    """Source field name -> STIX path, for sources that are not ECS (or Zeek) shaped.

    Field names may be dotted (``client.ip``) to reach into nested JSON objects. When given,
    the mapping replaces the built-in field table; ``timestamp_field`` names the event time
    (``None``: the format's default, ``@timestamp`` or Zeek's ``ts``).
    """

    fields: Mapping[str, str]
    timestamp_field: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fields, Mapping):
            raise InvalidInput("a field mapping's fields must be an object")
        for name, path in self.fields.items():
            if not isinstance(name, str) or not name or not isinstance(path, str):
                raise InvalidInput(f"field mapping entry {name!r}: {path!r} is not name -> path")
            _compile_path(path)  # raises InvalidInput
        if self.timestamp_field is not None and not isinstance(self.timestamp_field, str):
            raise InvalidInput("a field mapping's timestamp must be a field name")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    @classmethod
    def load(cls, path: Path) -> FieldMapping:
        """Read ``{"fields": {"client_ip": "ipv4-addr:value", ...}, "timestamp": "time"}``."""
        try:
            document = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise InvalidInput(f"cannot read field mapping {path}: {exc.strerror}") from None
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"field mapping {path} is not JSON: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("fields"), dict):
            raise InvalidInput(f'field mapping {path} must be {{"fields": {{...}}}}')
        unknown = set(document) - {"fields", "timestamp"}
        if unknown:
            raise InvalidInput(f"field mapping {path}: unknown keys {sorted(unknown)}")
        return cls(document["fields"], document.get("timestamp"))


# --- targets: where a field's value goes -----------------------------------------------------

_TS, _VALUE, _REF, _INT, _PROTOCOLS, _PROP = range(6)


@dataclass(frozen=True, slots=True)
class _Target:
    kind: int
    object_type: str
    steps: tuple[str, ...]


_TIMESTAMP_TARGET = _Target(_TS, "", ())


@lru_cache(maxsize=256)
def _compile_path(text: str) -> _Target:
    try:
        root = parse(f"[{text} = 'x']").root
    except PatternError as exc:
        raise InvalidInput(f"{text!r} is not a STIX object path: {exc.message}") from None
    assert isinstance(root, ObservationExpr)
    assert isinstance(root.comparison, Comparison)
    path = root.comparison.path
    steps = path.steps
    if not all(isinstance(s, str) for s in steps):
        raise InvalidInput(f"{text!r}: list steps are not supported in a field mapping")
    names: tuple[str, ...] = tuple(s for s in steps if isinstance(s, str))
    otype = path.object_type
    if otype == "network-traffic" and names in (("src_ref", "value"), ("dst_ref", "value")):
        return _Target(_REF, otype, names[:1])
    if any(n.endswith("_ref") for n in names[:-1]):
        raise InvalidInput(f"{text!r}: only network-traffic:src_ref/dst_ref.value may follow a ref")
    if names == ("value",) and otype in _VALUE_TYPES:
        return _Target(_VALUE, otype, names)
    if otype == "network-traffic" and names == ("protocols",):
        return _Target(_PROTOCOLS, otype, names)
    if len(names) == 1 and (otype, names[0]) in _INT_PROPERTIES:
        return _Target(_INT, otype, names)
    return _Target(_PROP, otype, names)


def _flat_table(fields: Mapping[str, str], timestamp: str | None) -> dict[str, _Target]:
    table = {name: _compile_path(path) for name, path in fields.items()}
    if timestamp:
        table[timestamp] = _TIMESTAMP_TARGET
    return table


def _trie(table: Mapping[str, _Target]) -> dict[str, Any]:
    """Nested dicts keyed by field-name parts, leaves are targets."""
    root: dict[str, Any] = {}
    for name, target in table.items():
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if isinstance(child, _Target):
                raise InvalidInput(f"field {name!r} is inside field {part!r}, which is mapped")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise InvalidInput(f"field {name!r} is both mapped and a prefix of mapped fields")
        node[parts[-1]] = target
    return root


def _collect(
    obj: Mapping[str, Any], node: Mapping[str, Any], out: list[tuple[_Target, Any]]
) -> None:
    for key, value in obj.items():
        hit = node.get(key)
        if hit is None:
            if type(key) is not str or "." not in key:
                continue
            hit = node
            for part in key.split("."):
                hit = hit.get(part) if type(hit) is dict else None
                if hit is None:
                    break
            if hit is None:
                continue
        if type(hit) is _Target:
            if value is not None:
                out.append((hit, value))
        elif isinstance(value, Mapping):
            _collect(value, hit, out)


# --- building SCOs ---------------------------------------------------------------------------


class _Bad(Exception):
    """A record that does not fit its paths; the message is the reason."""


_NAMESPACE_BYTES = _SCO_NAMESPACE.bytes


def _uuid5(name: str) -> str:
    """``str(uuid.uuid5(_SCO_NAMESPACE, name))``, without building UUID objects."""
    sha1 = hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False)
    digest = bytearray(sha1.digest())
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    x = digest[:16].hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


@lru_cache(maxsize=1 << 16)
def _value_id(object_type: str, value: str) -> str:
    name = orjson.dumps({"value": value}).decode()
    return f"{object_type}--{_uuid5(name)}"


def _object_id(object_type: str, sco: Mapping[str, Any]) -> str:
    names = _CONTRIBUTING.get(object_type)
    if names is None:
        parts = {k: v for k, v in sco.items() if k not in ("type", "id")}
    else:
        parts = {k: sco[k] for k in names if k in sco}
        hashes = parts.get("hashes")
        if isinstance(hashes, dict):
            chosen = next((h for h in _HASH_PREFERENCE if h in hashes), None)
            if chosen is not None:
                parts["hashes"] = {chosen: hashes[chosen]}
    if not parts:
        return f"{object_type}--{uuid.uuid4()}"
    name = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode()
    return f"{object_type}--{_uuid5(name)}"


def _to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return int(value)
    if kind is float and value.is_integer():
        return int(value)
    if kind is str:
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _Bad(f"{value!r} is not an integer")


def _address_type(value: str, hint: str) -> str:
    if ":" in value:
        return "ipv6-addr"
    if hint == "network-traffic" and not value[-1:].isdigit():
        return "domain-name"  # a ref may point at a host name
    return "ipv4-addr"


def _timestamp_us(value: Any) -> int:
    """Event time in microseconds: RFC 3339 text (any offset; naive means UTC), a datetime,
    or epoch numbers (seconds below 1e11, milliseconds below 1e14, else microseconds)."""
    kind = type(value)
    if kind is str:
        text = value.strip()
        if text[:1].isdigit() and "-" not in text and ":" not in text:
            return _epoch_text_us(text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise _Bad(f"{value!r} is not a timestamp") from None
        return _datetime_us(moment)
    if kind is int or kind is float:
        number = float(value)
        if number != number or abs(number) > 1e17:
            raise _Bad(f"{value!r} is not a timestamp")
        if abs(number) < 1e11:
            return round(number * 1_000_000)
        if abs(number) < 1e14:
            return round(number * 1_000)
        return int(number)
    if isinstance(value, datetime):
        return _datetime_us(value)
    raise _Bad(f"{value!r} is not a timestamp")


def _epoch_text_us(text: str) -> int:
    """Epoch seconds as text (Zeek ``ts``), exact to the microsecond."""
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise _Bad(f"{text!r} is not a timestamp")
    if not fraction and len(whole) >= 12:
        return _timestamp_us(int(whole))  # milliseconds or microseconds
    return int(whole) * 1_000_000 + int((fraction + "000000")[:6])


def _datetime_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _ONE_US


def _build(pairs: list[tuple[_Target, Any]]) -> tuple[int | None, tuple[dict[str, Any], ...]]:
    """The event time and SCOs for one record's (target, value) pairs; raises _Bad."""
    timestamp: int | None = None
    values: dict[str, dict[str, Any]] = {}  # id -> SCO with a value
    singles: dict[str, dict[str, Any]] = {}  # type -> SCO built from properties
    refs: dict[str, str] = {}
    for target, raw in pairs:
        kind = target.kind
        if kind == _TS:
            timestamp = _timestamp_us(raw)
            continue
        if kind in (_VALUE, _REF):
            for item in raw if type(raw) is list else (raw,):
                if item is None or item == "":
                    continue
                if type(item) is not str:
                    raise _Bad(f"{target.object_type} value {item!r} is not a string")
                otype = target.object_type
                if kind == _REF or otype == "ipv4-addr" or otype == "ipv6-addr":
                    otype = _address_type(item, otype)
                sco_id = _value_id(otype, item)
                if sco_id not in values:
                    values[sco_id] = {"type": otype, "id": sco_id, "value": item}
                if kind == _REF:
                    refs.setdefault(target.steps[0], sco_id)
            continue
        if type(raw) is str and raw == "":
            continue
        otype = target.object_type
        sco = singles.get(otype)
        if sco is None:
            sco = singles[otype] = {"type": otype}
        if kind == _INT:
            sco[target.steps[0]] = _to_int(raw)
        elif kind == _PROTOCOLS:
            items = raw if type(raw) is list else [raw]
            if not all(type(p) is str for p in items):
                raise _Bad(f"protocols {raw!r} are not strings")
            sco["protocols"] = [p.lower() for p in items if p]
        else:
            node = sco
            for step in target.steps[:-1]:
                child = node.get(step)
                if type(child) is not dict:
                    child = node[step] = {}
                node = child
            node[target.steps[-1]] = raw
    if refs:
        traffic = singles.get("network-traffic")
        if traffic is None:
            traffic = singles["network-traffic"] = {"type": "network-traffic"}
        traffic.update(refs)
    scos = list(values.values())
    for otype, sco in singles.items():
        sco["id"] = _object_id(otype, sco)
        scos.append(sco)
    return timestamp, tuple(scos)


# --- files -----------------------------------------------------------------------------------


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            if head[:2] == b"\x1f\x8b":
                handle.seek(0)
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    return b"\x1f\x8b" + unzipped.read(4094)
            return head
    except (OSError, EOFError, zlib.error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot read {path}: {reason}") from None


def _detect(path: Path, head: bytes) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    body = head[2:] if head[:2] == b"\x1f\x8b" else head
    if head[:4] == b"PAR1" or name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    text = body.lstrip(codecs.BOM_UTF8).lstrip()
    if text.startswith(b"#separator") or text.startswith(b"#fields"):
        return "zeek"
    if text.startswith((b"{", b"[")):
        first = text.split(b"\n", 1)[0]
        try:
            record = orjson.loads(first)
        except orjson.JSONDecodeError:
            return "stix"  # a pretty-printed document, not one object per line
        if isinstance(record, dict) and record.get("type") not in ("bundle", "observed-data"):
            return "jsonl"
        return "stix"
    if name.endswith((".log", ".tsv")):
        return "zeek"
    raise InvalidInput(f"cannot tell the format of {path.name}; pass one of {sorted(FORMATS)}")


def _open_binary(path: Path) -> io.BufferedIOBase:
    with path.open("rb") as handle:
        zipped = handle.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if zipped else path.open("rb")


def _open_text(path: Path) -> TextIO:
    with path.open("rb") as handle:
        zipped = handle.read(2) == b"\x1f\x8b"
    if zipped:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return path.open(encoding="utf-8-sig", errors="replace", newline="")


def read_events(
    path: Path,
    *,
    format: str | None = None,
    mapping: FieldMapping | None = None,
    stats: ReadStats,
) -> Iterator[Event]:
    """The events of one telemetry file, in file order.

    The file is checked (exists, readable, format known) before this returns; decoding
    errors later in the file (a truncated gzip stream) raise :class:`InvalidInput` from the
    iterator. Bad records are counted in ``stats`` and skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"cannot read {path}: not a file")
    if format is not None and format not in FORMATS:
        raise InvalidInput(f"unknown telemetry format {format!r}; use one of {sorted(FORMATS)}")
    chosen = format or _detect(path, _magic(path))
    if chosen == "stix" and mapping is not None:
        raise InvalidInput("a field mapping does not apply to STIX input")
    readers: dict[str, Callable[[Path, FieldMapping | None, ReadStats], Iterator[Event]]] = {
        "jsonl": _jsonl_events,
        "csv": _csv_events,
        "zeek": _zeek_events,
        "stix": _stix_events,
        "parquet": _parquet_events,
    }
    return _guarded(path, readers[chosen](path, mapping, stats))


def _guarded(path: Path, events: Iterator[Event]) -> Iterator[Event]:
    try:
        yield from events
    except (OSError, EOFError, zlib.error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InvalidInput(f"cannot read {path}: {reason}") from None


def _table(mapping: FieldMapping | None, fields: Mapping[str, str], ts: str) -> dict[str, _Target]:
    if mapping is None:
        return _flat_table(fields, ts)
    return _flat_table(mapping.fields, mapping.timestamp_field or ts)


def _jsonl_events(path: Path, mapping: FieldMapping | None, stats: ReadStats) -> Iterator[Event]:
    trie = _trie(_table(mapping, ECS_FIELDS, ECS_TIMESTAMP))
    source = path.name
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    collect = _collect
    build = _build
    with _open_binary(path) as binary:
        for number, line in enumerate(binary, 1):
            try:
                record = loads(line)
            except decode_error as exc:
                if not line.strip():
                    continue
                stats.add_bad(source, number, f"not JSON: {exc}")
                continue
            if type(record) is not dict:
                stats.add_bad(source, number, "not a JSON object")
                continue
            pairs: list[tuple[_Target, Any]] = []
            collect(record, trie, pairs)
            try:
                timestamp, scos = build(pairs)
            except _Bad as exc:
                stats.add_bad(source, number, str(exc))
                continue
            stats.events += 1
            yield Event(number, source, timestamp, scos)


def _csv_events(path: Path, mapping: FieldMapping | None, stats: ReadStats) -> Iterator[Event]:
    table = _table(mapping, ECS_FIELDS, ECS_TIMESTAMP)
    source = path.name
    with _open_text(path) as text:
        rows = csv.reader(text)
        try:
            header = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(f"{source}: bad CSV header: {exc}") from None
        columns = [
            (i, table[name.strip()]) for i, name in enumerate(header) if name.strip() in table
        ]
        width = len(header)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except csv.Error as exc:
                stats.add_bad(source, rows.line_num, f"bad CSV: {exc}")
                continue
            number = rows.line_num
            if not row:
                continue
            if len(row) != width:
                stats.add_bad(source, number, f"{len(row)} columns, header has {width}")
                continue
            pairs = [(target, row[i]) for i, target in columns if row[i] != ""]
            try:
                timestamp, scos = _build(pairs)
            except _Bad as exc:
                stats.add_bad(source, number, str(exc))
                continue
            stats.events += 1
            yield Event(number, source, timestamp, scos)


_ZEEK_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_URL_TARGET = _Target(_VALUE, "url", ("value",))


def _zeek_unescape(text: str) -> str:
    if "\\x" not in text:
        return text
    return _ZEEK_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _zeek_host(host: str) -> str | None:
    """The domain in an HTTP Host header; ``None`` for IP literals."""
    if host.startswith("["):
        return None  # [IPv6]:port
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if ":" in name or name.replace(".", "").isdigit():
        return None
    return name or None


def _zeek_events(path: Path, mapping: FieldMapping | None, stats: ReadStats) -> Iterator[Event]:
    source = path.name
    separator = "\t"
    set_separator = ","
    empty = "(empty)"
    unset = "-"
    log = source.split(".", 1)[0]
    columns: list[tuple[int, _Target, bool]] | None = None  # index, target, is a set
    width = 0
    host_index = uri_index = -1
    with _open_text(path) as text:
        fields: list[str] = []
        types: list[str] = []
        for number, raw in enumerate(text, 1):
            line = raw.rstrip("\r\n")
            if not line:
                continue
            if line.startswith("#"):
                directive, _, rest = line.partition(
                    " " if line.startswith("#separator") else separator
                )
                if directive == "#separator":
                    separator = codecs.decode(rest.strip(), "unicode_escape")
                elif directive == "#set_separator":
                    set_separator = rest
                elif directive == "#empty_field":
                    empty = rest
                elif directive == "#unset_field":
                    unset = rest
                elif directive == "#path":
                    log = rest
                elif directive in ("#fields", "#types"):
                    if directive == "#fields":
                        fields, types = rest.split(separator), []
                    else:
                        types = rest.split(separator)
                    if mapping is None:
                        table = _flat_table(ZEEK_FIELDS.get(log, _ZEEK_COMMON), ZEEK_TIMESTAMP)
                    else:
                        table = _flat_table(mapping.fields, mapping.timestamp_field or "ts")
                    columns = [
                        (
                            i,
                            table[name],
                            i < len(types) and types[i].startswith(("set[", "vector[")),
                        )
                        for i, name in enumerate(fields)
                        if name in table
                    ]
                    width = len(fields)
                    http = mapping is None and log == "http"
                    host_index = fields.index("host") if http and "host" in fields else -1
                    uri_index = fields.index("uri") if http and "uri" in fields else -1
                continue
            if columns is None:
                stats.add_bad(source, number, "data before a #fields header")
                continue
            cells = line.split(separator)
            if len(cells) != width:
                stats.add_bad(source, number, f"{len(cells)} fields, header has {width}")
                continue
            pairs: list[tuple[_Target, Any]] = []
            for index, target, is_set in columns:
                cell = cells[index]
                if cell in (unset, empty):
                    continue
                if target.kind == _VALUE and index == host_index:
                    domain = _zeek_host(_zeek_unescape(cell))
                    if domain is not None:
                        pairs.append((target, domain))
                    continue
                if is_set:
                    pairs.append((target, [_zeek_unescape(c) for c in cell.split(set_separator)]))
                else:
                    pairs.append((target, _zeek_unescape(cell)))
            if host_index >= 0 and uri_index >= 0:
                host, uri = cells[host_index], cells[uri_index]
                if uri not in (unset, empty):
                    uri = _zeek_unescape(uri)
                    if uri.startswith(("http://", "https://")):
                        pairs.append((_URL_TARGET, uri))
                    elif host not in (unset, empty):
                        pairs.append((_URL_TARGET, "http://" + _zeek_unescape(host) + uri))
            try:
                timestamp, scos = _build(pairs)
            except _Bad as exc:
                stats.add_bad(source, number, str(exc))
                continue
            stats.events += 1
            yield Event(number, source, timestamp, scos)


def _stix_events(path: Path, mapping: FieldMapping | None, stats: ReadStats) -> Iterator[Event]:
    del mapping
    source = path.name
    with _open_binary(path) as binary:
        data = binary.read()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{source} is not STIX JSON: {exc}") from None
    if isinstance(document, dict) and document.get("type") == "bundle":
        objects = document.get("objects", [])
    elif isinstance(document, dict):
        objects = [document]
    else:
        objects = document
    if not isinstance(objects, list):
        raise InvalidInput(f"{source}: a bundle's objects must be a list")
    kept: list[Mapping[str, Any]] = []
    lines: list[int] = []  # 1-based position of each observed-data kept
    positions: dict[str, int] = {}
    for number, item in enumerate(objects, 1):
        if not isinstance(item, dict):
            stats.add_bad(source, number, "not a JSON object")
            continue
        if item.get("type") == "observed-data":
            try:
                observations_from_stix([item])  # checks window, count and refs shape
            except InvalidInput as exc:
                stats.add_bad(source, number, exc.message)
                continue
            lines.append(number)
        elif isinstance(item.get("id"), str):
            positions[item["id"]] = number
        kept.append(item)
    for index, observation in enumerate(observations_from_stix(kept)):
        scos = tuple(
            {**sco, "id": key} if "id" not in sco else dict(sco)
            for key, sco in observation.objects.items()
        )
        if index < len(lines):
            line, timestamp = lines[index], observation.first_observed_us
        else:  # an SCO no observed-data references: no time
            line, timestamp = positions.get(observation.source_id or "", 0), None
        stats.events += 1
        yield Event(line, source, timestamp, scos)


def _parquet_events(path: Path, mapping: FieldMapping | None, stats: ReadStats) -> Iterator[Event]:
    import duckdb

    trie = _trie(_table(mapping, ECS_FIELDS, ECS_TIMESTAMP))
    source = path.name
    connection = duckdb.connect()
    connection.execute("SET enable_progress_bar = false")
    try:
        try:
            connection.execute("SELECT * FROM read_parquet(?)", [str(path)])
            names = [column[0] for column in connection.description or ()]
        except duckdb.Error as exc:
            raise InvalidInput(f"cannot read {path} as parquet: {exc}") from None
        number = 0
        while True:
            try:
                rows = connection.fetchmany(4096)
            except duckdb.Error as exc:
                raise InvalidInput(f"cannot read {path} as parquet: {exc}") from None
            if not rows:
                return
            for row in rows:
                number += 1
                pairs: list[tuple[_Target, Any]] = []
                _collect(dict(zip(names, row, strict=True)), trie, pairs)
                try:
                    timestamp, scos = _build(pairs)
                except _Bad as exc:
                    stats.add_bad(source, number, str(exc))
                    continue
                stats.events += 1
                yield Event(number, source, timestamp, scos)
    finally:
        connection.close()


# --- keys ------------------------------------------------------------------------------------


def event_keys(event: Event) -> Iterator[tuple[str, str]]:
    """Every ``(path, normalised value)`` the event's SCOs offer to the key join, once each.

    These are exactly :func:`kizuna.hunt.keys.sco_keys` of each SCO (every scalar reached
    through property names, paths printed like :func:`kizuna.hunt.keys.path_text`, values
    through :func:`kizuna.hunt.keys.normalise`), so no pattern key is ever missed.
    """
    seen: set[tuple[str, str]] = set()
    for sco in event.scos:
        for key in sco_keys(sco):
            pair = (key.path, key.value)
            if pair not in seen:
                seen.add(pair)
                yield pair
