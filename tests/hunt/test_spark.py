"""The Spark engine gives the same matches and the same read stats as the embedded one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.hunt.test_columnar import (
    HASHES,
    INDICATORS,
    ODD_LINES,
    _records,
    _write_csv,
    _write_jsonl,
    _write_parquet,
)

from kizuna.hunt.columnar import ColumnarReport, hunt_files
from kizuna.hunt.engine import HuntIndicator
from kizuna.hunt.readers import ReadStats

pytest.importorskip("pyspark")

MIX = [
    *INDICATORS,
    HuntIndicator("and-like", "[domain-name:value = 'a.example' AND domain-name:value LIKE 'a%']"),
    HuntIndicator("hash-in", f"[file:hashes.'SHA-256' IN ('{HASHES[0]}', '{HASHES[2]}')]"),
    HuntIndicator("url", "[url:value = 'http://c.example/2']"),
    HuntIndicator("port-443", "[network-traffic:dst_port = 443]"),
]


@pytest.fixture(scope="module")
def spark() -> Any:
    """One local Spark session for the module (it is reused by every hunt in the process)."""
    from kizuna.hunt.spark import session

    return session("local[2]")


def _both(paths: list[Path]) -> tuple[ColumnarReport, ReadStats, ColumnarReport, ReadStats]:
    embedded_stats, spark_stats = ReadStats(), ReadStats()
    embedded = hunt_files(MIX, paths, stats=embedded_stats)
    on_spark = hunt_files(MIX, paths, engine="spark", spark_master="local[2]", stats=spark_stats)
    return embedded, embedded_stats, on_spark, spark_stats


def _same(paths: list[Path]) -> None:
    embedded, embedded_stats, on_spark, spark_stats = _both(paths)
    assert on_spark.matches == embedded.matches
    assert on_spark.file_matches == embedded.file_matches
    assert on_spark.events == embedded.events
    assert on_spark.invalid_indicators == embedded.invalid_indicators
    assert spark_stats == embedded_stats
    assert embedded.matches
    assert on_spark.candidate_pairs > 0  # the candidate stage ran on Spark


def test_same_results_on_every_format(spark: Any, tmp_path: Path) -> None:
    records = _records(seed=11, count=300)
    rng = random.Random(5)
    lines = [orjson.dumps(r) for r in records]
    for line in ODD_LINES:
        lines.insert(rng.randrange(len(lines) + 1), line)
    odd = tmp_path / "odd.jsonl"
    odd.write_bytes(b"\r\n".join(lines) + b"\r\n")
    paths = [
        odd,
        _write_jsonl(tmp_path / "events.jsonl.gz", records, gz=True),
        _write_csv(tmp_path / "events.csv", records),
        _write_parquet(tmp_path / "events.parquet", records, tmp_path),
    ]
    _same(paths)


def test_same_results_on_random_events(spark: Any, tmp_path: Path) -> None:
    rng = random.Random(23)
    paths = []
    for n in range(3):
        records = _records(seed=rng.randrange(1 << 30), count=rng.randrange(50, 400))
        paths.append(_write_jsonl(tmp_path / f"r{n}.jsonl", records))
    paths.append(_write_csv(tmp_path / "bad.csv", _records(seed=4, count=20)))
    with (tmp_path / "bad.csv").open("a") as handle:
        handle.write("only-one-cell\n")  # a short row: the Python path on both engines
    _same(paths)


def test_missing_pyspark_is_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    from kizuna.errors import InvalidInput
    from kizuna.hunt import spark as spark_module

    real = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyspark"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(InvalidInput, match=r"pip install 'kizuna\[spark\]'"):
        spark_module.session("local[1]")


def test_files_an_engine_reads_otherwise_take_the_readers_view(spark: Any, tmp_path: Path) -> None:
    """A MAP column and a repeated CSV header name go to the Python path on Spark too."""
    import duckdb

    mapped = tmp_path / "map.parquet"
    duckdb.sql(
        "SELECT * FROM (VALUES (MAP {'ip': '10.0.0.1'}, MAP {'port': '80'})) t(source, destination)"
    ).write_parquet(str(mapped))
    twice = tmp_path / "twice.csv"
    twice.write_text("source.ip,source.ip,x\n10.0.0.2,10.0.0.1,a\n")
    indicators = [HuntIndicator("ip", "[ipv4-addr:value = '10.0.0.1']")]
    for path in (mapped, twice):
        on_spark = hunt_files(indicators, [path], engine="spark", spark_master="local[2]")
        assert [(m.indicator_id, m.rows) for m in on_spark.matches] == [
            ("ip", (1 if path == mapped else 2,))
        ]
