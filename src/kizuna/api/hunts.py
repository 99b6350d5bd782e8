"""REST hunts under ``/api/v1`` (not TAXII): upload telemetry, start a hunt, follow it, read
its report.

* ``PUT /api/v1/telemetry/{name}`` stores one telemetry file (the raw body, streamed to a
  temporary file and renamed into place, so a half upload never appears); ``GET
  /api/v1/telemetry`` lists them. Each local org has its own folder,
  ``<telemetry_dir>/<org identity id>/``: hunts read only from there, so one org can neither
  hunt nor list another's telemetry. Names are relative paths inside that folder: absolute
  paths, ``..``, hidden names (a leading dot) and links leading out of it are refused.
* ``POST /api/v1/hunts`` checks the request, records a job and answers 202 with it; one
  background thread per server process runs the jobs in turn through
  :func:`kizuna.hunt.run.run_hunt`, updating the job as each file finishes.
* ``GET /api/v1/hunts[/{id}]`` shows the requesting org's jobs only (another org's job is 404).
* ``GET /api/v1/hunts/{id}/report`` gives the match records, filtered when read through the
  access module's read path: only indicators the requester may read *now* appear, named as
  the requester may see them.

Starting hunts and uploading need the analyst or admin role of a local organisation
(choosing a Spark master needs admin); reading jobs needs any non-external token of the
org. Jobs a previous process left queued or running are marked failed at start-up.
"""

from __future__ import annotations

import logging
import os
import queue
import stat
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, ValidationError
from sqlalchemy import Connection, Engine, insert, select, update
from starlette.concurrency import run_in_threadpool

from kizuna.access.subject import Role, Subject
from kizuna.api.context import Node, node, subject
from kizuna.api.errors import HttpProblem
from kizuna.config import Settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Conflict, Forbidden, InvalidInput, KizunaError, NotFound, Unauthenticated
from kizuna.hunt.columnar import FileProgress
from kizuna.hunt.run import (
    HuntOutcome,
    HuntRequest,
    check_request,
    parse_since,
    records_csv,
    run_hunt,
)
from kizuna.process import dead_here, owner_tag
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.store.collections import list_collections
from kizuna.store.models import hunt_jobs
from kizuna.store.query import Filters, VersionMatch, read_all

__all__ = ["HuntRunner", "recover_interrupted", "router"]

log = logging.getLogger("kizuna.api.hunts")

PREFIX = "/api/v1"
JSON = "application/json"
INTERRUPTED = "interrupted: the node restarted"
_LIST_LIMIT = 1000
_ID_CHUNK = 500
_MAX_NAME = 1024

router = APIRouter(prefix=PREFIX)


# -- who may do what ---------------------------------------------------------------------------


def _member(who: Subject) -> Subject:
    """A token of one of this node's orgs (not a peer): may read its org's jobs."""
    if who.anonymous:
        raise Unauthenticated("authentication is required for hunts")
    if who.external:
        raise Forbidden("hunts belong to this node's organisations; peers have none")
    return who


def _hunter(who: Subject) -> Subject:
    """An analyst or admin of a local org: may upload telemetry and start hunts."""
    _member(who)
    if who.role not in (Role.ANALYST, Role.ADMIN):
        raise Forbidden("only an analyst or admin may upload telemetry or start hunts")
    return who


# -- telemetry files ---------------------------------------------------------------------------


def _org_folder(the_node: Node, who: Subject) -> Path:
    assert who.identity_id is not None
    return the_node.settings.resolved_telemetry_dir() / who.identity_id


def _parts(name: str) -> list[str]:
    """The components of a telemetry name, or a clear refusal."""
    if not name or len(name) > _MAX_NAME:
        raise InvalidInput(f"a telemetry name has 1 to {_MAX_NAME} characters")
    if "\x00" in name or "\\" in name:
        raise InvalidInput(f"{name!r}: a telemetry name may not contain NUL or backslashes")
    if name.startswith("/"):
        raise InvalidInput(f"{name!r}: name a file inside the telemetry folder, not a full path")
    parts = name.split("/")
    if ".." in parts:
        raise InvalidInput(f"{name!r}: a telemetry name may not contain '..'")
    if any(not p or p.startswith(".") for p in parts):
        raise InvalidInput(f"{name!r}: empty or hidden (dot) names are not telemetry files")
    return parts


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def telemetry_file(folder: Path, name: str) -> Path:
    """The real path of an existing telemetry file `name` inside `folder` (an org's folder)."""
    parts = _parts(name)
    try:
        real = folder.joinpath(*parts).resolve(strict=True)
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidInput(f"no telemetry file named {name!r}; upload it first") from None
    if not _inside(real, root):
        raise InvalidInput(f"{name!r} leads outside the telemetry folder")
    if not real.is_file():
        raise InvalidInput(f"{name!r} is not a file")
    return real


