"""The joint-attribution workflow: draft -> review -> approved by every co-author -> published,
then withdrawal or correction as new signed versions. Rules only: no HTTP, no commit.

State lives in STIX objects so that both co-authors' nodes see it after a sync: the draft is
a ``report`` (TLP:AMBER to the co-authors, or RED when they are all on this node) that only
the drafting organisation versions; each approval is a ``note`` on the draft, created by
the approving organisation on its own node and signed there with that node's key over the
exact publication bytes. An approval counts only while the bytes it signed are still the
ones the draft would publish: any edit (or a new version of a published object) changes the
digest and so invalidates it. Every step is audited in the same transaction.

Roles: analysts and admins of the drafting organisation edit and publish; an approval needs
the admin role of a co-authoring organisation that is local to the signing node.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.attribution import repository
from kizuna.attribution.approvals import (
    Approval,
    approval_id,
    approval_notes,
    approval_of,
    co_author_refs,
    signed_bundle,
)
from kizuna.attribution.content import (
    Content,
    attribution_of,
    check_refs,
    mentioned_ids,
    publication_content,
    published_report_id,
)
from kizuna.attribution.extensions import (
    APPROVAL_EXTENSION_ID,
    ATTRIBUTION_EXTENSION_ID,
)
from kizuna.attribution.jws import sign
from kizuna.attribution.keys import node_identity, public_keys, signing_key
from kizuna.attribution.verify import payload_of, verify_bundle
from kizuna.attribution.yardstick import likelihood
from kizuna.audit.log import record
from kizuna.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from kizuna.stix.timestamps import format_timestamp, now_micros
from kizuna.store.collections import get_collection
from kizuna.store.ingest import add_objects

__all__ = [
    "Approval",
    "Attribution",
    "Changes",
    "DraftSpec",
    "Published",
    "approval_id",
    "approve",
    "correct",
    "draft",
    "edit",
    "list_attributions",
    "publish",
    "review",
    "show",
    "withdraw",
]

DRAFT, REVIEW, PUBLISHED, WITHDRAWN = "draft", "review", "published", "withdrawn"


@dataclass(frozen=True, slots=True)
class DraftSpec:
    """What an analyst writes to start an attribution."""

    collection_id: str
    title: str
    activity_ref: str
    actor_ref: str
    assessment: str
    co_authors: tuple[str, ...]  # organisation names or identity ids
    likelihood: str | None = None
    confidence: int | None = None
    evidence_refs: tuple[str, ...] = ()
    actor_state: str | None = None
    tlp: Tlp = Tlp.AMBER


@dataclass(frozen=True, slots=True)
class Changes:
    """An edit or correction: only the fields given change."""

    title: str | None = None
    assessment: str | None = None
    likelihood: str | None = None
    confidence: int | None = None
    evidence_refs: tuple[str, ...] | None = None
    actor_state: str | None = None


@dataclass(frozen=True, slots=True)
class Attribution:
    draft: dict[str, Any]
    collection_id: str
    digest: str | None  # of the publication content; None when it cannot be published
    problem: str | None  # why it cannot be published now, if it cannot
    withheld: tuple[str, ...] = ()
    approvals: tuple[Approval, ...] = ()  # of the content as it stands (current digest)

    @property
    def id(self) -> str:
        return str(self.draft["id"])

    @property
    def status(self) -> str:
        return str(attribution_of(self.draft)["status"])

    @property
    def missing(self) -> list[str]:
        """Co-authors who have not approved the content as it stands."""
        done = {a.org_ref for a in self.approvals}
        return [r for r in co_author_refs(self.draft) if r not in done]


@dataclass(frozen=True, slots=True)
class Published:
    publication: repository.Publication
    bundle: dict[str, Any]
    withheld: tuple[str, ...]
    not_copied: tuple[str, ...] = field(default_factory=tuple)


# -- who may do what -------------------------------------------------------------------------


def _member(who: Subject) -> None:
    if who.anonymous:
        raise Unauthenticated("attributions need a token")
    if who.external:
        raise Forbidden("attributions are worked on by this node's organisations, not peers")


def _writer(who: Subject) -> None:
    _member(who)
    if who.role not in (Role.ANALYST, Role.ADMIN):
        raise Forbidden("only an analyst or admin may draft, edit or publish an attribution")


def _drafter(who: Subject, draft_obj: dict[str, Any]) -> None:
    _writer(who)
    if draft_obj.get("created_by_ref") != who.identity_id:
        raise Forbidden("only the drafting organisation may change or publish this attribution")


# -- storage ---------------------------------------------------------------------------------


def _find(conn: Connection, who: Subject, draft_id: str) -> repository.Found:
    found = repository.latest(conn, who, ids=[draft_id]).get(draft_id)
    if found is None or _draft_body(found.obj) is None:
        raise NotFound(f"no attribution draft {draft_id}")
    return found


def _draft_body(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The attribution extension of a draft; None for anything else (e.g. a publication)."""
    try:
        body = attribution_of(obj)
    except InvalidInput:
        return None
    return body if body.get("kind") == "draft" else None


