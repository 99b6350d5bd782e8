"""`kizuna`: the node's command line."""

from __future__ import annotations

import logging

import typer

from kizuna.cli import (
    attribution,
    audit,
    collection,
    db,
    demo,
    hunt,
    incident,
    org,
    pattern,
    peer,
    serve,
    token,
)

app = typer.Typer(
    help="kizuna: a sovereign node sharing STIX 2.1 over TAXII 2.1 under TLP 2.0.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(org.app, name="org")
app.add_typer(token.app, name="token")
app.add_typer(collection.app, name="collection")
app.add_typer(db.app, name="db")
app.add_typer(pattern.app, name="pattern")
app.add_typer(peer.app, name="peer")
app.add_typer(audit.app, name="audit")
app.add_typer(attribution.app, name="attribution")
app.add_typer(attribution.node_key, name="node-key")
app.add_typer(attribution.campaign, name="campaign")
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)
app.command("hunt")(hunt.hunt)
app.command("sync")(peer.sync)
app.add_typer(incident.app, name="incident")
app.add_typer(incident.assist, name="assist")
app.add_typer(incident.notify_app, name="notify")


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for quiet in ("alembic", "httpx", "httpcore"):
            logging.getLogger(quiet).setLevel(logging.WARNING)
