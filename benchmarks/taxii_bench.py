"""TAXII 2.1 throughput: kizuna's ingest and paged read, side by side with a peer server.

    .venv/bin/python benchmarks/taxii_bench.py [--objects 100000] [--envelope 1000]
        [--page 1000] [--backends sqlite,postgres] [--medallion] [--peer-objects M]
        [--peer-url API_ROOT_URL --peer-collection ID [--peer-user U --peer-password P]]

For each kizuna backend a fresh node is made with the `kizuna` CLI in a temporary directory
(PostgreSQL: in a schema of its own, dropped afterwards) and served by `kizuna serve` on a
free port. N indicators are generated up front (not timed); then two steps are timed:

* ingest: POST envelopes of --envelope objects one after another over one keep-alive
  connection; every status must report success_count == the envelope's size (a "pending"
  status is polled at the API root's status endpoint until it completes);
* read: GET the collection's objects with limit=--page, following `next` until `more` is
  false; every posted id must come back exactly once (and, for a fresh collection, nothing
  else).

--medallion runs the same workload against the OASIS reference server medallion (memory
backend, Flask's development server) started locally; --peer-url against any running
TAXII 2.1 server, given its API root URL and a writable collection (which need not be
empty: then the check is that every posted id is read back exactly once). Peers get
--peer-objects objects (default min(N, 10000)) because medallion is far slower; rates are
in objects per second so rows compare, but medallion's cost per object grows with the
collection's size, so its rate at M objects flatters it as a stand-in for N.

Exit status: 0 when every check passed, 1 when a kizuna run failed, 2 when only a peer
failed, 130 when interrupted. Servers are stopped, schemas dropped and temporary
directories removed in every case, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import create_engine, text

TAXII = "application/taxii+json;version=2.1"
STIX21 = "application/stix+json;version=2.1"
TLP_GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MAX_CONTENT_LENGTH = 64 * 1024 * 1024
BACKENDS = ("sqlite", "postgres")


class BenchError(Exception):
    """A step failed: the message says which step and what was seen."""


# --------------------------------------------------------------------------- workload


@dataclass(frozen=True)
class Workload:
    """Envelopes ready to send (serialised up front) and the ids they carry."""

    ids: list[str]
    bodies: list[bytes]
    sizes: list[int]

    @property
    def count(self) -> int:
        return len(self.ids)


def make_indicators(count: int) -> list[dict[str, Any]]:
    """Valid STIX 2.1 indicators (TLP:GREEN), varied in id, name and pattern."""
    indicators: list[dict[str, Any]] = []
    for i in range(count):
        a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
        kind = i % 3
        if kind == 0:
            pattern = f"[ipv4-addr:value = '10.{a}.{b}.{c}']"
        elif kind == 1:
            pattern = f"[domain-name:value = 'host-{i}.bench.example']"
        else:
            pattern = f"[url:value = 'https://bench.example/path/{i}']"
        indicators.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid4()}",
                "created": "2026-01-01T00:00:00.000Z",
                "modified": "2026-01-01T00:00:00.000Z",
                "name": f"benchmark indicator {i}",
                "description": "Synthetic indicator for the TAXII throughput benchmark.",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": "2026-01-01T00:00:00Z",
                "object_marking_refs": [TLP_GREEN],
            }
        )
    return indicators


def make_workload(objects: Sequence[dict[str, Any]], envelope: int) -> Workload:
    bodies: list[bytes] = []
    sizes: list[int] = []
    for start in range(0, len(objects), envelope):
        chunk = objects[start : start + envelope]
        bodies.append(orjson.dumps({"objects": list(chunk)}))
        sizes.append(len(chunk))
    return Workload(ids=[str(o["id"]) for o in objects], bodies=bodies, sizes=sizes)


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Target:
    """A collection on some TAXII 2.1 server."""

    label: str
    peer: bool
    api_root: str  # ends with "/"
    collection_id: str
    auth: httpx.Auth | None
    fresh: bool  # the collection starts empty, so the read must return exactly what we sent
    server: ServerProcess | None = None

    @property
    def objects_url(self) -> str:
        return f"{self.api_root}collections/{self.collection_id}/objects/"

    def status_url(self, status_id: str) -> str:
        return f"{self.api_root}status/{status_id}/"


@dataclass
class Result:
    label: str
    peer: bool
    objects: int
    ingest_s: float | None = None
    read_s: float | None = None
    read_count: int = 0
    error: str | None = None
    #: Seconds per POST (status polling included) and per GET page, in order.
    post_latencies: list[float] = field(default_factory=list)
    get_latencies: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def ingest_rate(self) -> float | None:
        return self.objects / self.ingest_s if self.ingest_s else None

    @property
    def read_rate(self) -> float | None:
        return self.read_count / self.read_s if self.read_s else None


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def excerpt(data: bytes | str, limit: int = 600) -> str:
    body = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    body = " ".join(body.split())
    return body if len(body) <= limit else body[:limit] + " ..."


def parse_json(response: httpx.Response, step: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise BenchError(f"{step}: the response is not JSON: {excerpt(response.content)}") from None
    if not isinstance(parsed, dict):
        raise BenchError(f"{step}: expected a JSON object, got {excerpt(response.content)}")
    return parsed


def settle(
    client: httpx.Client, target: Target, status: dict[str, Any], step: str, timeout: float
) -> dict[str, Any]:
    """Poll a status resource until it is complete (servers that process POSTs later)."""
    deadline = time.monotonic() + timeout
    while status.get("status") != "complete" or status.get("pending_count", 0):
        if time.monotonic() > deadline:
            raise BenchError(f"{step}: status still {status.get('status')!r} after {timeout:.0f}s")
        status_id = status.get("id")
        if not isinstance(status_id, str):
            raise BenchError(f"{step}: a status that is not complete and has no id: {status}")
        time.sleep(0.02)
        response = client.get(target.status_url(status_id))
        if response.status_code != 200:
            raise BenchError(
                f"{step}: GET status {status_id}: HTTP {response.status_code}: "
                f"{excerpt(response.content)}"
            )
        status = parse_json(response, f"{step} (status poll)")
    return status


def ingest(
    client: httpx.Client, target: Target, work: Workload, timeout: float, latencies: list[float]
) -> float:
    started = time.perf_counter()
    total = len(work.bodies)
    for index, (body, size) in enumerate(zip(work.bodies, work.sizes, strict=True), start=1):
        step = f"ingest, envelope {index}/{total}"
        sent = time.perf_counter()
        response = client.post(target.objects_url, content=body)
        if response.status_code != 202:
            raise BenchError(
                f"{step}: HTTP {response.status_code} (expected 202): {excerpt(response.content)}"
            )
        status = settle(client, target, parse_json(response, step), step, timeout)
        latencies.append(time.perf_counter() - sent)
        succeeded, failed = status.get("success_count"), status.get("failure_count")
        if succeeded != size or failed:
            failures = status.get("failures") or []
            first = f"; first failure: {failures[0]}" if failures else ""
            raise BenchError(
                f"{step}: status says success_count={succeeded} failure_count={failed} "
                f"for {size} objects posted{first}"
            )
    return time.perf_counter() - started


def read_all(
    client: httpx.Client, target: Target, work: Workload, page: int, latencies: list[float]
) -> tuple[float, int]:
    """Page through the collection; return (seconds, objects read) once the checks pass."""
    seen: set[str] = set()
    duplicates: list[str] = []
    count = 0
    pages = 0
    params: dict[str, str] = {"limit": str(page)}
    started = time.perf_counter()
    while True:
        pages += 1
        step = f"read, page {pages}"
        sent = time.perf_counter()
        response = client.get(target.objects_url, params=params)
        latencies.append(time.perf_counter() - sent)
        if response.status_code != 200:
            raise BenchError(
                f"{step} (after {count} objects): HTTP {response.status_code}: "
                f"{excerpt(response.content)}"
            )
        envelope = parse_json(response, step)
        batch = envelope.get("objects") or []
        for obj in batch:
            object_id = obj.get("id")
            if object_id in seen:
                duplicates.append(str(object_id))
            seen.add(str(object_id))
        count += len(batch)
        if not envelope.get("more", False):
            break
        cursor = envelope.get("next")
        if not isinstance(cursor, str) or not cursor:
            raise BenchError(f"{step}: more is true but there is no next value")
        if not batch:
            raise BenchError(f"{step}: more is true but the page is empty")
        if target.fresh and count > work.count:
            raise BenchError(f"{step}: read {count} objects from a collection given {work.count}")
        params = {"limit": str(page), "next": cursor}
    elapsed = time.perf_counter() - started

    problems: list[str] = []
    if duplicates:
        problems.append(f"{len(duplicates)} ids read more than once (e.g. {duplicates[0]})")
    if target.fresh and count != work.count:
        problems.append(f"read {count} objects, posted {work.count}")
    missing = set(work.ids) - seen
    if missing:
        problems.append(f"{len(missing)} posted ids never read (e.g. {next(iter(missing))})")
    if target.fresh:
        extra = seen - set(work.ids)
        if extra:
            problems.append(f"{len(extra)} ids read that were never posted")
    if problems:
        raise BenchError(f"read check failed over {pages} pages: " + "; ".join(problems))
    return elapsed, count


def run_workload(target: Target, work: Workload, page: int, timeout: float) -> Result:
    result = Result(label=target.label, peer=target.peer, objects=work.count)
    headers = {"Accept": TAXII, "Content-Type": TAXII}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(
        auth=target.auth,
        headers=headers,
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=limits,
    ) as client:
        try:
            progress(f"{target.label}: ingesting {work.count} objects ({len(work.bodies)} POSTs)")
            result.ingest_s = ingest(client, target, work, timeout, result.post_latencies)
            progress(
                f"{target.label}: ingest took {result.ingest_s:.2f}s; paged read, limit={page}"
            )
            result.read_s, result.read_count = read_all(
                client, target, work, page, result.get_latencies
            )
            progress(f"{target.label}: read took {result.read_s:.2f}s")
        except (BenchError, httpx.HTTPError) as exc:
            kind = "" if isinstance(exc, BenchError) else f"{type(exc).__name__}: "
            step = "ingest" if result.ingest_s is None else "read"
            message = f"{kind}{exc}" if isinstance(exc, BenchError) else f"{step}: {kind}{exc}"
            if target.server is not None:
                message += target.server.describe_failure()
            result.error = message
            progress(f"{target.label}: FAILED: {message}")
    return result


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Let cleanup finish even if Ctrl-C is pressed again."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class ServerProcess:
    """A server subprocess in a session of its own (so Ctrl-C reaches only us and we stop it
    in order), logging to a file."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.label = label
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], within: float = 60.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"{self.label} exited with status {self.process.returncode} at start-up"
                    + self.describe_failure()
                )
            with contextlib.suppress(httpx.TransportError):
                if ready():
                    return
            time.sleep(0.1)
        raise BenchError(f"{self.label} did not come up within {within:.0f}s" + self.log_tail())

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 25) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        if not tail:
            return f"\n    ({self.label} log is empty)"
        return f"\n    last lines of the {self.label} log:\n      " + "\n      ".join(tail)

    def describe_failure(self) -> str:
        alive = self.process is not None and self.process.poll() is None
        state = "" if alive or self.process is None else f" (exit {self.process.returncode})"
        return (f"\n    {self.label} is no longer running{state}" if not alive else "") + (
            self.log_tail()
        )