def _next_version(draft_obj: dict[str, Any], *, content: bool, **ext: Any) -> dict[str, Any]:
    stamp = repository.stamp_after(str(draft_obj["modified"]))
    new: dict[str, Any] = orjson.loads(orjson.dumps(draft_obj))
    body = attribution_of(new)
    body.update({k: v for k, v in ext.items() if v is not None})
    new["modified"] = stamp
    if content:
        body["revision"] = int(body["revision"]) + 1
        body["content_modified"] = stamp
        new["published"] = stamp
    return new


# -- drafting --------------------------------------------------------------------------------


def _co_authors(conn: Connection, who: Subject, names: tuple[str, ...]) -> list[dict[str, str]]:
    refs: dict[str, str] = {}
    mine = access.org_by_id(conn, who.org_id) if who.org_id is not None else None
    for name in (*names, *([mine.identity_id] if mine else [])):
        org = access.find_org(conn, name)
        refs[org.identity_id] = org.name
    return [{"ref": ref, "name": refs[ref]} for ref in sorted(refs)]


def _check_visible(conn: Connection, who: Subject, refs: list[str]) -> None:
    seen = repository.latest(conn, who, ids=refs)
    missing = [r for r in refs if r not in seen]
    if missing:
        raise InvalidInput(f"not found, or not visible to you: {', '.join(missing)}")


def _markings(conn: Connection, tlp: Tlp, co_authors: list[dict[str, str]]) -> list[str]:
    if tlp not in (Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED):
        raise InvalidInput("a draft is TLP:AMBER (or AMBER+STRICT, or RED) until it is published")
    if tlp is Tlp.RED and any(access.find_org(conn, c["ref"]).remote for c in co_authors):
        raise InvalidInput(
            "TLP:RED never leaves this node, and a co-author is on another node: use AMBER"
        )
    return [TLP2_MARKINGS[tlp], str(audience_marking(c["ref"] for c in co_authors)["id"])]


def draft(conn: Connection, *, subject: Subject, spec: DraftSpec) -> Attribution:
    """Start an attribution: a draft report readable by the co-authors only."""
    _writer(subject)
    check_refs(spec.activity_ref, spec.actor_ref, spec.evidence_refs)
    _check_visible(conn, subject, [spec.activity_ref, spec.actor_ref, *spec.evidence_refs])
    if not spec.title.strip() or not spec.assessment.strip():
        raise InvalidInput("an attribution needs a title and the assessment wording")
    term, confidence = likelihood(spec.likelihood, spec.confidence)
    co_authors = _co_authors(conn, subject, spec.co_authors)
    if len(co_authors) < 2:
        raise InvalidInput("a joint attribution needs at least one other co-author")
    stamp = format_timestamp(now_micros())
    body: dict[str, Any] = {
        "extension_type": "property-extension",
        "kind": "draft",
        "status": DRAFT,
        "intent": "publish",
        "revision": 1,
        "content_modified": stamp,
        "activity_ref": spec.activity_ref,
        "actor_ref": spec.actor_ref,
        "assessment": spec.assessment.strip(),
        "likelihood": term,
        "evidence_refs": sorted(set(spec.evidence_refs)),
        "co_authors": co_authors,
    }
    if spec.actor_state:
        body["actor_state"] = spec.actor_state
    draft_obj: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid4()}",
        "created": stamp,
        "modified": stamp,
        "created_by_ref": subject.identity_id,
        "name": spec.title.strip(),
        "description": body["assessment"],
        "report_types": ["threat-actor"],
        "published": stamp,
        "confidence": confidence,
        "object_refs": sorted({spec.activity_ref, spec.actor_ref, *spec.evidence_refs}),
        "object_marking_refs": _markings(conn, spec.tlp, co_authors),
        "extensions": {ATTRIBUTION_EXTENSION_ID: body},
    }
    marking = audience_marking(c["ref"] for c in co_authors)
    repository.store(conn, subject, spec.collection_id, [marking, draft_obj])
    record(
        conn,
        who=subject,
        action="attribution.draft",
        subject_id=draft_obj["id"],
        details={"co_authors": [c["ref"] for c in co_authors], "likelihood": term},
    )
    return show(conn, subject=subject, draft_id=draft_obj["id"])


