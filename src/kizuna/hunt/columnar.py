"""Columnar hunting: an engine reads the telemetry files and joins them against the key table.

:func:`hunt_files` gives the same (indicator, source, row) matches and the same
:class:`~kizuna.hunt.readers.ReadStats` as :class:`~kizuna.hunt.engine.EmbeddedEngine` over
:func:`~kizuna.hunt.readers.read_events`, but the per-event work happens in an engine:

1. every indicator is parsed once (compiled only if a candidate needs the evaluator) and
   planned with :func:`~kizuna.hunt.keys.plan_keys`; the
   keys become the rows ``(ind, path, raw)`` of one key table (a :class:`ScanPlan`);
2. the *candidate stage* (pluggable: DuckDB here, the default; Apache Spark in
   :mod:`kizuna.hunt.spark`) reads one file, projects each mapped field (the ECS table of
   ``readers.py`` or a :class:`FieldMapping`) into a long ``(row, i, s)`` relation, normalised
   like :func:`~kizuna.hunt.keys.normalise` (strings as they are, integer texts as digits,
   JSON arrays in value fields unnested), and joins it with the key table. In the same pass it
   marks every record the reader *might* reject or skip (a *suspect*: blank, not JSON, not an
   object, a JSON extension the reader refuses, a value that does not fit its path) and counts
   the others, which are certainly events. The result is a :class:`Scan`:

   * JSON lines are read as raw lines so rows are the file's 1-based line numbers, blank and
     broken lines included; the text of candidate and suspect lines comes back with the pairs;
   * CSV is read with every column as text, row = record number + 1 (the header is line 1);
     a file whose records are not one per line (blank lines, quoted newlines, a single column)
     or whose rows do not fit the header takes the Python path;
   * Parquet rows are the file's row numbers + 1;

3. candidate and suspect records are turned into events by the reader's own code, so bad
   records are rejected, counted and described exactly as ``read_events`` does; exact plans are
   then matches, other candidates are confirmed by the evaluator. This part is shared by every
   engine, so engines agree by construction beyond the candidate stage;
4. indicators without keys (or with keys on paths the projection does not produce, such as
   ``ipv4-addr:id``) are evaluated by :class:`EmbeddedEngine` over ``read_events`` of the file:
   that is the Python speed, and the remaining gap.

Zeek and STIX files (and gzip files whose name does not end in ``.gz``, which the engines would
not decompress) are handed to the Python path entirely.

Known limit: a JSON object with a repeated key is judged by the engine's first value, the
reader keeps the last one.
"""

from __future__ import annotations

import csv
import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson

from kizuna.errors import InvalidInput
from kizuna.hunt import readers as _readers
from kizuna.hunt.correlate import Correlation
from kizuna.hunt.engine import (
    EmbeddedEngine,
    HuntEvent,
    HuntIndicator,
    HuntReport,
    Match,
    _observed_scos,
)
from kizuna.hunt.index import as_planned, pattern_plan
from kizuna.hunt.keys import (
    Key,
    _names_text,
    raw_texts,
    sco_keys,
    simple_key,
)
from kizuna.hunt.readers import FieldMapping, ReadStats, read_events
from kizuna.patterns import (
    CompiledPattern,
    Pattern,
    compile_pattern,
    observation_from_scos,
    parse,
)

__all__ = ["ColumnarReport", "FileProgress", "Scan", "ScanPlan", "collector_paused", "hunt_files"]

ENGINES = frozenset({"embedded", "spark"})
_COLUMNAR_FORMATS = frozenset({"jsonl", "csv", "parquet"})
_ADDRESS_TYPES = ("ipv4-addr", "ipv6-addr")
#: field kinds whose values the reader can reject (``prop`` values never are)
_CHECKED = frozenset({"value", "ref", "int", "ts", "protocols"})
#: key-table indicator numbers of the two sentinel rows every record offers exactly one of
SUSPECT, CLEAN = -1, -2
#: JSON that DuckDB's and Spark's parsers accept and orjson refuses: NaN / Infinity and numbers
#: that overflow a double after ``:``, ``,`` or ``[`` (one pattern each: a literal first byte
#: keeps the scan fast), and trailing commas. A superset: such lines are only re-checked.
_NUMBER_TAIL = r"[ \t\r]*[-+]?([iI][nN][fF]|[nN][aA][nN]|[0-9.]+[eE][-+]?[0-9]{3}|[0-9]{20})"
LENIENT_JSON = (":" + _NUMBER_TAIL, "," + _NUMBER_TAIL, r"\[" + _NUMBER_TAIL, r",[ \t\r]*[\]}]")
#: RFC 3339 texts ``datetime.fromisoformat`` surely accepts (day-of-month checked apart),
#: offsets also as ``+HH`` and ``+HHMM`` (as PostgreSQL and DuckDB print them)
ISO_TIME = (
    r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r":[0-5][0-9](\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?"
)
#: epoch texts ``_epoch_text_us`` surely accepts
EPOCH_TEXT = r"[0-9]{1,17}(\.[0-9]+)?"
#: integer texts ``int(text.strip())`` surely accepts
INT_TEXT = r"\s*[+-]?[0-9]+\s*"


@dataclass
class ColumnarReport(HuntReport):
    """A :class:`HuntReport` over several files. ``matches`` merges every file per indicator
    (rows in file order, then row order); ``file_matches`` keeps them per source name (the
    file name, as ``Event.source``). ``sql_seconds``: time in the engine's candidate stage."""

    file_matches: dict[str, list[Match]] = field(default_factory=dict)
    #: per file (in the order given): every matched event by row, as the reader built it, so
    #: sightings can show what was seen without reading the files again
    matched_events: list[dict[int, HuntEvent]] = field(default_factory=list)
    sql_seconds: float = 0.0
    prepare_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class FileProgress:
    """Reported after each file: its name, its events and bad records, and the distinct
    (file, row) events matched so far over all files."""

    name: str
    events: int
    bad: int
    matching_events: int