def http_ok(url: str, auth: httpx.Auth | None = None, accept: str | None = None) -> bool:
    headers = {"Accept": accept} if accept else {}
    return httpx.get(url, auth=auth, headers=headers, timeout=2.0).status_code == 200


# --------------------------------------------------------------------------- kizuna


def kizuna_cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kizuna", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(
            f"setup: `kizuna {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}"
        )
    return done.stdout.strip()


@contextlib.contextmanager
def database(backend: str, home: Path, pg_url: str) -> Iterator[str]:
    """An empty database for one node; PostgreSQL gets a schema that is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{home / 'kizuna.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            separator = "&" if "?" in pg_url else "?"
            yield f"{pg_url}{separator}options=-csearch_path%3D{schema}"
        finally:
            with shielded(), admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def kizuna_node(backend: str, workdir: Path, pg_url: str) -> Iterator[Target]:
    home = workdir / f"kizuna-{backend}"
    home.mkdir()
    with database(backend, home, pg_url) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
        env.update(
            KIZUNA_HOME=str(home),
            KIZUNA_DATABASE_URL=url,
            KIZUNA_SECRET_KEY="bench",
            PYTHONUNBUFFERED="1",
        )
        kizuna_cli(env, "org", "add", "--name", "Bench", "--country", "GB")
        token = kizuna_cli(env, "token", "create", "--org", "Bench", "--role", "analyst")
        collection = kizuna_cli(env, "collection", "add", "--title", "bench")
        kizuna_cli(
            env,
            "collection",
            "grant",
            "--collection",
            collection,
            "--org",
            "Bench",
            "--read",
            "--write",
        )
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = ServerProcess(
            f"kizuna serve ({backend})",
            [sys.executable, "-m", "kizuna", "serve", "--port", str(port)],
            env,
            home / "server.log",
        )
        try:
            server.start(lambda: http_ok(f"{base}/healthz"))
            yield Target(
                label=f"kizuna {backend}",
                peer=False,
                api_root=f"{base}/taxii2/kizuna/",
                collection_id=collection,
                auth=BearerAuth(token),
                fresh=True,
                server=server,
            )
        finally:
            with shielded():
                server.stop()


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


# --------------------------------------------------------------------------- medallion


def medallion_version() -> str:
    try:
        return metadata.version("medallion")
    except metadata.PackageNotFoundError:
        return "not installed"


@contextlib.contextmanager
def medallion_peer(workdir: Path, page: int) -> Iterator[Target]:
    """medallion with its memory backend: one API root ("bench") with one writable, empty
    collection, served by Flask's development server (medallion.scripts.run)."""
    home = workdir / "medallion"
    home.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    collection = str(uuid.uuid4())
    password = uuid.uuid4().hex
    data = {
        "/discovery": {
            "title": "medallion (benchmark peer)",
            "description": "Reference TAXII 2.1 server for taxii_bench.py",
            "contact": "nobody@bench.example",
            "default": f"{base}/bench/",
            "api_roots": [f"{base}/bench/"],
        },
        "bench": {
            "information": {
                "title": "bench",
                "description": "Benchmark API root",
                "versions": [TAXII],
                "max_content_length": MAX_CONTENT_LENGTH,
            },
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "bench",
                    "description": "Benchmark collection",
                    "can_read": True,
                    "can_write": True,
                    "media_types": [STIX21],
                    "objects": [],
                    "manifest": [],
                }
            ],
        },
    }
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(home / "data.json"),
            # `next` sessions expire this long after the first page was served (default 30 s,
            # which a slow first page can use up): keep them for the whole read.
            "session_timeout": 3600,
        },
        "users": {"bench": password},
        "taxii": {"max_page_size": max(page, 10000)},
    }
    (home / "data.json").write_bytes(orjson.dumps(data))
    (home / "config.json").write_bytes(orjson.dumps(config))
    auth = httpx.BasicAuth("bench", password)
    server = ServerProcess(
        "medallion",
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
        {**os.environ, "PYTHONUNBUFFERED": "1"},
        home / "server.log",
    )
    try:
        server.start(lambda: http_ok(f"{base}/taxii2/", auth, TAXII))
        yield Target(
            label=f"medallion {medallion_version()} memory",
            peer=True,
            api_root=f"{base}/bench/",
            collection_id=collection,
            auth=auth,
            fresh=True,
            server=server,
        )
    finally:
        with shielded():
            server.stop()


