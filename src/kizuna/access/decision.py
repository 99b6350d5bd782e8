"""The access decision: the one place that says who may read what (DESIGN.md section 2).

Two forms of one rule: `may_read` judges one object in Python; `readable_filter` builds the
SQL condition that queries use, so that paging never has to drop rows after the fact.
tests/access/test_decision_properties.py proves with hypothesis that the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)

from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.store.models import (
    collection_grants,
    collections,
    object_audience,
    object_refs,
    objects,
)


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    """What the rule needs to know about one stored version of an object."""

    owner_org_id: int
    tlp: Tlp | None  # from the object's own markings; None when unmarked
    audience: frozenset[str]
    refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CollectionFacts:
    id: str
    default_tlp: Tlp
    public: bool


@dataclass(frozen=True, slots=True)
class Grant:
    org_id: int | None
    role: Role | None
    can_read: bool
    can_write: bool


# -- collections -----------------------------------------------------------------------------


def _grant_applies(subject: Subject, grant: Grant) -> bool:
    return (grant.org_id is not None and grant.org_id == subject.org_id) or (
        grant.role is not None and grant.role is subject.role
    )


def may_read_collection(
    subject: Subject, collection: CollectionFacts, grants: Collection[Grant]
) -> bool:
    if collection.public:
        return True
    if subject.anonymous:
        return False
    return any(g.can_read and _grant_applies(subject, g) for g in grants)


def may_write_collection(subject: Subject, grants: Collection[Grant]) -> bool:
    if subject.anonymous or subject.role is None or not subject.role.may_write:
        return False
    return any(g.can_write and _grant_applies(subject, g) for g in grants)


def readable_collections_filter(subject: Subject) -> ColumnElement[bool]:
    """SQL twin of may_read_collection, over the collections table."""
    return _collection_sql(subject, collections)


def writable_collections_filter(subject: Subject) -> ColumnElement[bool]:
    if subject.anonymous or subject.role is None or not subject.role.may_write:
        return false()
    return exists(
        select(literal(1)).where(
            collection_grants.c.collection_id == collections.c.id,
            collection_grants.c.can_write.is_(True),
            _grant_sql(subject),
        )
    )


def _grant_sql(subject: Subject) -> ColumnElement[bool]:
    role = subject.role.value if subject.role is not None else None
    return or_(collection_grants.c.org_id == subject.org_id, collection_grants.c.role == role)


# -- objects ---------------------------------------------------------------------------------


def label_of(facts: ObjectFacts, collection_default: Tlp) -> Tlp:
    return facts.tlp if facts.tlp is not None else collection_default


def may_read_own(subject: Subject, facts: ObjectFacts, collection_default: Tlp) -> bool:
    """The rule for the object alone, without the objects it references."""
    if subject.anonymous:
        return facts.tlp is Tlp.CLEAR
    if subject.external and (facts.tlp is None or facts.tlp is Tlp.RED):
        return False
    if facts.owner_org_id == subject.org_id:
        return True
    label = label_of(facts, collection_default)
    if label <= Tlp.GREEN:
        return True
    return subject.identity_id is not None and subject.identity_id in facts.audience


def may_read(
    subject: Subject,
    facts: ObjectFacts,
    collection_default: Tlp,
    *,
    ref_readable: Callable[[str], bool],
) -> bool:
    """The whole rule. A relationship or sighting is readable only if what it points at is:
    `ref_readable(id)` says whether some stored version of that id, in a collection the
    subject may read, passes `may_read_own`."""
    if not may_read_own(subject, facts, collection_default):
        return False
    return all(ref_readable(ref) for ref in facts.refs)


def _own_sql(subject: Subject, o: object, default_tlp: ColumnElement[int]) -> ColumnElement[bool]:
    """SQL twin of may_read_own for the objects table (or an alias of it) `o`."""
    c = o.c  # type: ignore[attr-defined]
    if subject.anonymous:
        return and_(c.tlp.is_not(None), c.tlp == int(Tlp.CLEAR))
    in_audience = and_(
        c.has_audience.is_(True),
        exists(
            select(literal(1)).where(
                object_audience.c.object_pk == c.pk,
                object_audience.c.identity_id == subject.identity_id,
            )
        ),
    )
    label = func.coalesce(c.tlp, default_tlp)
    rule = or_(c.owner_org_id == subject.org_id, label <= int(Tlp.GREEN), in_audience)
    if subject.external:
        return and_(c.tlp.is_not(None), c.tlp != int(Tlp.RED), rule)
    return rule


def readable_filter(subject: Subject, *, collection_default: Tlp) -> ColumnElement[bool]:
    """SQL twin of may_read for rows of `objects` in one collection whose default is given."""
    ref_version = objects.alias("ref_version")
    ref_collection = collections.alias("ref_collection")
    readable_ref = exists(
        select(literal(1))
        .select_from(
            ref_version.join(ref_collection, ref_collection.c.id == ref_version.c.collection_id)
        )
        .where(
            ref_version.c.stix_id == object_refs.c.ref_id,
            _collection_sql(subject, ref_collection),
            _own_sql(subject, ref_version, ref_collection.c.default_tlp),
        )
    )
    unreadable_ref = exists(
        select(literal(1)).where(object_refs.c.object_pk == objects.c.pk, not_(readable_ref))
    )
    refs_ok = or_(objects.c.has_refs.is_(False), not_(unreadable_ref))
    own = _own_sql(subject, objects, literal(int(collection_default)))
    return and_(own, refs_ok)


def _collection_sql(subject: Subject, c: object) -> ColumnElement[bool]:
    cols = c.c  # type: ignore[attr-defined]
    public: ColumnElement[bool] = cols.public.is_(True)
    if subject.anonymous:
        return public
    granted = exists(
        select(literal(1)).where(
            collection_grants.c.collection_id == cols.id,
            collection_grants.c.can_read.is_(True),
            _grant_sql(subject),
        )
    )
    return or_(public, granted)


__all__ = [
    "CollectionFacts",
    "Grant",
    "ObjectFacts",
    "label_of",
    "may_read",
    "may_read_collection",
    "may_read_own",
    "may_write_collection",
    "readable_collections_filter",
    "readable_filter",
    "writable_collections_filter",
]
