"""`kizuna audit`: read and verify the node's audit log (an operator's view)."""

from __future__ import annotations

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from kizuna.audit.log import entries, verify
from kizuna.cli.common import err, friendly, listing_console, ready_engine, settings
from kizuna.db.engine import read_transaction

app = typer.Typer(help="Read and verify the audit log.", no_args_is_help=True)


@app.command("show")
@friendly
def show(
    about: str | None = typer.Option(None, "--id", help="Only entries about this STIX id."),
    limit: int = typer.Option(200, "--limit", min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json", help="JSON lines on stdout."),
) -> None:
    """Audit entries, oldest first: when, who, what, about which object."""
    engine = ready_engine(settings())
    with read_transaction(engine) as conn:
        found = entries(conn, subject_id=about, limit=limit)
    if as_json:
        for e in found:
            line = {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "action": e.action,
                "id": e.subject_id,
                "details": e.details,
                "hash": e.hash,
            }
            typer.echo(orjson.dumps(line).decode())
        return
    table = Table("seq", "at", "actor", "action", "id", "details")
    for column in table.columns:
        column.overflow = "fold"
    for e in found:
        table.add_row(
            str(e.seq),
            e.at,
            e.actor,
            e.action,
            e.subject_id or "",
            escape(orjson.dumps(e.details).decode()),
        )
    listing_console(width=320).print(table)


@app.command("verify")
@friendly
def check() -> None:
    """Walk the hash chain; exit 1 naming the first entry that was changed or removed."""
    engine = ready_engine(settings())
    with read_transaction(engine) as conn:
        broken = verify(conn)
    if broken is not None:
        err.print(f"the audit chain breaks at entry {broken}: an entry was changed or removed")
        raise typer.Exit(1)
    err.print("the audit chain is whole")
