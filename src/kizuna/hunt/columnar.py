"""Columnar hunting: DuckDB reads the telemetry files and joins them against the key table.

:func:`hunt_files` gives the same (indicator, source, row) matches as
:class:`~kizuna.hunt.engine.EmbeddedEngine` over :func:`~kizuna.hunt.readers.read_events`, but
the per-event work happens in DuckDB:

1. every indicator is compiled once and planned with :func:`~kizuna.hunt.keys.plan_keys`; the
   keys go into one table ``hunt_keys(ind, path, value)``;
2. per file, each mapped field (the ECS table of ``readers.py`` or a :class:`FieldMapping`) is
   projected into a long ``(row, path, value)`` relation, normalised in SQL exactly like
   :func:`~kizuna.hunt.keys.normalise` (strings as they are with ``'#'`` escaping, integers and
   integral floats as ``'#'`` || digits; value fields become ``ipv4-addr`` / ``ipv6-addr`` /
   ``domain-name`` the way the reader decides), and joined with ``hunt_keys``:

   * JSON lines are read as raw lines (``read_csv`` with one column, ``WITH ORDINALITY``) so
     row numbers are the file's 1-based line numbers, blank and broken lines included; fields
     are taken with one ``json_extract`` per line over every dotted/nested spelling of a name;
   * CSV is read with ``all_varchar`` (the Python reader sees strings too), row = ordinal + 1;
   * Parquet uses ``file_row_number``; nested names use struct access;

3. the candidate rows (only those) are fetched again and turned into events by the reader's
   own code, so bad records are rejected and timestamps taken exactly as ``read_events`` does;
   exact plans are then matches, other candidates are confirmed by the evaluator;
4. indicators without keys (or with keys on paths the projection does not produce, such as
   ``ipv4-addr:id``) are evaluated by :class:`EmbeddedEngine` over ``read_events`` of the file:
   that is the Python speed, and the remaining gap.

Zeek and STIX files are handed to the Python path entirely.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from kizuna.errors import InvalidInput
from kizuna.hunt import readers as _readers
from kizuna.hunt.engine import (
    EmbeddedEngine,
    HuntEvent,
    HuntIndicator,
    HuntReport,
    Match,
    _observed_scos,
)
from kizuna.hunt.keys import Key, _names_text, plan_keys, sco_keys
from kizuna.hunt.readers import FieldMapping, ReadStats, read_events
from kizuna.patterns import CompiledPattern, PatternError, compile_pattern, observation_from_scos

__all__ = ["ColumnarReport", "hunt_files"]

_COLUMNAR_FORMATS = frozenset({"jsonl", "csv", "parquet"})
_ADDRESS_TYPES = ("ipv4-addr", "ipv6-addr")


@dataclass
class ColumnarReport(HuntReport):
    """A :class:`HuntReport` over several files. ``matches`` merges every file per indicator
    (rows in file order, then row order); ``file_matches`` keeps them per source name (the
    file name, as ``Event.source``)."""

    file_matches: dict[str, list[Match]] = field(default_factory=dict)
    sql_seconds: float = 0.0
    prepare_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class _Field:
    """One mapped field: its name, reader target and the STIX paths it can produce."""

    name: str
    target: Any  # readers._Target
    kind: str  # 'value' | 'ref' | 'int' | 'prop' | 'none'
    path: str  # for value types: 'TYPE:value' of the mapped type; int/prop: the path text


def _fields(mapping: FieldMapping | None) -> list[_Field]:
    table = _readers._table(mapping, _readers.ECS_FIELDS, _readers.ECS_TIMESTAMP)
    out: list[_Field] = []
    for name, target in table.items():
        kind = target.kind
        if kind == _readers._TS:
            continue
        if kind == _readers._VALUE:
            out.append(_Field(name, target, "value", f"{target.object_type}:value"))
        elif kind == _readers._REF:
            out.append(_Field(name, target, "ref", ""))
        elif kind == _readers._INT:
            out.append(_Field(name, target, "int", f"{target.object_type}:{target.steps[0]}"))
        elif kind == _readers._PROTOCOLS:
            continue  # a list: never a key
        else:
            text = _names_text(target.object_type, target.steps)
            out.append(_Field(name, target, "prop", text))
    return out


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _field_paths(f: _Field) -> frozenset[str]:
    """The STIX key paths one field can offer (``_address_type`` picks one per value)."""
    if f.kind == "ref":
        return frozenset({"ipv4-addr:value", "ipv6-addr:value", "domain-name:value"})
    if f.kind == "value" and f.target.object_type in _ADDRESS_TYPES:
        return frozenset({"ipv4-addr:value", "ipv6-addr:value"})
    return frozenset({f.path})


def _raw_texts(value: str) -> list[str]:
    """The texts DuckDB shows for telemetry values whose normalised key is ``value``
    (a superset: ``'80'`` stands for the number and the string; the candidate is checked)."""
    if value.startswith("##"):
        return [value[1:]]
    if value.startswith("#"):
        digits = value[1:]
        return [digits, digits + ".0"]
    return [value]


# --- JSON lines: raw lines + json_extract_string ----------------------------------------------


def _spellings(name: str) -> list[list[str]]:
    """Every way ``_collect`` can reach a dotted name: each split of its parts into keys."""
    parts = name.split(".")
    out: list[list[str]] = []
    for mask in range(1 << (len(parts) - 1)):
        keys: list[str] = []
        current = parts[0]
        for i, part in enumerate(parts[1:]):
            if mask >> i & 1:
                current += "." + part
            else:
                keys.append(current)
                current = part
        keys.append(current)
        out.append(keys)
    return out


def _json_path(keys: list[str]) -> str:
    return "$" + "".join('."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys)


_LINES = (
    "read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', "
    "header = false, max_line_size = 16777216, compression = 'auto') WITH ORDINALITY"
)


def _long_sql(values: str, inputs: str, count: int, fields: Sequence[_Field]) -> str:
    """Join the long (row, i, s) relation of ``values`` (a list per row) with the key table."""
    ints = [i for i, f in enumerate(fields) if f.kind == "int"]
    lists = [i for i, f in enumerate(fields) if f.kind in ("value", "ref")]
    text = "s"
    if ints:
        text = (
            f"CASE WHEN i IN ({', '.join(map(str, ints))}) "
            "THEN coalesce(CAST(TRY_CAST(trim(s) AS HUGEINT) AS VARCHAR), s) ELSE s END"
        )
    arrays = "FROM kv"
    if lists:
        arrays = (
            "FROM (SELECT row, i, unnest(CASE WHEN starts_with(s, '[') AND i IN "
            f"({', '.join(map(str, lists))}) AND json_valid(s) "
            "THEN list_append(json_extract_string(s, '$[*]'), s) ELSE [s] END) AS s FROM kv)"
        )
    return f"""