@dataclass(frozen=True, slots=True)
class _Field:
    """One mapped field: its name, reader target and the STIX paths it can produce."""

    name: str
    target: Any  # readers._Target
    kind: str  # 'value' | 'ref' | 'int' | 'prop' | 'ts' | 'protocols'
    path: str  # for value types: 'TYPE:value' of the mapped type; int/prop: the path text


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """The candidate stage's input, the same for every engine: the fields whose values meet
    keys (``joined``), the fields whose values the reader may reject (``checked``) and the key
    table rows ``(ind, path, raw)``, by path: ``(path, inds, raws)``, the last two parallel
    (a few paths hold 100,000 keys: one list each moves into an engine faster than a path
    per row)."""

    joined: tuple[_Field, ...]
    checked: tuple[_Field, ...]
    keys: tuple[tuple[str, list[int], list[str]], ...]

    def key_rows(self) -> Iterator[tuple[int, str, str]]:
        """The key table rows ``(ind, path, raw)``."""
        for path, inds, raws in self.keys:
            for ind, raw in zip(inds, raws, strict=True):
                yield ind, path, raw


@dataclass(slots=True)
class Scan:
    """What the candidate stage found in one file.

    ``pairs``: distinct (indicator index, row) candidates; ``suspects``: rows the reader may
    reject or skip (checked in Python); ``clean``: how many other rows there are (each one an
    event); ``lines``: for JSON lines, the text of every candidate and suspect row;
    ``records``: when the stage read them in its pass, the records of those rows (as the
    reader sees them), so the file need not be read again.
    """

    pairs: list[tuple[int, int]]
    suspects: list[int]
    clean: int
    lines: dict[int, str] | None = None
    records: dict[int, dict[str, Any]] | None = None


#: a candidate stage: one file (path, format) -> its scan, or ``None`` for the Python path
Stage = Callable[[Path, str], Scan | None]


def _fields(mapping: FieldMapping | None) -> list[_Field]:
    table = _readers._table(mapping, _readers.ECS_FIELDS, _readers.ECS_TIMESTAMP)
    out: list[_Field] = []
    for name, target in table.items():
        kind = target.kind
        if kind == _readers._TS:
            out.append(_Field(name, target, "ts", ""))
        elif kind == _readers._VALUE:
            out.append(_Field(name, target, "value", f"{target.object_type}:value"))
        elif kind == _readers._REF:
            out.append(_Field(name, target, "ref", ""))
        elif kind == _readers._INT:
            out.append(_Field(name, target, "int", f"{target.object_type}:{target.steps[0]}"))
        elif kind == _readers._PROTOCOLS:
            out.append(_Field(name, target, "protocols", ""))  # a list: never a key
        else:
            text = _names_text(target.object_type, target.steps)
            out.append(_Field(name, target, "prop", text))
    return out


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def field_paths(f: _Field) -> frozenset[str]:
    """The STIX key paths one field can offer (``_address_type`` picks one per value)."""
    if f.kind in ("ts", "protocols"):
        return frozenset()
    if f.kind == "ref":
        return frozenset({"ipv4-addr:value", "ipv6-addr:value", "domain-name:value"})
    if f.kind == "value" and f.target.object_type in _ADDRESS_TYPES:
        return frozenset({"ipv4-addr:value", "ipv6-addr:value"})
    return frozenset({f.path})


def key_index(owners: Sequence[_Field]) -> tuple[list[str], list[int]]:
    """Key path -> value index pairs (two lists): which keys each value index can meet. The
    sentinel index ``len(owners)`` meets the ``SUSPECT`` / ``CLEAN`` rows."""
    paths: list[str] = []
    idx: list[int] = []
    for i, f in enumerate(owners):
        for key_path in sorted(field_paths(f)):
            paths.append(key_path)
            idx.append(i)
    return paths, idx


def spellings(name: str) -> list[list[str]]:
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


# --- JSON lines: raw lines + json_extract -----------------------------------------------------


