"""REST view of federation under ``/api/v1/peers`` (operators only): each peer's flows, their
cursors and counts, the push backlog, the last success and error, and a way to ask for a run
now. Tokens are never shown. Needs the admin role of a local (non-remote) organisation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import Connection, update

from kizuna.access.subject import Role, Subject
from kizuna.api.context import Node, node, subject
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, Unauthenticated
from kizuna.federation import peers as registry
from kizuna.federation.models import peers as peers_table
from kizuna.federation.sync import push_backlog
from kizuna.stix.timestamps import format_timestamp, now_micros

router = APIRouter(prefix="/api/v1/peers", tags=["federation"])


def _operator(who: Subject) -> None:
    if who.anonymous:
        raise Unauthenticated("this needs a token")
    if who.external or who.role is not Role.ADMIN:
        raise Forbidden("only an admin of a local organisation may see peers")


def _time(us: int | None) -> str | None:
    return format_timestamp(us) if us is not None else None


def _view(conn: Connection, peer: registry.Peer, now: int) -> dict[str, Any]:
    flows: list[dict[str, Any]] = []
    for link in peer.links:
        flow: dict[str, Any] = {
            "direction": link.direction,
            "remote_collection": link.remote_collection,
            "local_collection": link.local_collection,
            "moved": link.moved,
            "refused": link.rejected,
            "last_success": _time(link.last_success_us),
            "last_error": link.last_error,
        }
        if link.direction == registry.PULL:
            flow["cursor"] = link.cursor  # the peer's date_added, as it gave it
        else:
            flow["cursor"] = _time(int(link.cursor)) if link.cursor else None
            flow["backlog"] = push_backlog(conn, peer, link)
        flows.append(flow)
    last = peer.last_success_us
    return {
        "name": peer.name,
        "url": peer.url,
        "org": {"name": peer.org.name, "identity_id": peer.org.identity_id},
        "interval_seconds": peer.interval_s,
        "last_run": _time(peer.last_run_us),
        "last_success": _time(last),
        "lag_seconds": None if last is None else round((now - last) / 1_000_000, 3),
        "consecutive_failures": peer.failures,
        "next_run": _time(peer.next_run_us) if peer.next_run_us else None,
        "last_error": peer.last_error,
        "flows": flows,
    }


@router.get("")
def list_peers(
    who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, list[dict[str, Any]]]:
    _operator(who)
    now = now_micros()
    with read_transaction(here.engine) as conn:
        return {"peers": [_view(conn, p, now) for p in registry.list_peers(conn)]}


@router.get("/{name}")
def get_peer(name: str, who: Subject = Depends(subject), here: Node = Depends(node)) -> Any:
    _operator(who)
    with read_transaction(here.engine) as conn:
        return _view(conn, registry.get_peer(conn, name), now_micros())


@router.post("/{name}/sync", status_code=202)
def sync_soon(name: str, who: Subject = Depends(subject), here: Node = Depends(node)) -> Any:
    """Make the peer due now: the node's scheduler runs it within a second or so."""
    _operator(who)
    with write_transaction(here.engine) as conn:
        peer = registry.get_peer(conn, name)
        conn.execute(update(peers_table).where(peers_table.c.id == peer.id).values(next_run_us=0))
        return _view(conn, registry.get_peer(conn, name), now_micros())