WITH kv AS (
    SELECT row, unnest({values}) AS s, unnest(range({count})) AS i FROM {inputs}
), texts AS (
    SELECT row, i, {text} AS s {arrays}
)
SELECT DISTINCT k.ind, t.row FROM texts AS t JOIN hunt_keys AS k ON k.i = t.i AND k.raw = t.s
"""


def _json_sql(fields: Sequence[_Field]) -> tuple[str, list[_Field]]:
    """The candidate query of a JSON lines file, and the field of every value index."""
    paths: list[str] = []
    owners: list[_Field] = []
    for f in fields:
        for keys in _spellings(f.name):
            paths.append(_json_path(keys))
            owners.append(f)
    path_list = "[" + ", ".join(_sql_str(p) for p in paths) + "]"
    inputs = f"(SELECT ordinality AS row, line FROM {_LINES})"
    values = f"try(json_extract_string(line, {path_list}))"
    return _long_sql(values, inputs, len(paths), owners), owners


# --- typed columns (CSV, Parquet) -------------------------------------------------------------


def _resolve(types: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """SQL expressions (and types) reaching ``name`` through columns and struct fields."""
    found: list[tuple[str, Any]] = []
    for keys in _spellings(name):
        column = types.get(keys[0])
        if column is None:
            continue
        expr = _ident(keys[0])
        ok = True
        for key in keys[1:]:
            if column.id != "struct":
                ok = False
                break
            child = dict(column.children).get(key)
            if child is None:
                ok = False
                break
            expr = f"struct_extract({expr}, {_sql_str(key)})"
            column = child
        if ok:
            found.append((expr, column))
    return found


def _typed_sql(
    source: str, row: str, fields: Sequence[_Field], types: dict[str, Any]
) -> tuple[str, list[_Field]] | None:
    """The candidate query of a CSV or Parquet file (``None``: list columns, use Python)."""
    exprs: list[str] = []
    owners: list[_Field] = []
    for f in fields:
        for expr, kind in _resolve(types, f.name):
            if kind.id in ("list", "array", "map", "struct", "union"):
                if f.kind in ("value", "ref"):
                    return None
                continue  # no key in a list or object of a property
            exprs.append(f"CAST({expr} AS VARCHAR)")
            owners.append(f)
    if not exprs:
        return _long_sql("[]::VARCHAR[]", f"(SELECT {row} AS row FROM {source})", 0, []), []
    values = "[" + ", ".join(f"c{n}" for n in range(len(exprs))) + "]"
    inputs = (
        f"(SELECT {row} AS row, "
        + ", ".join(f"{e} AS c{n}" for n, e in enumerate(exprs))
        + f" FROM {source})"
    )
    return _long_sql(values, inputs, len(exprs), owners), owners


# --- the hunt ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    indicator: HuntIndicator
    compiled: CompiledPattern
    keys: frozenset[Key]
    exact: bool
    columnar: bool


def _source_sql(fmt: str) -> str:
    if fmt == "csv":
        return (
            "read_csv($path, header = true, all_varchar = true, compression = 'auto') "
            "WITH ORDINALITY"
        )
    return "read_parquet($path, file_row_number = true)"


def _candidate_events(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    rows: list[int],
    mapping: FieldMapping | None,
) -> dict[int, HuntEvent]:
    """The reader's events for just ``rows`` (bad records left out), built by its own code."""
    if not rows:
        return {}
    table = _readers._table(mapping, _readers.ECS_FIELDS, _readers.ECS_TIMESTAMP)
    trie = _readers._trie(table)
    params = {"path": str(path), "rows": rows}
    records: list[tuple[int, Any]] = []
    if fmt == "jsonl":
        found = con.execute(
            f"SELECT ordinality, line FROM {_LINES} "
            "WHERE ordinality IN (SELECT unnest($rows::BIGINT[]))",
            params,
        ).fetchall()
        for number, line in found:
            try:
                records.append((int(number), orjson.loads(line)))
            except orjson.JSONDecodeError:
                continue
    else:
        column = "ordinality" if fmt == "csv" else "file_row_number"
        cursor = con.execute(
            f"SELECT * EXCLUDE ({column}), {column} + 1 FROM {_source_sql(fmt)} "
            f"WHERE {column} + 1 IN (SELECT unnest($rows::BIGINT[]))",
            params,
        )
        names = [d[0] for d in cursor.description or ()][:-1]
        for row in cursor.fetchall():
            record = dict(zip(names, row[:-1], strict=True))
            if fmt == "csv":
                record = {k.strip(): v for k, v in record.items() if v is not None and v != ""}
            records.append((int(row[-1]), record))
    out: dict[int, HuntEvent] = {}
    for number, record in records:
        if type(record) is not dict:
            continue
        pairs: list[tuple[Any, Any]] = []
        if fmt == "csv":
            pairs = [(table[k], v) for k, v in record.items() if k in table]
        else:
            _readers._collect(record, trie, pairs)
        try:
            timestamp, scos = _readers._build(pairs)
        except _readers._Bad:
            continue
        out[number] = HuntEvent(number, timestamp, scos)
    return out


