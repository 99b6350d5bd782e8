"""Collections: create, grant, and list those a subject may read or write."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from kizuna.access.decision import (
    CollectionFacts,
    Grant,
    may_read_collection,
    may_write_collection,
    readable_collections_filter,
    writable_collections_filter,
)
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.errors import InvalidInput, NotFound
from kizuna.stix.timestamps import now_micros
from kizuna.store.models import collection_grants, collections


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    title: str
    description: str | None
    default_tlp: Tlp
    public: bool
    can_read: bool
    can_write: bool

    @property
    def facts(self) -> CollectionFacts:
        return CollectionFacts(id=self.id, default_tlp=self.default_tlp, public=self.public)


def add_collection(
    conn: Connection,
    *,
    title: str,
    description: str | None = None,
    default_tlp: Tlp = Tlp.AMBER,
    public: bool = False,
    collection_id: str | None = None,
) -> str:
    if not title.strip():
        raise InvalidInput("a collection needs a title")
    collection_id = collection_id or str(uuid.uuid4())
    conn.execute(
        insert(collections).values(
            id=collection_id,
            title=title.strip(),
            description=description,
            default_tlp=int(default_tlp),
            public=public,
            last_added_us=0,
            created_us=now_micros(),
        )
    )
    return collection_id


def grant(
    conn: Connection,
    *,
    collection_id: str,
    org_id: int | None = None,
    role: Role | None = None,
    read: bool = True,
    write: bool = False,
) -> None:
    """Say who may read and write a collection: one org, or every token of one role.
    A later grant for the same org or role replaces the earlier one."""
    if (org_id is None) == (role is None):
        raise InvalidInput("a grant names exactly one of an organisation or a role")
    if (
        conn.execute(select(collections.c.id).where(collections.c.id == collection_id)).first()
        is None
    ):
        raise NotFound(f"no collection {collection_id}")
    role_value = role.value if role is not None else None
    conn.execute(
        delete(collection_grants).where(
            collection_grants.c.collection_id == collection_id,
            collection_grants.c.org_id.is_(None)
            if org_id is None
            else collection_grants.c.org_id == org_id,
            collection_grants.c.role.is_(None)
            if role_value is None
            else collection_grants.c.role == role_value,
        )
    )
    conn.execute(
        insert(collection_grants).values(
            collection_id=collection_id,
            org_id=org_id,
            role=role_value,
            can_read=read,
            can_write=write,
        )
    )


def _grants(conn: Connection, collection_id: str) -> list[Grant]:
    rows = conn.execute(
        select(collection_grants).where(collection_grants.c.collection_id == collection_id)
    )
    return [
        Grant(
            org_id=r.org_id,
            role=Role(r.role) if r.role else None,
            can_read=bool(r.can_read),
            can_write=bool(r.can_write),
        )
        for r in rows
    ]


def list_collections(conn: Connection, subject: Subject) -> list[Collection]:
    """The collections the subject may read or write, and nothing else."""
    readable = readable_collections_filter(subject).label("can_read")
    writable = writable_collections_filter(subject).label("can_write")
    rows = conn.execute(
        select(collections, readable, writable)
        .where(readable_collections_filter(subject) | writable_collections_filter(subject))
        .order_by(collections.c.created_us, collections.c.id)
    )
    return [
        Collection(
            id=r.id,
            title=r.title,
            description=r.description,
            default_tlp=Tlp(r.default_tlp),
            public=bool(r.public),
            can_read=bool(r.can_read),
            can_write=bool(r.can_write),
        )
        for r in rows
    ]


def get_collection(conn: Connection, subject: Subject, collection_id: str) -> Collection:
    """One collection, if the subject may read or write it; otherwise NotFound, so that a
    hidden collection looks exactly like one that does not exist."""
    row = conn.execute(select(collections).where(collections.c.id == collection_id)).first()
    if row is None:
        raise NotFound(f"no collection {collection_id}")
    facts = CollectionFacts(id=row.id, default_tlp=Tlp(row.default_tlp), public=bool(row.public))
    grants = _grants(conn, collection_id)
    can_read = may_read_collection(subject, facts, grants)
    can_write = may_write_collection(subject, grants)
    if not (can_read or can_write):
        raise NotFound(f"no collection {collection_id}")
    return Collection(
        id=row.id,
        title=row.title,
        description=row.description,
        default_tlp=facts.default_tlp,
        public=facts.public,
        can_read=can_read,
        can_write=can_write,
    )


def all_collections(conn: Connection) -> list[tuple[str, str, Tlp, bool]]:
    """Every collection (id, title, default TLP, public), for operators on the CLI."""
    rows = conn.execute(select(collections).order_by(collections.c.created_us))
    return [(r.id, r.title, Tlp(r.default_tlp), bool(r.public)) for r in rows]
