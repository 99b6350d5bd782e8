"""Peers: the other nodes (or TAXII 2.1 servers) this node syncs with, and what flows where.

A peer is represented here by a *remote* org (``kizuna org add --remote``): objects pulled
from the peer are stored as that org's, and what may be pushed to it is exactly what that org
may read (:func:`peer_subject` and the access module decide, nothing here). The token the peer
gave us is sealed with the node's secret key (:mod:`kizuna.federation.secrets`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, delete, insert, select

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.federation.models import deliveries, peer_links, peers
from kizuna.federation.secrets import seal, unseal
from kizuna.stix.timestamps import now_micros
from kizuna.store.collections import grant
from kizuna.store.models import collection_grants, collections

__all__ = [
    "Link",
    "Peer",
    "add_peer",
    "get_peer",
    "list_peers",
    "parse_flow",
    "peer_subject",
    "peer_token",
    "remove_peer",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_TOKEN_CONTEXT = "peer-token"  # noqa: S105  (what a sealed value is for, not a secret)
PULL, PUSH = "pull", "push"


@dataclass(frozen=True, slots=True)
class Link:
    """One flow of a peer: ``pull`` remote -> local, or ``push`` local -> remote."""

    id: int
    direction: str
    remote_collection: str
    local_collection: str
    cursor: str | None
    moved: int
    rejected: int
    last_success_us: int | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Peer:
    id: int
    name: str
    url: str
    org: service.Org
    username: str | None
    token_sealed: str
    interval_s: int
    next_run_us: int
    failures: int
    last_run_us: int | None
    last_success_us: int | None
    last_error: str | None
    links: tuple[Link, ...]

    @property
    def subject(self) -> Subject:
        return peer_subject(self.org)


def peer_subject(org: service.Org) -> Subject:
    """The requester a peer is: its org with the peer role. It is external, so the access
    rule never lets RED or unmarked objects through, and AMBER only when its org is in the
    audience; this subject is what both the egress policy and ingest use."""
    return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.PEER, remote=True)


def peer_token(peer: Peer, secret_key: str | bytes) -> str:
    return unseal(secret_key, peer.token_sealed, context=_TOKEN_CONTEXT)


def parse_flow(text: str) -> tuple[str, str]:
    """``SOURCE=TARGET`` of ``--pull``/``--push``: two non-empty collection ids."""
    source, sep, target = text.partition("=")
    if not sep or not source.strip() or not target.strip():
        raise InvalidInput(f"{text!r}: expected SOURCE_COLLECTION=TARGET_COLLECTION")
    return source.strip(), target.strip()


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(f"{url!r} is not an http(s) URL of a TAXII server")


def _local_collection(conn: Connection, collection_id: str) -> None:
    if conn.execute(select(collections.c.id).where(collections.c.id == collection_id)).first():
        return
    raise NotFound(f"no local collection {collection_id}")


def _grant_read(conn: Connection, collection_id: str, org_id: int) -> None:
    """Let the peer's org read a collection pushed to it, keeping any write it has."""
    row = conn.execute(
        select(collection_grants.c.can_write).where(
            collection_grants.c.collection_id == collection_id,
            collection_grants.c.org_id == org_id,
        )
    ).first()
    grant(conn, collection_id=collection_id, org_id=org_id, read=True, write=bool(row and row[0]))


def add_peer(
    conn: Connection,
    *,
    secret_key: str | bytes,
    name: str,
    url: str,
    token: str,
    org: str,
    pulls: list[tuple[str, str]],
    pushes: list[tuple[str, str]],
    username: str | None = None,
    interval_s: int = 300,
) -> Peer:
    """Add a peer. ``pulls``: (remote, local) collection pairs; ``pushes``: (local, remote).
    The org must be a remote one; each pushed local collection is granted to it for reading
    (what the peer may read there is what leaves)."""
    if not _NAME.match(name):
        raise InvalidInput(f"{name!r}: a peer name is letters, digits, '.', '_' or '-'")
    _check_url(url)
    if not token:
        raise InvalidInput("the peer's token must not be empty")
    if interval_s < 1:
        raise InvalidInput("the sync interval must be at least one second")
    found = service.find_org(conn, org)
    if not found.remote:
        raise InvalidInput(
            f"{found.name} is a local organisation; a peer is represented by a remote one "
            "(kizuna org add --remote)"
        )
    if conn.execute(select(peers.c.id).where(peers.c.name == name)).first() is not None:
        raise Conflict(f"a peer named {name} exists already")
    flows = [(PULL, remote, local) for remote, local in pulls]
    flows += [(PUSH, remote, local) for local, remote in pushes]
    if not flows:
        raise InvalidInput("give at least one --pull or --push")
    if len(set(flows)) != len(flows):
        raise InvalidInput("the same flow is given twice")
    for _, _, local in flows:
        _local_collection(conn, local)
    now = now_micros()
    peer_id: int = conn.execute(
        insert(peers).values(
            name=name,
            url=url,
            org_id=found.id,
            username=username,
            token_sealed=seal(secret_key, token, context=_TOKEN_CONTEXT),
            interval_s=interval_s,
            created_us=now,
            next_run_us=0,
            failures=0,
            lease_until_us=0,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    for direction, remote, local in flows:
        conn.execute(
            insert(peer_links).values(
                peer_id=peer_id,
                direction=direction,
                remote_collection=remote,
                local_collection=local,
                moved=0,
                rejected=0,
            )
        )
        if direction == PUSH:
            _grant_read(conn, local, found.id)
    return get_peer(conn, name)


def _links(conn: Connection, peer_id: int) -> tuple[Link, ...]:
    rows = conn.execute(
        select(peer_links).where(peer_links.c.peer_id == peer_id).order_by(peer_links.c.id)
    ).all()
    return tuple(
        Link(
            id=r.id,
            direction=r.direction,
            remote_collection=r.remote_collection,
            local_collection=r.local_collection,
            cursor=r.cursor,
            moved=r.moved,
            rejected=r.rejected,
            last_success_us=r.last_success_us,
            last_error=r.last_error,
        )
        for r in rows
    )


def _peer(conn: Connection, r: Row[Any]) -> Peer:
    return Peer(
        id=r.id,
        name=r.name,
        url=r.url,
        org=service.org_by_id(conn, r.org_id),
        username=r.username,
        token_sealed=r.token_sealed,
        interval_s=r.interval_s,
        next_run_us=r.next_run_us,
        failures=r.failures,
        last_run_us=r.last_run_us,
        last_success_us=r.last_success_us,
        last_error=r.last_error,
        links=_links(conn, r.id),
    )


def get_peer(conn: Connection, name: str) -> Peer:
    row = conn.execute(select(peers).where(peers.c.name == name)).first()
    if row is None:
        raise NotFound(f"no peer named {name}")
    return _peer(conn, row)


def list_peers(conn: Connection) -> list[Peer]:
    return [_peer(conn, r) for r in conn.execute(select(peers).order_by(peers.c.name)).all()]


def remove_peer(conn: Connection, name: str) -> None:
    """Forget a peer, its flows and delivery records (the objects it brought and their
    provenance stay)."""
    peer = get_peer(conn, name)
    links = [link.id for link in peer.links]
    conn.execute(delete(deliveries).where(deliveries.c.link_id.in_(links)))
    conn.execute(delete(peer_links).where(peer_links.c.peer_id == peer.id))
    conn.execute(delete(peers).where(peers.c.id == peer.id))