def _json_path(keys: list[str]) -> str:
    return "$" + "".join('."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys)


_LINES = (
    "read_csv($path, columns = {'line': 'VARCHAR'}, delim = chr(1), quote = '', escape = '', "
    "header = false, max_line_size = 16777216, compression = 'auto') WITH ORDINALITY"
)


#: what ``json_extract_string`` prints for JSON that is not a string: numbers, booleans,
#: objects, arrays (a string that looks the same is only re-checked)
NOT_STRING = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|true|false|[\[{][^\x01]*"


def _json_checks(values: Sequence[tuple[str, str]]) -> list[str]:
    """SQL conditions: the reader accepts every ``(kind, text)`` value, the texts being what
    ``json_extract_string`` gives (``NULL``: absent or null). Value texts are joined and
    searched once for one that is not a string; integers and times are tested one by one."""
    checks: list[str] = []
    strings = [v for kind, v in values if kind in ("value", "ref", "protocols")]
    if strings:
        joined = "concat_ws(chr(1), '', " + ", ".join(strings) + ", '')"
        bad = _sql_str(rf"\x01({NOT_STRING})\x01")
        checks.append(f"NOT regexp_matches({joined}, {bad})")
    for kind, v in values:
        if kind == "int":
            checks.append(f"({v} IS NULL OR regexp_full_match({v}, {_sql_str(INT_TEXT + '|')}))")
        elif kind == "ts":
            checks.append(
                f"({v} IS NULL OR regexp_full_match({v}, {_sql_str(EPOCH_TEXT)}) OR "
                f"(regexp_full_match({v}, {_sql_str(ISO_TIME)}) AND "
                f"TRY_CAST(left({v}, 10) AS DATE) IS NOT NULL))"
            )
    return checks


def _long_sql(values: list[str], inputs: str, ok: str, owners: Sequence[_Field]) -> str:
    """Join the long (row, i, s) relation of ``values`` (expressions over ``inputs``) plus the
    sentinel (``'S'``: suspect, ``'G'``: clean, by ``ok``) with the key table; one result row
    per candidate pair, per suspect row, and one counting the clean rows."""
    ints = [i for i, f in enumerate(owners) if f.kind == "int"]
    lists = [i for i, f in enumerate(owners) if f.kind in ("value", "ref")]
    text = "s"
    if ints:
        text = (
            f"CASE WHEN i IN ({', '.join(map(str, ints))}) "
            "THEN coalesce(CAST(TRY_CAST(trim(s) AS HUGEINT) AS VARCHAR), s) ELSE s END"
        )
    arrays = "FROM kv"
    if lists:
        arrays = (
            "FROM (SELECT row, line, i, unnest(CASE WHEN starts_with(s, '[') AND i IN "
            f"({', '.join(map(str, lists))}) AND json_valid(s) "
            "THEN list_append(json_extract_string(s, '$[*]'), s) ELSE [s] END) AS s FROM kv)"
        )
    sentinel = f"CASE WHEN coalesce({ok}, false) THEN 'G' ELSE 'S' END"
    listed = "[" + ", ".join([*values, sentinel]) + "]"
    return f"""
WITH kv AS (
    SELECT row, line, unnest({listed}) AS s, unnest(range({len(values) + 1})) AS i FROM {inputs}
), texts AS (
    SELECT row, line, i, {text} AS s {arrays}
)
SELECT k.ind, CASE WHEN k.ind = {CLEAN} THEN 0 ELSE t.row END AS r,
       any_value(CASE WHEN k.ind <> {CLEAN} THEN t.line END), count(*)
FROM texts AS t JOIN hunt_keys AS k ON k.i = t.i AND k.raw = t.s
GROUP BY 1, 2
"""


def _json_sql(plan: ScanPlan) -> tuple[str, list[_Field]]:
    """The candidate query of a JSON lines file, and the field of every value index."""
    paths: dict[str, int] = {}

    def slot(keys: list[str]) -> str:
        return f"j[{paths.setdefault(_json_path(keys), len(paths) + 1)}]"

    values: list[str] = []
    owners: list[_Field] = []
    for f in plan.joined:
        for keys in spellings(f.name):
            values.append(slot(keys))
            owners.append(f)
    checks = _json_checks(
        [(f.kind, slot(keys)) for f in plan.checked for keys in spellings(f.name)]
    )
    path_list = "[" + ", ".join(_sql_str(p) for p in paths) + "]"
    ok = " AND ".join(
        [
            "row > 1",  # a byte order mark: DuckDB drops it, the reader does not
            "j IS NOT NULL",
            "starts_with(line, '{')",
            *(f"NOT regexp_matches(line, {_sql_str(p)})" for p in LENIENT_JSON),
            *checks,
        ]
    )
    inputs = (
        f"(SELECT ordinality AS row, line, "
        f"try(json_extract_string(line, {path_list})) AS j FROM {_LINES})"
    )
    return _long_sql(values, inputs, ok, owners), owners


# --- typed columns (CSV, Parquet) -------------------------------------------------------------

_INTEGERS = frozenset(
    {"tinyint", "smallint", "integer", "bigint", "hugeint"}
    | {"utinyint", "usmallint", "uinteger", "ubigint", "uhugeint"}
)
_FLOATS = frozenset({"float", "double"})
_TIMESTAMPS = frozenset(
    {"timestamp", "timestamp with time zone", "timestamp_ms", "timestamp_ns", "timestamp_s"}
)


def _typed_ok(kind: str, e: str, column: Any) -> str | None:
    """SQL: the reader accepts column value ``e`` (of DuckDB type ``column``) for a ``kind``
    field; ``None``: always. A subset of what it accepts, like :func:`_json_checks`."""
    tid = column.id
    if tid == "varchar":
        if kind == "int":
            return f"({e} IS NULL OR {e} = '' OR regexp_full_match({e}, {_sql_str(INT_TEXT)}))"
        if kind == "ts":
            return (
                f"({e} IS NULL OR regexp_full_match({e}, {_sql_str(EPOCH_TEXT)}) OR "
                f"(regexp_full_match({e}, {_sql_str(ISO_TIME)}) AND "
                f"TRY_CAST(left({e}, 10) AS DATE) IS NOT NULL))"
            )
        return None
    if kind == "int" and tid in _INTEGERS:
        return None
    if kind == "int" and tid in _FLOATS:
        return f"({e} IS NULL OR (isfinite({e}) AND {e} = trunc({e})))"
    if kind == "ts" and tid in _TIMESTAMPS:
        return f"({e} IS NULL OR isfinite({e}))"
    if kind == "ts" and tid in _INTEGERS | _FLOATS:
        return f"({e} IS NULL OR abs({e}) <= 1e17)"
    if kind == "protocols" and tid == "list" and column.children[0][1].id == "varchar":
        return f"({e} IS NULL OR list_count({e}) = len({e}))"
    return f"({e} IS NULL)"


def _resolve(types: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """SQL expressions (and types) reaching ``name`` through columns and struct fields."""
    found: list[tuple[str, Any]] = []
    for keys in spellings(name):
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


def _typed_parts(
    plan: ScanPlan, types: dict[str, Any]
) -> tuple[list[str], list[_Field], str] | None:
    """The joined value texts of a CSV or Parquet file (SQL over its columns), the field of
    each, and the SQL condition that the reader accepts the record (``None``: list columns
    carry keys, use Python)."""
    exprs: list[str] = []
    owners: list[_Field] = []
    for f in plan.joined:
        for expr, kind in _resolve(types, f.name):
            if kind.id in ("list", "array", "map", "struct", "union"):
                if f.kind in ("value", "ref"):
                    return None
                continue  # no key in a list or object of a property
            exprs.append(f"CAST({expr} AS VARCHAR)")
            owners.append(f)
    checks = [
        check
        for f in plan.checked
        for expr, column in _resolve(types, f.name)
        if (check := _typed_ok(f.kind, expr, column)) is not None
    ]
    return exprs, owners, " AND ".join(checks) or "true"


def _through_map(types: dict[str, Any], name: str) -> bool:
    """Whether some spelling of ``name`` reaches a MAP column or struct field (the reader
    sees a MAP as a dictionary and looks inside; the engine's projection does not)."""
    for keys in spellings(name):
        column = types.get(keys[0])
        for key in keys[1:]:
            if column is None or column.id != "struct":
                break
            column = dict(column.children).get(key)
        else:
            continue
        if column is not None and column.id == "map":
            return True
    return False


def _typed_sql(
    source: str, row: str, plan: ScanPlan, types: dict[str, Any]
) -> tuple[str, list[_Field]] | None:
    """The candidate query of a CSV file (``None``: list columns, use Python)."""
    parts = _typed_parts(plan, types)
    if parts is None:
        return None
    exprs, owners, ok = parts
    columns = "".join(f", {e} AS c{n}" for n, e in enumerate(exprs))
    inputs = f"(SELECT {row} AS row, NULL::VARCHAR AS line, {ok} AS ok{columns} FROM {source})"
    return _long_sql([f"c{n}" for n in range(len(exprs))], inputs, "ok", owners), owners


def _join_text(expr: str, owner: _Field) -> str:
    """``expr`` (a value text) as the key table spells it: integer texts as digits."""
    if owner.kind == "int":
        return f"coalesce(CAST(TRY_CAST(trim({expr}) AS HUGEINT) AS VARCHAR), {expr})"
    return expr


def _parquet_candidates(
    exprs: Sequence[str], owners: Sequence[_Field], ok: str, columns: Sequence[str]
) -> tuple[str, str]:
    """The Parquet scan, in two statements over one read of the file.

    The first keeps the rows the stage must return (every row the reader may reject, every
    row with a value in the key table) in ``hunt_cand``, with the whole record as the struct
    ``rec``, so the reader's code turns them into events without a second read of the file.
    Each value meets its own keys in a semi-join. A text column holding a JSON array is one
    value to the reader (only JSON lines carry real lists), so the array's members, which
    :func:`_long_sql` also offers, could only be candidates that confirmation drops: no row
    is kept for them. The second is :func:`_long_sql` over ``hunt_cand``: the candidate
    pairs and the suspects, the same result rows as for other formats (its clean count
    covers only the kept rows; the caller takes the file's row count from the footer)."""
    hits = [
        f"{_join_text(expr, owner)} IN (SELECT raw FROM hunt_keys WHERE i = {n})"
        for n, (expr, owner) in enumerate(zip(exprs, owners, strict=True))
    ]
    keep = " OR ".join([f"NOT coalesce({ok}, false)", *hits])
    values = "".join(f", {e} AS c{n}" for n, e in enumerate(exprs))
    # the record built from the file's own column names (a whole-row alias could meet a
    # column of the same name)
    record = "{" + ", ".join(f"{_sql_str(c)}: {_ident(c)}" for c in columns) + "}"
    create = (
        "CREATE OR REPLACE TEMP TABLE hunt_cand AS SELECT file_row_number + 1 AS row, "
        f"coalesce({ok}, false) AS ok, {record} AS rec{values} "
        f"FROM {_source_sql('parquet')} WHERE {keep}"
    )
    inputs = (
        "(SELECT row, NULL::VARCHAR AS line, ok"
        + "".join(f", c{n}" for n in range(len(exprs)))
        + " FROM hunt_cand)"
    )
    return create, _long_sql([f"c{n}" for n in range(len(exprs))], inputs, "ok", owners)


def _source_sql(fmt: str) -> str:
    if fmt == "csv":
        return (
            "read_csv($path, header = true, all_varchar = true, delim = ',', quote = '\"', "
            "escape = '\"', compression = 'auto') WITH ORDINALITY"
        )
    return "read_parquet($path, file_row_number = true)"


def scan_result(rows: Sequence[tuple[Any, ...]]) -> Scan:
    """A :class:`Scan` from the query's ``(ind, row, line, count)`` rows."""
    scan = Scan(pairs=[], suspects=[], clean=0, lines={})
    lines: dict[int, str] = {}
    for ind, row, line, count in rows:
        if ind == CLEAN:
            scan.clean += int(count)
            continue
        if line is not None:
            lines[int(row)] = line
        if ind == SUSPECT:
            scan.suspects.append(int(row))
        else:
            scan.pairs.append((int(ind), int(row)))
    scan.suspects.sort()
    scan.lines = lines
    return scan


class _DuckStage:
    """The embedded candidate stage: DuckDB reads, projects and joins each file."""

    def __init__(self, con: duckdb.DuckDBPyConnection, plan: ScanPlan) -> None:
        self._con = con
        self._plan = plan
        # typed and named even when there are no keys
        parts = ["SELECT * FROM (VALUES (0, '', '')) AS t(ind, path, raw) WHERE false"]
        params: dict[str, object] = {}
        for n, (path, inds, raws) in enumerate(plan.keys):
            parts.append(  # named: unnamed, the same statement took twice as long
                f"SELECT unnest($i{n}::INTEGER[]) AS ind, $p{n}::VARCHAR AS path, "
                f"unnest($r{n}::VARCHAR[]) AS raw"
            )
            params |= {f"i{n}": inds, f"p{n}": path, f"r{n}": raws}
        con.execute("CREATE TEMP TABLE key_rows AS " + " UNION ALL ".join(parts), params)

    def __call__(self, path: Path, fmt: str) -> Scan | None:
        con = self._con
        params = {"path": str(path)}
        try:
            if fmt == "jsonl":
                query: tuple[str, list[_Field]] | None = _json_sql(self._plan)
            else:
                rel = con.sql(f"SELECT * FROM {_source_sql(fmt)}", params=params)
                types = dict(zip(rel.columns, rel.types, strict=True))
                if fmt == "parquet":
                    return self._parquet(params, types)
                if fmt == "csv" and len(types) < 3:
                    return None  # one column: a blank line is a record to DuckDB
                row = "ordinality + 1" if fmt == "csv" else "file_row_number + 1"
                query = _typed_sql(_source_sql(fmt), row, self._plan, types)
            if query is None:
                return None
            sql, owners = query
            self._key_table(owners)
            return scan_result(con.execute(sql, params).fetchall())
        except duckdb.Error as exc:
            if fmt in ("csv", "jsonl"):
                # rows that do not fit the header, bytes that are not UTF-8, a carriage
                # return inside a line: the reader counts such records as bad
                return None
            raise InvalidInput(f"cannot read {path} as {fmt}: {exc}") from None

    def _parquet(self, params: dict[str, str], types: dict[str, Any]) -> Scan | None:
        """One read of a Parquet file (see :func:`_parquet_candidates`)."""
        parts = _typed_parts(self._plan, types)
        if parts is None:
            return None
        exprs, owners, ok = parts
        self._key_table(owners)
        columns = [c for c in types if c != "file_row_number"]
        if not columns:
            return None  # no columns at all: the reader says what it makes of the file
        create, query = _parquet_candidates(exprs, owners, ok, columns)
        con = self._con
        con.execute(create, params)
        scan = scan_result(con.execute(query).fetchall())
        counted = con.execute(f"SELECT count(*) FROM {_source_sql('parquet')}", params).fetchone()
        scan.clean = int(counted[0] if counted else 0) - len(scan.suspects)
        wanted = sorted({r for _, r in scan.pairs} | set(scan.suspects))
        scan.records = {}
        for row, record in con.execute(
            "SELECT row, rec FROM hunt_cand WHERE row IN (SELECT unnest($rows::BIGINT[]))",
            {"rows": wanted},
        ).fetchall():
            scan.records[int(row)] = record
        con.execute("DROP TABLE hunt_cand")
        return scan

    def _key_table(self, owners: Sequence[_Field]) -> None:
        """``hunt_keys(ind, i, raw)``: the keys each value index ``i`` of this file can meet."""
        paths, idx = key_index(owners)
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE hunt_keys AS SELECT k.ind, u.i, k.raw "
            "FROM key_rows AS k JOIN (SELECT unnest($paths::VARCHAR[]) AS path, "
            "unnest($idx::INTEGER[]) AS i) AS u USING (path) "
            "UNION ALL SELECT * FROM (VALUES ($s, $n, 'S'), ($c, $n, 'G'))",
            {"paths": paths, "idx": idx, "s": SUSPECT, "c": CLEAN, "n": len(owners)},
        )


# --- records back to events -------------------------------------------------------------------


def _typed_records(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, rows: list[int]
) -> dict[int, dict[str, Any]]:
    """CSV / Parquet records of ``rows``, shaped the way the reader sees them."""
    column = "ordinality" if fmt == "csv" else "file_row_number"
    cursor = con.execute(
        f"SELECT * EXCLUDE ({column}), {column} + 1 FROM {_source_sql(fmt)} "
        f"WHERE {column} + 1 IN (SELECT unnest($rows::BIGINT[]))",
        {"path": str(path), "rows": rows},
    )
    names = [d[0] for d in cursor.description or ()][:-1]
    out: dict[int, dict[str, Any]] = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row[:-1], strict=True))
        if fmt == "csv":
            record = {k.strip(): v for k, v in record.items() if v is not None and v != ""}
        out[int(row[-1])] = record
    return out


def _line_bytes(path: Path, scan: Scan) -> Callable[[int], bytes]:
    """The bytes ``read_events`` sees for a line DuckDB returned: line 1 is read from the file
    (DuckDB drops a byte order mark), the end of line is the file's (DuckDB drops it)."""
    lines = scan.lines or {}
    with _readers._open_binary(path) as binary:
        first = binary.readline()
    end = b"\r\n" if first.endswith(b"\r\n") else b"\n"
    last = scan.clean + len(scan.suspects)
    unended = False  # gzip: the end is not cheap to see; assume a final end of line
    if _readers._magic(path)[:2] != b"\x1f\x8b":
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            unended = size > 0 and handle.seek(size - 1) >= 0 and handle.read(1) != b"\n"

    def text(row: int) -> bytes:
        if row == 1:
            return first
        body = (lines.get(row) or "").encode()
        return body if unended and row == last else body + end

    return text


class _Reader:
    """Turns the records of candidate and suspect rows into events with the reader's code,
    counting bad records the way ``read_events`` does."""

    def __init__(self, mapping: FieldMapping | None) -> None:
        self.table = _readers._table(mapping, _readers.ECS_FIELDS, _readers.ECS_TIMESTAMP)
        self.trie = _readers._trie(self.table)

    def json_line(self, source: str, number: int, line: bytes, stats: ReadStats) -> Any:
        """The record of one JSON line, or ``None`` (blank: skipped, or bad: counted)."""
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if line.strip():
                stats.add_bad(source, number, f"not JSON: {exc}")
            return None
        if type(record) is not dict:
            stats.add_bad(source, number, "not a JSON object")
            return None
        return record

    def event(
        self, source: str, fmt: str, number: int, record: dict[str, Any], stats: ReadStats
    ) -> HuntEvent | None:
        pairs: list[tuple[Any, Any]] = []
        if fmt == "csv":
            pairs = [(self.table[k], v) for k, v in record.items() if k in self.table]
        else:
            _readers._collect(record, self.trie, pairs)
        try:
            timestamp, scos = _readers._build(pairs)
        except _readers._Bad as exc:
            stats.add_bad(source, number, str(exc))
            return None
        return HuntEvent(number, timestamp, scos)


def _settle(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: str,
    scan: Scan,
    reader: _Reader,
    stats: ReadStats,
) -> dict[int, HuntEvent]:
    """Events of the candidate rows; ``stats`` gets the file's events and bad records."""
    source = path.name
    wanted = sorted({r for _, r in scan.pairs} | set(scan.suspects))
    suspects = set(scan.suspects)
    records: dict[int, Any] = {}
    if fmt == "jsonl":
        text = _line_bytes(path, scan)
        for number in wanted:
            sink = stats if number in suspects else ReadStats()
            records[number] = reader.json_line(source, number, text(number), sink)
    elif scan.records is not None:
        records.update(scan.records)
    else:
        records.update(_typed_records(con, path, fmt, wanted))
    events: dict[int, HuntEvent] = {}
    good = 0
    for number in wanted:
        record = records.get(number)
        if record is None:
            continue
        sink = stats if number in suspects else ReadStats()
        event = reader.event(source, fmt, number, record, sink)
        if event is not None:
            events[number] = event
            good += number in suspects
    stats.events += scan.clean + good
    return events


# --- the hunt ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Prepared:
    indicator: HuntIndicator
    #: ``None`` for a plan read straight from the text (:func:`~kizuna.hunt.keys.simple_key`)
    pattern: Pattern | None
    #: ``None`` until asked for, for a plan read straight from the text
    known_keys: frozenset[Key] | None
    exact: bool
    columnar: bool
    #: patterns correlated across events (and files): the events kept, as (file, event)
    correlation: Correlation[tuple[int, HuntEvent]] | None = None
    _compiled: CompiledPattern | None = None

    @property
    def keys(self) -> frozenset[Key]:
        """The plan's keys (worked out from the text on first use for a simple equality:
        only candidates ever need them)."""
        if self.known_keys is None:
            planned = pattern_plan(self.indicator.pattern)
            assert planned is not None  # the text was planned once already
            self.known_keys = planned.plan.keys
        return self.known_keys

    @property
    def key_types(self) -> frozenset[str]:
        """The SCO types the keys are on (the part of each key path before ``:``)."""
        return frozenset(k.path.split(":", 1)[0] for k in self.keys)

    def compiled(self) -> CompiledPattern:
        """The evaluator's closures, built on first use: an exact plan never needs them, and
        building them is most of the cost of preparing 100,000 equality indicators."""
        if self._compiled is None:
            pattern = self.pattern or parse(self.indicator.pattern)
            self._compiled = compile_pattern(pattern)
        return self._compiled


def _detect_format(path: Path, format: str | None) -> str:
    if not path.is_file():
        raise InvalidInput(f"cannot read {path}: not a file")
    if format is not None:
        if format not in _readers.FORMATS:
            raise InvalidInput(f"unknown telemetry format {format!r}")
        return format
    return str(_readers._detect(path, _readers._magic(path)))


def _engine_reads(path: Path, fmt: str) -> bool:
    """Whether the candidate stage can read the file: a columnar format, and gzip only under a
    ``.gz`` name (engines pick the codec by name, the reader by the first bytes)."""
    if fmt not in _COLUMNAR_FORMATS:
        return False
    zipped = _readers._magic(path)[:2] == b"\x1f\x8b"
    return fmt == "parquet" or zipped == path.name.lower().endswith(".gz")


def _reader_only(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: str, mapping: FieldMapping | None
) -> bool:
    """Files whose shape an engine reads otherwise than the reader, for every engine: a CSV
    header naming a column twice (engines rename one, the reader reads both) and Parquet
    files where a mapped field passes through a MAP (the reader looks inside it like a JSON
    object, the engines' projections do not)."""
    if fmt == "csv":
        return _repeated_header(path)
    if fmt != "parquet":
        return False
    try:
        rel = con.sql(f"SELECT * FROM {_source_sql(fmt)}", params={"path": str(path)})
    except duckdb.Error:
        return False  # the stage reports what is wrong with the file
    types = dict(zip(rel.columns, rel.types, strict=True))
    return any(_through_map(types, f.name) for f in _fields(mapping))


def _repeated_header(path: Path) -> bool:
    """Whether the CSV header names a column twice (as the reader compares names)."""
    with _readers._open_text(path) as text:
        try:
            header = next(csv.reader(text), [])
        except csv.Error:
            return True  # the reader decides what a broken header means
    names = [name.strip() for name in header]
    return len(set(names)) != len(names)


def _physical_lines(path: Path) -> int:
    """Lines as ``csv.reader`` numbers them (end of line = ``\\n``), for the CSV record check."""
    count = 0
    tail = b""
    with _readers._open_binary(path) as binary:
        while chunk := binary.read(1 << 22):
            count += chunk.count(b"\n")
            tail = chunk[-1:]
    return count + (tail not in (b"", b"\n"))


#: pattern text -> its key table row, or ``None``: not a simple equality; kept across hunts
_SIMPLE_ROWS: dict[str, tuple[str, str] | None] = {}
_SIMPLE_ROWS_KEPT = 1 << 17


def _simple_row(text: str) -> tuple[str, str] | None:
    """The key table row ``(path, raw text)`` of a single string equality on ``value`` or a
    hash (:func:`~kizuna.hunt.keys.simple_key`: the same key as its full plan), else
    ``None``."""
    if text in _SIMPLE_ROWS:
        return _SIMPLE_ROWS[text]
    key = simple_key(text)
    row = None if key is None else (key[0], raw_texts(key[1])[0])
    if len(_SIMPLE_ROWS) >= _SIMPLE_ROWS_KEPT:
        _SIMPLE_ROWS.clear()
    _SIMPLE_ROWS[text] = row
    return row


def _plan(
    indicators: Sequence[HuntIndicator], mapping: FieldMapping | None
) -> tuple[list[_Prepared], list[str], ScanPlan]:
    """Compile and key every indicator; the scan plan of the keyed ones."""
    fields = _fields(mapping)
    produced = frozenset(path for f in fields for path in field_paths(f))
    prepared: list[_Prepared] = []
    invalid: list[str] = []
    by_path: dict[str, tuple[list[int], list[str]]] = {}
    for indicator in indicators:
        if type(indicator.pattern) is not str:
            invalid.append(indicator.indicator_id)  # as the parser would say
            continue
        key = indicator.key
        if key is not None:
            path, value = key
            simple: tuple[str, str] | None = (
                key if value[:1] != "#" else (path, raw_texts(value)[0])
            )
        else:
            simple = _simple_row(indicator.pattern)
        if simple is not None:  # most indicators: no plan objects at all
            path, raw = simple
            columnar = path in produced
            if columnar:
                held = by_path.get(path)
                if held is None:
                    held = by_path[path] = ([], [])
                held[0].append(len(prepared))
                held[1].append(raw)
            prepared.append(_Prepared(indicator, None, None, True, columnar))
            continue
        known = indicator.plan
        planned = pattern_plan(indicator.pattern) if known is None else as_planned(None, known)
        if planned is None:
            invalid.append(indicator.indicator_id)
            continue
        pattern, plan, across, paths, rows = planned
        columnar = bool(rows) and paths <= produced
        index = len(prepared)
        prepared.append(
            _Prepared(
                indicator,
                pattern,
                plan.keys,
                plan.exact,
                columnar,
                Correlation(compile_pattern(pattern)) if across and pattern else None,
            )
        )
        if columnar:
            for path, raw in rows:
                inds, raws = by_path.setdefault(path, ([], []))
                inds.append(index)
                raws.append(raw)
    scan_plan = ScanPlan(
        joined=tuple(f for f in fields if not field_paths(f).isdisjoint(by_path)),
        checked=tuple(f for f in fields if f.kind in _CHECKED),
        keys=tuple((path, inds, raws) for path, (inds, raws) in by_path.items()),
    )
    return prepared, invalid, scan_plan


def hunt_files(
    indicators: Sequence[HuntIndicator],
    paths: Sequence[Path],
    *,
    format: str | None = None,
    mapping: FieldMapping | None = None,
    threads: int | None = None,
    engine: str = "embedded",
    spark_master: str | None = None,
    stats: ReadStats | None = None,
    progress: Callable[[FileProgress], None] | None = None,
) -> ColumnarReport:
    """Match every indicator against every event of every file (one event = one observation),
    with the same results as ``EmbeddedEngine().hunt`` over ``read_events`` of each file.

    ``engine``: ``"embedded"`` (DuckDB, ``threads`` workers) or ``"spark"`` (the candidate
    stage on Apache Spark at ``spark_master``, default ``local[2]``; see
    :mod:`kizuna.hunt.spark`). ``stats`` receives what ``read_events`` would count for each
    file; ``progress`` is called after each file.
    """
    if engine not in ENGINES:
        raise InvalidInput(f"unknown hunt engine {engine!r}; use one of {sorted(ENGINES)}")
    with collector_paused():
        return _hunt_files(
            indicators,
            [Path(p) for p in paths],
            format=format,
            mapping=mapping,
            threads=threads,
            engine=engine,
            spark_master=spark_master,
            stats=stats,
            progress=progress,
        )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a hunt: a hunt allocates hundreds of
    thousands of long-lived objects (plans, events, SCOs) and hardly any cycles, so the collector's
    full passes over them cost a second at 100,000 indicators and free nothing; it is
    turned back on at the end."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _hunt_files(
    indicators: Sequence[HuntIndicator],
    paths: Sequence[Path],
    *,
    format: str | None,
    mapping: FieldMapping | None,
    threads: int | None,
    engine: str,
    spark_master: str | None,
    stats: ReadStats | None,
    progress: Callable[[FileProgress], None] | None,
) -> ColumnarReport:
    prepare_started = time.perf_counter()
    prepared, invalid, plan = _plan(indicators, mapping)
    fallback = [p for p in prepared if not p.columnar]
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
    stats = ReadStats() if stats is None else stats
    names = [Path(p).name for p in paths]
    per_file: list[dict[int, list[HuntEvent]]] = [{} for _ in paths]
    matching = 0
    config: dict[str, str | bool | int | float | list[str]] = {}
    if threads is not None:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # the CLI draws its own; DuckDB's is noise
    try:
        stage: Stage = _DuckStage(con, plan)
        if engine == "spark":
            from kizuna.hunt import spark as _spark

            stage = _spark.SparkStage(plan, spark_master or "local[2]")
        report.prepare_seconds = time.perf_counter() - prepare_started
        for number, path in enumerate(Path(p) for p in paths):
            fmt = _detect_format(path, format)
            file_stats = ReadStats()
            found = per_file[number]
            _hunt_one(
                con,
                stage,
                _File(number, path, fmt),
                prepared,
                fallback,
                mapping,
                report,
                file_stats,
                found,
            )
            report.events += file_stats.events
            _add_stats(stats, file_stats)
            matching += len({e.row for events in found.values() for e in events})
            if progress is not None:
                progress(FileProgress(path.name, file_stats.events, file_stats.bad, matching))
    finally:
        con.close()
    _correlate(prepared, per_file, report)
    merged: dict[int, list[HuntEvent]] = {}
    for name, found in zip(names, per_file, strict=True):
        matches: list[Match] = []
        for index in sorted(found):
            events = sorted(found[index], key=lambda e: e.row)
            matches.append(_match(prepared[index].indicator.indicator_id, events))
            merged.setdefault(index, []).extend(events)
        report.file_matches[name] = matches
        report.matched_events.append({e.row: e for events in found.values() for e in events})
    for index in sorted(merged):
        report.matches.append(_match(prepared[index].indicator.indicator_id, merged[index]))
    return report


