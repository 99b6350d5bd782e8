"""`kizuna pattern`: check a STIX 2.1 pattern, or match it against observations in a file."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer

from kizuna.errors import InvalidInput
from kizuna.patterns import PatternError, compile_pattern, observations_from_stix, parse, unparse

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


def _stix_objects(path: Path) -> Iterator[dict[str, Any]]:
    """Objects from a STIX bundle, a JSON list, or JSON lines (each a STIX object, a list or
    a bundle); gzipped files too."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    try:
        documents: list[Any] = [orjson.loads(data)]
    except orjson.JSONDecodeError:
        documents = []
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                documents.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"{path}, line {number}: not JSON ({exc})") from None
    for document in documents:
        items = (
            document.get("objects", [])
            if isinstance(document, dict) and document.get("type") == "bundle"
            else document
        )
        for item in items if isinstance(items, list) else [items]:
            if not isinstance(item, dict):
                raise InvalidInput(f"{path}: expected STIX objects, found {type(item).__name__}")
            yield item


@app.command("match")
def match(
    pattern: str = typer.Argument(..., help="A STIX 2.1 pattern, quoted."),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Bundle or JSON lines."),
) -> None:
    """Match a pattern against the observed-data (and SCOs) in FILE. Exit status: 0 when it
    matches, 1 when it does not, 2 on an error."""
    try:
        compiled = compile_pattern(pattern)
        observations = observations_from_stix(list(_stix_objects(file)))
        result = compiled.match(observations)
    except PatternError as exc:
        typer.echo(f"invalid pattern: {exc.message}", err=True)
        typer.echo(exc.caret(), err=True)
        raise typer.Exit(2) from None
    except InvalidInput as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    if result is None:
        typer.echo(f"no match among {len(observations)} observations", err=True)
        raise typer.Exit(1)
    typer.echo(result.explanation)