def _detect_format(path: Path, format: str | None) -> str:
    if not path.is_file():
        raise InvalidInput(f"cannot read {path}: not a file")
    if format is not None:
        if format not in _readers.FORMATS:
            raise InvalidInput(f"unknown telemetry format {format!r}")
        return format
    return str(_readers._detect(path, _readers._magic(path)))


def hunt_files(
    indicators: Sequence[HuntIndicator],
    paths: Sequence[Path],
    *,
    format: str | None = None,
    mapping: FieldMapping | None = None,
    threads: int | None = None,
) -> ColumnarReport:
    """Match every indicator against every event of every file (one event = one observation),
    with the same results as ``EmbeddedEngine().hunt`` over ``read_events`` of each file."""
    prepare_started = time.perf_counter()
    fields = _fields(mapping)
    produced: set[str] = set()
    for f in fields:
        produced |= _field_paths(f)
    prepared: list[_Prepared] = []
    invalid: list[str] = []
    by_path: dict[str, tuple[list[int], list[str]]] = {}
    for indicator in indicators:
        try:
            compiled = compile_pattern(indicator.pattern)
        except PatternError:
            invalid.append(indicator.indicator_id)
            continue
        plan = plan_keys(compiled.pattern)
        columnar = bool(plan.keys) and all(k.path in produced for k in plan.keys)
        index = len(prepared)
        prepared.append(_Prepared(indicator, compiled, plan.keys, plan.exact, columnar))
        if columnar:
            for key in plan.keys:
                inds, raws = by_path.setdefault(key.path, ([], []))
                for raw in _raw_texts(key.value):
                    inds.append(index)
                    raws.append(raw)
    fallback = [p for p in prepared if not p.columnar]
    fields = [f for f in fields if not _field_paths(f).isdisjoint(by_path)]  # unused: no scan
    report = ColumnarReport(
        matches=[],
        indicators=len(indicators),
        keyed_indicators=len(prepared) - len(fallback),
        unkeyed_indicators=len(fallback),
        candidate_pairs=0,
        confirmed_pairs=0,
        exact_seconds=0.0,
        invalid_indicators=invalid,
    )
    merged: dict[int, list[HuntEvent]] = {}
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute(
            "CREATE TEMP TABLE key_rows AS SELECT unnest($ind::INTEGER[]) AS ind, "
            "unnest($path::VARCHAR[]) AS path, unnest($raw::VARCHAR[]) AS raw",
            {
                "ind": [i for inds, _ in by_path.values() for i in inds],
                "path": [p for p, (inds, _) in by_path.items() for _ in inds],
                "raw": [r for _, raws in by_path.values() for r in raws],
            },
        )
        report.prepare_seconds = time.perf_counter() - prepare_started
        for path in (Path(p) for p in paths):
            fmt = _detect_format(path, format)
            found = _hunt_one(con, path, fmt, fields, prepared, fallback, mapping, report)
            per_file: list[Match] = []
            for index in sorted(found):
                events = sorted(found[index], key=lambda e: e.row)
                per_file.append(_match(prepared[index].indicator.indicator_id, events))
                merged.setdefault(index, []).extend(events)
            report.file_matches[path.name] = per_file
    finally:
        con.close()
    for index in sorted(merged):
        report.matches.append(_match(prepared[index].indicator.indicator_id, merged[index]))
    return report