@dataclass(frozen=True, slots=True)
class _File:
    number: int  # place among the hunt's files: orders events across files
    path: Path
    fmt: str

    def position(self, row: int) -> int:
        return self.number << 40 | row


def _correlate(
    prepared: Sequence[_Prepared],
    per_file: list[dict[int, list[HuntEvent]]],
    report: ColumnarReport,
) -> None:
    """Occurrences of the cross-event patterns over every file; their events become matches
    of the files they came from (``progress`` did not count them: they are known at the end)."""
    started = time.perf_counter()
    for index, item in enumerate(prepared):
        if item.correlation is None:
            continue
        report.correlated_indicators += 1
        seen: set[tuple[int, int]] = set()
        for occurrence in item.correlation.occurrences():
            for number, event in occurrence:
                if (number, event.row) not in seen:
                    seen.add((number, event.row))
                    per_file[number].setdefault(index, []).append(event)
        report.confirmed_pairs += len(seen)
        if item.correlation.too_costly is not None:
            report.too_costly[item.indicator.indicator_id] = item.correlation.too_costly
    report.exact_seconds += time.perf_counter() - started


def _add_stats(total: ReadStats, one: ReadStats) -> None:
    """Add one file's counts, keeping the first few bad examples over all files."""
    total.events += one.events
    total.bad += one.bad
    room = max(0, _readers._MAX_EXAMPLES - len(total.bad_examples))
    total.bad_examples.extend(one.bad_examples[:room])


