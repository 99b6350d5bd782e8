"""`kizuna serve`: run the node's HTTP API (TAXII 2.1)."""

from __future__ import annotations

import typer
import uvicorn

from kizuna.api.app import create_app
from kizuna.cli.common import friendly, ready_engine, settings


@friendly
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8021, "--port"),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes; they share nothing but the database."
    ),
) -> None:
    """Serve TAXII 2.1 at http://HOST:PORT/taxii2/."""
    config = settings()
    ready_engine(config)
    if workers > 1:
        # Workers are stateless (signed cursors, no sessions): each builds its own app.
        uvicorn.run(
            "kizuna.api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            access_log=False,
        )
        return
    app = create_app(config, with_scheduler=config.sync_in_serve)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