def _apply(
    conn: Connection, who: Subject, draft_obj: dict[str, Any], changes: Changes
) -> dict[str, Any]:
    body = attribution_of(draft_obj)
    evidence = changes.evidence_refs
    if evidence is not None:
        check_refs(body["activity_ref"], body["actor_ref"], evidence)
        _check_visible(conn, who, list(evidence))
    term, confidence = body["likelihood"], draft_obj["confidence"]
    if changes.likelihood is not None or changes.confidence is not None:
        term, confidence = likelihood(changes.likelihood, changes.confidence)
    new = _next_version(
        draft_obj,
        content=True,
        assessment=changes.assessment.strip() if changes.assessment else None,
        likelihood=term,
        evidence_refs=sorted(set(evidence)) if evidence is not None else None,
        actor_state=changes.actor_state,
    )
    new["confidence"] = confidence
    new["description"] = attribution_of(new)["assessment"]
    if changes.title:
        new["name"] = changes.title.strip()
    new["object_refs"] = sorted(
        {body["activity_ref"], body["actor_ref"], *attribution_of(new)["evidence_refs"]}
    )
    return new


def _save_step(
    conn: Connection,
    who: Subject,
    found: repository.Found,
    new: dict[str, Any],
    action: str,
    **details: Any,
) -> Attribution:
    repository.store(conn, who, found.collection.id, [new])
    record(conn, who=who, action=action, subject_id=str(new["id"]), details=details)
    return show(conn, subject=who, draft_id=str(new["id"]))


def edit(conn: Connection, *, subject: Subject, draft_id: str, changes: Changes) -> Attribution:
    """Change the wording, likelihood or evidence of a draft (or one under review). Any
    approval given so far no longer matches and must be given again."""
    found = _find(conn, subject, draft_id)
    _drafter(subject, found.obj)
    status = attribution_of(found.obj)["status"]
    if status not in (DRAFT, REVIEW):
        raise Conflict(f"a {status} attribution is changed by a correction, not an edit")
    before = show(conn, subject=subject, draft_id=draft_id)
    new = _apply(conn, subject, found.obj, changes)
    stale = [a.note_id for a in before.approvals]
    return _save_step(conn, subject, found, new, "attribution.edit", invalidated=stale)


def review(conn: Connection, *, subject: Subject, draft_id: str) -> Attribution:
    """Put a draft to the co-authors for approval."""
    found = _find(conn, subject, draft_id)
    _drafter(subject, found.obj)
    if attribution_of(found.obj)["status"] != DRAFT:
        raise Conflict(
            f"only a draft can be put to review (this one is {attribution_of(found.obj)['status']})"
        )
    new = _next_version(found.obj, content=False, status=REVIEW)
    return _save_step(conn, subject, found, new, "attribution.review")


def withdraw(conn: Connection, *, subject: Subject, draft_id: str, reason: str) -> Attribution:
    """Propose withdrawing a published attribution: once every co-author approves, publish
    makes the withdrawal a new signed version."""
    found = _find(conn, subject, draft_id)
    _drafter(subject, found.obj)
    if attribution_of(found.obj)["status"] != PUBLISHED:
        raise Conflict("only a published attribution can be withdrawn")
    if not reason.strip():
        raise InvalidInput("a withdrawal needs its reason, which is published")
    new = _next_version(
        found.obj, content=True, status=REVIEW, intent="withdraw", withdrawal_reason=reason.strip()
    )
    return _save_step(conn, subject, found, new, "attribution.withdraw", reason=reason.strip())