def _match(indicator_id: str, events: Sequence[HuntEvent]) -> Match:
    stamps = [e.timestamp_us for e in events if e.timestamp_us is not None]
    return Match(
        indicator_id=indicator_id,
        rows=tuple(e.row for e in events),
        first_seen_us=min(stamps) if stamps else None,
        last_seen_us=max(stamps) if stamps else None,
        count=len(events),
    )


def _python_events(path: Path, fmt: str, mapping: FieldMapping | None) -> Iterator[HuntEvent]:
    for event in read_events(path, format=fmt, mapping=mapping, stats=ReadStats()):
        yield HuntEvent(event.line, event.timestamp_us, event.scos)


def _key_table(con: duckdb.DuckDBPyConnection, owners: Sequence[_Field]) -> None:
    """``hunt_keys(ind, i, raw)``: the keys each value index ``i`` of this file can meet."""
    index_of: dict[str, list[int]] = {}
    for i, f in enumerate(owners):
        for key_path in _field_paths(f):
            index_of.setdefault(key_path, []).append(i)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE hunt_keys AS SELECT k.ind, u.i, k.raw FROM key_rows AS k "
        "JOIN (SELECT unnest($paths::VARCHAR[]) AS path, unnest($idx::INTEGER[]) AS i) AS u "
        "USING (path)",
        {
            "paths": [p for p, idx in index_of.items() for _ in idx],
            "idx": [i for idx in index_of.values() for i in idx],
        },
    )


