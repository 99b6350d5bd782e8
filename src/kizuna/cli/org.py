"""`kizuna org`: the organisations that are members of this node (or stand for peers)."""

from __future__ import annotations

import re

import typer
from rich.table import Table

from kizuna.access import service
from kizuna.cli.common import friendly, listing_console, ready_engine, settings
from kizuna.errors import InvalidInput

_IDENTITY = re.compile(r"^identity--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
app = typer.Typer(help="Manage organisations.", no_args_is_help=True)


@app.command("add")
@friendly
def add(
    name: str = typer.Option(..., "--name", help="The organisation's name."),
    country: str = typer.Option(..., "--country", help="GB or JP (ISO 3166 alpha-2)."),
    sector: str | None = typer.Option(None, "--sector", help="Critical-infrastructure sector."),
    remote: bool = typer.Option(False, "--remote", help="The org stands for a peer node."),
    identity: str | None = typer.Option(
        None,
        "--identity",
        help="Its STIX identity id, when it has one already (e.g. on its own node), so that "
        "audiences naming it mean the same org on both nodes.",
    ),
) -> None:
    """Add an organisation; prints its STIX identity id."""
    if identity is not None and not _IDENTITY.match(identity):
        raise InvalidInput(f"{identity!r} is not a STIX identity id (identity--<uuid>)")
    engine = ready_engine(settings())
    with engine.begin() as conn:
        org = service.add_org(
            conn,
            name=name,
            country=country,
            sector=sector,
            remote=remote,
            identity_id=identity,
        )
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
    listing_console(stderr=True).print(table)
