"""`kizuna collection`: TAXII collections and who may read and write them."""

from __future__ import annotations

import typer
from rich.table import Table

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.access.tlp import Tlp
from kizuna.cli.common import err, friendly, listing_console, ready_engine, settings
from kizuna.errors import InvalidInput
from kizuna.store import collections

app = typer.Typer(help="Manage collections.", no_args_is_help=True)


def _tlp(text: str) -> Tlp:
    try:
        return Tlp.parse(text)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


@app.command("add")
@friendly
def add(
    title: str = typer.Option(..., "--title"),
    description: str | None = typer.Option(None, "--description"),
    default_tlp: str = typer.Option(
        "AMBER", "--default-tlp", help="Decides access to unmarked objects: CLEAR..RED."
    ),
    public: bool = typer.Option(False, "--public", help="Anonymous requesters may read TLP:CLEAR."),
) -> None:
    """Add a collection; prints its id."""
    engine = ready_engine(settings())
    with engine.begin() as conn:
        collection_id = collections.add_collection(
            conn, title=title, description=description, default_tlp=_tlp(default_tlp), public=public
        )
    typer.echo(collection_id)


@app.command("grant")
@friendly
def grant(
    collection_id: str = typer.Option(..., "--collection", help="Collection id."),
    org: str | None = typer.Option(None, "--org", help="Organisation name or identity id."),
    role: Role | None = typer.Option(None, "--role", help="Or: every token of this role."),
    read: bool = typer.Option(True, "--read/--no-read"),
    write: bool = typer.Option(False, "--write/--no-write"),
) -> None:
    """Say which org (or role) may read and write a collection."""
    engine = ready_engine(settings())
    with engine.begin() as conn:
        org_id = service.find_org(conn, org).id if org else None
        collections.grant(
            conn, collection_id=collection_id, org_id=org_id, role=role, read=read, write=write
        )
    err.print(f"granted read={read} write={write} on {collection_id} to {org or role}")


@app.command("list")
@friendly
def list_() -> None:
    """List every collection (an operator's view: no TLP filtering applies to titles)."""
    engine = ready_engine(settings())
    with engine.connect() as conn:
        rows = collections.all_collections(conn)
    table = Table("id", "title", "default TLP", "public")
    for collection_id, title, tlp, public in rows:
        table.add_row(collection_id, title, tlp.label, str(public))
    listing_console(stderr=True).print(table)
