"""The federation TAXII client against real servers: a kizuna node (`kizuna serve`), OASIS
medallion, and a hostile local HTTP server that fails, stalls, lies and floods. Back-off
sleeps are recorded through the injected `sleep`, so retries cost no time."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from kizuna.errors import InvalidInput
from kizuna.federation.client import Page, PeerError, TaxiiClient
from tests.e2e.conftest import LiveNode, running_node
from tests.e2e.server import free_port
from tests.e2e.test_taxii_clients import indicator
from tests.federation.medallion import MedallionPeer, medallion_peer

TAXII = "application/taxii+json;version=2.1"


class Delays(list[float]):
    """The injected sleep: records each back-off instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def read_all(client: TaxiiClient, collection_id: str, **kwargs: Any) -> list[Page]:
    pages = [client.get_objects(collection_id, **kwargs)]
    while pages[-1].more:
        assert pages[-1].next, "more without next"
        pages.append(client.get_objects(collection_id, next=pages[-1].next, **kwargs))
        assert len(pages) < 100
    return pages


def ids_of(pages: list[Page]) -> list[str]:
    return [o["id"] for page in pages for o in page.objects]


def failure(call: Callable[[], object]) -> PeerError:
    """The PeerError that `call` raises."""
    with pytest.raises(PeerError) as caught:
        call()
    return caught.value


# -- a real kizuna node ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def kizuna_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveNode]:
    with running_node("sqlite", tmp_path_factory.mktemp("fed-node"), quick=True) as node:
        yield node


def kizuna_client(node: LiveNode, who: str = "ncsc", **kwargs: Any) -> TaxiiClient:
    return TaxiiClient(node.discovery, token=node.tokens[who], sleep=Delays(), **kwargs)


def test_kizuna_discovery_api_root_and_collections(kizuna_node: LiveNode) -> None:
    root = f"{kizuna_node.url}/taxii2/kizuna/"
    with kizuna_client(kizuna_node) as client:
        assert client.discover() == [root]
        assert client.api_root() == root
        info = client.api_root_information()
        assert info.url == root
        assert info.max_content_length > 0
        found = {c.title: c for c in client.collections()}
        intel = found["Partnership intel"]
        assert intel.id == kizuna_node.collections["intel"]
        assert (intel.can_read, intel.can_write) == (True, True)
    # Given the API root itself rather than the discovery URL.
    with TaxiiClient(root.rstrip("/"), token=kizuna_node.tokens["bank"]) as client:
        assert client.discover() == [root]
        assert client.api_root() == root
        titles = {c.title: (c.can_read, c.can_write) for c in client.collections()}
        assert titles == {"Partnership intel": (True, False), "Public advisories": (True, False)}


def test_kizuna_add_objects_then_status(kizuna_node: LiveNode) -> None:
    good = [indicator(n) for n in range(3)]
    broken = {"type": "indicator", "id": "not-an-id"}
    with kizuna_client(kizuna_node) as client:
        status = client.add_objects(kizuna_node.collections["intel"], [*good, broken])
        assert status.status == "complete"
        assert (status.total, status.success, status.failure, status.pending) == (4, 3, 1, 0)
        assert {s["id"] for s in status.successes} == {o["id"] for o in good}
        assert [f["id"] for f in status.failures] == ["not-an-id"]
        assert client.status(status.id) == status


def test_kizuna_paging_follows_next_and_honours_added_after(kizuna_node: LiveNode) -> None:
    collection = kizuna_node.collections["intel"]
    with kizuna_client(kizuna_node, "water") as client:
        first = [indicator(n) for n in range(7)]
        assert client.add_objects(collection, first).success == 7
        pages = read_all(client, collection, limit=3)
        assert all(len(p.objects) <= 3 for p in pages)
        assert len(pages) >= 3
        assert not pages[-1].more
        assert pages[-1].next is None
        seen = ids_of(pages)
        assert len(seen) == len(set(seen))
        assert {o["id"] for o in first} <= set(seen)
        for page in pages:
            assert page.date_added_first is not None
            assert page.date_added_last is not None
            assert page.date_added_first <= page.date_added_last
        for before, after in itertools.pairwise(pages):
            assert before.date_added_last is not None
            assert after.date_added_first is not None
            assert before.date_added_last < after.date_added_first
        mark = pages[-1].date_added_last
        assert mark is not None

        later = [indicator(n) for n in range(100, 104)]
        assert client.add_objects(collection, later).success == 4
        newer = read_all(client, collection, added_after=mark, limit=3)
        assert ids_of(newer) == [o["id"] for o in later]
        assert newer[0].date_added_first is not None
        assert newer[0].date_added_first > mark
        # Nothing after the newest: the empty envelope, with no date headers.
        empty = client.get_objects(collection, added_after=newer[-1].date_added_last)
        assert empty == Page(
            objects=[], more=False, next=None, date_added_first=None, date_added_last=None
        )


