"""`kizuna demo`: a demo node on SQLite with orgs, tokens, collections and realistic STIX."""

from __future__ import annotations

import typer


def demo() -> None:
    """Placeholder replaced below."""
    raise typer.Exit(1)
