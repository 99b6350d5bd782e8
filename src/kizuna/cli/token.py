"""`kizuna token`: API tokens (shown once, stored as a hash)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from rich.table import Table

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.cli.common import err, friendly, listing_console, ready_engine, settings
from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp

app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


def parse_expiry(text: str) -> int:
    """'30d', '12h', '90m' from now, or an RFC 3339 timestamp."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isascii() and text[:-1].isdigit() and text[-1] in units:
        try:
            delta = timedelta(**{units[text[-1]]: int(text[:-1])})
            return int((datetime.now(UTC) + delta).timestamp() * 1_000_000)
        except OverflowError:
            raise InvalidInput(f"--expires {text} lies beyond the calendar") from None
    try:
        return parse_timestamp(text)
    except InvalidInput:
        raise InvalidInput(
            f"--expires takes a duration like 30d, 12h, 90m or a timestamp, not {text!r}"
        ) from None


@app.command("create")
@friendly
def create(
    org: str = typer.Option(..., "--org", help="Organisation name or identity id."),
    role: Role = typer.Option(..., "--role", help="reader, analyst, admin or peer."),
    expires: str | None = typer.Option(None, "--expires", help="e.g. 30d or a timestamp."),
) -> None:
    """Create a token; prints only the token, which is never shown again."""
    engine = ready_engine(settings())
    expires_us = parse_expiry(expires) if expires else None
    with engine.begin() as conn:
        found = service.find_org(conn, org)
        secret = service.create_token(conn, org=found, role=role, expires_us=expires_us)
    typer.echo(secret)


@app.command("revoke")
@friendly
def revoke(
    token: str = typer.Argument(..., help="The token, or its prefix from `token list`."),
) -> None:
    """Revoke a token at once."""
    engine = ready_engine(settings())
    with engine.begin() as conn:
        count = service.revoke_token(conn, token=token)
    err.print(f"revoked {count} token(s)")


@app.command("list")
@friendly
def list_() -> None:
    """List tokens (prefixes only; secrets are never stored)."""
    engine = ready_engine(settings())
    with engine.connect() as conn:
        tokens = service.list_tokens(conn)
    now = now_micros()
    table = Table("prefix", "org", "role", "created", "expires", "state")
    for t in tokens:
        state = (
            "revoked"
            if t.revoked_us
            else "expired"
            if t.expires_us and t.expires_us <= now
            else "active"
        )
        table.add_row(
            t.prefix,
            t.org_name,
            t.role.value,
            format_timestamp(t.created_us),
            format_timestamp(t.expires_us) if t.expires_us else "never",
            state,
        )
    listing_console(stderr=True).print(table)