def test_kizuna_basic_auth_with_the_token_as_password(kizuna_node: LiveNode) -> None:
    with TaxiiClient(
        kizuna_node.discovery, username="kizuna", password=kizuna_node.tokens["ncsc"]
    ) as client:
        assert "Partnership intel" in {c.title for c in client.collections()}


def test_kizuna_bad_token_is_an_auth_error_without_retries(kizuna_node: LiveNode) -> None:
    delays = Delays()
    with TaxiiClient(kizuna_node.discovery, token="kz_not-a-real-token", sleep=delays) as client:
        error = failure(client.discover)
    assert (error.kind, error.status, error.retryable, error.attempts) == ("auth", 401, False, 1)
    assert delays == []
    assert "401" in error.message
    assert "kz_not-a-real-token" not in error.message


def test_kizuna_refusals_are_classified(kizuna_node: LiveNode) -> None:
    intel = kizuna_node.collections["intel"]
    with kizuna_client(kizuna_node, "bank") as client:
        forbidden = failure(lambda: client.add_objects(intel, [indicator(1)]))
        assert (forbidden.kind, forbidden.status) == ("auth", 403)
        missing = failure(lambda: client.get_objects(str(uuid.uuid4())))
        assert (missing.kind, missing.status) == ("not-found", 404)
        assert "no collection" in missing.message
        bad_filter = failure(lambda: client.get_objects(intel, added_after="yesterday"))
        assert (bad_filter.kind, bad_filter.status, bad_filter.retryable) == (
            "protocol",
            400,
            False,
        )


# -- medallion -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medallion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MedallionPeer]:
    with medallion_peer(tmp_path_factory.mktemp("medallion")) as peer:
        yield peer


def medallion_client(peer: MedallionPeer, **kwargs: Any) -> TaxiiClient:
    return TaxiiClient(
        peer.discovery, username=peer.username, password=peer.password, sleep=Delays(), **kwargs
    )


def test_medallion_discovery_and_collections(medallion: MedallionPeer) -> None:
    with medallion_client(medallion) as client:
        assert client.discover() == [medallion.api_root]
        assert client.api_root() == medallion.api_root
        [only] = client.collections()
        assert (only.id, only.can_read, only.can_write) == (medallion.collection_id, True, True)
    with TaxiiClient(
        medallion.api_root, username=medallion.username, password=medallion.password
    ) as client:
        assert client.discover() == [medallion.api_root]


def test_medallion_add_objects_status_and_paging(medallion: MedallionPeer) -> None:
    sent = [indicator(n) for n in range(5)]
    with medallion_client(medallion) as client:
        status = client.add_objects(medallion.collection_id, sent)
        assert status.status == "complete"
        assert (status.total, status.success, status.failure) == (5, 5, 0)
        assert client.status(status.id).success == 5
        pages = read_all(client, medallion.collection_id, limit=2)
        assert [len(p.objects) for p in pages][:2] == [2, 2]
        assert not pages[-1].more
        assert set(ids_of(pages)) >= {o["id"] for o in sent}
        assert all(p.date_added_first and p.date_added_last for p in pages)
        added = pages[0].date_added_first
        assert added is not None
        later = client.get_objects(medallion.collection_id, added_after=added)
        assert {o["id"] for o in sent}.isdisjoint(o["id"] for o in later.objects)


def test_medallion_wrong_password_is_an_auth_error(medallion: MedallionPeer) -> None:
    delays = Delays()
    with TaxiiClient(
        medallion.discovery, username=medallion.username, password="wrong", sleep=delays
    ) as client:
        error = failure(lambda: client.collections(medallion.api_root))
    assert (error.kind, error.status, delays) == ("auth", 401, [])


# -- a hostile peer --------------------------------------------------------------------------

Responder = Callable[[BaseHTTPRequestHandler], None]


