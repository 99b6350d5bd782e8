"""`kizuna org`: the organisations that are members of this node (or stand for peers)."""

from __future__ import annotations

import typer
from rich.table import Table

from kizuna.access import service
from kizuna.cli.common import err, friendly, ready_engine, settings

app = typer.Typer(help="Manage organisations.", no_args_is_help=True)


@app.command("add")
@friendly
def add(
    name: str = typer.Option(..., "--name", help="The organisation's name."),
    country: str = typer.Option(..., "--country", help="GB or JP (ISO 3166 alpha-2)."),
    sector: str | None = typer.Option(None, "--sector", help="Critical-infrastructure sector."),
    remote: bool = typer.Option(False, "--remote", help="The org stands for a peer node."),
) -> None:
    """Add an organisation; prints its STIX identity id."""
    engine = ready_engine(settings())
    with engine.begin() as conn:
        org = service.add_org(conn, name=name, country=country, sector=sector, remote=remote)
    typer.echo(org.identity_id)


@app.command("list")
@friendly
def list_() -> None:
    """List the organisations."""
    engine = ready_engine(settings())
    with engine.connect() as conn:
        orgs = service.list_orgs(conn)
    table = Table("name", "identity", "country", "sector", "remote")
    for org in orgs:
        table.add_row(org.name, org.identity_id, org.country, org.sector or "", str(org.remote))
    err.print(table)