def _match(indicator_id: str, events: Sequence[HuntEvent]) -> Match:
    stamps = [e.timestamp_us for e in events if e.timestamp_us is not None]
    return Match(
        indicator_id=indicator_id,
        rows=tuple(e.row for e in events),
        first_seen_us=min(stamps) if stamps else None,
        last_seen_us=max(stamps) if stamps else None,
        count=len(events),
    )


def _python_events(
    path: Path, fmt: str, mapping: FieldMapping | None, stats: ReadStats
) -> Iterator[HuntEvent]:
    for event in read_events(path, format=fmt, mapping=mapping, stats=stats):
        yield HuntEvent(event.line, event.timestamp_us, event.scos)


def _scan(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    path: Path,
    fmt: str,
    mapping: FieldMapping | None,
    report: ColumnarReport,
) -> Scan | None:
    """The candidate stage for one file, or ``None`` when the Python path must read it."""
    if not _engine_reads(path, fmt) or _reader_only(con, path, fmt, mapping):
        return None
    started = time.perf_counter()
    scan = stage(path, fmt)
    report.sql_seconds += time.perf_counter() - started
    if (
        scan is not None
        and fmt == "csv"
        and _physical_lines(path) != scan.clean + len(scan.suspects) + 1
    ):
        return None  # blank lines or quoted line breaks: rows are not lines
    return scan