def reply(
    status: int = 200,
    body: object = None,
    *,
    content_type: str | None = TAXII,
    headers: dict[str, str] | None = None,
) -> Responder:
    raw = body if isinstance(body, bytes) else orjson.dumps({} if body is None else body)

    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(raw)

    return respond


def taxii_error(status: int, title: str, description: str, **headers: str) -> Responder:
    body = {"title": title, "description": description, "http_status": str(status)}
    return reply(status, body, headers=headers)


def slow(seconds: float, then: Responder) -> Responder:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        then(handler)

    return respond


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A TAXII envelope that never ends (no Content-Length, until the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", TAXII)
    handler.end_headers()
    handler.wfile.write(b'{"objects": [')
    chunk = b'{"type": "indicator", "id": "indicator--x"},' * 400
    for _ in range(2000):  # at most ~36 MB, should the client not stop reading
        handler.wfile.write(chunk)


def lying_length(handler: BaseHTTPRequestHandler) -> None:
    """Promises 1000 bytes, sends 13 and hangs up."""
    handler.send_response(200)
    handler.send_header("Content-Type", TAXII)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b'{"objects": [')


def huge_length(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", TAXII)
    handler.send_header("Content-Length", str(10**12))
    handler.end_headers()
    handler.wfile.write(b"{}")


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Hostile:
    """Scripted answers per path: each request takes the next responder; the last repeats."""

    url: str
    routes: dict[str, list[Responder]] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)

    def script(self, path: str, *responders: Responder) -> str:
        self.routes[path] = list(responders)
        return f"{self.url}{path}"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        self.seen.append(Seen(handler.command, handler.path, dict(handler.headers), body))
        responders = self.routes.get(path)
        if not responders:
            reply(404, b"no route", content_type="text/plain")(handler)
            return
        turn = self.hits[path]
        self.hits[path] += 1
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client hung up
            responders[min(turn, len(responders) - 1)](handler)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    port = free_port()
    peer = Hostile(url=f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            peer.answer(self)

        def do_POST(self) -> None:
            peer.answer(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


ENVELOPE = {"more": False, "objects": [{"type": "indicator", "id": "indicator--1"}]}
OBJECTS = "/root/collections/c1/objects/"
SECRET = "kz_secret-peer-token"


API_ROOT = {"title": "hostile", "versions": [TAXII], "max_content_length": 1000}


def hostile_client(peer: Hostile, delays: Delays | None = None, **kwargs: Any) -> TaxiiClient:
    """A client of the hostile peer, whose URL is its API root /root/."""
    if "/root/" not in peer.routes:
        peer.script("/root/", reply(200, API_ROOT))
    sleep = Delays() if delays is None else delays
    return TaxiiClient(f"{peer.url}/root/", token=SECRET, sleep=sleep, **kwargs)


def test_server_errors_are_retried_with_growing_backoff(
    hostile: Hostile, caplog: pytest.LogCaptureFixture
) -> None:
    hostile.script(
        OBJECTS,
        taxii_error(500, "InternalError", "the database fell over"),
        taxii_error(500, "InternalError", "still down"),
        reply(502, b"<html><body>Bad Gateway</body></html>", content_type="text/html"),
        reply(200, ENVELOPE),
    )
    delays = Delays()
    caplog.set_level(logging.WARNING, logger="kizuna.federation")
    with hostile_client(hostile, delays, jitter=lambda: 1.0) as client:
        page = client.get_objects("c1")
    assert page.objects == ENVELOPE["objects"]
    assert delays == [0.5, 1.0, 2.0]
    assert hostile.hits[OBJECTS] == 4
    records = [r for r in caplog.records if r.name == "kizuna.federation"]
    assert [r.levelno for r in records] == [logging.WARNING] * 3
    text = "\n".join(r.getMessage() for r in records)
    assert hostile.url in text
    assert "500" in text
    assert "the database fell over" in text
    assert "502" in text
    assert "retry 1 of 4" in text
    assert SECRET not in text


def test_full_jitter_stays_under_the_exponential_ceiling(hostile: Hostile) -> None:
    hostile.script(OBJECTS, taxii_error(503, "Unavailable", "maintenance"))
    delays = Delays()
    with hostile_client(hostile, delays, retries=4, backoff=0.5) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.status, error.retryable, error.attempts) == ("server", 503, True, 5)
    assert "gave up after 5 attempts" in error.message
    assert len(delays) == 4
    assert all(0.0 <= d <= 0.5 * 2**n for n, d in enumerate(delays))
    assert hostile.hits[OBJECTS] == 5


def test_retry_after_is_respected_and_capped(hostile: Hostile) -> None:
    hostile.script(
        OBJECTS,
        taxii_error(503, "Unavailable", "come back later", **{"Retry-After": "7"}),
        taxii_error(429, "Too Many Requests", "slow down", **{"Retry-After": "86400"}),
        taxii_error(503, "Unavailable", "past", **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        reply(200, ENVELOPE),
    )
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        assert client.get_objects("c1").objects == ENVELOPE["objects"]
    assert delays == [7.0, 60.0, 0.0]


def test_nothing_listening_is_unreachable_after_retries() -> None:
    delays = Delays()
    url = f"http://127.0.0.1:{free_port()}/taxii2/"
    with TaxiiClient(url, token="kz_x", retries=2, sleep=delays) as client:
        error = failure(client.discover)
    assert (error.kind, error.retryable, error.attempts, error.status) == (
        "unreachable",
        True,
        3,
        None,
    )
    assert len(delays) == 2
    assert "127.0.0.1" in error.message


def test_a_peer_slower_than_the_timeout_is_a_timeout(hostile: Hostile) -> None:
    hostile.script(OBJECTS, slow(1.5, reply(200, ENVELOPE)))
    delays = Delays()
    started = time.monotonic()
    with hostile_client(hostile, delays, timeout=0.25, retries=1) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.retryable, error.attempts) == ("timeout", True, 2)
    assert len(delays) == 1
    assert time.monotonic() - started < 1.5


def test_html_instead_of_taxii_is_a_protocol_error(hostile: Hostile) -> None:
    page = b"<html><head><title>Login</title></head><body>" + b"x" * 5000 + b"</body></html>"
    hostile.script(OBJECTS, reply(200, page, content_type="text/html; charset=utf-8"))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.retryable, error.status) == ("protocol", False, 200)
    assert "text/html" in error.message
    assert "Login" in error.message
    assert len(error.message) < 400
    assert delays == []
    assert hostile.hits[OBJECTS] == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"objects": {"type": "indicator"}}, "'objects' is an object, not a list"),
        ({"objects": [{"type": "indicator"}]}, "object 0 of the envelope has no string 'id'"),
        ({"objects": [{"id": "indicator--1"}]}, "has no string 'type'"),
        ({"objects": [{"type": "x", "id": ""}]}, "has no string 'id'"),
        ({"objects": ["indicator--1"]}, "object 0 of the envelope is a string"),
        ({"more": "false"}, "'more' is a string, not a boolean"),
        ({"more": 1}, "'more' is a number, not a boolean"),
        ({"more": True, "next": 7}, "'next' is a number"),
        ([ENVELOPE], "not a JSON object"),
        (b'{"objects": [', "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_an_envelope_of_the_wrong_shape_is_a_protocol_error(
    hostile: Hostile, body: object, problem: str
) -> None:
    hostile.script(OBJECTS, reply(200, body))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert error.kind == "protocol"
    assert problem in error.message
    assert delays == []


