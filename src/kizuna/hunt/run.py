"""One hunt, end to end: what `kizuna hunt` and the REST hunts (``kizuna.api.hunts``) both run.

:func:`run_hunt` reads the indicators the subject may read (through
:func:`~kizuna.hunt.sightings.readable_indicators`, so the access module alone decides: an
org never hunts with an indicator it may not read), hunts the files with
:func:`~kizuna.hunt.columnar.hunt_files` (the embedded engine's columnar fast path, or Spark),
builds one report record per indicator and file, and, when asked, stores the sightings in a
collection the subject may write, optionally sharing each back to the indicator's producer
(an audience naming it; a push now when it stands for a peer). Reading indicators and
storing sightings are short transactions of their own; no transaction is held while the
files are read.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from kizuna.access import service
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import WELL_KNOWN, Tlp
from kizuna.config import Settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, InvalidInput, NotFound
from kizuna.federation.peers import PUSH, list_peers
from kizuna.federation.sync import sync_peer
from kizuna.hunt.columnar import FileProgress, collector_paused, hunt_files
from kizuna.hunt.engine import Match
from kizuna.hunt.readers import FORMATS, FieldMapping, ReadStats
from kizuna.hunt.sightings import (
    indicator_bodies,
    readable_indicators,
    sightings_for,
    store_sightings,
)
from kizuna.stix.timestamps import format_timestamp, parse_timestamp
from kizuna.store.collections import get_collection
from kizuna.store.ingest import Outcome

__all__ = [
    "ENGINES",
    "REPORT_COLUMNS",
    "HuntOutcome",
    "HuntRequest",
    "check_options",
    "check_request",
    "parse_since",
    "records_csv",
    "run_hunt",
]

ENGINES = ("embedded", "spark")
REPORT_COLUMNS = ("indicator_id", "name", "source", "rows", "count", "first_seen", "last_seen")
# Rows of file i in the combined match handed to sightings_for: i << _FILE_SHIFT | row.
_FILE_SHIFT = 40


@dataclass(frozen=True)
class HuntRequest:
    """What to hunt. ``files``: telemetry files (the caller has decided they may be read);
    ``labels``: how each file is named in the report (default: the path as given);
    ``collection_ids``: take indicators from these (``None``: every readable collection);
    ``since_us``: only indicators added after this time; ``store_into``: store sightings in
    this collection; ``share_sightings``: also let each indicator's producer read its
    sighting and, when the producer stands for a peer, push it there now (needs
    ``store_into``)."""

    files: Sequence[Path]
    collection_ids: Sequence[str] | None = None
    since_us: int | None = None
    engine: str = "embedded"
    spark_master: str | None = None
    format: str | None = None
    mapping: FieldMapping | None = None
    store_into: str | None = None
    share_sightings: bool = False
    labels: Sequence[str] | None = None


@dataclass
class HuntOutcome:
    """What a hunt found. ``matches``: one per matched indicator, merged over the files (their
    ``rows`` are per-file numbers, so only the counts and times are meaningful merged);
    ``records``: one per indicator and file, the columns of :data:`REPORT_COLUMNS`;
    ``stored``: objects stored per STIX type; ``refused``: objects the store refused;
    ``shared``: per matched indicator, how its sighting went back to the producer, or why
    it did not; ``seconds``: time reading the files; ``phases``: seconds per phase (choosing
    the indicators and reading the matched ones' bodies back, preparing them, the engine's
    scan, confirming and building events, and storing sightings when asked)."""

    indicators: int
    matches: list[Match]
    names: dict[str, str]
    stats: ReadStats
    invalid_indicators: list[str]
    records: list[dict[str, Any]]
    stored: dict[str, int] = field(default_factory=dict)
    refused: list[Outcome] = field(default_factory=list)
    candidate_pairs: int = 0
    seconds: float = 0.0
    shared: dict[str, str] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def matching_events(self) -> int:
        return sum(m.count for m in self.matches)


def parse_since(text: str) -> int:
    """'7d', '12h', '90m' ago, or an RFC 3339 timestamp, as microseconds since the epoch."""
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[:-1].isascii() and text[:-1].isdigit() and text[-1:] in units:
        try:
            delta = timedelta(**{units[text[-1]]: int(text[:-1])})
            return int((datetime.now(UTC) - delta).timestamp() * 1_000_000)
        except OverflowError:
            raise InvalidInput(f"--since {text} lies beyond the calendar") from None
    try:
        return parse_timestamp(text)
    except InvalidInput:
        raise InvalidInput(
            f"--since takes a duration like 7d, 12h, 90m or a timestamp, not {text!r}"
        ) from None


def check_options(request: HuntRequest) -> None:
    """Refuse options that cannot work together (no database needed)."""
    if request.share_sightings and request.store_into is None:
        raise InvalidInput(
            "sharing sightings back needs a collection to store them in (--store-into, store_into)"
        )
    if request.engine not in ENGINES:
        raise InvalidInput(f"unknown engine {request.engine!r}; use embedded or spark")
    if request.spark_master is not None and request.engine != "spark":
        raise InvalidInput("a Spark master applies only to the spark engine")
    if request.format is not None and request.format not in FORMATS:
        raise InvalidInput(
            f"unknown telemetry format {request.format!r}; use one of {', '.join(sorted(FORMATS))}"
        )
    if not request.files:
        raise InvalidInput("name at least one telemetry file")
    if request.labels is not None and len(request.labels) != len(request.files):
        raise InvalidInput("one label per file")
    names: set[str] = set()
    for path in request.files:
        name = Path(path).name
        if name in names:
            # Matches are reported per file name: two files may not share one.
            raise InvalidInput(f"two files are named {name!r}; name each file once")
        names.add(name)


def check_request(conn: Connection, *, subject: Subject, request: HuntRequest) -> None:
    """Refuse a request that cannot run, before any file is read: bad options, a collection
    the subject may not read (NotFound/Forbidden, as over TAXII), or a ``store_into``
    collection it may not write."""
    check_options(request)
    for collection_id in dict.fromkeys(request.collection_ids or ()):
        found = get_collection(conn, subject, collection_id)
        if not found.can_read:
            raise Forbidden(f"{collection_id}: this organisation may not read this collection")
    if request.store_into is not None:
        target = get_collection(conn, subject, request.store_into)
        if not target.can_write:
            raise Forbidden(
                f"{request.store_into}: this organisation may not write to this collection"
            )


def _time(us: int | None) -> str | None:
    return format_timestamp(us) if us is not None else None


def _records(
    merged: Sequence[Match],
    per_file: Sequence[Mapping[str, Match]],
    names: Mapping[str, str],
    labels: Sequence[str],
) -> list[dict[str, Any]]:
    """One record per indicator (in match order) and file (in the order given)."""
    records: list[dict[str, Any]] = []
    for m in merged:
        for label, found in zip(labels, per_file, strict=True):
            hit = found.get(m.indicator_id)
            if hit is None:
                continue
            records.append(
                {
                    "indicator_id": m.indicator_id,
                    "name": names.get(m.indicator_id, ""),
                    "source": label,
                    "rows": list(hit.rows),
                    "count": hit.count,
                    "first_seen": _time(hit.first_seen_us),
                    "last_seen": _time(hit.last_seen_us),
                }
            )
    return records


def records_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """The report as CSV: a header of :data:`REPORT_COLUMNS`, rows as space-separated numbers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for r in records:
        writer.writerow(
            [
                r["indicator_id"],
                r["name"],
                r["source"],
                " ".join(str(n) for n in r["rows"]),
                r["count"],
                r["first_seen"] or "",
                r["last_seen"] or "",
            ]
        )
    return out.getvalue()