def _upload_target(folder: Path, name: str) -> Path:
    """Where an upload of `name` goes, its folders made; nothing outside `folder` is touched."""
    parts = _parts(name)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve(strict=True)
    target = folder.joinpath(*parts)
    existing = target.parent
    while not existing.exists() and not existing.is_symlink():
        existing = existing.parent
    if not _inside(existing.resolve(), root):
        raise InvalidInput(f"{name!r} leads outside the telemetry folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise InvalidInput(f"{name!r} exists and is not a plain file")
    return target


async def _stream_to(request: Request, target: Path, limit: int) -> int:
    """Write the body to a temporary file beside `target`, then rename it into place."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpProblem(413, "Payload Too Large", f"the body exceeds {limit} bytes")
    temp = target.parent / f".upload-{uuid.uuid4().hex}.part"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HttpProblem(413, "Payload Too Large", f"the body exceeds {limit} bytes")
                handle.write(chunk)
            handle.flush()
            await run_in_threadpool(os.fsync, handle.fileno())
        # Only now does the name appear, whole (the temporary name is hidden from listings).
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return size


@router.put("/telemetry/{name:path}")
async def upload_telemetry(
    name: str,
    request: Request,
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    _hunter(who)
    target = _upload_target(_org_folder(the_node, who), name)
    replaced = target.exists()
    size = await _stream_to(request, target, the_node.settings.max_content_length)
    return _json({"name": name, "size": size}, status=200 if replaced else 201)


@router.get("/telemetry")
def list_telemetry(the_node: Node = Depends(node), who: Subject = Depends(subject)) -> Response:
    _hunter(who)
    folder = _org_folder(the_node, who)
    files: list[dict[str, Any]] = []
    for directory, subdirs, names in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for file_name in names:
            if file_name.startswith("."):
                continue
            path = Path(directory) / file_name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode):
                files.append(
                    {
                        "name": path.relative_to(folder).as_posix(),
                        "size": info.st_size,
                        "modified": format_timestamp(int(info.st_mtime * 1_000_000)),
                    }
                )
    files.sort(key=lambda f: str(f["name"]))
    return _json({"files": files})


# -- jobs --------------------------------------------------------------------------------------


class HuntBody(BaseModel):
    """``POST /api/v1/hunts``."""

    model_config = ConfigDict(extra="forbid")

    files: list[StrictStr] = Field(min_length=1, max_length=1000)
    collections: list[StrictStr] | None = None
    since: StrictStr | None = None
    engine: StrictStr = "embedded"
    spark_master: StrictStr | None = None
    format: StrictStr | None = None
    store_into: StrictStr | None = None
    share_sightings: StrictBool = False


@dataclass(frozen=True)
class _Job:
    id: str
    subject: Subject
    request: HuntRequest
    folder: Path


def _sanitised(message: str, job: _Job) -> str:
    """An error message that names files as the client did, never by server path."""
    labels = job.request.labels or ()
    for path, label in zip(job.request.files, labels, strict=True):
        message = message.replace(str(path), label)
    return message.replace(str(job.folder), "telemetry")


class HuntRunner:
    """Runs the jobs of this server process one at a time, on a daemon thread."""

    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self._engine = engine
        self._settings = settings
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: _Job) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="kizuna-hunts", daemon=True)
                self._thread.start()
        self._queue.put(job)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self.run(job)
            except Exception:  # the job row could not be written: keep serving others
                log.exception("hunt %s: could not record its outcome", job.id)

    def _update(self, job_id: str, **values: Any) -> None:
        with write_transaction(self._engine) as conn:
            conn.execute(update(hunt_jobs).where(hunt_jobs.c.id == job_id).values(**values))

    def run(self, job: _Job) -> None:
        self._update(job.id, state="running", started_us=now_micros())

        def on_file(done: FileProgress) -> None:
            self._update(
                job.id,
                files_done=hunt_jobs.c.files_done + 1,
                events=hunt_jobs.c.events + done.events,
                bad=hunt_jobs.c.bad + done.bad,
                matching_events=done.matching_events,  # so far, over every file
            )

        try:
            outcome = run_hunt(
                self._engine, job.subject, job.request, on_file, settings=self._settings
            )
        except KizunaError as exc:
            self._update(
                job.id, state="failed", error=_sanitised(exc.message, job), finished_us=now_micros()
            )
            return
        except Exception:
            log.exception("hunt %s failed", job.id)
            self._update(
                job.id,
                state="failed",
                error="the hunt failed unexpectedly; the node's log has the details",
                finished_us=now_micros(),
            )
            return
        self._update(
            job.id,
            state="done",
            files_done=len(job.request.files),
            events=outcome.stats.events,
            bad=outcome.stats.bad,
            finished_us=now_micros(),
            result=orjson.dumps(_result(outcome)).decode(),
        )


def _result(outcome: HuntOutcome) -> dict[str, Any]:
    return {
        "records": outcome.records,
        "indicators": outcome.indicators,
        "invalid_indicators": outcome.invalid_indicators,
        "bad_examples": outcome.stats.bad_examples,
        "candidate_pairs": outcome.candidate_pairs,
        "seconds": round(outcome.seconds, 3),
        "phases": {name: round(value, 3) for name, value in outcome.phases.items()},
        "stored": outcome.stored,
        "refused": [{"id": o.id, "message": o.message} for o in outcome.refused[:20]],
        "refused_count": len(outcome.refused),
        # How many sightings went back to their producers (per-indicator detail would name
        # indicators, which only the filtered report may do).
        "shared": sum(1 for how in outcome.shared.values() if not how.startswith("not ")),
    }


def recover_interrupted(engine: Engine) -> int:
    """Mark jobs left queued or running by a server process of this host that no longer runs
    as failed; how many there were. Jobs of live processes (sibling workers) and of other
    hosts are left alone."""
    with write_transaction(engine) as conn:
        unfinished = conn.execute(
            select(hunt_jobs.c.id, hunt_jobs.c.runner).where(
                hunt_jobs.c.state.in_(("queued", "running"))
            )
        ).all()
        gone = [r.id for r in unfinished if r.runner is None or dead_here(r.runner)]
        if gone:
            conn.execute(
                update(hunt_jobs)
                .where(hunt_jobs.c.id.in_(gone))
                .values(state="failed", error=INTERRUPTED, finished_us=now_micros())
            )
    return len(gone)


def _runner(request: Request) -> HuntRunner:
    found = getattr(request.app.state, "hunt_runner", None)
    if found is None:
        here = node(request)
        found = request.app.state.hunt_runner = HuntRunner(here.engine, here.settings)
    assert isinstance(found, HuntRunner)
    return found


async def _json_body(request: Request) -> bytes:
    limit = node(request).settings.max_content_length
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpProblem(413, "Payload Too Large", f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _body(raw: bytes) -> HuntBody:
    try:
        return HuntBody.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidInput(f"{where}: {first.get('msg', 'invalid')}") from None


def _time(us: int | None) -> str | None:
    return format_timestamp(us) if us is not None else None


def _job_json(row: Any, base: str) -> dict[str, Any]:
    asked = orjson.loads(row.request)
    job: dict[str, Any] = {
        "id": row.id,
        "state": row.state,
        "request": asked,
        "files_total": row.files_total,
        "files_done": row.files_done,
        "events": row.events,
        "bad": row.bad,
        "matching_events": row.matching_events,
        "error": row.error,
        "created": _time(row.created_us),
        "started": _time(row.started_us),
        "finished": _time(row.finished_us),
    }
    if row.result is not None:
        result = orjson.loads(row.result)
        # Figures only: indicator ids and names are in the report, filtered per reader.
        job["summary"] = {
            "indicators": result["indicators"],
            "invalid_indicators": len(result["invalid_indicators"]),
            "bad_examples": result["bad_examples"],
            "candidate_pairs": result["candidate_pairs"],
            "seconds": result["seconds"],
            "phases": result.get("phases", {}),
            "stored": result["stored"],
            "refused": result["refused"],
            "refused_count": result["refused_count"],
            "shared": result.get("shared", 0),
        }
        job["report"] = f"{base}{PREFIX}/hunts/{row.id}/report"
    return job


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _json(
    payload: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type=JSON, headers=dict(headers or {})
    )


@router.post("/hunts")
def start_hunt(
    request: Request,
    raw: bytes = Depends(_json_body),
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    _hunter(who)
    body = _body(raw)
    if body.spark_master is not None and who.role is not Role.ADMIN:
        raise Forbidden("only an admin may choose the Spark master")
    folder = _org_folder(the_node, who)
    hunt = HuntRequest(
        files=[telemetry_file(folder, name) for name in body.files],
        labels=list(body.files),
        collection_ids=body.collections or None,
        since_us=_since(body.since),
        engine=body.engine,
        spark_master=body.spark_master,
        format=body.format,
        store_into=body.store_into,
        share_sightings=body.share_sightings,
    )
    asked = {
        "files": body.files,
        "collections": body.collections,
        "since": _time(hunt.since_us),
        "engine": body.engine,
        "spark_master": body.spark_master,
        "format": body.format,
        "store_into": body.store_into,
    }
    job_id = str(uuid.uuid4())
    assert who.org_id is not None
    assert who.token_id is not None
    with write_transaction(the_node.engine) as conn:
        check_request(conn, subject=who, request=hunt)
        conn.execute(
            insert(hunt_jobs).values(
                id=job_id,
                org_id=who.org_id,
                token_id=who.token_id,
                state="queued",
                runner=owner_tag(),
                request=orjson.dumps(asked).decode(),
                files_total=len(body.files),
                files_done=0,
                events=0,
                bad=0,
                matching_events=0,
                created_us=now_micros(),
            )
        )
        row = _job_row(conn, who, job_id)
    _runner(request).submit(_Job(job_id, who, hunt, folder))
    base = _base(request)
    return _json(
        _job_json(row, base), status=202, headers={"Location": f"{base}{PREFIX}/hunts/{job_id}"}
    )


def _since(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except InvalidInput:
        raise InvalidInput(
            f"since takes a duration like 7d, 12h, 90m or a timestamp, not {text!r}"
        ) from None


def _job_row(conn: Connection, who: Subject, job_id: str) -> Any:
    row = conn.execute(
        select(hunt_jobs).where(hunt_jobs.c.id == job_id, hunt_jobs.c.org_id == who.org_id)
    ).first()
    if row is None:
        raise NotFound(f"no hunt {job_id}")
    return row


@router.get("/hunts")
def list_hunts(
    request: Request, the_node: Node = Depends(node), who: Subject = Depends(subject)
) -> Response:
    _member(who)
    with read_transaction(the_node.engine) as conn:
        rows = conn.execute(
            select(hunt_jobs)
            .where(hunt_jobs.c.org_id == who.org_id)
            .order_by(hunt_jobs.c.created_us.desc(), hunt_jobs.c.id)
            .limit(_LIST_LIMIT)
        ).all()
    base = _base(request)
    return _json({"hunts": [_job_json(r, base) for r in rows]})


@router.get("/hunts/{job_id}")
def get_hunt(
    job_id: str, request: Request, the_node: Node = Depends(node), who: Subject = Depends(subject)
) -> Response:
    _member(who)
    with read_transaction(the_node.engine) as conn:
        row = _job_row(conn, who, job_id)
    return _json(_job_json(row, _base(request)))


def readable_indicator_names(
    conn: Connection, who: Subject, indicator_ids: Iterable[str]
) -> dict[str, str]:
    """Of `indicator_ids`, those whose current version `who` may read, with the name that
    version gives, found through the store's read path (the access module's SQL filter)."""
    wanted = sorted(set(indicator_ids))
    found: dict[str, tuple[int, str]] = {}
    if not wanted:
        return {}
    for collection in list_collections(conn, who):
        if not collection.can_read:
            continue
        for start in range(0, len(wanted), _ID_CHUNK):
            filters = Filters(
                ids=tuple(wanted[start : start + _ID_CHUNK]),
                types=("indicator",),
                versions=VersionMatch.latest(),
            )
            rows = read_all(
                conn, subject=who, collection=collection, filters=filters, page_size=_ID_CHUNK
            )
            for r in rows:
                obj = orjson.loads(r.body)
                name = obj.get("name", "") if isinstance(obj, dict) else ""
                version = parse_timestamp(r.version) if r.version else 0
                held = found.get(r.stix_id)
                if held is None or held[0] < version:
                    found[r.stix_id] = (version, str(name))
    return {k: name for k, (_v, name) in found.items()}


def _filtered(
    records: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> list[dict[str, Any]]:
    return [{**r, "name": names[r["indicator_id"]]} for r in records if r["indicator_id"] in names]


@router.get("/hunts/{job_id}/report")
def hunt_report(
    job_id: str,
    format: str = Query("json"),
    the_node: Node = Depends(node),
    who: Subject = Depends(subject),
) -> Response:
    _member(who)
    if format not in ("json", "csv"):
        raise InvalidInput(f"format is json or csv, not {format!r}")
    with read_transaction(the_node.engine) as conn:
        row = _job_row(conn, who, job_id)
        if row.state != "done":
            raise Conflict(f"hunt {job_id} has no report: it is {row.state}")
        records = orjson.loads(row.result)["records"]
        names = readable_indicator_names(conn, who, (r["indicator_id"] for r in records))
    kept = _filtered(records, names)
    if format == "csv":
        return Response(records_csv(kept), media_type="text/csv; charset=utf-8")
    return _json(kept)
