"""`kizuna demo`: a demo node on SQLite with UK and Japanese orgs, tokens, collections and
several hundred realistic STIX objects across every TLP label, then serve it."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import (
    TLP2_MARKINGS,
    WELL_KNOWN,
    Tlp,
    audience_extension_definition,
    kizuna_identity,
)
from kizuna.api.app import create_app
from kizuna.cli.common import friendly, ready_engine
from kizuna.config import Settings
from kizuna.db.engine import write_transaction
from kizuna.demo.data import build_demo_batches
from kizuna.demo.federation import crossing_table, link_nodes, seed_jp, sync_both
from kizuna.errors import ConfigurationError
from kizuna.federation.scheduler import Scheduler
from kizuna.store import collections
from kizuna.store.ingest import add_objects

out = Console()

ORGS = {
    "ncsc": ("NCSC (UK)", "GB", "government", False),
    "water": ("Severn Vale Water", "GB", "water", False),
    "bank": ("Albion Bank", "GB", "finance", False),
    "jpcert": ("JPCERT/CC", "JP", None, True),
}


def seed(engine: Engine) -> tuple[dict[str, str], dict[str, str], Counter[tuple[str, str]]]:
    """Orgs, tokens, collections and objects. Returns tokens, collection ids and counts."""
    with write_transaction(engine) as conn:
        orgs = {
            key: service.add_org(conn, name=name, country=country, sector=sector, remote=remote)
            for key, (name, country, sector, remote) in ORGS.items()
        }
        tokens = {
            "ncsc analyst": service.create_token(conn, org=orgs["ncsc"], role=Role.ANALYST),
            "water analyst": service.create_token(conn, org=orgs["water"], role=Role.ANALYST),
            "bank reader": service.create_token(conn, org=orgs["bank"], role=Role.READER),
            "jpcert peer": service.create_token(conn, org=orgs["jpcert"], role=Role.PEER),
        }
        ids = {
            "intel": collections.add_collection(
                conn,
                title="UK-Japan partnership intelligence",
                description="Threat intelligence shared across the partnership.",
            ),
            "cni": collections.add_collection(
                conn,
                title="UK critical national infrastructure",
                description="Sector intelligence for CNI operators.",
            ),
            "public": collections.add_collection(
                conn,
                title="Public advisories",
                description="TLP:CLEAR advisories, readable without a token.",
                default_tlp=Tlp.CLEAR,
                public=True,
            ),
        }
        for role in (Role.ANALYST, Role.READER, Role.PEER):
            collections.grant(
                conn,
                collection_id=ids["intel"],
                role=role,
                read=True,
                write=role is not Role.READER,
            )
        for key in ("ncsc", "water", "bank"):
            collections.grant(
                conn, collection_id=ids["cni"], org_id=orgs[key].id, read=True, write=key != "bank"
            )
        collections.grant(conn, collection_id=ids["public"], org_id=orgs["ncsc"].id, write=True)

    def subject_of(key: str) -> Subject:
        org = orgs[key]
        role = Role.PEER if org.remote else Role.ANALYST
        return Subject(org_id=org.id, identity_id=org.identity_id, role=role, remote=org.remote)

    counts: Counter[tuple[str, str]] = Counter()
    with write_transaction(engine) as conn:
        declarations: list[object] = [kizuna_identity(), audience_extension_definition()]
        # Who the members are is community knowledge: TLP:GREEN.
        green = [TLP2_MARKINGS[Tlp.GREEN]]
        declarations += [{**o.identity(), "object_marking_refs": green} for o in orgs.values()]
        add_objects(
            conn, subject=subject_of("ncsc"), collection_id=ids["intel"], submitted=declarations
        )
        batches = build_demo_batches(identities={k: o.identity_id for k, o in orgs.items()})
        for batch in batches:
            outcomes = add_objects(
                conn,
                subject=subject_of(batch.poster),
                collection_id=ids[batch.collection],
                submitted=batch.objects,
            )
            failed = [o for o in outcomes if not o.ok]
            if failed:
                raise RuntimeError(f"demo data was refused: {failed[0].id}: {failed[0].message}")
            for obj in batch.objects:
                counts[(batch.collection, _label(obj))] += 1
    return tokens, ids, counts


def _label(obj: dict[str, object]) -> str:
    labels = [
        WELL_KNOWN[ref][0]
        for ref in obj.get("object_marking_refs", []) or []  # type: ignore[attr-defined]
        if ref in WELL_KNOWN and WELL_KNOWN[ref][0] is not None
    ]
    return max(labels).label.removeprefix("TLP:") if labels else "unmarked"  # type: ignore[type-var, union-attr]


@friendly
def demo(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8021, "--port"),
    home: Path = typer.Option(Path(".kizuna-demo"), "--home", help="Where the demo node lives."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve after seeding."),
    federation: bool = typer.Option(
        False,
        "--federation",
        help="Two sovereign nodes (UK on PORT, Japan on PORT+1) that sync with each other.",
    ),
) -> None:
    """Build a fresh demo node on SQLite and serve TAXII 2.1 on it."""
    shutil.rmtree(home, ignore_errors=True)
    if federation:
        _federation(host, port, home, serve)
        return
    config = Settings(home=home, node_name="uk-demo", database_url=None)
    engine = ready_engine(config)
    tokens, ids, counts = seed(engine)

    labels = [t.label.removeprefix("TLP:") for t in Tlp]
    table = Table("collection", *labels, "total", title="Demo node seeded")
    for key in ids:
        row = [str(counts[(key, label)]) for label in labels]
        total = sum(n for (c, _t), n in counts.items() if c == key)
        table.add_row(key, *row, str(total))
    out.print(table)
    for key, collection_id in ids.items():
        out.print(f"  collection {key}: {collection_id}")
    token_table = Table("who", "token", title="Tokens (shown once)")
    for who, secret in tokens.items():
        token_table.add_row(who, secret)
    out.print(token_table)
    base = f"http://{host}:{port}"
    out.print("Query it, e.g. the first page of partnership intel as the NCSC analyst:")
    out.print(
        f"  curl -s -H 'Authorization: Bearer {tokens['ncsc analyst']}' "
        f"-H 'Accept: application/taxii+json;version=2.1' "
        f"'{base}/taxii2/kizuna/collections/{ids['intel']}/objects/?limit=5'",
        soft_wrap=True,
    )
    out.print(
        "  Anonymous, public collection: curl -s "
        f"{base}/taxii2/kizuna/collections/{ids['public']}/objects/",
        soft_wrap=True,
    )
    out.print(f"  Discovery: {base}/taxii2/   (database: {config.resolved_database_url()})")
    if serve:
        uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=False)


class _Background:
    """A uvicorn server in a thread (the federation demo serves two nodes in one process)."""

    def __init__(self, config: Settings, host: str, port: int) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(config), host=host, port=port, log_level="warning", access_log=False
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise ConfigurationError(f"the demo server on {self.url} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _federation(host: str, port: int, home: Path, serve: bool) -> None:
    uk_config = Settings(home=home / "uk", node_name="uk-demo", database_url=None)
    jp_config = Settings(home=home / "jp", node_name="jp-demo", database_url=None)
    uk_engine, jp_engine = ready_engine(uk_config), ready_engine(jp_config)
    uk_tokens, uk_ids, _counts = seed(uk_engine)
    with write_transaction(uk_engine) as conn:
        identities = {
            key: service.find_org(conn, ORGS[key][0]).identity_id for key in ("ncsc", "jpcert")
        }
    jp = seed_jp(jp_engine, identities)
    servers = [_Background(uk_config, host, port), _Background(jp_config, host, port + 1)]
    link_nodes(
        uk_engine,
        uk_config,
        uk_ids["intel"],
        uk_tokens["jpcert peer"],
        jp_engine,
        jp_config,
        jp,
        servers[0].url,
        servers[1].url,
    )
    for server in servers:
        server.start()
    try:
        for result in sync_both(uk_engine, uk_config, jp_engine, jp_config):
            if not result.ok:
                errors = "; ".join(link.error or "" for link in result.links)
                raise ConfigurationError(f"demo sync with {result.peer} failed: {errors}")
        flows = (
            ("UK -> Japan", crossing_table(uk_engine, uk_ids["intel"], jp_engine, jp.intel)),
            ("Japan -> UK", crossing_table(jp_engine, jp.intel, uk_engine, uk_ids["intel"])),
        )
        labels = [t.label.removeprefix("TLP:") for t in Tlp] + ["unmarked"]
        table = Table(
            "flow", *labels, title="What crossed (held at home / arrived at the other node)"
        )
        for name, counts in flows:
            cells = [
                f"{counts[label][0]} / {counts[label][1]}" if label in counts else "-"
                for label in labels
            ]
            table.add_row(name, *cells)
        out.print(table)
        out.print(
            "GREEN and CLEAR flow both ways; AMBER only where the audience names the other "
            "side; RED and unmarked stay home."
        )
        tokens = Table("node", "who", "token", title="Tokens (shown once)")
        tokens.columns[2].overflow = "fold"
        tokens.columns[2].min_width = 47
        for who, secret in uk_tokens.items():
            tokens.add_row(f"UK {servers[0].url}", who, secret)
        for who, secret in jp.tokens.items():
            tokens.add_row(f"Japan {servers[1].url}", who, secret)
        out.print(tokens)
        out.print(f"  UK intel collection: {uk_ids['intel']}; Japan intel collection: {jp.intel}")
        out.print("  Each node keeps syncing every 60 s; `kizuna peer list` with KIZUNA_HOME set")
        out.print(f"  to {home / 'uk'} or {home / 'jp'} shows the flows. Ctrl-C stops both.")
        if not serve:
            return
        schedulers = [
            Scheduler(uk_engine, uk_config),
            Scheduler(jp_engine, jp_config),
        ]
        for scheduler in schedulers:
            scheduler.start()
        try:
            while all(server.thread.is_alive() for server in servers):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for scheduler in schedulers:
                scheduler.stop()
    finally:
        for server in servers:
            server.stop()
