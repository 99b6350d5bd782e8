"""Federation throughput: two local nodes syncing N objects over TAXII 2.1.

    .venv/bin/python benchmarks/federation_bench.py [--objects 100000] [--page 1000]
        [--backend sqlite|postgres] [--baseline 20000]

Two nodes (UK and JP), each with its own database (SQLite files, or a PostgreSQL schema
each) and its own `kizuna serve` process on a free port, are built in-process through the
services. Not timed: storing N GREEN indicators on each node through the ingest path.

Timed, one after the other:

* push: the UK node's `sync_peer` pushing its N objects to the JP inbox (egress policy read,
  envelopes of --page, status check, per-object delivery rows, cursor commits);
* pull: the UK node pulling the JP node's own N objects into its inbox (paging with
  added_after/next, ingest as
  the peer's org, provenance rows, cursor commits);

each until the other side holds every object (checked by counting there: converged).
Baseline for the same push, on the first --baseline objects: a plain copy loop with the
`taxii2-client` library (page through the UK collection as the peer, POST each page to the
JP intel collection), which does what a hand-rolled sync does without policy, cursors or records.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from taxii2client.v21 import Collection

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp
from kizuna.config import Settings
from kizuna.db.engine import make_engine, write_transaction
from kizuna.db.migrate import upgrade
from kizuna.db.scratch import scratch_schema
from kizuna.federation.peers import add_peer
from kizuna.federation.sync import sync_peer
from kizuna.store.collections import add_collection, grant
from kizuna.store.ingest import add_objects
from kizuna.store.models import objects

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
IDS = {k: f"identity--{uuid.uuid5(uuid.NAMESPACE_URL, 'bench-' + k)}" for k in ("ncsc", "jpcert")}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def database(backend: str, home: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{home / 'kizuna.db'}"
        return
    with scratch_schema(PG, "bench") as url:
        yield url


class Node:
    def __init__(self, name: str, url: str, home: Path) -> None:
        self.name = name
        self.url = url
        self.home = home
        self.engine = make_engine(url)
        upgrade(self.engine)
        local, remote = ("ncsc", "jpcert") if name == "uk" else ("jpcert", "ncsc")
        with write_transaction(self.engine) as conn:
            self.local = service.add_org(
                conn, name=local, country="GB" if local == "ncsc" else "JP", identity_id=IDS[local]
            )
            self.remote = service.add_org(
                conn,
                name=remote,
                country="JP" if remote == "jpcert" else "GB",
                remote=True,
                identity_id=IDS[remote],
            )
            self.peer_token = service.create_token(conn, org=self.remote, role=Role.PEER)
            self.intel = add_collection(conn, title=f"{name} intel")
            self.inbox = add_collection(conn, title=f"{name} inbox")
            for collection in (self.intel, self.inbox):
                grant(conn, collection_id=collection, org_id=self.local.id, write=True)
                grant(conn, collection_id=collection, org_id=self.remote.id, write=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
        self.env.update(
            KIZUNA_HOME=str(home),
            KIZUNA_DATABASE_URL=url,
            KIZUNA_SECRET_KEY=f"bench-{name}",
            KIZUNA_NODE_NAME=name,
            KIZUNA_SYNC_IN_SERVE="false",  # the benchmark runs the syncs itself
        )
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def discovery(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/"

    def collection_url(self, collection: str) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/kizuna/collections/{collection}/"

    def start(self) -> None:
        log = (self.home / "server.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kizuna", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} node did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.engine.dispose()

    def fill(self, count: int) -> None:
        subject = Subject(self.local.id, self.local.identity_id, Role.ANALYST)
        stamp = "2026-03-01T00:00:00.000Z"
        for start in range(0, count, 5000):
            batch = [
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{uuid.uuid4()}",
                    "created": stamp,
                    "modified": stamp,
                    "created_by_ref": self.local.identity_id,
                    "name": f"{self.name} C2 {n}",
                    "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
                    "pattern_type": "stix",
                    "valid_from": stamp,
                    "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
                }
                for n in range(start, min(count, start + 5000))
            ]
            with write_transaction(self.engine) as conn:
                outcomes = add_objects(
                    conn, subject=subject, collection_id=self.intel, submitted=batch
                )
            assert all(o.ok for o in outcomes)

    def count(self, collection: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(objects)
                    .where(objects.c.collection_id == collection)
                ).scalar_one()
            )


def baseline(uk: Node, jp: Node, limit: int, page: int) -> tuple[int, float]:
    """Copy the first ``limit`` objects with taxii2-client: page as the peer, POST pages."""
    source = Collection(uk.collection_url(uk.intel), user="peer", password=uk.peer_token)
    target = Collection(jp.collection_url(jp.intel), user="peer", password=jp.peer_token)
    copied = 0
    started = time.perf_counter()
    start = 0
    while copied < limit:
        envelope = source.get_objects(limit=min(page, limit - copied), next=start or None)
        batch: list[dict[str, Any]] = envelope.get("objects", [])
        if not batch:
            break
        status = target.add_objects({"objects": batch})
        assert status.failure_count == 0
        copied += len(batch)
        if not envelope.get("more"):
            break
        start = envelope.get("next")
    return copied, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--baseline", type=int, default=20_000)
    args = parser.parse_args()

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"backend: {args.backend}; {args.objects:,} GREEN indicators per node; page {args.page}")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        nodes: dict[str, Node] = {}
        for name in ("uk", "jp"):
            home = Path(tmp) / name
            home.mkdir()
            url = stack.enter_context(database(args.backend, home))
            node = Node(name, url, home)
            stack.callback(node.stop)
            node.start()
            nodes[name] = node
        uk, jp = nodes["uk"], nodes["jp"]
        started = time.perf_counter()
        uk.fill(args.objects)
        jp.fill(args.objects)
        print(f"prepared in {time.perf_counter() - started:.1f}s (not timed)")

        settings = Settings(secret_key=uk.env["KIZUNA_SECRET_KEY"], home=uk.home)
        with write_transaction(uk.engine) as conn:
            common = {
                "secret_key": settings.resolved_secret_key(),
                "url": jp.discovery,
                "token": jp.peer_token,
                "org": uk.remote.identity_id,
            }
            add_peer(conn, name="jp-push", pulls=[], pushes=[(uk.intel, jp.inbox)], **common)
            add_peer(conn, name="jp-pull", pulls=[(jp.intel, uk.inbox)], pushes=[], **common)

        rows = []
        for name, direction, target, collection, expected in (
            ("jp-push", "push UK -> JP", jp, jp.inbox, args.objects),
            ("jp-pull", "pull JP -> UK", uk, uk.inbox, args.objects),
        ):
            started = time.perf_counter()
            result = sync_peer(uk.engine, settings, name, page_size=args.page)
            seconds = time.perf_counter() - started
            if not result.ok:
                print(f"{direction} FAILED: {[link.error for link in result.links]}")
                return 1
            have = target.count(collection)
            converged = have == expected
            moved = sum(link.moved for link in result.links)
            rows.append((direction, moved, seconds, converged))

        copied, seconds = baseline(uk, jp, args.baseline, args.page)
        rows.append((f"taxii2-client copy loop ({copied:,})", copied, seconds, True))

    print()
    print(f"{'run':<34} {'objects':>9} {'seconds':>9} {'objects/s':>10}  converged")
    for direction, moved, seconds, converged in rows:
        rate = moved / seconds if seconds else 0.0
        print(f"{direction:<34} {moved:>9,} {seconds:>9.2f} {rate:>10,.0f}  {converged}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
