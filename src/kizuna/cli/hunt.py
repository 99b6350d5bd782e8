"""`kizuna hunt`: hunt telemetry files for the indicators an organisation may read.

The CLI is an operator tool run on the node itself: it acts as the organisation named by
``--org`` (a local org) with the analyst role, exactly as that org's analyst token would
over TAXII. Which indicators are hunted is decided by the store's read path, so the TLP
rule holds: the org hunts only what it may read, and its sightings carry the indicator's
markings or stricter.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.cli.common import err, friendly, listing_console, ready_engine, settings
from kizuna.db.engine import read_transaction
from kizuna.errors import InvalidInput
from kizuna.hunt.columnar import FileProgress
from kizuna.hunt.readers import FieldMapping
from kizuna.hunt.run import (
    HuntRequest,
    check_options,
    check_request,
    parse_since,
    records_csv,
    run_hunt,
)
from kizuna.stix.timestamps import format_timestamp


def _time(us: int | None) -> str:
    return format_timestamp(us) if us is not None else ""


def _write_report(path: Path, records: list[dict[str, object]]) -> None:
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(records_csv(records))


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
    engine_name: str = typer.Option(
        "embedded", "--engine", help="Hunt engine: embedded (DuckDB, in process) or spark."
    ),
    spark_master: str | None = typer.Option(
        None, "--spark-master", help="Spark master URL for --engine spark (default: local)."
    ),
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
        False,
        "--share-sightings",
        help="Let each indicator's producer read its sighting; push it now to a peer producer.",
    ),
) -> None:
    """Hunt FILES for the indicators ORG may read; summarise, report and store sightings.

    Acts as ORG with the analyst role: the CLI is an operator tool on the node itself."""
    if report is not None and report.suffix.lower() not in (".csv", ".json"):
        raise InvalidInput(f"--report must name a .csv or .json file, not {report.name!r}")
    request = HuntRequest(
        files=list(files),
        collection_ids=collection or None,
        since_us=parse_since(since) if since is not None else None,
        engine=engine_name,
        spark_master=spark_master,
        format=format,
        mapping=FieldMapping.load(mapping_file) if mapping_file is not None else None,
        store_into=store_into,
        share_sightings=share_sightings,
    )

    check_options(request)

    config = settings()
    db = ready_engine(config)
    with read_transaction(db) as conn:
        found = service.find_org(conn, org)
        if found.remote:
            raise InvalidInput(f"{found.name} is a remote organisation; hunt acts as a local one")
        subject = Subject(org_id=found.id, identity_id=found.identity_id, role=Role.ANALYST)
        check_request(conn, subject=subject, request=request)

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} files"),
        TextColumn("{task.fields[events]:,} events"),
        TextColumn("{task.fields[matches]:,} matching events"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task("reading", total=len(files), events=0, matches=0)

        def announce(count: int) -> None:
            err.print(f"hunting {count} indicator(s) readable by {escape(found.name)}")

        seen = {"events": 0, "matches": 0}

        def advance(done: FileProgress) -> None:
            seen["events"] += done.events
            seen["matches"] = done.matching_events  # so far, over every file
            bar.update(task, advance=1, description=escape(done.name))
            bar.update(task, events=seen["events"], matches=seen["matches"])

        outcome = run_hunt(db, subject, request, advance, announce=announce, settings=config)
        bar.update(task, description="read")

    stats = outcome.stats
    if stats.bad:
        err.print(f"skipped {stats.bad} bad input line(s), for example:")
        for example in stats.bad_examples:
            err.print(f"  {escape(example)}", soft_wrap=True)
    if outcome.invalid_indicators:
        err.print(
            f"{len(outcome.invalid_indicators)} indicator pattern(s) could not be used: skipped"
        )

    out = listing_console(width=180)
    table = Table("indicator", "name", "count", "first seen", "last seen", title="Hunt matches")
    table.columns[0].overflow = "fold"
    for column in table.columns[3:]:
        column.no_wrap = True
    for m in outcome.matches:
        table.add_row(
            m.indicator_id,
            escape(outcome.names.get(m.indicator_id, "")),
            str(m.count),
            _time(m.first_seen_us),
            _time(m.last_seen_us),
        )
    out.print(table)
    err.print(
        f"{stats.events} event(s) read, {len(outcome.matches)} indicator(s) matched "
        f"{outcome.matching_events} event(s)"
    )

    if report is not None:
        _write_report(report, outcome.records)
        err.print(f"report written to {escape(str(report))}")

    if store_into is not None:
        if not outcome.matches:
            err.print("nothing to store")
            return
        summary = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.stored.items()))
        err.print(f"stored into {escape(store_into)}: {summary or 'nothing'}")
        for indicator_id, how in outcome.shared.items():
            err.print(f"  {escape(indicator_id)}: {escape(how)}", soft_wrap=True)
        if outcome.refused:
            err.print(f"{len(outcome.refused)} object(s) refused, for example:")
            for o in outcome.refused[:5]:
                err.print(f"  {escape(o.id)}: {escape(o.message)}", soft_wrap=True)
            raise typer.Exit(1)
