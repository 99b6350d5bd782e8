"""Two real, sovereign nodes for federation tests: a UK node and a Japanese node, each with
its own database and `kizuna serve` process on a free port, and STIX helpers.

The orgs that stand for the other side share identity ids across the nodes (JPCERT/CC is a
local org on the Japanese node and a remote one on the UK node, and NCSC the other way), so
audiences mean the same orgs on both sides.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from kizuna.access import service
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.db.engine import make_engine, read_transaction, write_transaction
from kizuna.db.migrate import upgrade
from kizuna.store.collections import add_collection, get_collection, grant
from kizuna.store.ingest import add_objects
from kizuna.store.models import objects
from kizuna.store.query import Filters, VersionMatch, read_all
from tests.conftest import fresh_database
from tests.e2e.conftest import node_env
from tests.e2e.server import ServerProcess, kizuna

ORG_KEYS = ("ncsc", "water", "jpcert", "nisc")
#: key -> (name, country, sector)
ORGS = {
    "ncsc": ("NCSC", "GB", "government"),
    "water": ("Thames Water", "GB", "water"),
    "jpcert": ("JPCERT/CC", "JP", None),
    "nisc": ("NISC", "JP", None),
}
IDS = {key: f"identity--{uuid.uuid5(uuid.NAMESPACE_URL, key)}" for key in ORG_KEYS}
LOCAL = {"uk": ("ncsc", "water"), "jp": ("jpcert", "nisc")}
REMOTE = {"uk": "jpcert", "jp": "ncsc"}  # the org standing for the other node


@dataclass
class Node:
    name: str
    env: dict[str, str]
    engine: Engine
    server: ServerProcess
    orgs: dict[str, Org]
    tokens: dict[str, str]
    intel: str

    @property
    def discovery(self) -> str:
        return f"{self.server.url}/taxii2/"

    def cli(self, *args: str) -> str:
        return kizuna(self.env, *args)

    def subject(self, who: str) -> Subject:
        org = self.orgs[who]
        return Subject(org_id=org.id, identity_id=org.identity_id, role=Role.ANALYST)

    def store(self, who: str, batch: Iterable[dict[str, Any]]) -> None:
        """Store objects as a local org's analyst (through the normal ingest path)."""
        with write_transaction(self.engine) as conn:
            outcomes = add_objects(
                conn, subject=self.subject(who), collection_id=self.intel, submitted=list(batch)
            )
        assert all(o.ok for o in outcomes), [o for o in outcomes if not o.ok]

    def visible(self, who: str) -> set[str]:
        """Ids a local org can read in the intel collection (every version)."""
        subject = self.subject(who)
        with read_transaction(self.engine) as conn:
            collection = get_collection(conn, subject, self.intel)
            rows = read_all(
                conn,
                subject=subject,
                collection=collection,
                filters=Filters(versions=VersionMatch.every()),
                with_body=False,
            )
            return {r.stix_id for r in rows}

    def stored(self) -> dict[tuple[str, str], int]:
        """(id, version) -> stored rows in the intel collection (1 each, or something broke)."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(objects.c.stix_id, objects.c.version, func.count())
                .where(objects.c.collection_id == self.intel)
                .group_by(objects.c.stix_id, objects.c.version)
            ).all()
        return {(r[0], r[1]): int(r[2]) for r in rows}


def _build(name: str, url: str) -> tuple[dict[str, Org], dict[str, str], str]:
    engine = make_engine(url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        orgs: dict[str, Org] = {}
        for key in (*LOCAL[name], REMOTE[name]):
            title, country, sector = ORGS[key]
            orgs[key] = service.add_org(
                conn,
                name=title,
                country=country,
                sector=sector,
                remote=key == REMOTE[name],
                identity_id=IDS[key],
            )
        tokens = {
            key: service.create_token(
                conn, org=org, role=Role.PEER if key == REMOTE[name] else Role.ANALYST
            )
            for key, org in orgs.items()
        }
        intel = add_collection(conn, title=f"{name} partnership intel")
        grant(conn, collection_id=intel, role=Role.ANALYST, write=True)
        # This node's operator lets the other node read and write here (TLP still decides).
        grant(conn, collection_id=intel, org_id=orgs[REMOTE[name]].id, write=True)
    engine.dispose()
    return orgs, tokens, intel


@contextmanager
def two_nodes(
    kind: str, directory: Path, *, background_sync: bool = False
) -> Iterator[tuple[Node, Node]]:
    """A UK node and a JP node on fresh databases of ``kind``, both serving (with the
    background sync scheduler only when asked)."""
    with ExitStack() as stack:
        nodes: list[Node] = []
        for name in ("uk", "jp"):
            home = directory / name
            home.mkdir()
            url = stack.enter_context(fresh_database(kind, home))
            env = node_env(home, url)
            env["KIZUNA_NODE_NAME"] = f"{name}-node"
            env["KIZUNA_SECRET_KEY"] = f"secret-of-the-{name}-node"
            # Tests run syncs themselves; test_scheduler.py turns the background on.
            env["KIZUNA_SYNC_IN_SERVE"] = "true" if background_sync else "false"
            orgs, tokens, intel = _build(name, url)
            server = ServerProcess(env=env, log_path=home / "server.log")
            server.start()
            stack.callback(server.stop)
            engine = make_engine(url)
            stack.callback(engine.dispose)
            nodes.append(Node(name, env, engine, server, orgs, tokens, intel))
        yield nodes[0], nodes[1]


def link_uk_to_jp(uk: Node, jp: Node, *extra: str) -> None:
    """On the UK node: peer `jp`, pushing UK intel to JP intel and pulling JP intel back,
    with the token the JP node issued for NCSC."""
    uk.cli(
        "peer",
        "add",
        "--name",
        "jp",
        "--url",
        jp.discovery,
        "--token",
        jp.tokens["ncsc"],
        "--org",
        "JPCERT/CC",
        "--push",
        f"{uk.intel}={jp.intel}",
        "--pull",
        f"{jp.intel}={uk.intel}",
        *extra,
    )


# --- STIX -------------------------------------------------------------------------------------

_STAMP = "2026-03-01T00:00:00.000Z"


def marked(
    obj: dict[str, Any], tlp: Tlp | None, audience: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """``obj`` with a TLP marking and an audience (org keys), after its audience marking."""
    refs = [TLP2_MARKINGS[tlp]] if tlp is not None else []
    extra: list[dict[str, Any]] = []
    members = [IDS[k] for k in audience]
    if members:
        marking = audience_marking(members)
        refs.append(str(marking["id"]))
        extra.append(marking)
    if refs:
        obj["object_marking_refs"] = refs
    return [*extra, obj]


def indicator(creator: str, value: str, *, modified: str = _STAMP) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": _STAMP,
        "modified": modified,
        "created_by_ref": IDS[creator],
        "name": f"C2 {value}",
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": _STAMP,
    }


def relationship(creator: str, source: str, target: str) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": _STAMP,
        "modified": _STAMP,
        "created_by_ref": IDS[creator],
        "relationship_type": "related-to",
        "source_ref": source,
        "target_ref": target,
    }
