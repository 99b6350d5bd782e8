"""A small, strict TAXII 2.1 client for talking to a peer (another kizuna node, OASIS
medallion, or any TAXII 2.1 server), over httpx, synchronous.

Strict: every response must be TAXII 2.1 JSON of the expected shape, or the call fails
with a `PeerError` of kind 'protocol' that says what is wrong; nothing half-parsed is ever
returned. Safe when the peer is down, slow, failing or hostile: transient failures
('unreachable', 'timeout', 'server') are retried with exponential back-off and full jitter
(honouring Retry-After), each retry logged at WARNING on the "kizuna.federation" logger
with the peer's URL and the reason (never credentials); responses are streamed and cut off
past `max_response_bytes`, and a body that trickles in for longer than ten times `timeout`
is a 'timeout'.

A POST is retried like a GET: adding the same STIX object versions again is harmless in
TAXII (a server stores each id and modified once), so a retry after a lost response does
not duplicate anything.

One client is meant for one thread at a time.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, NoReturn, Self
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import httpx
import orjson

from kizuna import __version__
from kizuna.errors import InvalidInput
from kizuna.taxii.media import is_taxii_content

log = logging.getLogger("kizuna.federation")

TAXII_JSON = "application/taxii+json;version=2.1"
MiB = 1024 * 1024
#: The longest wait a Retry-After header may impose, in seconds.
MAX_RETRY_AFTER = 60.0
#: The longest back-off between two attempts, in seconds (before jitter).
MAX_BACKOFF = 60.0
#: How much of an error response's body is read (to summarise it).
ERROR_BODY_BYTES = 64 * 1024
#: How long a summary of a peer's text may be in a message.
SUMMARY_CHARS = 200

PeerErrorKind = Literal[
    "unreachable", "timeout", "auth", "not-found", "protocol", "server", "too-large"
]
_RETRYABLE: frozenset[str] = frozenset({"unreachable", "timeout", "server"})
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


class PeerError(Exception):
    """A TAXII call to a peer failed.

    `kind` says how ('unreachable', 'timeout', 'auth', 'not-found', 'protocol', 'server',
    'too-large'); `retryable` whether trying again later may help; `status` is the HTTP
    status when there was one; `message` is one clear line (the peer's own text is cut to
    about 200 characters); `attempts` is how many times the call was tried."""

    def __init__(
        self,
        kind: PeerErrorKind | str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: str = kind
        self.message = message
        self.status = status
        self.retryable = kind in _RETRYABLE if retryable is None else retryable
        #: Seconds the peer asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after
        self.attempts = 1

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Page:
    """One page of a collection's objects (a TAXII envelope)."""

    objects: list[dict[str, Any]]
    more: bool
    next: str | None
    #: X-TAXII-Date-Added-First / -Last: the date_added of the first and last object.
    date_added_first: str | None
    date_added_last: str | None


@dataclass(frozen=True)
class Status:
    """A TAXII status resource: what became of the objects of one POST."""

    id: str
    status: str  # 'pending' | 'complete'
    total: int
    success: int
    failure: int
    pending: int
    successes: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    pendings: list[dict[str, Any]]


@dataclass(frozen=True)
class CollectionInfo:
    id: str
    title: str
    can_read: bool
    can_write: bool


@dataclass(frozen=True)
class ApiRootInfo:
    """An API root resource."""

    url: str
    title: str
    versions: list[str]
    max_content_length: int


