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
) -> None:
    """Serve TAXII 2.1 at http://HOST:PORT/taxii2/."""
    config = settings()
    ready_engine(config)
    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
