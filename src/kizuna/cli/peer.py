"""`kizuna peer` and `kizuna sync`: other nodes, what flows to and from them, and syncing."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import typer
from rich.markup import escape
from rich.table import Table

from kizuna.cli.common import err, friendly, listing_console, ready_engine, settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput
from kizuna.federation import peers as registry
from kizuna.federation.client import PeerError
from kizuna.federation.scheduler import Scheduler
from kizuna.federation.sync import PAGE, SyncResult, client_for, push_backlog, sync_peer
from kizuna.stix.timestamps import format_timestamp, now_micros

app = typer.Typer(help="Manage peers (other nodes or TAXII 2.1 servers).", no_args_is_help=True)
log = logging.getLogger("kizuna.federation")


@app.command("add")
@friendly
def add(
    name: str = typer.Option(..., "--name", help="A short name for the peer, e.g. jp-node."),
    url: str = typer.Option(..., "--url", help="The peer's TAXII 2.1 discovery (or API root) URL."),
    token: str = typer.Option(
        ..., "--token", help="The token (or password) the peer gave this node."
    ),
    org: str = typer.Option(
        ..., "--org", help="The remote organisation that stands for the peer here."
    ),
    pull: list[str] | None = typer.Option(
        None, "--pull", help="REMOTE_COLLECTION=LOCAL_COLLECTION (repeatable)."
    ),
    push: list[str] | None = typer.Option(
        None, "--push", help="LOCAL_COLLECTION=REMOTE_COLLECTION (repeatable)."
    ),
    username: str | None = typer.Option(
        None, "--username", help="Use HTTP Basic with this user and the token as password."
    ),
    interval: int = typer.Option(300, "--interval", help="Seconds between syncs in serve."),
) -> None:
    """Add a peer; prints its name. Pushed collections are granted to the peer's org for
    reading: what that org may read there under TLP is exactly what leaves this node."""
    config = settings()
    engine = ready_engine(config)
    with write_transaction(engine) as conn:
        peer = registry.add_peer(
            conn,
            secret_key=config.resolved_secret_key(),
            name=name,
            url=url,
            token=token,
            org=org,
            pulls=[registry.parse_flow(p) for p in pull or []],
            pushes=[registry.parse_flow(p) for p in push or []],
            username=username,
            interval_s=interval,
        )
    typer.echo(peer.name)


def _ago(us: int | None, now: int) -> str:
    if us is None:
        return "never"
    seconds = max(0, (now - us) // 1_000_000)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


@app.command("list")
@friendly
def list_() -> None:
    """Peers, their flows, cursors, counts, lag and last errors."""
    engine = ready_engine(settings())
    now = now_micros()
    table = Table(
        "peer", "flow", "cursor", "moved", "refused", "backlog", "last success", "last error"
    )
    for column in table.columns:
        column.overflow = "fold"
    with read_transaction(engine) as conn:
        for peer in registry.list_peers(conn):
            for link in peer.links:
                if link.direction == registry.PULL:
                    flow = f"pull {link.remote_collection} -> {link.local_collection}"
                    backlog = "-"
                    cursor = link.cursor or "(start)"
                else:
                    flow = f"push {link.local_collection} -> {link.remote_collection}"
                    backlog = str(push_backlog(conn, peer, link))
                    cursor = format_timestamp(int(link.cursor)) if link.cursor else "(start)"
                table.add_row(
                    escape(f"{peer.name} ({peer.org.name})"),
                    escape(flow),
                    cursor,
                    str(link.moved),
                    str(link.rejected),
                    backlog,
                    _ago(link.last_success_us, now),
                    escape(link.last_error or peer.last_error or ""),
                )
    listing_console(width=320).print(table)


@app.command("remove")
@friendly
def remove(name: str = typer.Argument(..., help="The peer's name.")) -> None:
    """Forget a peer and its flows (what it brought stays)."""
    engine = ready_engine(settings())
    with write_transaction(engine) as conn:
        registry.remove_peer(conn, name)
    err.print(f"removed peer {escape(name)}")


@app.command("test")
@friendly
def check(name: str = typer.Argument(..., help="The peer's name.")) -> None:
    """Reach the peer with its token and check that every flow's remote collection exists
    and allows what the flow needs."""
    config = settings()
    engine = ready_engine(config)
    with read_transaction(engine) as conn:
        peer = registry.get_peer(conn, name)
    try:
        with client_for(peer, config, retries=1) as client:
            root = client.api_root()
            found = {c.id: c for c in client.collections(root)}
    except PeerError as exc:
        raise InvalidInput(f"peer {name}: {exc}") from None
    err.print(f"peer {escape(name)}: API root {escape(root)}, {len(found)} collection(s)")
    problems = 0
    for link in peer.links:
        info = found.get(link.remote_collection)
        need = "read" if link.direction == registry.PULL else "write"
        if info is None:
            verdict = "missing (or not visible to this token)"
        elif (need == "read" and not info.can_read) or (need == "write" and not info.can_write):
            verdict = f"visible, but this token may not {need} it"
        else:
            err.print(f"  {link.direction} {escape(link.remote_collection)}: ok ({need})")
            continue
        problems += 1
        err.print(f"  {link.direction} {escape(link.remote_collection)}: {verdict}")
    if problems:
        raise typer.Exit(1)


def _summary(result: SyncResult) -> None:
    if result.skipped:
        err.print(f"peer {escape(result.peer)}: skipped ({result.skipped})")
        return
    for link in result.links:
        where = (
            f"{link.remote_collection} -> {link.local_collection}"
            if link.direction == registry.PULL
            else f"{link.local_collection} -> {link.remote_collection}"
        )
        text = (
            f"peer {escape(result.peer)}: {link.direction} {escape(where)}: "
            f"{link.moved} moved, {link.already} already there, {link.rejected} refused"
        )
        if link.held_back:
            text += f", {link.held_back} held back (came from this peer)"
        if link.error:
            text += f"; error: {escape(link.error)}"
        err.print(text)
    err.print(
        f"peer {escape(result.peer)}: {'ok' if result.ok else 'FAILED'} in {result.seconds:.2f}s"
    )


@friendly
def sync(
    peer: list[str] | None = typer.Option(None, "--peer", help="Only this peer (repeatable)."),
    once: bool = typer.Option(
        False, "--once", help="One run of each peer, then exit (default: keep syncing)."
    ),
    page_size: int = typer.Option(
        PAGE, "--page-size", min=1, max=10000, help="Objects per page pulled or envelope pushed."
    ),
) -> None:
    """Sync with peers: pull and push every flow. With --once, exit 1 if any run failed."""
    config = settings()
    engine = ready_engine(config)
    with read_transaction(engine) as conn:
        known = [p.name for p in registry.list_peers(conn)]
    chosen = peer or known
    for name in chosen:
        if name not in known:
            raise InvalidInput(f"no peer named {name}")
    if not chosen:
        err.print("no peers configured (kizuna peer add)")
        return
    if once:
        results = [sync_peer(engine, config, name, page_size=page_size) for name in chosen]
        for result in results:
            _summary(result)
        if not all(r.ok or r.skipped for r in results):
            raise typer.Exit(1)
        return
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    scheduler = Scheduler(
        engine, config, names=set(chosen), on_result=_summary, page_size=page_size
    )
    err.print(f"syncing {len(chosen)} peer(s); Ctrl-C stops")
    while not stop.is_set():
        scheduler.tick()
        stop.wait(1.0)