def _combined(indicator_id: str, per_file: Sequence[Mapping[str, Match]]) -> Match:
    """One match over every file, its rows keyed ``file index << _FILE_SHIFT | row``."""
    rows: list[int] = []
    firsts: list[int] = []
    lasts: list[int] = []
    count = 0
    for file_index, found in enumerate(per_file):
        hit = found.get(indicator_id)
        if hit is None:
            continue
        rows += [file_index << _FILE_SHIFT | r for r in hit.rows]
        count += hit.count
        if hit.first_seen_us is not None:
            firsts.append(hit.first_seen_us)
        if hit.last_seen_us is not None:
            lasts.append(hit.last_seen_us)
    return Match(
        indicator_id=indicator_id,
        rows=tuple(rows),
        first_seen_us=min(firsts) if firsts else None,
        last_seen_us=max(lasts) if lasts else None,
        count=count,
    )


def run_hunt(
    db: Engine,
    subject: Subject,
    request: HuntRequest,
    progress: Callable[[FileProgress], None] | None = None,
    *,
    announce: Callable[[int], None] | None = None,
    settings: Settings | None = None,
) -> HuntOutcome:
    """Hunt ``request.files`` for the indicators `subject` may read now; see the module text.
    ``progress`` is called as each file finishes; ``announce`` with the number of indicators
    before the files are read; ``settings`` (the node's) are needed to push sightings to a
    peer."""
    with collector_paused():
        return _run_hunt(db, subject, request, progress, announce, settings)


