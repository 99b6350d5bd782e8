"""The Spark candidate stage: Apache Spark reads, projects and joins each telemetry file.

:class:`SparkStage` is the candidate stage of :func:`kizuna.hunt.columnar.hunt_files` with
``engine="spark"``: from the same :class:`~kizuna.hunt.columnar.ScanPlan` (key table rows and
field list) it gives the same :class:`~kizuna.hunt.columnar.Scan` as DuckDB does, so candidate
confirmation, bad-record counting and the Python fallback (shared code on the driver) give the
same results on both engines:

* JSON lines: ``spark.read.text`` (lines end at ``\\n``, a final ``\\r`` is dropped like DuckDB
  does); each line is parsed once as ``[line, "<nonce>"]`` with ``try_parse_json`` so text after
  the object (which Spark's parser would ignore) makes the line a suspect; values are taken
  with ``variant_get(..., 'string')``, which prints them like DuckDB's
  ``json_extract_string``, so the same checks apply;
* CSV: ``spark.read.csv`` with every column as text, ``FAILFAST``: rows that do not fit the
  header make the file take the Python path, as with DuckDB;
* Parquet: row = ``_metadata.row_index`` + 1 (DuckDB's ``file_row_number`` + 1).

Row numbers of text files come from ``monotonically_increasing_id`` within each partition plus
the row counts of the partitions before it (one counting pass): Spark splits one file into
partitions in file order.

The key table is broadcast and joined on ``(i, raw)``. Only the candidate and suspect rows
(and one count) come back to the driver; CSV and Parquet records of those rows are read again
on the driver. With a cluster ``spark_master`` the files must be readable at the same path on
every executor (a shared file system or object store path). One SparkSession per process is
reused (``getOrCreate``) and not stopped after a hunt; its master is the first one asked for.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from kizuna.errors import InvalidInput
from kizuna.hunt.columnar import (
    CLEAN,
    EPOCH_TEXT,
    INT_TEXT,
    ISO_TIME,
    LENIENT_JSON,
    NOT_STRING,
    SUSPECT,
    Scan,
    ScanPlan,
    _Field,
    key_index,
    scan_result,
    spellings,
)

__all__ = ["SparkStage", "session"]

_NONCE = "kizuna-end-" + uuid.uuid4().hex
_BAD_VALUE = rf"\x01({NOT_STRING})\x01"


def session(master: str) -> Any:
    """The process's SparkSession (created on first use: no UI, few shuffle partitions,
    quiet logs)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InvalidInput("the Spark engine needs pyspark: pip install 'kizuna[spark]'") from None
    builder: Any = SparkSession.builder
    spark = (
        builder.master(master)
        .appName("kizuna-hunt")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _str(text: str) -> str:
    """A Spark SQL string literal (backslashes are escapes there)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _col(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _variant_path(keys: list[str]) -> str:
    if any('"' in k or "\\" in k for k in keys):
        raise InvalidInput(f"the Spark engine cannot reach field {'.'.join(keys)!r}")
    return "$[0]" + "".join(f'["{k}"]' for k in keys)


def _checks(values: list[tuple[str, str]]) -> list[str]:
    """Spark SQL twin of ``columnar._json_checks`` over texts as ``json_extract_string``
    prints them (``NULL``: absent or null)."""
    checks: list[str] = []
    strings = [v for kind, v in values if kind in ("value", "ref", "protocols")]
    if strings:
        joined = "concat_ws(chr(1), '', " + ", ".join(strings) + ", '')"
        checks.append(f"NOT regexp_like({joined}, {_str(_BAD_VALUE)})")
    for kind, v in values:
        if kind == "int":
            checks.append(f"({v} IS NULL OR regexp_like({v}, {_str(f'^({INT_TEXT})?$')}))")
        elif kind == "ts":
            checks.append(_time_ok(v))
    return checks


def _time_ok(v: str) -> str:
    return (
        f"({v} IS NULL OR regexp_like({v}, {_str(f'^({EPOCH_TEXT})$')}) OR "
        f"(regexp_like({v}, {_str(f'^({ISO_TIME})$')}) AND "
        f"try_to_date(left({v}, 10), 'yyyy-MM-dd') IS NOT NULL))"
    )


def _typed_ok(kind: str, e: str, dtype: Any) -> str | None:
    """Spark SQL twin of ``columnar._typed_ok`` for a Spark column type."""
    name = dtype.typeName()
    if name == "string":
        if kind == "int":
            return f"({e} IS NULL OR {e} = '' OR regexp_like({e}, {_str(f'^({INT_TEXT})$')}))"
        return _time_ok(e) if kind == "ts" else None
    integral = name in ("byte", "short", "integer", "long")
    if kind == "int" and integral:
        return None
    if kind == "int" and name in ("float", "double"):
        return f"({e} IS NULL OR (NOT isnan({e}) AND abs({e}) < 1e300 AND {e} = floor({e})))"
    if kind == "ts" and name in ("timestamp", "timestamp_ntz"):
        return None
    if kind == "ts" and (integral or name in ("float", "double")):
        return f"({e} IS NULL OR abs({e}) <= 1e17)"
    return f"({e} IS NULL)"


def _texts(values: list[str], owners: list[_Field]) -> list[str]:
    """Normalise like the DuckDB query: integer texts as digits (a superset is fine: the
    candidates are checked)."""
    out: list[str] = []
    for v, f in zip(values, owners, strict=True):
        if f.kind == "int":
            v = (
                f"CASE WHEN regexp_like({v}, '^\\\\s*[+-]?[0-9]+(\\\\.0*)?\\\\s*$') "
                f"THEN CAST(CAST(trim({v}) AS DECIMAL(38, 0)) AS STRING) ELSE {v} END"
            )
        out.append(v)
    return out


class SparkStage:
    """The candidate stage on Spark (see the module docstring)."""

    def __init__(self, plan: ScanPlan, master: str) -> None:
        self._spark = session(master)
        self._plan = plan

    def __call__(self, path: Path, fmt: str) -> Scan | None:
        try:
            if fmt == "jsonl":
                return self._run(*self._json(path))
            frame, types = self._typed_frame(path, fmt)
            query = self._typed(frame, types, fmt)
            return None if query is None else self._run(*query)
        except InvalidInput:
            raise
        except Exception as exc:  # py4j / Spark errors: a file Spark cannot read
            if fmt == "csv":
                return None  # rows that do not fit the header: the reader counts them
            raise InvalidInput(f"cannot read {path} as {fmt}: {exc}") from None

    def _numbered(self, frame: Any, first: int) -> Any:
        """``frame`` with ``row``: its 1-based record number in file order, plus ``first``."""
        from pyspark.sql import functions as sf

        tagged = frame.withColumn("_pid", sf.spark_partition_id()).withColumn(
            "_mid", sf.monotonically_increasing_id()
        )
        counts = sorted(
            (int(r["_pid"]), int(r["count"])) for r in tagged.groupBy("_pid").count().collect()
        )
        offsets: list[Any] = []
        total = 0
        for pid, count in counts:
            offsets += [sf.lit(pid), sf.lit(total - (pid << 33) + first)]
            total += count
        base = sf.create_map(*offsets) if offsets else sf.create_map()
        return tagged.withColumn("row", sf.col("_mid") + sf.element_at(base, sf.col("_pid")))

    def _json(self, path: Path) -> tuple[Any, list[str], str, list[_Field]]:
        from pyspark.sql import functions as sf

        text = self._spark.read.option("lineSep", "\n").text(str(path))
        lines = self._numbered(text, 1).select(
            "row", sf.regexp_replace("value", "\r$", "").alias("line")
        )
        slots: dict[str, str] = {}

        def slot(keys: list[str]) -> str:
            path_text = _variant_path(keys)
            return slots.setdefault(path_text, f"variant_get(v, {_str(path_text)}, 'string')")

        values: list[str] = []
        owners: list[_Field] = []
        for f in self._plan.joined:
            for keys in spellings(f.name):
                values.append(slot(keys))
                owners.append(f)
        checks = _checks(
            [(f.kind, slot(keys)) for f in self._plan.checked for keys in spellings(f.name)]
        )
        ok = " AND ".join(
            [
                "row > 1",
                "v IS NOT NULL",
                "startswith(line, '{')",
                f"NOT contains(line, {_str(_NONCE)})",
                f"variant_get(v, '$[1]', 'string') = {_str(_NONCE)}",
                "variant_get(v, '$[2]') IS NULL",
                *(f"NOT regexp_like(line, {_str(p)})" for p in LENIENT_JSON),
                *checks,
            ]
        )
        parsed = lines.selectExpr(
            "row", "line", f"try_parse_json(concat('[', line, ',\"{_NONCE}\"]')) AS v"
        )
        return parsed, values, ok, owners

    def _typed_frame(self, path: Path, fmt: str) -> tuple[Any, dict[str, Any]]:
        """The file's records with ``row`` and ``line`` (``NULL``), and its column types."""
        from pyspark.sql import functions as sf

        reader = self._spark.read
        if fmt == "parquet":
            frame = reader.parquet(str(path))
            types = {f.name: f.dataType for f in frame.schema.fields}
            frame = frame.select("*", sf.col("_metadata.row_index").alias("_index"))
            frame = frame.withColumn("row", sf.col("_index") + 1)
        else:
            frame = (
                reader.option("header", "true")
                .option("mode", "FAILFAST")
                .option("quote", '"')
                .option("escape", '"')
                .option("inferSchema", "false")
                .csv(str(path))
            )
            types = {f.name: f.dataType for f in frame.schema.fields}
            frame = self._numbered(frame, 2)  # line 1 is the header
        return frame.withColumn("line", sf.lit(None).cast("string")), types

    def _typed(
        self, frame: Any, types: dict[str, Any], fmt: str
    ) -> tuple[Any, list[str], str, list[_Field]] | None:
        """Values and checks of a CSV or Parquet frame (``None``: list columns, use Python)."""
        if fmt == "csv" and len(types) < 2:
            return None  # one column: a blank line is a record to Spark
        values: list[str] = []
        owners: list[_Field] = []
        for f in self._plan.joined:
            for expr, dtype in _resolve(types, f.name):
                if dtype.typeName() in ("array", "map", "struct"):
                    if f.kind in ("value", "ref"):
                        return None
                    continue
                values.append(f"CAST({expr} AS STRING)")
                owners.append(f)
        checks = [
            check
            for f in self._plan.checked
            for expr, dtype in _resolve(types, f.name)
            if (check := _typed_ok(f.kind, expr, dtype)) is not None
        ]
        return frame, values, " AND ".join(checks) or "true", owners

    def _run(self, frame: Any, values: list[str], ok: str, owners: list[_Field]) -> Scan:
        """Join the long (row, i, s) relation plus the sentinel with the broadcast key table."""
        from pyspark.sql import functions as sf

        plan = self._plan
        paths, idx = key_index(owners)
        by_path: dict[str, list[int]] = {}
        for key_path, i in zip(paths, idx, strict=True):
            by_path.setdefault(key_path, []).append(i)
        keys = [
            (ind, i, raw)
            for ind, key_path, raw in plan.key_rows()
            for i in by_path.get(key_path, ())
        ]
        keys += [(SUSPECT, len(owners), "S"), (CLEAN, len(owners), "G")]
        table = self._spark.createDataFrame(keys, "ind INT, i INT, raw STRING")
        sentinel = f"CASE WHEN coalesce({ok}, false) THEN 'G' ELSE 'S' END"
        texts = _texts(values, owners)
        lists = [i for i, f in enumerate(owners) if f.kind in ("value", "ref")]
        long = frame.selectExpr(
            "row", "line", f"posexplode(array({', '.join([*texts, sentinel])})) AS (i, s)"
        )
        if lists:
            arrays = (
                f"CASE WHEN i IN ({', '.join(map(str, lists))}) AND startswith(s, '[') "
                "THEN concat(coalesce(try_variant_get(try_parse_json(s), '$', "
                "'array<string>'), array()), array(s)) ELSE array(s) END"
            )
            long = long.selectExpr("row", "line", "i", f"explode({arrays}) AS s")
        joined = long.join(
            sf.broadcast(table), on=[long["i"] == table["i"], long["s"] == table["raw"]]
        )
        grouped = (
            joined.select(
                table["ind"].alias("ind"),
                sf.when(table["ind"] == CLEAN, sf.lit(0)).otherwise(long["row"]).alias("r"),
                sf.when(table["ind"] != CLEAN, long["line"]).alias("line"),
            )
            .groupBy("ind", "r")
            .agg(sf.first("line", ignorenulls=True).alias("line"), sf.count(sf.lit(1)).alias("n"))
        )
        return scan_result([(r["ind"], r["r"], r["line"], r["n"]) for r in grouped.collect()])


def _resolve(types: dict[str, Any], name: str) -> list[tuple[str, Any]]:
    """Spark SQL expressions (and types) reaching ``name`` through columns and structs."""
    found: list[tuple[str, Any]] = []
    for keys in spellings(name):
        dtype = types.get(keys[0])
        if dtype is None:
            continue
        expr = _col(keys[0])
        for key in keys[1:]:
            if dtype.typeName() != "struct" or key not in dtype.fieldNames():
                break
            dtype = dtype[key].dataType
            expr = f"{expr}.{_col(key)}"
        else:
            found.append((expr, dtype))
    return found
