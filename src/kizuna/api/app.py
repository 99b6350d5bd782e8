"""The application factory: one node, its routes and its error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from kizuna import __version__
from kizuna.api import attribution, errors, hunts, incidents, peers
from kizuna.api.context import Node
from kizuna.config import Settings
from kizuna.db.engine import make_engine
from kizuna.db.migrate import current_revision, head_revision
from kizuna.errors import ConfigurationError
from kizuna.federation.scheduler import Scheduler
from kizuna.incidents.notify import duty_watcher
from kizuna.taxii.routes import router as taxii_router


def create_app(
    settings: Settings, *, node: Node | None = None, with_scheduler: bool = False
) -> FastAPI:
    """The node's application. ``with_scheduler``: run due peers' syncs in a background
    thread while the application runs (what `kizuna serve` asks for)."""
    if node is None:
        engine = make_engine(settings.resolved_database_url())
        if current_revision(engine) != head_revision(engine):
            raise ConfigurationError(
                "the database schema is not up to date: run `kizuna db upgrade` first"
            )
        node = Node(settings=settings, engine=engine, secret=settings.resolved_secret_key())
    engine = node.engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        duty = duty_watcher(engine, settings)
        scheduler = Scheduler(engine, settings, after_tick=duty) if with_scheduler else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await run_in_threadpool(scheduler.stop)

    app = FastAPI(
        title="kizuna",
        version=__version__,
        description="A sovereign kizuna node: STIX 2.1 over TAXII 2.1, under TLP 2.0.",
        redirect_slashes=True,
        lifespan=lifespan,
    )
    app.state.node = node
    errors.install(app)
    app.include_router(taxii_router)
    # REST hunts (not TAXII): jobs a previous process left unfinished never will finish.
    hunts.recover_interrupted(node.engine)
    app.state.hunt_runner = hunts.HuntRunner(node.engine, settings)
    app.include_router(hunts.router)
    app.include_router(peers.router)
    app.include_router(attribution.router)
    attribution.ensure_node_key(node)
    app.include_router(incidents.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "node": settings.node_name}

    return app


def app_from_environment() -> FastAPI:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from KIZUNA_*."""
    settings = Settings()
    return create_app(settings, with_scheduler=settings.sync_in_serve)