def _run_hunt(
    db: Engine,
    subject: Subject,
    request: HuntRequest,
    progress: Callable[[FileProgress], None] | None,
    announce: Callable[[int], None] | None,
    settings: Settings | None,
) -> HuntOutcome:
    begun = time.perf_counter()
    check_options(request)
    files = [Path(p) for p in request.files]
    labels = list(request.labels) if request.labels is not None else [str(p) for p in files]
    if subject.identity_id is None:
        raise InvalidInput("a hunt acts as an organisation")
    hunter_identity = subject.identity_id
    with read_transaction(db) as conn:
        check_request(conn, subject=subject, request=request)
        readable = readable_indicators(
            conn,
            subject=subject,
            collection_ids=list(request.collection_ids) if request.collection_ids else None,
            since_us=request.since_us,
        )
    indicators = [h.indicator for h in readable]
    if announce is not None:
        announce(len(indicators))

    stats = ReadStats()
    started = time.perf_counter()
    choosing = started - begun
    report = hunt_files(
        indicators,
        files,
        format=request.format,
        mapping=request.mapping,
        engine=request.engine,
        spark_master=request.spark_master,
        stats=stats,
        progress=progress,
    )
    seconds = time.perf_counter() - started
    reading = time.perf_counter()
    bodies: dict[str, dict[str, Any]] = {}
    if report.matches:
        hunted = {h.indicator.indicator_id: h for h in readable}
        with read_transaction(db) as conn:
            bodies = indicator_bodies(
                conn, subject=subject, hunted=(hunted[m.indicator_id] for m in report.matches)
            )
    # A matched indicator deleted, or no longer readable, since the hunt began is left out.
    matches = [m for m in report.matches if m.indicator_id in bodies]
    names = {k: str(v.get("name", "")) for k, v in bodies.items()}
    choosing += time.perf_counter() - reading
    per_file = [
        {m.indicator_id: m for m in report.file_matches.get(p.name, []) if m.indicator_id in bodies}
        for p in files
    ]
    outcome = HuntOutcome(
        indicators=len(indicators),
        matches=matches,
        names=names,
        stats=stats,
        invalid_indicators=list(report.invalid_indicators),
        records=_records(matches, per_file, names, labels),
        candidate_pairs=report.candidate_pairs,
        seconds=seconds,
        phases={
            "indicators": choosing,
            "prepare": report.prepare_seconds,
            "scan": report.sql_seconds,
            "confirm": max(0.0, seconds - report.prepare_seconds - report.sql_seconds),
        },
    )
    if request.store_into is None or not matches:
        return outcome
    storing = time.perf_counter()

    events = {
        file_index << _FILE_SHIFT | row: event
        for file_index, by_row in enumerate(report.matched_events)
        for row, event in by_row.items()
    }
    producers: dict[str, Org] = {}
    if request.share_sightings:
        with read_transaction(db) as conn:
            for m in matches:
                why = _producer(conn, bodies[m.indicator_id], hunter_identity, producers)
                if why is not None:
                    outcome.shared[m.indicator_id] = why
    objects: list[object] = []
    for m in matches:
        producer = producers.get(m.indicator_id)
        objects += sightings_for(
            _combined(m.indicator_id, per_file),
            indicator=bodies[m.indicator_id],
            hunter_identity_id=hunter_identity,
            events=events,
            share_with=producer.identity_id if producer is not None else None,
        )
    with write_transaction(db) as conn:
        stored = store_sightings(
            conn, subject=subject, collection_id=request.store_into, objects=objects
        )
    for o in stored:
        if o.ok:
            kind = o.id.split("--", 1)[0]
            outcome.stored[kind] = outcome.stored.get(kind, 0) + 1
        else:
            outcome.refused.append(o)
    if producers:
        _share(db, settings, request.store_into, producers, outcome)
    outcome.phases["sightings"] = time.perf_counter() - storing
    return outcome