def test_a_malformed_date_header_is_a_protocol_error(hostile: Hostile) -> None:
    hostile.script(
        OBJECTS, reply(200, ENVELOPE, headers={"X-TAXII-Date-Added-First": "last Tuesday"})
    )
    with hostile_client(hostile) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert error.kind == "protocol"
    assert "X-TAXII-Date-Added-First" in error.message


def test_query_parameters_headers_and_date_headers(hostile: Hostile) -> None:
    hostile.script(
        OBJECTS,
        reply(
            200,
            {**ENVELOPE, "more": True, "next": "cursor-2"},
            headers={
                "X-TAXII-Date-Added-First": "2026-03-01T00:00:00.000001Z",
                "X-TAXII-Date-Added-Last": "2026-03-01T00:00:01Z",
            },
        ),
    )
    with hostile_client(hostile) as client:
        page = client.get_objects(
            "c1", added_after="2026-01-01T00:00:00Z", next="cursor-1", limit=5
        )
    assert (page.more, page.next) == (True, "cursor-2")
    assert page.date_added_first == "2026-03-01T00:00:00.000001Z"
    assert page.date_added_last == "2026-03-01T00:00:01Z"
    [request] = [r for r in hostile.seen if r.path.startswith(OBJECTS)]
    assert request.path == f"{OBJECTS}?added_after=2026-01-01T00%3A00%3A00Z&next=cursor-1&limit=5"
    assert request.headers["Accept"] == TAXII
    assert request.headers["Authorization"] == f"Bearer {SECRET}"


