"""`kizuna pattern`: check STIX 2.1 patterns (evaluation arrives with the evaluator)."""

from __future__ import annotations

import typer

from kizuna.patterns import PatternError, parse, unparse

app = typer.Typer(help="Work with STIX 2.1 patterns.", no_args_is_help=True)


@app.command("check")
def check(pattern: str = typer.Argument(..., help="A STIX 2.1 pattern, quoted.")) -> None:
    """Parse a pattern; print its canonical form, or where and why it is invalid."""
    try:
        parsed = parse(pattern)
    except PatternError as exc:
        typer.echo(f"invalid pattern: {exc.message}", err=True)
        typer.echo(exc.caret(), err=True)
        raise typer.Exit(1) from None
    typer.echo(unparse(parsed))
