"""OASIS medallion (the reference TAXII 2.1 server) as a peer for federation tests.

`medallion_peer(directory)` starts medallion in a subprocess on a free port with its memory
backend, one API root and one readable and writable collection, and HTTP Basic users;
it yields a `MedallionPeer` with the URLs, the collection id and the credentials, and
stops the process afterwards. medallion's memory backend is configured at start-up only,
so ask for every collection you need with `collections=`.

    with medallion_peer(tmp_path) as peer:
        TaxiiClient(peer.discovery, username=peer.username, password=peer.password)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from tests.e2e.server import free_port

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"


@dataclass(frozen=True)
class MedallionPeer:
    base: str  # http://127.0.0.1:PORT
    api_root_name: str
    collection_id: str  # the first collection (readable and writable)
    username: str
    password: str
    log_path: Path
    #: Every collection made, by title.
    collections: dict[str, str] = field(default_factory=dict)
    #: Further users (name -> password) that may read and write too.
    users: dict[str, str] = field(default_factory=dict)

    @property
    def discovery(self) -> str:
        return f"{self.base}/taxii2/"

    @property
    def api_root(self) -> str:
        return f"{self.base}/{self.api_root_name}/"

    def objects_url(self, collection_id: str | None = None) -> str:
        return f"{self.api_root}collections/{collection_id or self.collection_id}/objects/"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _collection(collection_id: str, title: str, *, read: bool, write: bool) -> dict[str, object]:
    return {
        "id": collection_id,
        "title": title,
        "description": f"{title} (federation test collection)",
        "can_read": read,
        "can_write": write,
        "media_types": [STIX],
        "objects": [],
        "manifest": [],
    }


@contextmanager
def medallion_peer(
    directory: Path,
    *,
    api_root: str = "peer",
    collections: Sequence[str] = ("Peer intel",),
    max_page_size: int = 1000,
    extra_users: dict[str, str] | None = None,
    within: float = 30.0,
) -> Iterator[MedallionPeer]:
    """medallion on 127.0.0.1:<free port> with the memory backend; each title in
    `collections` becomes a readable and writable collection (the first is the peer's
    `collection_id`)."""
    if not collections:
        raise ValueError("medallion_peer needs at least one collection")
    home = directory / f"medallion-{uuid.uuid4().hex[:8]}"
    home.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    made = {title: str(uuid.uuid4()) for title in collections}
    username, password = "kizuna-peer", uuid.uuid4().hex
    data = {
        "/discovery": {
            "title": "medallion (federation test peer)",
            "description": "OASIS reference TAXII 2.1 server",
            "contact": "nobody@peer.example",
            "default": f"{base}/{api_root}/",
            "api_roots": [f"{base}/{api_root}/"],
        },
        api_root: {
            "information": {
                "title": f"medallion {api_root}",
                "description": "Federation test API root",
                "versions": [TAXII],
                "max_content_length": 10 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                _collection(cid, title, read=True, write=True) for title, cid in made.items()
            ],
        },
    }
    users = {username: password, **(extra_users or {})}
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(home / "data.json"),
            "session_timeout": 3600,
        },
        "users": users,
        "taxii": {"max_page_size": max_page_size},
    }
    (home / "data.json").write_bytes(orjson.dumps(data))
    (home / "config.json").write_bytes(orjson.dumps(config))
    log_path = home / "medallion.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medallion.scripts.run",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "WARN",
                str(home / "config.json"),
            ],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    peer = MedallionPeer(
        base=base,
        api_root_name=api_root,
        collection_id=made[collections[0]],
        username=username,
        password=password,
        log_path=log_path,
        collections=made,
        users=users,
    )
    try:
        _wait_until_up(process, peer, within)
        yield peer
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(process: subprocess.Popen[bytes], peer: MedallionPeer, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"medallion exited with {process.returncode} at start-up:\n{peer.log_tail()}"
            )
        try:
            response = httpx.get(
                peer.discovery,
                auth=(peer.username, peer.password),
                headers={"Accept": TAXII},
                timeout=2.0,
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"medallion did not come up within {within:.0f} s:\n{peer.log_tail()}")
