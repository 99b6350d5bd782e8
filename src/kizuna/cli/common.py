"""What every command needs: settings, an up-to-date database, and clean error output.

Commands that create a thing print its id (or token) alone on stdout; everything else goes
to stderr, so scripts can capture the id."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from kizuna.config import Settings
from kizuna.db.engine import make_engine
from kizuna.db.migrate import upgrade
from kizuna.errors import KizunaError

err = Console(stderr=True)
P = ParamSpec("P")
R = TypeVar("R")


def listing_console(*, stderr: bool = False, width: int = 240) -> Console:
    """A console for tables: the terminal's width, or, when output is piped or captured,
    wide enough that ids and timestamps stay whole (and scripts can find them)."""
    console = Console(stderr=stderr)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, width=max(console.width, width))


def settings() -> Settings:
    return Settings()


def ready_engine(config: Settings) -> Engine:
    """The node's database, migrated to the current schema."""
    engine = make_engine(config.resolved_database_url())
    upgrade(engine)
    return engine


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn kizuna's own errors into one clear line on stderr and exit status 1."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except KizunaError as exc:
            # Plain text, one line: user-supplied names must not be read as markup.
            message = " ".join(exc.message.split())
            typer.echo(f"error: {message}", err=True)
            raise typer.Exit(1) from None

    return wrapper