def _producer(
    conn: Connection, indicator: Mapping[str, Any], hunter: str, producers: dict[str, Org]
) -> str | None:
    """Note the org a sighting of ``indicator`` goes back to, or say why none does."""
    creator = indicator.get("created_by_ref")
    if not isinstance(creator, str):
        return "not shared: the indicator names no producer"
    if creator == hunter:
        return "not shared: the hunter's own indicator"
    try:
        org = service.find_org(conn, creator)
    except NotFound:
        return "not shared: its producer is not known on this node"
    tlps = [WELL_KNOWN[r][0] for r in _marking_ids(indicator) if r in WELL_KNOWN]
    if org.remote and any(t is Tlp.RED for t in tlps):
        return "not shared: TLP:RED stays on this node"
    producers[str(indicator["id"])] = org
    return None


def _marking_ids(indicator: Mapping[str, Any]) -> list[str]:
    refs = indicator.get("object_marking_refs")
    out = [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
    for g in indicator.get("granular_markings") or []:
        if isinstance(g, dict) and isinstance(g.get("marking_ref"), str):
            out.append(g["marking_ref"])
    return out


def _share(
    db: Engine,
    settings: Settings | None,
    collection: str,
    producers: Mapping[str, Org],
    outcome: HuntOutcome,
) -> None:
    """Deliver shared sightings: a local producer reads them here (if it may read the
    collection); a remote one gets them pushed now by every peer standing for it that pushes
    this collection. The access module decides what each push lets out, as always."""
    runs: dict[str, list[str]] = {}
    with read_transaction(db) as conn:
        peers = list_peers(conn)
        for indicator_id, org in producers.items():
            if not org.remote:
                readable = _may_read(conn, org, collection)
                outcome.shared[indicator_id] = (
                    f"shared with {org.name} on this node"
                    if readable
                    else f"not shared: {org.name} may not read collection {collection}"
                )
                continue
            pushing = [
                p.name
                for p in peers
                if p.org.id == org.id
                and any(
                    link.direction == PUSH and link.local_collection == collection
                    for link in p.links
                )
            ]
            if not pushing:
                outcome.shared[indicator_id] = (
                    f"not shared: no peer standing for {org.name} pushes collection {collection}"
                )
                continue
            for name in pushing:
                runs.setdefault(name, []).append(indicator_id)
    if runs and settings is None:
        raise InvalidInput("sharing with a peer needs the node's settings")
    for name, indicator_ids in runs.items():
        assert settings is not None
        result = sync_peer(db, settings, name)
        verdict = (
            f"sent to peer {name}"
            if result.ok
            else f"stored; the push to peer {name} failed and is retried by the next sync"
        )
        for indicator_id in indicator_ids:
            outcome.shared[indicator_id] = verdict


def _may_read(conn: Connection, org: Org, collection: str) -> bool:
    who = Subject(org_id=org.id, identity_id=org.identity_id, role=Role.READER)
    try:
        return get_collection(conn, who, collection).can_read
    except (NotFound, Forbidden):
        return False