# --------------------------------------------------------------------------- report


def machine_facts(backends: Sequence[str], pg_url: str) -> list[tuple[str, str]]:
    facts = [
        ("nproc", f"{len(os.sched_getaffinity(0))} (cpu_count {os.cpu_count()})"),
        ("python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("platform", platform.platform()),
        ("load", f"{load_average()} (1/5/15 min, at start; other work on the host skews figures)"),
    ]
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts.append(("cpu", line.split(":", 1)[1].strip()))
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts.append(("memory", f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"))
                break
    versions = []
    for name in ("kizuna", "httpx", "uvicorn", "sqlalchemy", "medallion"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    facts.append(("packages", ", ".join(versions)))
    if "sqlite" in backends:
        facts.append(("sqlite", sqlite3.sqlite_version))
    if "postgres" in backends:
        try:
            engine = create_engine(pg_url)
            try:
                with engine.connect() as conn:
                    version = str(conn.execute(text("SHOW server_version")).scalar())
            finally:
                engine.dispose()
            facts.append(("postgres", f"{version} at {urlsplit(pg_url).netloc}"))
        except Exception as exc:
            facts.append(("postgres", f"unreachable: {type(exc).__name__}: {exc}"))
    return facts


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_ratio(ours: float | None, theirs: float | None) -> str:
    return "-" if not ours or not theirs else f"{ours / theirs:.1f}x"


def render_table(results: Sequence[Result]) -> str:
    peers = [r for r in results if r.peer and r.ok] if any(not r.peer for r in results) else []
    header = ["server", "objects", "ingest s", "ingest obj/s", "read s", "read obj/s"]
    for peer in peers:
        short = peer.label.split()[0]
        header += [f"ingest vs {short}", f"read vs {short}"]
    rows = [header]
    for r in results:
        ingest_failed = r.error is not None and r.ingest_s is None
        read_failed = r.error is not None and not ingest_failed
        row = [
            r.label + (" FAILED" if r.error else ""),
            f"{r.objects:,}",
            "FAILED" if ingest_failed else fmt_seconds(r.ingest_s),
            "-" if ingest_failed else fmt_rate(r.ingest_rate),
            "FAILED" if read_failed else "-" if ingest_failed else fmt_seconds(r.read_s),
            "-" if r.error else fmt_rate(r.read_rate),
        ]
        for peer in peers:
            if r.peer:
                row += ["", ""]
            else:
                row += [
                    fmt_ratio(r.ingest_rate, peer.ingest_rate),
                    fmt_ratio(None if r.error else r.read_rate, peer.read_rate),
                ]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def latency_summary(values: Sequence[float]) -> str:
    middle = statistics.median(values)
    return f"{values[0]:.3f} / {middle:.3f} / {values[-1]:.3f} / {max(values):.3f}; n={len(values)}"


def latency_report(result: Result) -> list[str]:
    lines = []
    if result.post_latencies:
        lines.append(f"  {result.label:<24} POST  {latency_summary(result.post_latencies)}")
    if result.get_latencies:
        lines.append(f"  {result.label:<24} GET   {latency_summary(result.get_latencies)}")
    return lines


def report(results: Sequence[Result], args: argparse.Namespace) -> None:
    print()
    print(
        f"workload: {args.envelope} objects per POST, sequential, one keep-alive connection; "
        f"paged read with limit={args.page}"
    )
    print(render_table(results))
    peers = [r for r in results if r.peer and r.ok]
    ours = [r for r in results if not r.peer and r.ok]
    if peers and ours:
        print(
            '("vs" columns: kizuna objects/s divided by the peer\'s objects/s; >1 = kizuna faster)'
        )
        sizes = {r.objects for r in peers} | {r.objects for r in ours}
        if len(sizes) > 1:
            print(
                "(the rows ran different numbers of objects: compare rates, not times; a server "
                "whose cost per object grows with the collection looks better at a smaller size)"
            )
    latency_lines = [line for r in results for line in latency_report(r)]
    if latency_lines:
        print("\nseconds per request (first / median / last / max; n requests):")
        print("\n".join(latency_lines))
    for r in results:
        if r.ok and r.read_count != r.objects:
            print(
                f"\n{r.label}: read {r.read_count:,} objects, {r.objects:,} of them posted by this "
                "run (the collection held others); read obj/s counts all of them"
            )
    print(f"\nload average at the end: {load_average()}")
    failed = [r for r in results if r.error]
    if failed:
        print("\nFailures:")
        for r in failed:
            print(f"  {r.label}: {r.error}")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="TAXII 2.1 ingest and paged-read throughput: kizuna against a peer.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--objects", type=int, default=100_000, help="objects per kizuna run")
    parser.add_argument("--envelope", type=int, default=1000, help="objects per POST")
    parser.add_argument("--page", type=int, default=1000, help="limit for each GET")
    parser.add_argument(
        "--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="PostgreSQL for 'postgres'")
    parser.add_argument(
        "--medallion", action="store_true", help="also run against a local medallion"
    )
    parser.add_argument(
        "--peer-objects", type=int, default=None, help="objects for peers [min(N, 10000)]"
    )
    parser.add_argument("--peer-url", help="a running TAXII 2.1 server's API root URL")
    parser.add_argument("--peer-collection", help="a writable collection id at --peer-url")
    parser.add_argument("--peer-user", help="HTTP Basic user for --peer-url")
    parser.add_argument("--peer-password", help="HTTP Basic password for --peer-url")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds allowed for any one request"
    )
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(args.backends) - set(BACKENDS))
    if unknown:
        parser.error(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    for name in ("objects", "envelope", "page"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.peer_objects is None:
        args.peer_objects = min(args.objects, 10_000)
    if args.peer_objects < 1:
        parser.error("--peer-objects must be at least 1")
    if bool(args.peer_url) != bool(args.peer_collection):
        parser.error("--peer-url and --peer-collection go together")
    if (args.peer_user is None) != (args.peer_password is None):
        parser.error("--peer-user and --peer-password go together")
    return args


def describe(exc: Exception) -> str:
    """A one-paragraph account of a failure outside the timed steps (setup, start-up)."""
    if isinstance(exc, BenchError):
        return str(exc)
    return f"setup: {type(exc).__name__}: {exc}"


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C and SIGTERM both unwind through the cleanup below (SIGINT explicitly, in case
    # the shell that started us in the background ignored it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, on_sigterm)
    results: list[Result] = []
    interrupted = False
    workdir = Path(tempfile.mkdtemp(prefix="taxii-bench-"))
    try:
        print("machine:")
        for key, value in machine_facts(args.backends, args.pg_url):
            print(f"  {key:<9} {value}")
        sys.stdout.flush()

        peers_run = args.medallion or args.peer_url
        total = max(args.objects if args.backends else 0, args.peer_objects if peers_run else 0)
        progress(f"generating {total} indicators (not timed)")
        indicators = make_indicators(total)
        ours = make_workload(indicators[: args.objects], args.envelope)
        theirs = make_workload(indicators[: args.peer_objects], args.envelope)

        for backend in args.backends:
            try:
                with kizuna_node(backend, workdir, args.pg_url) as target:
                    results.append(run_workload(target, ours, args.page, args.timeout))
            except Exception as exc:
                message = describe(exc)
                results.append(Result(f"kizuna {backend}", False, ours.count, error=message))
                progress(f"kizuna {backend}: FAILED: {message}")

        if args.medallion:
            try:
                with medallion_peer(workdir, args.page) as target:
                    results.append(run_workload(target, theirs, args.page, args.timeout))
            except Exception as exc:
                message = describe(exc)
                results.append(Result("medallion", True, theirs.count, error=message))
                progress(f"medallion: FAILED: {message}")

        if args.peer_url:
            auth = httpx.BasicAuth(args.peer_user, args.peer_password) if args.peer_user else None
            target = Target(
                label=f"peer {urlsplit(args.peer_url).netloc}",
                peer=True,
                api_root=args.peer_url.rstrip("/") + "/",
                collection_id=args.peer_collection,
                auth=auth,
                fresh=False,
            )
            results.append(run_workload(target, theirs, args.page, args.timeout))
    except KeyboardInterrupt:
        interrupted = True
        progress("interrupted: servers stopped, schemas dropped, cleaning up")
    finally:
        with shielded():
            shutil.rmtree(workdir, ignore_errors=True)

    if results:
        report(results, args)
    if interrupted:
        print("\ninterrupted before the end: the table is partial")
        return 130
    if any(r.error and not r.peer for r in results):
        return 1
    if any(r.error for r in results):
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
