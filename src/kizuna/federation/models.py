"""Tables of federation: peers, what flows each way, provenance and per-object delivery."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kizuna.db.base import metadata

# Another node (or any TAXII 2.1 server) this node syncs with.
peers = Table(
    "peers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    # The discovery URL (or an API root URL) as the operator gave it.
    Column("url", Text, nullable=False),
    # The (remote) org that stands for the peer here: what it may read is what leaves.
    Column("org_id", Integer, ForeignKey("orgs.id"), nullable=False),
    # HTTP Basic user name for servers that want one (medallion); NULL: Bearer token.
    Column("username", String(200), nullable=True),
    # The token (or password) the peer gave us, sealed with the node's secret key.
    Column("token_sealed", Text, nullable=False),
    Column("interval_s", Integer, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    # Scheduling: when the next run is due, consecutive failed runs (back-off), and a lease
    # so that one process at a time syncs a peer (serve workers, `kizuna sync`).
    Column("next_run_us", BigInteger, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("lease_until_us", BigInteger, nullable=False, default=0),
    Column("lease_owner", String(300), nullable=True),  # host:pid of the holder
    Column("last_run_us", BigInteger, nullable=True),
    Column("last_success_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
)

# One flow: pull a remote collection into a local one, or push a local one to a remote one.
peer_links = Table(
    "peer_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("peer_id", Integer, ForeignKey("peers.id", ondelete="CASCADE"), nullable=False),
    Column("direction", String(4), nullable=False),  # 'pull' | 'push'
    Column("remote_collection", String(200), nullable=False),
    Column(
        "local_collection",
        String(36),
        ForeignKey("collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # Pull: the peer's X-TAXII-Date-Added-Last of the last committed page (its clock, as
    # text). Push: the local date_added (µs) of the last object handed over.
    Column("cursor", Text, nullable=True),
    Column("moved", BigInteger, nullable=False, default=0),
    Column("rejected", BigInteger, nullable=False, default=0),
    Column("last_success_us", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint(
        "peer_id", "direction", "remote_collection", "local_collection", name="uq_peer_links_flow"
    ),
)

# Which peer an object version arrived from, and when (first arrival per peer). Kept by
# the peer's name, not a foreign key: it outlives the peer's removal.
provenance = Table(
    "provenance",
    metadata,
    Column("stix_id", String(300), primary_key=True),
    Column("version", String(40), primary_key=True),
    Column("peer", String(100), primary_key=True),
    Column("received_us", BigInteger, nullable=False),
)

# Per object version and push link, what became of it at the peer. 'failed' and 'pending'
# rows are retried on the next run until delivered or the attempts run out ('gave-up').
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "link_id",
        Integer,
        ForeignKey("peer_links.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("stix_id", String(300), primary_key=True),
    Column("version", String(40), primary_key=True),
    Column("state", String(9), nullable=False),  # 'delivered' | 'failed' | 'pending' | 'gave-up'
    Column("attempts", Integer, nullable=False),
    Column("message", Text, nullable=True),
    Column("updated_us", BigInteger, nullable=False),
)