def test_an_endless_body_is_cut_off_as_too_large(hostile: Hostile) -> None:
    hostile.script(OBJECTS, endless)
    delays = Delays()
    with hostile_client(hostile, delays, max_response_bytes=256 * 1024) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.retryable) == ("too-large", False)
    assert str(256 * 1024) in error.message
    assert delays == []


def test_a_declared_oversized_body_is_refused_before_reading(hostile: Hostile) -> None:
    hostile.script(OBJECTS, huge_length)
    with hostile_client(hostile, max_response_bytes=1024) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert error.kind == "too-large"
    assert "over the limit" in error.message


def test_a_body_cut_short_is_retried(hostile: Hostile) -> None:
    hostile.script(OBJECTS, lying_length, reply(200, ENVELOPE))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        assert client.get_objects("c1").objects == ENVELOPE["objects"]
    assert len(delays) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_are_not_retried(hostile: Hostile, status: int) -> None:
    hostile.script(OBJECTS, taxii_error(status, "Unauthorized", "token revoked"))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.status, error.retryable, error.attempts) == (
        "auth",
        status,
        False,
        1,
    )
    assert "Unauthorized: token revoked" in error.message
    assert SECRET not in error.message
    assert delays == []
    assert hostile.hits[OBJECTS] == 1


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, "not-found"), (400, "protocol"), (406, "protocol"), (422, "protocol")],
)
def test_client_errors_are_classified_and_not_retried(
    hostile: Hostile, status: int, kind: str
) -> None:
    hostile.script(OBJECTS, taxii_error(status, "Refused", "no"))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert (error.kind, error.status, error.retryable) == (kind, status, False)
    assert delays == []


def test_a_huge_error_body_is_summarised_in_one_short_line(hostile: Hostile) -> None:
    hostile.script(OBJECTS, reply(500, b"boom\n\r\x1b[31m" + b"x" * 1_000_000, content_type=None))
    with hostile_client(hostile, retries=0) as client:
        error = failure(lambda: client.get_objects("c1"))
    assert error.kind == "server"
    assert len(error.message) < 400
    assert "\n" not in error.message
    assert "\x1b" not in error.message
    assert "boom" in error.message


def test_posts_send_taxii_and_a_413_is_too_large(hostile: Hostile) -> None:
    hostile.script(OBJECTS, taxii_error(413, "Payload Too Large", "over 10 bytes"))
    delays = Delays()
    with hostile_client(hostile, delays) as client:
        error = failure(
            lambda: client.add_objects("c1", [{"type": "indicator", "id": "indicator--1"}])
        )
    assert (error.kind, error.retryable) == ("too-large", False)
    assert delays == []
    [request] = [r for r in hostile.seen if r.path.startswith(OBJECTS)]
    assert request.method == "POST"
    assert request.headers["Content-Type"] == TAXII
    assert orjson.loads(request.body) == {"objects": [{"type": "indicator", "id": "indicator--1"}]}


STATUS = {
    "id": "s1",
    "status": "complete",
    "total_count": 1,
    "success_count": 1,
    "failure_count": 0,
    "pending_count": 0,
    "successes": [{"id": "indicator--1", "version": "2026-03-01T00:00:00.000Z"}],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"status": "done"}, "'status' is 'done'"),
        ({"id": None}, "no string 'id'"),
        ({"success_count": "1"}, "'success_count' is not a whole number"),
        ({"pending_count": -1}, "'pending_count' is not a whole number"),
        ({"failure_count": True}, "'failure_count' is not a whole number"),
        ({"successes": {"id": "x"}}, "'successes' is not a list"),
        ({"failures": [{"message": "no id"}]}, "entry 0 of the status's 'failures'"),
    ],
)
def test_a_status_of_the_wrong_shape_is_a_protocol_error(
    hostile: Hostile, change: dict[str, object], problem: str
) -> None:
    hostile.script(OBJECTS, reply(202, {**STATUS, **change}))
    hostile.script("/root/status/s1/", reply(200, {**STATUS, **change}))
    with hostile_client(hostile) as client:
        posted = failure(lambda: client.add_objects("c1", [{"type": "x", "id": "x--1"}]))
        polled = failure(lambda: client.status("s1"))
    for error in (posted, polled):
        assert error.kind == "protocol"
        assert problem in error.message


