"""Adding STIX objects to a collection: validate, resolve markings, check ownership and
versions, hand out date_added, and store, all in one write transaction.

Each object stands or falls alone: a malformed object is reported as a failure with its
reason and the rest of the envelope is stored. The caller's transaction commits; once it
has, every success reported here is durable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    String,
    and_,
    any_,
    insert,
    literal,
    select,
    tuple_,
    update,
)

from kizuna.access.subject import Subject
from kizuna.access.tlp import (
    WELL_KNOWN,
    MarkingMeaning,
    Pap,
    Tlp,
    audience_extension_definition,
    audience_marking,
    canonical_marking,
    interpret_marking,
    kizuna_identity,
)
from kizuna.errors import InvalidInput, KizunaError
from kizuna.hunt import index as hunt_index
from kizuna.patterns.check import check_pattern
from kizuna.patterns.parser import PatternError
from kizuna.stix.timestamps import format_timestamp, now_micros, parse_timestamp
from kizuna.stix.types import SCO_TYPES
from kizuna.stix.validate import validate_object

if TYPE_CHECKING:
    import psycopg

from kizuna.store.models import (
    collections,
    markings,
    object_audience,
    object_owners,
    object_refs,
    objects,
)

#: Which properties make an object depend on others for access (DESIGN.md section 2).
_REF_PROPERTIES: dict[str, tuple[str, ...]] = {
    "relationship": ("source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
}
_CHUNK = 500


@dataclass(slots=True)
class Outcome:
    """What became of one submitted object (a TAXII status entry)."""

    id: str
    version: str
    ok: bool
    message: str
    #: A new version was stored (``False`` for an identical re-submission or a refusal).
    added: bool = False

    def as_status_entry(self) -> dict[str, str]:
        entry = {"id": self.id, "version": self.version}
        if self.message:
            entry["message"] = self.message
        return entry


@dataclass(slots=True)
class _Candidate:
    index: int
    obj: dict[str, object]
    stix_id: str
    stix_type: str
    spec_version: str
    version: str | None  # None for objects that carry no version (most SCOs)
    version_us: int | None
    body: str
    content_hash: str
    revoked: bool
    marking_ids: list[str] = field(default_factory=list)
    tlp: Tlp | None = None
    pap: Pap | None = None
    audience: frozenset[str] | None = None
    refs: tuple[str, ...] = ()
    owner_org_id: int | None = None  # set when the object stays another org's


class _Rejected(KizunaError):
    pass


def _canonical(raw: dict[str, object]) -> dict[str, object]:
    try:
        canonical = canonical_marking(raw)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(f"{raw.get('id')}: {exc}") from None
    if canonical is None:
        return raw
    if canonical["id"] != raw["id"]:
        raise InvalidInput(
            f"{raw['id']}: an audience marking's id must be derived from its audience "
            f"(expected {canonical['id']})"
        )
    return canonical


def _version_of(obj: dict[str, object]) -> str | None:
    for key in ("modified", "created"):
        value = obj.get(key)
        if isinstance(value, str):
            return value
    return None


def _prepare(index: int, submitted: object) -> _Candidate:
    validate_object(submitted)
    assert isinstance(submitted, dict)
    raw: dict[str, Any] = submitted
    if raw.get("type") == "marking-definition":
        raw = _canonical(raw)
    elif raw.get("type") == "indicator" and raw.get("pattern_type") == "stix":
        # Other pattern languages (sigma, yara, snort, suricata, pcre) are stored as given.
        try:
            check_pattern(raw["pattern"])
        except PatternError as exc:
            raise InvalidInput(
                f"{raw['id']}: property 'pattern' is not a valid STIX 2.1 pattern: {exc.message}"
            ) from None
    body = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    version = _version_of(raw)
    stix_type = str(raw["type"])
    marking_ids: list[str] = list(raw.get("object_marking_refs") or [])
    for granular in raw.get("granular_markings") or []:
        ref = granular.get("marking_ref")
        if ref:
            marking_ids.append(ref)
    refs = tuple(str(raw[p]) for p in _REF_PROPERTIES.get(stix_type, ()) if p in raw)
    return _Candidate(
        index=index,
        obj=raw,
        stix_id=str(raw["id"]),
        stix_type=stix_type,
        spec_version=str(raw.get("spec_version", "2.1")),
        version=version,
        version_us=parse_timestamp(version) if version is not None else None,
        body=body.decode(),
        content_hash=hashlib.sha256(body).hexdigest(),
        revoked=raw.get("revoked") is True,
        marking_ids=marking_ids,
        refs=refs,
    )


def _among(
    conn: Connection, column: ColumnElement[str], values: Sequence[str]
) -> ColumnElement[bool]:
    """column IN values. On PostgreSQL one array parameter (= ANY), so that a prepared,
    generic plan still uses the index: a generic plan for IN with 500 separate parameters
    is a sequential scan."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(String)))
    return column.in_(values)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def add_objects(
    conn: Connection,
    *,
    subject: Subject,
    collection_id: str,
    submitted: Sequence[object],
) -> list[Outcome]:
    """Store what is valid of `submitted` in the collection. The caller has checked that
    the subject may write to it and commits the transaction."""
    outcomes: list[Outcome | None] = [None] * len(submitted)
    candidates: list[_Candidate] = []
    for index, raw in enumerate(submitted):
        try:
            candidates.append(_prepare(index, raw))
        except InvalidInput as exc:
            outcomes[index] = Outcome(_raw_id(raw), _raw_version(raw), False, exc.message)

    # Marking-definitions first, so that objects in the same envelope may use them.
    candidates.sort(key=lambda c: (c.stix_type != "marking-definition", c.index))
    ids = sorted({c.stix_id for c in candidates})
    # Versions, revocation and one-content-per-version are node-wide questions for versioned
    # objects only; an SCO is compared with this collection's copies alone, so the many
    # copies of a common SCO elsewhere on the node are never read. (Other objects stored
    # without a version, such as custom objects in the deprecated form, still get an owner:
    # one may later be sent with a version, and only its first org may then add versions.)
    versioned = sorted({c.stix_id for c in candidates if c.version_us is not None})
    # Ids of the spec's SCO types are anyone's to compute, and such objects never carry a
    # version (validation forbids created/modified on them), so nobody owns them.
    owners = _owners(conn, sorted({c.stix_id for c in candidates if c.stix_type not in SCO_TYPES}))
    already_owned = set(owners)
    assert subject.org_id is not None
    stored = _stored(conn, collection_id, ids, set(versioned), subject.org_id)
    existing, node_wide, mine = stored.here, stored.everywhere, stored.mine
    revoked_at, latest = stored.first_revoked, stored.last_version
    known_markings = _known_markings(conn, sorted({m for c in candidates for m in c.marking_ids}))

    accepted: list[_Candidate] = []
    new_markings: dict[str, dict[str, object]] = {}
    seen: dict[tuple[str, int], str] = {}
    seen_unversioned: dict[str, set[str]] = {}
    for cand in candidates:
        try:
            _check_creator(subject, cand)
            # Objects without a version (SCOs) have ids anyone can compute from their content:
            # each org may hold its own copy, and no answer depends on another org's copy.
            owner = None if cand.version_us is None else owners.get(cand.stix_id)
            if owner is not None and owner != subject.org_id:
                assert cand.version_us is not None
                if existing.get(cand.stix_id, {}).get(cand.version_us) == cand.content_hash:
                    # This very version is already here (e.g. relayed back by a peer):
                    # nothing would change, so it is an identical re-submission. It tells
                    # the sender no more than the refusal would (that the id is taken).
                    outcomes[cand.index] = Outcome(cand.stix_id, cand.version or "", True, "")
                    continue
                if _shared_declaration(conn, cand):
                    # Immutable, shared declarations (audience markings, kizuna's own
                    # definitions) may be copied into other collections; they stay their
                    # creator's.
                    cand.owner_org_id = owner
                else:
                    raise _Rejected(
                        f"{cand.stix_id} was created by another organisation; "
                        "only its creator may add versions"
                    )
            meaning, marking_row = (
                _marking(conn, cand, new_markings)
                if cand.stix_type == "marking-definition"
                else (None, None)
            )
            _resolve_markings(cand, known_markings)
            duplicate = _already_stored(
                cand,
                existing.get(cand.stix_id, {}),
                mine.get(cand.stix_id, set()),
                node_wide.get(cand.stix_id, {}),
                seen,
                seen_unversioned,
            )
            if not duplicate and cand.version_us is not None:
                _check_revocation(cand, revoked_at.get(cand.stix_id), latest.get(cand.stix_id))
        except (_Rejected, InvalidInput) as exc:
            outcomes[cand.index] = Outcome(cand.stix_id, cand.version or "", False, exc.message)
            continue
        if meaning is not None:
            known_markings[cand.stix_id] = meaning
            if marking_row is not None:
                new_markings[cand.stix_id] = marking_row
        if duplicate:
            # Identical re-submission: nothing changes, and it counts as a success.
            outcomes[cand.index] = Outcome(cand.stix_id, cand.version or "", True, "")
            continue
        if cand.version_us is None:
            seen_unversioned.setdefault(cand.stix_id, set()).add(cand.content_hash)
        else:
            owners.setdefault(cand.stix_id, cand.owner_org_id or subject.org_id)
            seen[(cand.stix_id, cand.version_us)] = cand.content_hash
            latest[cand.stix_id] = max(latest.get(cand.stix_id, cand.version_us), cand.version_us)
            if cand.revoked:
                revoked_at[cand.stix_id] = min(
                    revoked_at.get(cand.stix_id, cand.version_us), cand.version_us
                )
        accepted.append(cand)

    if accepted:
        _store(
            conn,
            subject,
            collection_id,
            accepted,
            existing,
            list(new_markings.values()),
            already_owned,
        )
        for cand in accepted:
            outcomes[cand.index] = Outcome(cand.stix_id, cand.version or "", True, "", added=True)
    return [o for o in outcomes if o is not None]


