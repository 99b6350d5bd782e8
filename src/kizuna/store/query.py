"""Reading a collection: TAXII filters, version selection and date_added paging, with the
access rule applied in SQL so that every page is exactly what the requester may see."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, delete, false, or_, select, update

from kizuna.access.decision import readable_filter
from kizuna.access.subject import Role, Subject
from kizuna.errors import Forbidden, NotFound
from kizuna.store.collections import Collection
from kizuna.store.models import objects


@dataclass(frozen=True, slots=True)
class VersionMatch:
    """match[version]: any of first, last, all, and exact version timestamps."""

    first: bool = False
    last: bool = False
    all: bool = False
    exact: tuple[int, ...] = ()

    @classmethod
    def latest(cls) -> VersionMatch:
        return cls(last=True)

    @classmethod
    def every(cls) -> VersionMatch:
        return cls(all=True)


@dataclass(frozen=True, slots=True)
class Filters:
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionMatch = field(default_factory=VersionMatch.latest)
    spec_versions: tuple[str, ...] = ()
    added_after_us: int | None = None


@dataclass(frozen=True, slots=True)
class Row:
    stix_id: str
    version: str
    spec_version: str
    date_added_us: int
    body: str


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    more: bool


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.ids:
        conditions.append(objects.c.stix_id.in_(filters.ids))
    if filters.types:
        conditions.append(objects.c.stix_type.in_(filters.types))
    if filters.spec_versions:
        conditions.append(objects.c.spec_version.in_(filters.spec_versions))
    if filters.added_after_us is not None:
        conditions.append(objects.c.date_added_us > filters.added_after_us)
    match = filters.versions
    if not match.all:
        choices: list[ColumnElement[bool]] = []
        if match.first:
            choices.append(objects.c.is_first.is_(True))
        if match.last:
            choices.append(objects.c.is_last.is_(True))
        if match.exact:
            choices.append(objects.c.version_us.in_(match.exact))
        conditions.append(or_(*choices) if choices else false())
    return conditions


def readable_select(
    subject: Subject, collection: Collection, *columns: ColumnElement[Any]
) -> Select[Any]:
    """``columns`` of the object versions in `collection` the subject may read: the access
    rule (:func:`~kizuna.access.decision.readable_filter`) in the WHERE clause. Every read of
    stored objects, and of what is derived from them (the hunt index columns), starts here."""
    if not collection.can_read:
        raise Forbidden("this token may not read this collection")
    return select(*columns).where(
        objects.c.collection_id == collection.id,
        readable_filter(subject, collection_default=collection.default_tlp),
    )


def _visible(subject: Subject, collection: Collection) -> Select[Any]:
    return readable_select(
        subject,
        collection,
        objects.c.stix_id,
        objects.c.version,
        objects.c.spec_version,
        objects.c.date_added_us,
    )


def read_page(
    conn: Connection,
    *,
    subject: Subject,
    collection: Collection,
    filters: Filters,
    after_us: int | None,
    limit: int,
    with_body: bool = True,
) -> Page:
    """One page in date_added order. `after_us` is the cursor: the last date_added served."""
    query = _visible(subject, collection)
    if with_body:
        query = query.add_columns(objects.c.body)
    query = query.where(*_conditions(filters))
    if after_us is not None:
        query = query.where(objects.c.date_added_us > after_us)
    query = query.order_by(objects.c.date_added_us).limit(limit + 1)
    result = conn.execute(query).all()
    more = len(result) > limit
    rows = [
        Row(
            stix_id=r[0],
            version=r[1],
            spec_version=r[2],
            date_added_us=r[3],
            body=r[4] if with_body else "",
        )
        for r in result[:limit]
    ]
    return Page(rows=rows, more=more)


def read_all(
    conn: Connection,
    *,
    subject: Subject,
    collection: Collection,
    filters: Filters,
    page_size: int = 1000,
    with_body: bool = True,
) -> Iterator[Row]:
    """Every row :func:`read_page` gives the subject, page after page (the same access rule:
    this is only a loop over the read path, for the node's own readers such as hunts)."""
    after: int | None = None
    while True:
        page = read_page(
            conn,
            subject=subject,
            collection=collection,
            filters=filters,
            after_us=after,
            limit=page_size,
            with_body=with_body,
        )
        yield from page.rows
        if not page.more or not page.rows:
            return
        after = page.rows[-1].date_added_us


def delete_object(
    conn: Connection,
    *,
    subject: Subject,
    collection: Collection,
    stix_id: str,
    filters: Filters,
) -> int:
    """Delete the matching versions of one object. The requester must be able to see them
    (else NotFound, so nothing hidden is revealed), write to the collection, and be the
    object's creator or a node admin."""
    if not collection.can_read:
        # A write-only member may not learn what the collection holds, even by deleting.
        raise NotFound(f"no object {stix_id} in this collection matches")
    visible = conn.execute(
        _visible(subject, collection)
        .add_columns(objects.c.pk, objects.c.owner_org_id)
        .where(objects.c.stix_id == stix_id, *_conditions(filters))
    ).all()
    if not visible:
        raise NotFound(f"no object {stix_id} in this collection matches")
    if not collection.can_write:
        raise Forbidden("this token may not write to this collection")
    if subject.role is not Role.ADMIN and any(r.owner_org_id != subject.org_id for r in visible):
        raise Forbidden("only the object's creator or a node admin may delete it")
    pks = [r.pk for r in visible]
    conn.execute(delete(objects).where(objects.c.pk.in_(pks)))
    _reflag(conn, collection.id, stix_id)
    return len(pks)


def _reflag(conn: Connection, collection_id: str, stix_id: str) -> None:
    """Recompute the first/last flags of what remains of one object."""
    versions = conn.execute(
        select(objects.c.pk, objects.c.version_us)
        .where(objects.c.collection_id == collection_id, objects.c.stix_id == stix_id)
        .order_by(objects.c.version_us)
    ).all()
    if not versions:
        return
    where = (objects.c.collection_id == collection_id) & (objects.c.stix_id == stix_id)
    conn.execute(update(objects).where(where).values(is_first=False, is_last=False))
    conn.execute(update(objects).where(objects.c.pk == versions[0].pk).values(is_first=True))
    conn.execute(update(objects).where(objects.c.pk == versions[-1].pk).values(is_last=True))