def test_a_pending_status_is_read(hostile: Hostile) -> None:
    pending = {
        **STATUS,
        "status": "pending",
        "success_count": 0,
        "pending_count": 1,
        "successes": [],
        "pendings": [{"id": "indicator--1"}],
    }
    hostile.script("/root/status/s1/", reply(200, pending))
    with hostile_client(hostile) as client:
        status = client.status("s1")
    assert (status.status, status.pending, status.pendings) == (
        "pending",
        1,
        [{"id": "indicator--1"}],
    )


def test_discovery_resolves_relative_api_roots(hostile: Hostile) -> None:
    url = hostile.script(
        "/taxii2/",
        reply(200, {"title": "t", "default": "/one/", "api_roots": ["/one/", "two", "/three"]}),
    )
    collection = {"id": "c", "title": "C", "can_read": True, "can_write": False}
    hostile.script("/one/collections/", reply(200, {"collections": [collection]}))
    with TaxiiClient(url, username="u", password="p", sleep=Delays()) as client:
        base = hostile.url
        assert client.discover() == [f"{base}/one/", f"{base}/taxii2/two/", f"{base}/three/"]
        assert client.api_root() == f"{base}/one/"
        [found] = client.collections()
        assert (found.id, found.can_write) == ("c", False)
    assert hostile.seen[0].headers["Authorization"].startswith("Basic ")


def test_several_api_roots_and_no_default_need_a_choice(hostile: Hostile) -> None:
    url = hostile.script("/taxii2/", reply(200, {"title": "t", "api_roots": ["/a/", "/b/"]}))
    with TaxiiClient(url, sleep=Delays()) as client:
        assert len(client.discover()) == 2
        error = failure(client.api_root)
    assert error.kind == "protocol"
    assert "2 API roots and no default" in error.message


V20 = "application/taxii+json;version=2.0"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"title": "t", "versions": [V20], "max_content_length": 1}, "does not offer"),
        ({"title": "t", "versions": "2.1", "max_content_length": 1}, "'versions'"),
        ({"title": "t", "versions": [TAXII], "max_content_length": "big"}, "max_content_length"),
        ({"title": "t", "api_roots": "/a/"}, "'api_roots'"),
        ({"title": "t", "default": 3}, "'default'"),
        ({"title": "t", "api_roots": ["ftp://elsewhere/"]}, "not an http URL"),
        ({"title": "t"}, "names no API root"),
    ],
)
def test_a_bad_discovery_or_api_root_is_a_protocol_error(
    hostile: Hostile, body: dict[str, object], problem: str
) -> None:
    url = hostile.script("/root/", reply(200, body))
    with TaxiiClient(url, sleep=Delays()) as client:
        error = failure(client.api_root)
    assert error.kind == "protocol"
    assert problem in error.message


def test_collections_of_the_wrong_shape_are_a_protocol_error(hostile: Hostile) -> None:
    collection = {"id": "c", "title": "C", "can_read": "yes", "can_write": False}
    hostile.script("/root/collections/", reply(200, {"collections": [collection]}))
    with hostile_client(hostile) as client:
        error = failure(lambda: client.collections(f"{hostile.url}/root/"))
    assert error.kind == "protocol"
    assert "collection 0 has no bool 'can_read'" in error.message


def test_unusable_arguments_are_refused_before_any_call() -> None:
    with pytest.raises(InvalidInput):
        TaxiiClient("ftp://peer.example/taxii2/")
    with pytest.raises(InvalidInput):
        TaxiiClient("not a url")
    with TaxiiClient("http://127.0.0.1:9/root/") as client:
        for limit in (0, -1):
            with pytest.raises(InvalidInput):
                client.get_objects("c1", limit=limit, api_root="http://127.0.0.1:9/root/")


def test_the_peer_url_shown_never_carries_credentials() -> None:
    with TaxiiClient("http://user:hunter2@127.0.0.1:9/taxii2/?k=v") as client:
        assert client.peer == "http://127.0.0.1:9/taxii2/"
