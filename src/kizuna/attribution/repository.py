"""Queries of the attribution domain. STIX objects are read only through the store's read
path (:func:`kizuna.store.query.read_page`) as the requesting subject, so the access module
decides what each caller sees; the local tables hold only this node's publications."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, insert, or_, select

from kizuna.access.subject import Subject
from kizuna.attribution.models import attribution_publications
from kizuna.errors import Conflict, Forbidden
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.store.collections import Collection, get_collection, list_collections
from kizuna.store.ingest import add_objects
from kizuna.store.query import Filters, VersionMatch, read_all

__all__ = [
    "Found",
    "Publication",
    "latest",
    "publications",
    "save_publication",
    "stamp_after",
    "store",
]

_PAGE = 500


@dataclass(frozen=True, slots=True)
class Found:
    """The latest version of an object the subject may read, and where it was read."""

    obj: dict[str, Any]
    collection: Collection
    version_us: int


def latest(
    conn: Connection, subject: Subject, *, ids: Iterable[str] = (), types: Iterable[str] = ()
) -> dict[str, Found]:
    """id -> the newest version the subject may read, over every collection it may read.
    With no ids, every object of the given types."""
    wanted = tuple(sorted(set(ids)))
    kinds = tuple(sorted(set(types)))
    found: dict[str, Found] = {}
    chunks = [wanted[i : i + _PAGE] for i in range(0, len(wanted), _PAGE)] if wanted else [()]
    for collection in list_collections(conn, subject):
        if not collection.can_read:
            continue
        for chunk in chunks:
            filters = Filters(ids=chunk, types=kinds, versions=VersionMatch.latest())
            for row in read_all(conn, subject=subject, collection=collection, filters=filters):
                version = parse_timestamp(row.version) if row.version else 0
                held = found.get(row.stix_id)
                if held is None or held.version_us < version:
                    found[row.stix_id] = Found(orjson.loads(row.body), collection, version)
    return found


def store(conn: Connection, who: Subject, collection_id: str, objs: list[dict[str, Any]]) -> None:
    """Store objects through the normal ingest path as `who`; all or nothing."""
    if not get_collection(conn, who, collection_id).can_write:
        raise Forbidden(f"this token may not write to collection {collection_id}")
    outcomes = add_objects(conn, subject=who, collection_id=collection_id, submitted=objs)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise Conflict("; ".join(f"{o.id}: {o.message}" for o in failed))


def stamp_after(previous: str) -> str:
    """The `modified` of a new version: now, or just after `previous` if the clock lags."""
    return format_timestamp(max(now_micros(), parse_timestamp(previous) + 1000))


@dataclass(frozen=True, slots=True)
class Publication:
    draft_id: str
    report_id: str
    version: str
    status: str
    collection_id: str
    bundle: str
    published_us: int


def save_publication(conn: Connection, publication: Publication) -> None:
    conn.execute(
        insert(attribution_publications).values(
            draft_id=publication.draft_id,
            report_id=publication.report_id,
            version=publication.version,
            status=publication.status,
            collection_id=publication.collection_id,
            bundle=publication.bundle,
            published_us=publication.published_us,
        )
    )


def publications(conn: Connection, attribution_id: str) -> list[Publication]:
    """Every signed version published here of one attribution (by draft or report id),
    oldest first."""
    t = attribution_publications
    rows = conn.execute(
        select(t)
        .where(or_(t.c.draft_id == attribution_id, t.c.report_id == attribution_id))
        .order_by(t.c.published_us, t.c.id)
    )
    return [
        Publication(
            r.draft_id, r.report_id, r.version, r.status, r.collection_id, r.bundle, r.published_us
        )
        for r in rows
    ]