def correct(conn: Connection, *, subject: Subject, draft_id: str, changes: Changes) -> Attribution:
    """Propose a correction of a published attribution: a new revision to approve and
    publish as a new signed version of the same report."""
    found = _find(conn, subject, draft_id)
    _drafter(subject, found.obj)
    if attribution_of(found.obj)["status"] != PUBLISHED:
        raise Conflict("only a published attribution can be corrected")
    new = _apply(conn, subject, found.obj, changes)
    body = attribution_of(new)
    body["status"], body["intent"] = REVIEW, "correct"
    return _save_step(conn, subject, found, new, "attribution.correct")


# -- content, approvals and publication --------------------------------------------------------


def _content(conn: Connection, who: Subject, draft_obj: dict[str, Any]) -> Content:
    """The publication content as `who` can build it from what it may read."""
    body = attribution_of(draft_obj)
    refs = [body["activity_ref"], body["actor_ref"], *body.get("evidence_refs", [])]
    found = repository.latest(conn, who, ids=refs + mentioned_ids(draft_obj))
    return publication_content(draft_obj, {k: v.obj for k, v in found.items()})


def _digest(content: Content) -> str:
    return hashlib.sha256(payload_of(content.bundle)).hexdigest()


def show(conn: Connection, *, subject: Subject, draft_id: str) -> Attribution:
    """A draft with its approvals, and whether (and why not) it can be published now."""
    _member(subject)
    found = _find(conn, subject, draft_id)
    digest: str | None = None
    problem: str | None = None
    withheld: tuple[str, ...] = ()
    try:
        content = _content(conn, subject, found.obj)
        digest, withheld = _digest(content), content.withheld
    except (Conflict, InvalidInput) as exc:
        problem = exc.message
    approvals: tuple[Approval, ...] = ()
    if digest is not None:
        approvals = tuple(approval_of(n) for n in approval_notes(conn, subject, found.obj, digest))
    return Attribution(found.obj, found.collection.id, digest, problem, withheld, approvals)


def list_attributions(conn: Connection, *, subject: Subject) -> list[Attribution]:
    """The drafts `subject` may read, newest first (without computing their content)."""
    _member(subject)
    reports = repository.latest(conn, subject, types=("report",))
    drafts = [f for f in reports.values() if _draft_body(f.obj) is not None]
    drafts.sort(key=lambda f: (str(f.obj["modified"]), str(f.obj["id"])), reverse=True)
    return [Attribution(f.obj, f.collection.id, None, None) for f in drafts]


