"""`kizuna db`: schema migrations."""

from __future__ import annotations

import typer

from kizuna.cli.common import err, friendly, settings
from kizuna.db.engine import make_engine
from kizuna.db.migrate import current_revision
from kizuna.db.migrate import upgrade as run_upgrade

app = typer.Typer(help="Manage the node's database schema.", no_args_is_help=True)


@app.command("upgrade")
@friendly
def upgrade() -> None:
    """Migrate the database (KIZUNA_DATABASE_URL) to the current schema."""
    engine = make_engine(settings().resolved_database_url())
    run_upgrade(engine)
    err.print(f"database at revision {current_revision(engine)}")