def _confirm(
    scan: Scan,
    events: dict[int, HuntEvent],
    prepared: Sequence[_Prepared],
    report: ColumnarReport,
    file: _File,
    found: dict[int, list[HuntEvent]],
) -> None:
    """The candidate pairs that match: exact plans by their keys, others by the evaluator;
    candidates of cross-event patterns are offered to their correlation instead."""
    offered: dict[tuple[int, str], set[Key]] = {}
    for ind, r in sorted(scan.pairs):
        event = events.get(r)
        if event is None:
            continue  # a record the reader rejects
        item = prepared[ind]
        if item.correlation is not None:
            ts = event.timestamp_us or 0
            obs = observation_from_scos(event.scos, first_observed_us=ts, last_observed_us=ts)
            item.correlation.offer((file.number, event), obs, file.position(event.row))
            continue
        if item.exact:
            if not any(
                not _offered(offered, event, object_type).isdisjoint(item.keys)
                for object_type in item.key_types
            ):
                continue  # the raw text met, the typed value does not
        else:
            ts = event.timestamp_us or 0
            obs = observation_from_scos(event.scos, first_observed_us=ts, last_observed_us=ts)
            if not item.compiled().matches([obs]):
                continue
        report.confirmed_pairs += 1
        found.setdefault(ind, []).append(event)


