"""The application factory: one node, its routes and its error mapping."""

from __future__ import annotations

from fastapi import FastAPI

from kizuna import __version__
from kizuna.api import errors
from kizuna.api.context import Node
from kizuna.config import Settings
from kizuna.db.engine import make_engine
from kizuna.db.migrate import current_revision, head_revision
from kizuna.errors import ConfigurationError
from kizuna.taxii.routes import router as taxii_router


def create_app(settings: Settings, *, node: Node | None = None) -> FastAPI:
    if node is None:
        engine = make_engine(settings.resolved_database_url())
        if current_revision(engine) != head_revision(engine):
            raise ConfigurationError(
                "the database schema is not up to date: run `kizuna db upgrade` first"
            )
        node = Node(settings=settings, engine=engine, secret=settings.resolved_secret_key())
    app = FastAPI(
        title="kizuna",
        version=__version__,
        description="A sovereign kizuna node: STIX 2.1 over TAXII 2.1, under TLP 2.0.",
        redirect_slashes=True,
    )
    app.state.node = node
    errors.install(app)
    app.include_router(taxii_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "node": settings.node_name}

    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from KIZUNA_*."""
    return create_app(Settings())
