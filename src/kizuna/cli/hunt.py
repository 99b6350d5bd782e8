"""`kizuna hunt`: hunt telemetry files for the indicators an organisation may read.

The CLI is an operator tool run on the node itself: it acts as the organisation named by
``--org`` (a local org) with the analyst role, exactly as that org's analyst token would
over TAXII. Which indicators are hunted is decided by the store's read path, so the TLP
rule holds: the org hunts only what it may read, and its sightings carry the indicator's
markings or stricter.
"""

from __future__ import annotations

import csv
import json
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.cli.common import err, friendly, ready_engine, settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput
from kizuna.hunt.engine import EmbeddedEngine, HuntEvent, HuntIndicator, Match
from kizuna.hunt.readers import Event, FieldMapping, ReadStats, read_events
from kizuna.hunt.sightings import readable_indicators, sightings_for, store_sightings
from kizuna.stix.timestamps import format_timestamp, parse_timestamp

_NO_TIME = -(2**63)
_PROGRESS_EVERY = 1000


def _parse_since(text: str) -> int:
    """'7d', '12h', '90m' ago, or an RFC 3339 timestamp."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isascii() and text[:-1].isdigit() and text[-1:] in units:
        try:
            delta = timedelta(**{units[text[-1]]: int(text[:-1])})
            return int((datetime.now(UTC) - delta).timestamp() * 1_000_000)
        except OverflowError:
            raise InvalidInput(f"--since {text} lies beyond the calendar") from None
    try:
        return parse_timestamp(text)
    except InvalidInput:
        raise InvalidInput(
            f"--since takes a duration like 7d, 12h, 90m or a timestamp, not {text!r}"
        ) from None


@dataclass
class _Index:
    """Where each event row came from, compactly: file, line and time per row."""

    files: list[Path]
    file_of: array[int]
    line_of: array[int]
    time_of: array[int]

    def add(self, file_index: int, event: Event) -> int:
        row = len(self.line_of)
        self.file_of.append(file_index)
        self.line_of.append(event.line)
        self.time_of.append(_NO_TIME if event.timestamp_us is None else event.timestamp_us)
        return row


def _merge(into: dict[str, Match], found: Sequence[Match]) -> None:
    for m in found:
        held = into.get(m.indicator_id)
        if held is None:
            into[m.indicator_id] = m
            continue
        firsts = [t for t in (held.first_seen_us, m.first_seen_us) if t is not None]
        lasts = [t for t in (held.last_seen_us, m.last_seen_us) if t is not None]
        into[m.indicator_id] = Match(
            indicator_id=m.indicator_id,
            rows=held.rows + m.rows,
            first_seen_us=min(firsts) if firsts else None,
            last_seen_us=max(lasts) if lasts else None,
            count=held.count + m.count,
        )


def _time(us: int | None) -> str:
    return format_timestamp(us) if us is not None else ""


def _report_records(
    matches: dict[str, Match], names: dict[str, str], index: _Index
) -> list[dict[str, Any]]:
    """One record per indicator and source file."""
    records: list[dict[str, Any]] = []
    for indicator_id, m in matches.items():
        per_file: dict[int, list[int]] = {}
        for row in m.rows:
            per_file.setdefault(index.file_of[row], []).append(row)
        for file_index, rows in per_file.items():
            times = [index.time_of[r] for r in rows if index.time_of[r] != _NO_TIME]
            records.append(
                {
                    "indicator_id": indicator_id,
                    "name": names.get(indicator_id, ""),
                    "source": str(index.files[file_index]),
                    "rows": [index.line_of[r] for r in rows],
                    "count": len(rows),
                    "first_seen": _time(min(times)) if times else None,
                    "last_seen": _time(max(times)) if times else None,
                }
            )
    return records


def _write_report(path: Path, records: list[dict[str, Any]]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["indicator_id", "name", "source", "rows", "count", "first_seen", "last_seen"]
        )
        for r in records:
            writer.writerow(
                [
                    r["indicator_id"],
                    r["name"],
                    r["source"],
                    " ".join(str(n) for n in r["rows"]),
                    r["count"],
                    r["first_seen"] or "",
                    r["last_seen"] or "",
                ]
            )


def _matched_events(
    files: Sequence[Path],
    wanted: set[int],
    *,
    format: str | None,
    mapping: FieldMapping | None,
) -> dict[int, Event]:
    """Read the files again and keep the events of the matched rows (rows are handed out in
    the same order, so they line up with the first pass)."""
    kept: dict[int, Event] = {}
    row = 0
    for path in files:
        for event in read_events(path, format=format, mapping=mapping, stats=ReadStats()):
            if row in wanted:
                kept[row] = event
            row += 1
    return kept


@friendly
def hunt(
    files: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, help="Telemetry files (JSON lines/ECS, CSV, Zeek, ...)."
    ),
    org: str = typer.Option(
        ..., "--org", help="Hunt as this local organisation (name or identity id)."
    ),
    collection: list[str] | None = typer.Option(
        None, "--collection", help="Collection to take indicators from (repeatable; default all)."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only indicators added since: a timestamp, or e.g. 7d, 12h."
    ),
    engine_name: str = typer.Option("embedded", "--engine", help="Hunt engine: embedded."),
    format: str | None = typer.Option(
        None, "--format", help="jsonl, csv, zeek, stix or parquet (default: detected)."
    ),
    mapping_file: Path | None = typer.Option(
        None, "--mapping", exists=True, dir_okay=False, help="Field mapping (JSON)."
    ),
    store_into: str | None = typer.Option(
        None, "--store-into", help="Store the sightings in this collection."
    ),
    report: Path | None = typer.Option(
        None, "--report", dir_okay=False, help="Write the matches to a .csv or .json file."
    ),
    share_sightings: bool = typer.Option(
        False, "--share-sightings", help="Send sightings back to the producers (not yet)."
    ),
) -> None:
    """Hunt FILES for the indicators ORG may read; summarise, report and store sightings.

    Acts as ORG with the analyst role: the CLI is an operator tool on the node itself."""
    if engine_name == "spark":
        raise InvalidInput("the Spark engine is not available yet")
    if engine_name != "embedded":
        raise InvalidInput(f"unknown engine {engine_name!r}; use embedded")
    if share_sightings:
        raise InvalidInput("sharing back to producers arrives with federation (issue 5)")
    if report is not None and report.suffix.lower() not in (".csv", ".json"):
        raise InvalidInput(f"--report must name a .csv or .json file, not {report.name!r}")
    since_us = _parse_since(since) if since is not None else None
    mapping = FieldMapping.load(mapping_file) if mapping_file is not None else None

    db = ready_engine(settings())
    with read_transaction(db) as conn:
        found = service.find_org(conn, org)
        if found.remote:
            raise InvalidInput(f"{found.name} is a remote organisation; hunt acts as a local one")
        subject = Subject(org_id=found.id, identity_id=found.identity_id, role=Role.ANALYST)
        readable = readable_indicators(
            conn, subject=subject, collection_ids=collection or None, since_us=since_us
        )
    indicators: list[HuntIndicator] = [i for i, _obj in readable]
    bodies = {i.indicator_id: obj for i, obj in readable}
    names = {k: str(v.get("name", "")) for k, v in bodies.items()}
    err.print(f"hunting {len(indicators)} indicator(s) readable by {escape(found.name)}")

    stats = ReadStats()
    index = _Index(list(files), array("q"), array("q"), array("q"))
    matches: dict[str, Match] = {}
    invalid: set[str] = set()
    runner = EmbeddedEngine()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f} events"),
        TextColumn("{task.fields[matches]} matching events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("reading", total=None, matches=0)

        def wrapped(file_index: int, events: Iterator[Event]) -> Iterator[HuntEvent]:
            pending = 0
            for event in events:
                row = index.add(file_index, event)
                yield HuntEvent(row=row, timestamp_us=event.timestamp_us, scos=event.scos)
                pending += 1
                if pending == _PROGRESS_EVERY:
                    progress.advance(task, pending)
                    pending = 0
            progress.advance(task, pending)

        for file_index, path in enumerate(files):
            progress.update(task, description=escape(path.name))
            events = read_events(path, format=format, mapping=mapping, stats=stats)
            result = runner.hunt(indicators, wrapped(file_index, events))
            _merge(matches, result.matches)
            invalid.update(result.invalid_indicators)
            progress.update(
                task, matches=sum(m.count for m in matches.values()), description="read"
            )

    if stats.bad:
        err.print(f"skipped {stats.bad} bad input line(s), for example:")
        for example in stats.bad_examples:
            err.print(f"  {escape(example)}", soft_wrap=True)
    if invalid:
        err.print(f"{len(invalid)} indicator pattern(s) could not be used: skipped")

    out = Console()
    if not out.is_terminal:
        # Piped or captured: wide enough that ids and timestamps stay whole.
        out = Console(width=max(out.width, 180))
    table = Table("indicator", "name", "count", "first seen", "last seen", title="Hunt matches")
    table.columns[0].overflow = "fold"
    for column in table.columns[3:]:
        column.no_wrap = True
    for m in matches.values():
        table.add_row(
            m.indicator_id,
            escape(names.get(m.indicator_id, "")),
            str(m.count),
            _time(m.first_seen_us),
            _time(m.last_seen_us),
        )
    out.print(table)
    err.print(
        f"{len(index.line_of)} event(s) read, {len(matches)} indicator(s) matched "
        f"{sum(m.count for m in matches.values())} event(s)"
    )

    if report is not None:
        _write_report(report, _report_records(matches, names, index))
        err.print(f"report written to {escape(str(report))}")

    if store_into is not None:
        if not matches:
            err.print("nothing to store")
            return
        wanted = {row for m in matches.values() for row in m.rows}
        events_by_row = _matched_events(files, wanted, format=format, mapping=mapping)
        objects: list[object] = []
        for m in matches.values():
            objects += sightings_for(
                m,
                indicator=bodies[m.indicator_id],
                hunter_identity_id=found.identity_id,
                events=events_by_row,
            )
        with write_transaction(db) as conn:
            outcomes = store_sightings(
                conn, subject=subject, collection_id=store_into, objects=objects
            )
        stored: dict[str, int] = {}
        failed = [o for o in outcomes if not o.ok]
        for o in outcomes:
            if o.ok:
                kind = o.id.split("--", 1)[0]
                stored[kind] = stored.get(kind, 0) + 1
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(stored.items()))
        err.print(f"stored into {escape(store_into)}: {summary or 'nothing'}")
        if failed:
            err.print(f"{len(failed)} object(s) refused, for example:")
            for o in failed[:5]:
                err.print(f"  {escape(o.id)}: {escape(o.message)}", soft_wrap=True)
            raise typer.Exit(1)