def _hunt_one(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    fields: Sequence[_Field],
    prepared: Sequence[_Prepared],
    fallback: Sequence[_Prepared],
    mapping: FieldMapping | None,
    report: ColumnarReport,
) -> dict[int, list[HuntEvent]]:
    found: dict[int, list[HuntEvent]] = {}
    params = {"path": str(path)}
    query: tuple[str, list[_Field]] | None = None
    if fmt in _COLUMNAR_FORMATS:
        try:
            if fmt == "jsonl":
                query = _json_sql(fields)
            else:
                rel = con.sql(f"SELECT * FROM {_source_sql(fmt)}", params=params)
                types = dict(zip(rel.columns, rel.types, strict=True))
                row = "ordinality + 1" if fmt == "csv" else "file_row_number + 1"
                query = _typed_sql(_source_sql(fmt), row, fields, types)
        except duckdb.Error as exc:
            raise InvalidInput(f"cannot read {path} as {fmt}: {exc}") from None
    if query is None:
        fallback = list(prepared)  # Zeek, STIX, list columns: the Python path for everything
    else:
        started = time.perf_counter()
        sql, owners = query
        try:
            _key_table(con, owners)
            pairs = con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise InvalidInput(f"cannot read {path} as {fmt}: {exc}") from None
        report.sql_seconds += time.perf_counter() - started
        report.candidate_pairs += len(pairs)
        rows = sorted({int(r) for _, r in pairs})
        events = _candidate_events(con, path, fmt, rows, mapping)
        started = time.perf_counter()
        offered: dict[int, set[Key]] = {}
        for ind, r in sorted(pairs):
            event = events.get(int(r))
            if event is None:
                continue  # a record the reader rejects
            item = prepared[ind]
            if item.exact:
                keys = offered.get(event.row)
                if keys is None:
                    keys = offered[event.row] = set()
                    for sco in _observed_scos(event.scos):
                        keys |= sco_keys(sco)
                if keys.isdisjoint(item.keys):
                    continue  # the raw text met, the typed value does not
            else:
                ts = event.timestamp_us or 0
                obs = observation_from_scos(event.scos, first_observed_us=ts, last_observed_us=ts)
                if not item.compiled.matches([obs]):
                    continue
            report.confirmed_pairs += 1
            found.setdefault(ind, []).append(event)
        report.exact_seconds += time.perf_counter() - started
    if fallback:
        started = time.perf_counter()
        position = {id(p): i for i, p in enumerate(prepared)}
        events_py = list(_python_events(path, fmt, mapping))
        report.events += len(events_py)
        by_row = {e.row: e for e in events_py}
        sub = EmbeddedEngine().hunt([p.indicator for p in fallback], events_py)
        report.unkeyed_evaluations += sub.unkeyed_evaluations
        by_id = {p.indicator.indicator_id: position[id(p)] for p in fallback}
        for m in sub.matches:
            found.setdefault(by_id[m.indicator_id], []).extend(by_row[r] for r in m.rows)
        report.exact_seconds += time.perf_counter() - started
    return found