def _offered(
    cache: dict[tuple[int, str], set[Key]], event: HuntEvent, object_type: str
) -> set[Key]:
    """The keys the event's SCOs of one type offer (a key's path starts with its SCO's
    type, so an exact plan only needs the SCOs of its keys' types), cached per event."""
    keys = cache.get((event.row, object_type))
    if keys is None:
        keys = cache[event.row, object_type] = set()
        for sco in _observed_scos(event.scos):
            if sco.get("type") == object_type:
                keys |= sco_keys(sco)
    return keys


def _hunt_one(
    con: duckdb.DuckDBPyConnection,
    stage: Stage,
    file: _File,
    prepared: Sequence[_Prepared],
    fallback: Sequence[_Prepared],
    mapping: FieldMapping | None,
    report: ColumnarReport,
    stats: ReadStats,
    found: dict[int, list[HuntEvent]],
) -> None:
    """Add one file's matches to ``found`` (and its cross-event candidates to their
    correlations)."""
    path, fmt = file.path, file.fmt
    everything_python = bool(prepared) and len(fallback) == len(prepared)
    scan = None if everything_python else _scan(con, stage, path, fmt, mapping, report)
    if scan is None:
        fallback = list(prepared)  # Zeek, STIX, list columns: the Python path for everything
    else:
        report.candidate_pairs += len(scan.pairs)
        # with a Python pass ahead, that pass counts the file
        sink = ReadStats() if fallback else stats
        events = _settle(con, path, fmt, scan, _Reader(mapping), sink)
        started = time.perf_counter()
        _confirm(scan, events, prepared, report, file, found)
        report.exact_seconds += time.perf_counter() - started
    if fallback:
        started = time.perf_counter()
        position = {id(p): i for i, p in enumerate(prepared)}
        events_py = list(_python_events(path, fmt, mapping, stats))
        single = [p for p in fallback if p.correlation is None]
        by_row = {e.row: e for e in events_py}
        sub = EmbeddedEngine().hunt([p.indicator for p in single], events_py)
        report.unkeyed_evaluations += sub.unkeyed_evaluations
        by_id = {p.indicator.indicator_id: position[id(p)] for p in single}
        for m in sub.matches:
            found.setdefault(by_id[m.indicator_id], []).extend(by_row[r] for r in m.rows)
        _offer_all(fallback, events_py, file, report)
        report.exact_seconds += time.perf_counter() - started


def _offer_all(
    items: Sequence[_Prepared], events: Sequence[HuntEvent], file: _File, report: ColumnarReport
) -> None:
    """Offer every event of a file read by Python to the cross-event patterns among
    ``items`` (their correlation keeps only events that can take part in a binding)."""
    across = [p for p in items if p.correlation is not None]
    if not across:
        return
    for event in events:
        ts = event.timestamp_us or 0
        obs = observation_from_scos(event.scos, first_observed_us=ts, last_observed_us=ts)
        for item in across:
            assert item.correlation is not None
            item.correlation.offer((file.number, event), obs, file.position(event.row))
    report.unkeyed_evaluations += len(events) * len(across)