def approve(
    conn: Connection, *, subject: Subject, draft_id: str, secret_key: bytes, node_name: str
) -> Approval:
    """Approve a draft under review for the subject's organisation: this node signs the
    exact publication bytes with its key, and the signature is stored as a note on the
    draft (AMBER to the co-authors), which federates back to the drafting node."""
    _member(subject)
    if subject.role is not Role.ADMIN:
        raise Forbidden(
            "approving an attribution needs the admin role of a co-authoring organisation"
        )
    found = _find(conn, subject, draft_id)
    body = attribution_of(found.obj)
    refs = co_author_refs(found.obj)
    if subject.identity_id not in refs:
        raise Forbidden("only a co-authoring organisation may approve this attribution")
    if body["status"] != REVIEW:
        raise Conflict(
            f"only an attribution under review can be approved (this one is {body['status']})"
        )
    content = _content(conn, subject, found.obj)
    payload = payload_of(content.bundle)
    key, private = signing_key(conn, secret_key=secret_key)
    assert subject.identity_id is not None
    jws = sign(
        payload,
        private,
        kid=key.kid,
        claims={"kizuna_org": subject.identity_id, "kizuna_node": key.node_identity_id},
    )
    digest = hashlib.sha256(payload).hexdigest()
    already = approval_notes(conn, subject, found.obj, digest)
    mine = [n for n in already if n.get("created_by_ref") == subject.identity_id]
    if mine:
        return approval_of(mine[0])  # these exact bytes are approved already: nothing changes
    stamp = format_timestamp(now_micros())
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": approval_id(draft_id, subject.identity_id, digest),
        "created": stamp,
        "modified": stamp,
        "created_by_ref": subject.identity_id,
        "abstract": f"Approval of revision {body['revision']}",
        "content": f"Approved for publication: revision {body['revision']} of {found.obj['name']}.",
        "object_refs": [draft_id],
        "object_marking_refs": found.obj["object_marking_refs"],
        "extensions": {
            APPROVAL_EXTENSION_ID: {
                "extension_type": "property-extension",
                "draft_ref": draft_id,
                "draft_version": found.obj["modified"],
                "revision": body["revision"],
                "digest": digest,
                "jws": jws,
                "signer_identity": node_identity(node_name, public_keys(conn)),
            }
        },
    }
    repository.store(conn, subject, found.collection.id, [audience_marking(refs), note])
    record(
        conn,
        who=subject,
        action="attribution.approve",
        subject_id=draft_id,
        details={
            "note": note["id"],
            "kid": key.kid,
            "digest": digest,
            "revision": body["revision"],
        },
    )
    return approval_of(note)


def publish(conn: Connection, *, subject: Subject, draft_id: str, collection_id: str) -> Published:
    """Publish (or withdraw, or correct) once every co-author approved these exact bytes:
    the signed bundle is verified as any outsider would, stored TLP:CLEAR in a public
    collection (readable over TAXII by everyone) and kept byte for byte for download."""
    found = _find(conn, subject, draft_id)
    _drafter(subject, found.obj)
    body = attribution_of(found.obj)
    if body["status"] != REVIEW:
        raise Conflict(
            f"only an attribution under review can be published (this one is {body['status']})"
        )
    target = get_collection(conn, subject, collection_id)
    if not target.can_write:
        raise Forbidden(f"this token may not write to collection {collection_id}")
    if not target.public:
        raise InvalidInput(
            f"collection {collection_id} is not public: publish into a public collection"
        )
    content = _content(conn, subject, found.obj)
    digest = _digest(content)
    bundle = signed_bundle(content, approval_notes(conn, subject, found.obj, digest))
    checked = verify_bundle(bundle)
    if not checked.ok:
        raise Conflict("cannot publish: " + "; ".join(f.message for f in checked.failures))
    not_copied = _store_published(conn, subject, collection_id, bundle)
    status = WITHDRAWN if body["intent"] == "withdraw" else PUBLISHED
    publication = repository.Publication(
        draft_id=draft_id,
        report_id=published_report_id(draft_id),
        version=checked.version,
        status=status,
        collection_id=collection_id,
        bundle=orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode(),
        published_us=now_micros(),
    )
    repository.save_publication(conn, publication)
    new = _next_version(found.obj, content=False, status=status)
    repository.store(conn, subject, found.collection.id, [new])
    record(
        conn,
        who=subject,
        action="attribution.publish",
        subject_id=draft_id,
        details={
            "report": publication.report_id,
            "version": publication.version,
            "status": status,
            "digest": digest,
            "signers": sorted(s.org_ref for s in checked.signers),
            "withheld": list(content.withheld),
        },
    )
    return Published(publication, bundle, content.withheld, not_copied)


def _store_published(
    conn: Connection, who: Subject, collection_id: str, bundle: dict[str, Any]
) -> tuple[str, ...]:
    """Store the published objects in the public collection. The report and relationship
    (this org's) must be stored; objects other organisations created stay in their own
    collections, and their ids are returned."""
    objs = bundle["objects"]
    outcomes = add_objects(conn, subject=who, collection_id=collection_id, submitted=objs)
    own = {o["id"] for o in objs if o.get("created_by_ref") == who.identity_id}
    failed = [o for o in outcomes if not o.ok]
    fatal = [o for o in failed if o.id in own]
    if fatal:
        raise Conflict("; ".join(f"{o.id}: {o.message}" for o in fatal))
    return tuple(sorted(o.id for o in failed))