class TaxiiClient:
    """TAXII 2.1 calls to one peer. `url` is the peer's discovery URL or an API root URL.

    Authenticates with `Authorization: Bearer <token>` when `token` is given, else with
    HTTP Basic when `username` is. `retries` is how many times a transient failure is
    retried (so `retries + 1` attempts at most); the n-th retry waits a random time in
    [0, min(60, backoff * 2**n)] seconds (full jitter), or what Retry-After asks (at most
    60 s). `sleep` and `jitter` (a source of numbers in [0, 1]) are injectable for tests."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
        max_response_bytes: int = 64 * MiB,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(f"a peer URL must be an http:// or https:// URL, not {url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or max_response_bytes <= 0:
            raise InvalidInput(
                "timeout and max_response_bytes must be positive, retries and backoff >= 0"
            )
        self.url = url
        #: The peer's URL as shown in messages and logs (no credentials, no query).
        self.peer = _display_url(url)
        self._retries = retries
        self._backoff = backoff
        self._max_bytes = max_response_bytes
        self._body_deadline = timeout * 10
        self._sleep = sleep
        self._jitter = jitter
        headers = {"Accept": TAXII_JSON, "User-Agent": f"kizuna/{__version__}"}
        auth: httpx.Auth | None = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif username is not None:
            auth = httpx.BasicAuth(username, password or "")
        self._http = httpx.Client(
            headers=headers,
            auth=auth,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=5,
            transport=transport,
        )
        self._default_root: str | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- discovery and API roots --------------------------------------------------------------

    def discover(self) -> list[str]:
        """The peer's API root URLs (absolute, each ending in '/'). When `url` is itself an
        API root, that URL alone."""
        roots, default = self._discovery()
        if default is not None:
            self._default_root = default
        elif len(roots) == 1:
            self._default_root = roots[0]
        return roots

    def api_root(self) -> str:
        """The API root to use when a call names none: the discovery's `default`, else its
        only API root, else `url` itself when it is an API root. Found once, then kept."""
        if self._default_root is None:
            roots = self.discover()
            if self._default_root is None:
                if not roots:
                    raise PeerError("protocol", f"{self.peer}: the discovery names no API root")
                raise PeerError(
                    "protocol",
                    f"{self.peer}: the discovery names {len(roots)} API roots and no default;"
                    " name the API root to use",
                )
        return self._default_root

    def api_root_information(self, api_root: str | None = None) -> ApiRootInfo:
        """The API root resource (title, versions, max_content_length)."""
        root = self._root(api_root)
        return _api_root_info(root, self._get(root, "the API root"))

    def _discovery(self) -> tuple[list[str], str | None]:
        body = self._get(self.url, "the discovery")
        if not isinstance(body, dict):
            _protocol(self.url, f"expected a JSON object, got {_kind_of(body)}")
        if "api_roots" not in body and "default" not in body and "versions" in body:
            info = _api_root_info(_slash(self.url), body)
            return [info.url], info.url
        listed = body.get("api_roots", [])
        if not isinstance(listed, list) or not all(isinstance(r, str) for r in listed):
            _protocol(self.url, "the discovery's 'api_roots' is not a list of strings")
        roots = [self._absolute(r) for r in listed]
        default = body.get("default")
        if default is not None:
            if not isinstance(default, str):
                _protocol(self.url, "the discovery's 'default' is not a string")
            default = self._absolute(default)
            if default not in roots:
                roots.append(default)
        return roots, default

    def _absolute(self, reference: str) -> str:
        resolved = _slash(urljoin(self.url, reference))
        parts = urlsplit(resolved)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            _protocol(self.url, f"the API root {reference[:100]!r} is not an http URL")
        return resolved

    def _root(self, api_root: str | None) -> str:
        return _slash(api_root) if api_root is not None else self.api_root()

    # -- collections, objects, status ---------------------------------------------------------

    def collections(self, api_root: str | None = None) -> list[CollectionInfo]:
        """The collections this client may see under the API root."""
        url = f"{self._root(api_root)}collections/"
        body = self._get(url, "the collections")
        if not isinstance(body, dict):
            _protocol(url, f"expected a JSON object, got {_kind_of(body)}")
        listed = body.get("collections", [])
        if not isinstance(listed, list):
            _protocol(url, "'collections' is not a list")
        found: list[CollectionInfo] = []
        for n, item in enumerate(listed):
            if not isinstance(item, dict):
                _protocol(url, f"collection {n} is not a JSON object")
            for key, kind in (("id", str), ("title", str), ("can_read", bool), ("can_write", bool)):
                if not isinstance(item.get(key), kind):
                    _protocol(url, f"collection {n} has no {kind.__name__} {key!r}")
            found.append(
                CollectionInfo(
                    id=item["id"],
                    title=item["title"],
                    can_read=item["can_read"],
                    can_write=item["can_write"],
                )
            )
        return found

    def get_objects(
        self,
        collection_id: str,
        *,
        added_after: str | None = None,
        next: str | None = None,
        limit: int | None = None,
        api_root: str | None = None,
    ) -> Page:
        """One page of the collection's objects. To page on, call again with the same
        arguments and `next=page.next` while `page.more`."""
        params: dict[str, str] = {}
        if added_after is not None:
            params["added_after"] = added_after
        if next is not None:
            params["next"] = next
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise InvalidInput(f"limit must be a positive integer, not {limit!r}")
            params["limit"] = str(limit)
        url = self._objects_url(collection_id, api_root)
        body, headers = self._call("GET", url, "the objects", params=params)
        if not isinstance(body, dict):
            _protocol(url, f"the envelope is not a JSON object but {_kind_of(body)}")
        objects = body.get("objects", [])
        if not isinstance(objects, list):
            _protocol(url, f"the envelope's 'objects' is {_kind_of(objects)}, not a list")
        for n, item in enumerate(objects):
            if not isinstance(item, dict):
                _protocol(url, f"object {n} of the envelope is {_kind_of(item)}")
            for key in ("type", "id"):
                if not isinstance(item.get(key), str) or not item[key]:
                    _protocol(url, f"object {n} of the envelope has no string {key!r}")
        more = body.get("more", False)
        if not isinstance(more, bool):
            _protocol(url, f"the envelope's 'more' is {_kind_of(more)}, not a boolean")
        cursor = body.get("next")
        if cursor is not None and (not isinstance(cursor, str) or not cursor):
            _protocol(url, f"the envelope's 'next' is {_kind_of(cursor)}, not a string")
        return Page(
            objects=objects,
            more=more,
            next=cursor,
            date_added_first=_date_header(headers, "X-TAXII-Date-Added-First", url),
            date_added_last=_date_header(headers, "X-TAXII-Date-Added-Last", url),
        )

    def add_objects(
        self,
        collection_id: str,
        objects: Sequence[Mapping[str, Any]],
        *,
        api_root: str | None = None,
    ) -> Status:
        """POST the objects in one envelope; the peer's status resource for it."""
        url = self._objects_url(collection_id, api_root)
        payload = orjson.dumps({"objects": [dict(o) for o in objects]})
        body, _headers = self._call("POST", url, "the status", content=payload)
        return _status(body, url)

    def status(self, status_id: str, *, api_root: str | None = None) -> Status:
        """The status resource of an earlier POST (poll it while it is 'pending')."""
        url = f"{self._root(api_root)}status/{quote(status_id, safe='')}/"
        return _status(self._get(url, "the status"), url)

    def _objects_url(self, collection_id: str, api_root: str | None) -> str:
        if not collection_id:
            raise InvalidInput("a collection id is required")
        return f"{self._root(api_root)}collections/{quote(collection_id, safe='')}/objects/"

    # -- HTTP ---------------------------------------------------------------------------------

    def _get(self, url: str, what: str) -> Any:
        body, _headers = self._call("GET", url, what)
        return body

    def _call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> tuple[Any, httpx.Headers]:
        """One TAXII call with retries: the parsed JSON body and the response headers."""
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, what, params=params, content=content)
            except PeerError as error:
                error.attempts = attempt + 1
                if not error.retryable or attempt >= self._retries:
                    if attempt:
                        error.message = f"{error.message} (gave up after {attempt + 1} attempts)"
                        error.args = (error.message,)
                    raise
                delay = self._delay(attempt, error.retry_after)
                log.warning(
                    "peer %s: %s; retry %d of %d in %.2f s",
                    self.peer,
                    error.message,
                    attempt + 1,
                    self._retries,
                    delay,
                )
                self._sleep(delay)
                attempt += 1

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), MAX_RETRY_AFTER)
        ceiling = min(MAX_BACKOFF, self._backoff * 2.0**attempt)
        return ceiling * min(max(self._jitter(), 0.0), 1.0)

    def _attempt(
        self,
        method: str,
        url: str,
        what: str,
        *,
        params: Mapping[str, str] | None,
        content: bytes | None,
    ) -> tuple[Any, httpx.Headers]:
        where = f"{method} {_display_url(url)}"
        headers = {"Content-Type": TAXII_JSON} if content is not None else None
        try:
            with self._http.stream(
                method, url, params=params, content=content, headers=headers
            ) as response:
                if not 200 <= response.status_code < 300:
                    raise _status_error(response, where, self._read_error_body(response))
                raw = self._read_body(response, where)
                ctype = response.headers.get("content-type")
                if not is_taxii_content(ctype):
                    shown = _one_line(ctype or "none", 60)
                    raise PeerError(
                        "protocol",
                        f"{where}: {what} came as {shown!r}, not {TAXII_JSON}" + _snippet(raw),
                        status=response.status_code,
                    )
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError as exc:
                    raise PeerError(
                        "protocol",
                        f"{where}: {what} is not valid JSON ({_one_line(str(exc), 80)})",
                        status=response.status_code,
                    ) from None
                return body, response.headers
        except httpx.ConnectTimeout:
            raise PeerError("unreachable", f"{where}: timed out connecting") from None
        except httpx.TimeoutException as exc:
            raise PeerError(
                "timeout", f"{where}: no answer in time ({type(exc).__name__})"
            ) from None
        except httpx.ConnectError as exc:
            raise PeerError(
                "unreachable", f"{where}: cannot connect ({_one_line(str(exc), 120)})"
            ) from None
        except httpx.RemoteProtocolError as exc:
            raise PeerError(
                "server",
                f"{where}: the connection broke or is not HTTP ({_one_line(str(exc), 120)})",
            ) from None
        except httpx.TransportError as exc:
            raise PeerError(
                "unreachable", f"{where}: network error ({_one_line(str(exc), 120)})"
            ) from None
        except httpx.TooManyRedirects:
            raise PeerError("protocol", f"{where}: too many redirects") from None
        except httpx.HTTPError as exc:
            raise PeerError(
                "protocol", f"{where}: unusable response ({_one_line(str(exc), 120)})"
            ) from None

    def _chunks(self, response: httpx.Response, where: str) -> Iterator[bytes]:
        deadline = time.monotonic() + self._body_deadline
        for chunk in response.iter_bytes():
            yield chunk
            if time.monotonic() > deadline:
                raise PeerError(
                    "timeout", f"{where}: the body took over {self._body_deadline:.0f} s to arrive"
                )

    def _read_body(self, response: httpx.Response, where: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            raise PeerError(
                "too-large",
                f"{where}: the response is {int(declared)} bytes, over the limit of "
                f"{self._max_bytes}",
                status=response.status_code,
            )
        parts: list[bytes] = []
        size = 0
        for chunk in self._chunks(response, where):
            size += len(chunk)
            if size > self._max_bytes:
                raise PeerError(
                    "too-large",
                    f"{where}: the response exceeds the limit of {self._max_bytes} bytes",
                    status=response.status_code,
                )
            parts.append(chunk)
        return b"".join(parts)

    def _read_error_body(self, response: httpx.Response) -> bytes:
        parts: list[bytes] = []
        size = 0
        try:
            for chunk in self._chunks(response, ""):
                parts.append(chunk)
                size += len(chunk)
                if size >= ERROR_BODY_BYTES:
                    break
        except (httpx.HTTPError, PeerError):
            pass  # the status says enough; the body was only for the message
        return b"".join(parts)[:ERROR_BODY_BYTES]


# -- helpers ----------------------------------------------------------------------------------


def _slash(url: str) -> str:
    return url if url.endswith("/") else f"{url}/"


def _display_url(url: str) -> str:
    """The URL without credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _snippet(raw: bytes) -> str:
    text = _one_line(raw[:4096].decode("utf-8", errors="replace"))
    return f": {text}" if text else ""


def _kind_of(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _protocol(url: str, problem: str) -> NoReturn:
    raise PeerError("protocol", f"{_display_url(url)}: {problem}")


def _summary(raw: bytes) -> str:
    """The peer's explanation: TAXII error JSON's title and description, else its text."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _one_line(raw[:4096].decode("utf-8", errors="replace"))
    if isinstance(body, dict):
        said = [body.get(k) for k in ("title", "description")]
        text = ": ".join(s for s in said if isinstance(s, str) and s)
        if text:
            return _one_line(text)
    return _one_line(raw[:4096].decode("utf-8", errors="replace"))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _status_error(response: httpx.Response, where: str, raw: bytes) -> PeerError:
    code = response.status_code
    reason = f"{code} {response.reason_phrase}".strip()
    said = _summary(raw)
    detail = f"{reason}: {said}" if said else reason
    if code in (401, 403):
        return PeerError("auth", f"{where}: refused our credentials ({detail})", status=code)
    if code == 404:
        return PeerError("not-found", f"{where}: not found ({detail})", status=code)
    if code == 408:
        return PeerError("timeout", f"{where}: the peer timed out ({detail})", status=code)
    if code == 413:
        return PeerError("too-large", f"{where}: the request is too large ({detail})", status=code)
    if code == 429 or code >= 500:
        return PeerError(
            "server",
            f"{where}: server error ({detail})",
            status=code,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )
    return PeerError("protocol", f"{where}: the peer refused the request ({detail})", status=code)


def _date_header(headers: httpx.Headers, name: str, url: str) -> str | None:
    raw: str | None = headers.get(name)
    if raw is None:
        return None
    value = raw.strip()
    if not _TIMESTAMP.match(value):
        _protocol(url, f"{name} is not a timestamp: {_one_line(value, 60)!r}")
    return value


def _api_root_info(url: str, body: Any) -> ApiRootInfo:
    if not isinstance(body, dict):
        _protocol(url, f"the API root is {_kind_of(body)}, not a JSON object")
    title = body.get("title")
    versions = body.get("versions")
    size = body.get("max_content_length")
    if not isinstance(title, str):
        _protocol(url, "the API root has no string 'title'")
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        _protocol(url, "the API root's 'versions' is not a list of strings")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        _protocol(url, "the API root's 'max_content_length' is not a whole number")
    if not any(v.replace(" ", "").lower() == TAXII_JSON for v in versions):
        _protocol(url, f"the API root does not offer {TAXII_JSON}")
    return ApiRootInfo(url=url, title=title, versions=versions, max_content_length=size)


def _status(body: Any, url: str) -> Status:
    if not isinstance(body, dict):
        _protocol(url, f"the status is {_kind_of(body)}, not a JSON object")
    status_id = body.get("id")
    if not isinstance(status_id, str) or not status_id:
        _protocol(url, "the status has no string 'id'")
    state = body.get("status")
    if state not in ("pending", "complete"):
        _protocol(url, f"the status's 'status' is {_one_line(repr(state), 40)}")
    counts: dict[str, int] = {}
    for key in ("total_count", "success_count", "failure_count", "pending_count"):
        value = body.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            _protocol(url, f"the status's {key!r} is not a whole number")
        counts[key] = value
    details: dict[str, list[dict[str, Any]]] = {}
    for key in ("successes", "failures", "pendings"):
        listed = body.get(key, [])
        if not isinstance(listed, list):
            _protocol(url, f"the status's {key!r} is not a list")
        for n, item in enumerate(listed):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                _protocol(url, f"entry {n} of the status's {key!r} has no string 'id'")
        details[key] = listed
    return Status(
        id=status_id,
        status=state,
        total=counts["total_count"],
        success=counts["success_count"],
        failure=counts["failure_count"],
        pending=counts["pending_count"],
        successes=details["successes"],
        failures=details["failures"],
        pendings=details["pendings"],
    )