def _raw_id(raw: object) -> str:
    value = raw.get("id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else ""


def _raw_version(raw: object) -> str:
    if not isinstance(raw, dict):
        return ""
    version = _version_of(raw)
    return version or ""


@cache
def _platform() -> frozenset[str]:
    """Content hashes of kizuna's own declarations (its identity and every extension-definition
    it publishes), which anyone may store byte for byte. Imported on first use: the feature
    packages build on the store."""
    from kizuna.attribution.extensions import declarations as attribution_declarations
    from kizuna.incidents.extensions import declarations as incident_declarations

    objects = [
        kizuna_identity(),
        audience_extension_definition(),
        *incident_declarations(),
        *attribution_declarations(),
    ]
    return frozenset(
        hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
        for obj in objects
    )


def _check_creator(subject: Subject, cand: _Candidate) -> None:
    creator = cand.obj.get("created_by_ref")
    if (
        creator is None
        or subject.remote
        or cand.content_hash in _platform()
        or cand.stix_id in WELL_KNOWN
    ):
        # Standard TLP/PAP definitions are stored in their canonical form, whoever sends them.
        # Anyone may (re)publish kizuna's own declarations, byte for byte.
        # Another node relays objects that other organisations created; it owns them here.
        return
    if creator != subject.identity_id:
        raise _Rejected(
            f"{cand.stix_id} names created_by_ref {creator}, but this token acts for "
            f"{subject.identity_id}; an organisation may only publish its own objects"
        )


def _already_stored(
    cand: _Candidate,
    stored_here: dict[int, str],
    mine: set[str],
    node_wide: dict[int, str],
    seen: dict[tuple[str, int], str],
    seen_unversioned: dict[str, set[str]],
) -> bool:
    """True for an identical re-submission; raises for a different object under a version
    that exists anywhere on the node (one STIX version, one content)."""
    if cand.version_us is None:
        # No version (an SCO): the poster's own identical copy here is the same object.
        return cand.content_hash in mine or cand.content_hash in seen_unversioned.get(
            cand.stix_id, ()
        )
    previous = seen.get((cand.stix_id, cand.version_us)) or node_wide.get(cand.version_us)
    if previous is not None and previous != cand.content_hash:
        raise _Rejected(
            f"{cand.stix_id} version {cand.version} is already stored with different content; "
            "a changed object needs a new 'modified'"
        )
    return (cand.stix_id, cand.version_us) in seen or cand.version_us in stored_here


def _check_revocation(
    cand: _Candidate, first_revoked: int | None, last_version: int | None
) -> None:
    """Revocation is permanent: no version may follow a revoked one (STIX 2.1, 3.6)."""
    assert cand.version_us is not None
    if first_revoked is not None and cand.version_us > first_revoked:
        raise _Rejected(f"{cand.stix_id} has been revoked; it can have no later version")
    if cand.revoked and last_version is not None and last_version > cand.version_us:
        raise _Rejected(
            f"{cand.stix_id} has a later version; a revocation must be the newest version"
        )


def _shared_declaration(conn: Connection, cand: _Candidate) -> bool:
    if cand.content_hash in _platform() or cand.stix_id in WELL_KNOWN:
        return True
    if cand.stix_type != "marking-definition":
        return False
    stored = conn.execute(
        select(markings.c.content_hash).where(markings.c.stix_id == cand.stix_id)
    ).scalar()
    return stored == cand.content_hash


def _marking(
    conn: Connection, cand: _Candidate, pending: dict[str, dict[str, object]]
) -> tuple[MarkingMeaning, dict[str, object] | None]:
    """What a submitted marking-definition means, and its node-wide row if it is new.
    Marking-definitions are immutable: one id, one content."""
    try:
        meaning = interpret_marking(cand.obj)
    except (ValueError, KeyError) as exc:
        raise _Rejected(f"{cand.stix_id}: {exc}") from None
    if meaning.audience is not None:
        expected = audience_marking(meaning.audience)["id"]
        if expected != cand.stix_id:
            raise _Rejected(
                f"{cand.stix_id}: an audience marking's id must be derived from its audience "
                f"(expected {expected})"
            )
    if cand.stix_id in WELL_KNOWN:
        tlp, pap = WELL_KNOWN[cand.stix_id]
        return MarkingMeaning(tlp=tlp, pap=pap, audience=None), None
    stored = (
        pending.get(cand.stix_id, {}).get("content_hash")
        or conn.execute(
            select(markings.c.content_hash).where(markings.c.stix_id == cand.stix_id)
        ).scalar()
    )
    if stored is not None:
        if stored != cand.content_hash:
            raise _Rejected(f"{cand.stix_id}: a different marking-definition has this id")
        return meaning, None
    row: dict[str, object] = {
        "stix_id": cand.stix_id,
        "tlp": int(meaning.tlp) if meaning.tlp is not None else None,
        "pap": int(meaning.pap) if meaning.pap is not None else None,
        "audience": orjson.dumps(sorted(meaning.audience)).decode()
        if meaning.audience is not None
        else None,
        "content_hash": cand.content_hash,
    }
    return meaning, row


def _resolve_markings(cand: _Candidate, known: dict[str, MarkingMeaning | None]) -> None:
    tlp: Tlp | None = None
    pap: Pap | None = None
    audience: frozenset[str] | None = None
    for marking_id in cand.marking_ids:
        meaning = known.get(marking_id)
        if meaning is None:
            raise _Rejected(
                f"{cand.stix_id} is marked with {marking_id}, which this node does not know; "
                "send that marking-definition first or in the same envelope"
            )
        if meaning.tlp is not None:
            tlp = meaning.tlp if tlp is None else max(tlp, meaning.tlp)
        if meaning.pap is not None:
            pap = meaning.pap if pap is None else max(pap, meaning.pap)
        if meaning.audience is not None:
            # Two audiences: only orgs named in both (the stricter reading).
            audience = meaning.audience if audience is None else audience & meaning.audience
    cand.tlp, cand.pap, cand.audience = tlp, pap, audience


def _owners(conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(ids):
        rows = conn.execute(
            select(object_owners.c.stix_id, object_owners.c.owner_org_id).where(
                _among(conn, object_owners.c.stix_id, chunk)
            )
        )
        found.update({r.stix_id: r.owner_org_id for r in rows})
    return found


@dataclass
class _Stored:
    """What the node already holds of the ids in an envelope (see :func:`_stored`)."""

    #: per id, version_us -> content hash: in this collection, and node-wide
    here: dict[str, dict[int, str]] = field(default_factory=dict)
    everywhere: dict[str, dict[int, str]] = field(default_factory=dict)
    #: per id, the content hashes of the posting org's own rows in this collection
    mine: dict[str, set[str]] = field(default_factory=dict)
    #: node-wide, per versioned id: the first revoked version, and the last version of all
    first_revoked: dict[str, int] = field(default_factory=dict)
    last_version: dict[str, int] = field(default_factory=dict)


def _stored(
    conn: Connection, collection_id: str, ids: Sequence[str], versioned: set[str], org_id: int
) -> _Stored:
    """One read of the stored rows of `ids`: node-wide for the `versioned` ids (versions,
    revocation and one content per version are node-wide questions), in this collection
    for the rest (SCOs are compared with this collection's copies alone)."""
    found = _Stored()
    scopes = [(chunk, True) for chunk in _chunks(sorted(versioned))]
    scopes += [(chunk, False) for chunk in _chunks([i for i in ids if i not in versioned])]
    for chunk, anywhere in scopes:
        query = select(
            objects.c.stix_id,
            objects.c.version_us,
            objects.c.content_hash,
            objects.c.collection_id,
            objects.c.owner_org_id,
            objects.c.revoked,
        ).where(_among(conn, objects.c.stix_id, chunk))
        if not anywhere:
            query = query.where(objects.c.collection_id == collection_id)
        for stix_id, version_us, content_hash, stored_in, owner, revoked in conn.execute(query):
            if stored_in == collection_id:
                found.here.setdefault(stix_id, {})[version_us] = content_hash
                if owner == org_id:
                    found.mine.setdefault(stix_id, set()).add(content_hash)
            found.everywhere.setdefault(stix_id, {})[version_us] = content_hash
            if anywhere:
                last = found.last_version.get(stix_id)
                found.last_version[stix_id] = version_us if last is None else max(last, version_us)
                if revoked:
                    first = found.first_revoked.get(stix_id)
                    found.first_revoked[stix_id] = (
                        version_us if first is None else min(first, version_us)
                    )
    return found


def _known_markings(conn: Connection, ids: Sequence[str]) -> dict[str, MarkingMeaning | None]:
    known: dict[str, MarkingMeaning | None] = {}
    lookup: list[str] = []
    for marking_id in ids:
        if marking_id in WELL_KNOWN:
            tlp, pap = WELL_KNOWN[marking_id]
            known[marking_id] = MarkingMeaning(tlp=tlp, pap=pap, audience=None)
        else:
            lookup.append(marking_id)
    for chunk in _chunks(lookup):
        rows = conn.execute(select(markings).where(_among(conn, markings.c.stix_id, chunk)))
        for r in rows:
            audience = frozenset(orjson.loads(r.audience)) if r.audience is not None else None
            known[r.stix_id] = MarkingMeaning(
                tlp=Tlp(r.tlp) if r.tlp is not None else None,
                pap=Pap(r.pap) if r.pap is not None else None,
                audience=audience,
            )
    return known


def _store(
    conn: Connection,
    subject: Subject,
    collection_id: str,
    accepted: list[_Candidate],
    existing: dict[str, dict[int, str]],
    new_markings: list[dict[str, object]],
    already_owned: set[str],
) -> None:
    # The row lock orders concurrent writers to this collection (SQLite: BEGIN IMMEDIATE
    # already did), so date_added order is commit order and paging never skips a row.
    last = conn.execute(
        select(collections.c.last_added_us)
        .where(collections.c.id == collection_id)
        .with_for_update()
    ).scalar_one()
    first_added = max(now_micros(), last + 1)
    for offset, cand in enumerate(accepted):
        if cand.version_us is None:
            # Objects without a version (SCOs) take the moment they were first added.
            cand.version_us = first_added + offset
            cand.version = format_timestamp(cand.version_us)
    conn.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(last_added_us=first_added + len(accepted) - 1)
    )

    # First/last version flags, so that match[version]=first|last is a plain column test.
    by_id: dict[str, list[_Candidate]] = {}
    for cand in accepted:
        by_id.setdefault(cand.stix_id, []).append(cand)
    demote_last: list[dict[str, object]] = []
    demote_first: list[dict[str, object]] = []
    new_first: dict[str, int] = {}
    new_last: dict[str, int] = {}
    for stix_id, group in by_id.items():
        stored = existing.get(stix_id, {})
        versions = [c.version_us for c in group if c.version_us is not None]
        low, high = min(versions), max(versions)
        if stored:
            old_low, old_high = min(stored), max(stored)
            if high > old_high:
                demote_last.append({"s": stix_id, "v": old_high})
            else:
                high = old_high
            if low < old_low:
                demote_first.append({"s": stix_id, "v": old_low})
            else:
                low = old_low
        new_first[stix_id], new_last[stix_id] = low, high
    _demote(conn, collection_id, demote_last, "is_last")
    _demote(conn, collection_id, demote_first, "is_first")

    rows: list[tuple[object, ...]] = [
        (  # in the order of _OBJECT_COLUMNS
            collection_id,
            c.stix_id,
            c.stix_type,
            c.spec_version,
            c.version,
            c.version_us,
            first_added + offset,
            c.body,
            c.content_hash,
            c.owner_org_id or subject.org_id,
            int(c.tlp) if c.tlp is not None else None,
            int(c.pap) if c.pap is not None else None,
            bool(c.audience),
            bool(c.refs),
            c.revoked,
            c.version_us == new_first[c.stix_id],
            c.version_us == new_last[c.stix_id],
            *_hunt_columns(c),
        )
        for offset, c in enumerate(accepted)
    ]
    # A plain executemany (RETURNING would cost a statement per row on SQLite); the new
    # rows are then found by their date_added, which is unique in the collection.
    _bulk_insert(conn, "objects", _OBJECT_COLUMNS, rows)
    pks: list[int] = []
    if any(c.audience or c.refs for c in accepted):
        by_added = dict(
            conn.execute(
                select(objects.c.date_added_us, objects.c.pk).where(
                    objects.c.collection_id == collection_id,
                    objects.c.date_added_us.between(first_added, first_added + len(accepted) - 1),
                )
            ).all()
        )
        pks = [by_added[first_added + offset] for offset in range(len(accepted))]
    if pks:
        audience_rows: list[tuple[object, ...]] = [
            (pk, member)
            for pk, c in zip(pks, accepted, strict=True)
            for member in sorted(c.audience or ())
        ]
        _bulk_insert(conn, object_audience.name, ("object_pk", "identity_id"), audience_rows)
        ref_rows: list[tuple[object, ...]] = [
            (pk, ref) for pk, c in zip(pks, accepted, strict=True) for ref in dict.fromkeys(c.refs)
        ]
        _bulk_insert(conn, object_refs.name, ("object_pk", "ref_id"), ref_rows)
    owner_rows: list[tuple[object, ...]] = [
        (stix_id, subject.org_id)
        for stix_id, group in by_id.items()
        if stix_id not in already_owned and group[0].stix_type not in SCO_TYPES
    ]
    _bulk_insert(conn, object_owners.name, ("stix_id", "owner_org_id"), owner_rows)
    if new_markings:
        conn.execute(insert(markings), new_markings)


_OBJECT_COLUMNS = (
    "collection_id",
    "stix_id",
    "stix_type",
    "spec_version",
    "version",
    "version_us",
    "date_added_us",
    "body",
    "content_hash",
    "owner_org_id",
    "tlp",
    "pap",
    "has_audience",
    "has_refs",
    "revoked",
    "is_first",
    "is_last",
    *hunt_index.COLUMNS,
)


def _hunt_columns(cand: _Candidate) -> tuple[object, ...]:
    """The hunt index columns of a stored version (kizuna.hunt.index): what a hunt needs of
    an indicator, so that choosing 100,000 of them reads no body."""
    if cand.stix_type != "indicator":
        return hunt_index.UNINDEXED
    return hunt_index.indicator_columns(cand.obj)


def _bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: list[tuple[object, ...]]
) -> None:
    """Insert many rows through the driver: COPY on PostgreSQL, executemany on SQLite.
    SQLAlchemy's per-parameter processing costs more than the insert itself here."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        raw = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection)
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )
    conn.exec_driver_sql(sql, rows)


def _demote(conn: Connection, collection_id: str, keys: list[dict[str, object]], flag: str) -> None:
    if not keys:
        return
    column = objects.c[flag]
    for chunk_start in range(0, len(keys), _CHUNK):
        chunk = keys[chunk_start : chunk_start + _CHUNK]
        conn.execute(
            update(objects)
            .where(
                and_(
                    objects.c.collection_id == collection_id,
                    tuple_(objects.c.stix_id, objects.c.version_us).in_(
                        [(k["s"], k["v"]) for k in chunk]
                    ),
                )
            )
            .values({column: False})
        )
