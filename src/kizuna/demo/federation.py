"""`kizuna demo --federation`: a UK node and a Japanese node, each sovereign (its own SQLite
database, orgs and tokens), syncing over TAXII 2.1. Each node pulls the other's partnership
collection with a token the other node issued; what each gives is decided by its own access
module, so GREEN flows both ways, AMBER only where the audience names the other side, and
RED stays home.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from kizuna.access import service
from kizuna.access.models import orgs
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.config import Settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.federation.peers import add_peer
from kizuna.federation.sync import SyncResult, sync_peer
from kizuna.stix.timestamps import format_timestamp
from kizuna.store import collections
from kizuna.store.ingest import add_objects
from kizuna.store.models import objects

__all__ = ["JpNode", "crossing_table", "link_nodes", "seed_jp", "sync_both"]

_NS = uuid.UUID("6b1d0c1e-8f1a-5c33-9a51-3f0f5b7e2d10")


@dataclass(frozen=True)
class JpNode:
    orgs: dict[str, Org]
    tokens: dict[str, str]
    intel: str


def _stix_id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(_NS, key)}"


def _jp_objects(orgs: dict[str, Org], now: datetime) -> list[dict[str, Any]]:
    """A small, realistic Japanese contribution across the TLP labels."""
    jpcert, nisc, ncsc = orgs["jpcert"], orgs["nisc"], orgs["ncsc"]
    stamp = format_timestamp(int((now - timedelta(days=3)).timestamp() * 1_000_000))
    base = {"spec_version": "2.1", "created": stamp, "modified": stamp}
    to_ncsc = audience_marking([ncsc.identity_id, jpcert.identity_id])
    to_nisc = audience_marking([nisc.identity_id, jpcert.identity_id])
    out: list[dict[str, Any]] = [to_ncsc, to_nisc]

    def add(kind: str, key: str, tlp: Tlp, audience: dict[str, Any] | None, **props: Any) -> str:
        refs = [TLP2_MARKINGS[tlp]] + ([str(audience["id"])] if audience else [])
        obj = {
            "type": kind,
            "id": _stix_id(kind, key),
            **base,
            "created_by_ref": jpcert.identity_id,
            "object_marking_refs": refs,
            **props,
        }
        out.append(obj)
        return str(obj["id"])

    def indicator(
        key: str, tlp: Tlp, audience: dict[str, Any] | None, name: str, pattern: str
    ) -> str:
        return add(
            "indicator",
            key,
            tlp,
            audience,
            name=name,
            pattern=pattern,
            pattern_type="stix",
            valid_from=stamp,
            indicator_types=["malicious-activity"],
        )

    campaign = add(
        "campaign",
        "campaign-fin",
        Tlp.GREEN,
        None,
        name="Phishing against Japanese and UK financial services",
        description="Credential phishing with lookalike bank portals, seen in both countries.",
    )
    for n, domain in enumerate(
        ("jp-bank-secure.example", "login-mufj.example", "ukbank-verify.example")
    ):
        ind = indicator(
            f"green-{n}",
            Tlp.GREEN,
            None,
            f"Phishing domain {domain}",
            f"[domain-name:value = '{domain}']",
        )
        add(
            "relationship",
            f"green-rel-{n}",
            Tlp.GREEN,
            None,
            relationship_type="indicates",
            source_ref=ind,
            target_ref=campaign,
        )
    indicator(
        "amber-ncsc",
        Tlp.AMBER,
        to_ncsc,
        "C2 server seen against a Japanese utility (shared with NCSC)",
        "[ipv4-addr:value = '198.51.100.77']",
    )
    indicator(
        "amber-nisc",
        Tlp.AMBER,
        to_nisc,
        "Internal investigation lead (NISC only)",
        "[ipv4-addr:value = '198.51.100.78']",
    )
    indicator(
        "red",
        Tlp.RED,
        to_nisc,
        "Victim-identifying lead (stays in Japan)",
        "[ipv4-addr:value = '198.51.100.79']",
    )
    return out


def seed_jp(engine: Engine, uk_ids: dict[str, str], now: datetime | None = None) -> JpNode:
    """The Japanese node: JPCERT/CC and NISC as members, NCSC standing for the UK node (with
    the identities the UK node uses), a partnership collection, and its objects."""
    with write_transaction(engine) as conn:
        orgs = {
            "jpcert": service.add_org(
                conn, name="JPCERT/CC", country="JP", identity_id=uk_ids["jpcert"]
            ),
            "nisc": service.add_org(conn, name="NISC", country="JP"),
            "ncsc": service.add_org(
                conn, name="NCSC (UK)", country="GB", remote=True, identity_id=uk_ids["ncsc"]
            ),
        }
        tokens = {
            "jpcert analyst": service.create_token(conn, org=orgs["jpcert"], role=Role.ANALYST),
            "nisc analyst": service.create_token(conn, org=orgs["nisc"], role=Role.ANALYST),
            "uk node (peer)": service.create_token(conn, org=orgs["ncsc"], role=Role.PEER),
        }
        intel = collections.add_collection(
            conn,
            title="Japan-UK partnership intelligence",
            description="Threat intelligence shared across the partnership (Japanese node).",
        )
        collections.grant(conn, collection_id=intel, role=Role.ANALYST, write=True)
        collections.grant(conn, collection_id=intel, org_id=orgs["ncsc"].id, write=False)
    jpcert = orgs["jpcert"]
    subject = Subject(org_id=jpcert.id, identity_id=jpcert.identity_id, role=Role.ANALYST)
    with write_transaction(engine) as conn:
        outcomes = add_objects(
            conn,
            subject=subject,
            collection_id=intel,
            submitted=_jp_objects(orgs, now or datetime.now(UTC)),
        )
    refused = [o for o in outcomes if not o.ok]
    if refused:
        raise RuntimeError(f"JP demo data was refused: {refused[0].id}: {refused[0].message}")
    return JpNode(orgs, tokens, intel)


def link_nodes(
    uk_engine: Engine,
    uk_settings: Settings,
    uk_intel: str,
    uk_peer_token: str,
    jp_engine: Engine,
    jp_settings: Settings,
    jp: JpNode,
    uk_url: str,
    jp_url: str,
) -> None:
    """Each node pulls the other's partnership collection into its own, with the token the
    other node issued to it."""
    with write_transaction(uk_engine) as conn:
        add_peer(
            conn,
            secret_key=uk_settings.resolved_secret_key(),
            name="jp-node",
            url=f"{jp_url}/taxii2/",
            token=jp.tokens["uk node (peer)"],
            org="JPCERT/CC",
            pulls=[(jp.intel, uk_intel)],
            pushes=[],
            interval_s=60,
        )
    with write_transaction(jp_engine) as conn:
        add_peer(
            conn,
            secret_key=jp_settings.resolved_secret_key(),
            name="uk-node",
            url=f"{uk_url}/taxii2/",
            token=uk_peer_token,
            org="NCSC (UK)",
            pulls=[(uk_intel, jp.intel)],
            pushes=[],
            interval_s=60,
        )


def sync_both(
    uk_engine: Engine, uk_settings: Settings, jp_engine: Engine, jp_settings: Settings
) -> list[SyncResult]:
    return [
        sync_peer(uk_engine, uk_settings, "jp-node"),
        sync_peer(jp_engine, jp_settings, "uk-node"),
    ]


def _labelled(engine: Engine, collection: str, *, own: bool) -> dict[str, str]:
    """stix id -> label (TLP or 'unmarked') of what a collection holds (with ``own``: only
    what the node's own members created), marking-definitions and identities aside."""
    query = select(objects.c.stix_id, objects.c.tlp).where(
        objects.c.collection_id == collection,
        objects.c.stix_type.not_in(("marking-definition", "identity")),
    )
    if own:
        members = select(orgs.c.id).where(orgs.c.remote.is_(False))
        query = query.where(objects.c.owner_org_id.in_(members))
    with read_transaction(engine) as conn:
        rows = conn.execute(query).all()
    return {
        r.stix_id: Tlp(r.tlp).label.removeprefix("TLP:") if r.tlp is not None else "unmarked"
        for r in rows
    }


def crossing_table(
    source: Engine, source_collection: str, target: Engine, target_collection: str
) -> dict[str, tuple[int, int]]:
    """Per label: (objects the source node's members created, of which the target holds)."""
    held = _labelled(source, source_collection, own=True)
    arrived = set(_labelled(target, target_collection, own=False))
    counts: Counter[str] = Counter(held.values())
    crossed: Counter[str] = Counter(label for sid, label in held.items() if sid in arrived)
    return {label: (counts[label], crossed[label]) for label in counts}
