"""A real node for end-to-end tests: set up through the `kizuna` CLI, served by
`kizuna serve` on a free port, once per module and database kind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.access.tlp import Tlp
from kizuna.db.engine import make_engine, write_transaction
from kizuna.db.migrate import upgrade
from kizuna.store.collections import add_collection, grant
from tests.conftest import BACKENDS, fresh_database
from tests.e2e.server import ServerProcess, kizuna


@dataclass
class LiveNode:
    server: ServerProcess
    env: dict[str, str]
    ids: dict[str, str]
    tokens: dict[str, str]
    collections: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def discovery(self) -> str:
        return f"{self.server.url}/taxii2/"

    def objects_url(self, collection: str) -> str:
        return (
            f"{self.server.url}/taxii2/kizuna/collections/{self.collections[collection]}/objects/"
        )


def node_env(home: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(
        KIZUNA_HOME=str(home),
        KIZUNA_DATABASE_URL=database_url,
        KIZUNA_SECRET_KEY="test-secret-key-for-e2e",
        KIZUNA_NODE_NAME="uk-test",
        PYTHONUNBUFFERED="1",
    )
    return env


def build_node(env: dict[str, str]) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Orgs, tokens and collections made with the CLI, as an operator would."""
    ids = {
        "ncsc": kizuna(
            env, "org", "add", "--name", "NCSC", "--country", "GB", "--sector", "government"
        ),
        "water": kizuna(
            env, "org", "add", "--name", "Thames Water", "--country", "GB", "--sector", "water"
        ),
        "bank": kizuna(
            env, "org", "add", "--name", "Albion Bank", "--country", "GB", "--sector", "finance"
        ),
        "jpcert": kizuna(env, "org", "add", "--name", "JPCERT/CC", "--country", "JP", "--remote"),
    }
    tokens = {
        "ncsc": kizuna(env, "token", "create", "--org", "NCSC", "--role", "analyst"),
        "water": kizuna(env, "token", "create", "--org", "Thames Water", "--role", "analyst"),
        "bank": kizuna(env, "token", "create", "--org", "Albion Bank", "--role", "reader"),
        "jpcert": kizuna(env, "token", "create", "--org", "JPCERT/CC", "--role", "peer"),
    }
    collections = {
        "intel": kizuna(env, "collection", "add", "--title", "Partnership intel"),
        "public": kizuna(
            env,
            "collection",
            "add",
            "--title",
            "Public advisories",
            "--default-tlp",
            "CLEAR",
            "--public",
        ),
        "secret": kizuna(env, "collection", "add", "--title", "NCSC only"),
    }
    for role in ("analyst", "reader", "peer"):
        kizuna(
            env,
            "collection",
            "grant",
            "--collection",
            collections["intel"],
            "--role",
            role,
            "--read",
            *(["--write"] if role != "reader" else []),
        )
    kizuna(
        env,
        "collection",
        "grant",
        "--collection",
        collections["public"],
        "--org",
        "NCSC",
        "--write",
    )
    kizuna(
        env,
        "collection",
        "grant",
        "--collection",
        collections["secret"],
        "--org",
        "NCSC",
        "--write",
    )
    return ids, tokens, collections


def build_node_quickly(database_url: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The same node as build_node, made through the services in-process (no CLI start-up
    per step), for tests that are about something else."""
    engine = make_engine(database_url)
    upgrade(engine)
    with write_transaction(engine) as conn:
        orgs = {
            "ncsc": service.add_org(conn, name="NCSC", country="GB", sector="government"),
            "water": service.add_org(conn, name="Thames Water", country="GB", sector="water"),
            "bank": service.add_org(conn, name="Albion Bank", country="GB", sector="finance"),
            "jpcert": service.add_org(conn, name="JPCERT/CC", country="JP", remote=True),
        }
        roles = {
            "ncsc": Role.ANALYST,
            "water": Role.ANALYST,
            "bank": Role.READER,
            "jpcert": Role.PEER,
        }
        tokens = {k: service.create_token(conn, org=orgs[k], role=r) for k, r in roles.items()}
        collections = {
            "intel": add_collection(conn, title="Partnership intel"),
            "public": add_collection(
                conn, title="Public advisories", default_tlp=Tlp.CLEAR, public=True
            ),
            "secret": add_collection(conn, title="NCSC only"),
        }
        for role in (Role.ANALYST, Role.READER, Role.PEER):
            grant(
                conn, collection_id=collections["intel"], role=role, write=role is not Role.READER
            )
        grant(conn, collection_id=collections["public"], org_id=orgs["ncsc"].id, write=True)
        grant(conn, collection_id=collections["secret"], org_id=orgs["ncsc"].id, write=True)
    engine.dispose()
    return {k: o.identity_id for k, o in orgs.items()}, tokens, collections


@contextmanager
def running_node(kind: str, home: Path, *, quick: bool = False) -> Iterator[LiveNode]:
    """A node on a fresh database of `kind`, served by a real `kizuna serve` process. The
    CLI builds it unless `quick`, when the services do (same orgs, tokens, collections)."""
    with fresh_database(kind, home) as url:
        env = node_env(home, url)
        ids, tokens, collections = build_node_quickly(url) if quick else build_node(env)
        server = ServerProcess(env=env, log_path=home / "server.log")
        server.start()
        try:
            yield LiveNode(server, env, ids, tokens, collections)
        finally:
            server.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def live_node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveNode]:
    with running_node(request.param, tmp_path_factory.mktemp("node")) as node:
        yield node
