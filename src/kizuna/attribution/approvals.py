"""Approvals of an attribution draft: one note per co-authoring organisation and exact
content, found by a derived id, and the signed bundle they make together.

An approval ``note`` (on the draft, with the draft's TLP and audience) carries the approval
extension: the draft it approves, the SHA-256 digest of the publication payload, the
detached JWS over that payload, and the signing node's identity with its public keys. Its
id is derived from (draft, organisation, digest), so the approvals of the content as it
stands are read by id, and an edit (a new digest) leaves earlier ones unread: invalidated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from kizuna.access.subject import Subject
from kizuna.attribution import repository
from kizuna.attribution.content import Content, attribution_of
from kizuna.attribution.extensions import APPROVAL_EXTENSION_ID, SIGNATURES_EXTENSION_ID
from kizuna.attribution.jws import header_of
from kizuna.attribution.verify import bundle_of

__all__ = [
    "Approval",
    "approval_id",
    "approval_notes",
    "approval_of",
    "co_author_refs",
    "signed_bundle",
]


@dataclass(frozen=True, slots=True)
class Approval:
    note_id: str
    org_ref: str
    node_ref: str
    node_name: str
    kid: str
    digest: str
    revision: int
    created: str


_APPROVALS = uuid.UUID("0b7f36c4-5a43-4f0e-93a1-0f6c3e2d9b57")


def approval_id(draft_id: str, org_ref: str, digest: str) -> str:
    """The id of one organisation's approval of one exact content: derived, so that the
    current approvals are found by id (no scan), and approving twice changes nothing."""
    return f"note--{uuid.uuid5(_APPROVALS, f'{draft_id}|{org_ref}|{digest}')}"


def co_author_refs(draft_obj: dict[str, Any]) -> list[str]:
    return [str(c["ref"]) for c in attribution_of(draft_obj)["co_authors"]]


def approval_notes(
    conn: Connection, who: Subject, draft_obj: dict[str, Any], digest: str
) -> list[dict[str, Any]]:
    """The co-authors' approvals of exactly this content that `who` may read. A note is
    one only if its creator, draft and digest are those its id was derived from."""
    wanted = {
        approval_id(str(draft_obj["id"]), ref, digest): ref for ref in co_author_refs(draft_obj)
    }
    found = repository.latest(conn, who, ids=wanted)
    notes = []
    for note_id, ref in wanted.items():
        note = found[note_id].obj if note_id in found else None
        body = (note or {}).get("extensions", {}).get(APPROVAL_EXTENSION_ID, {})
        if (
            note is not None
            and note.get("created_by_ref") == ref
            and body.get("draft_ref") == draft_obj["id"]
            and body.get("digest") == digest
        ):
            notes.append(note)
    return notes


def approval_of(note: dict[str, Any]) -> Approval:
    body = note["extensions"][APPROVAL_EXTENSION_ID]
    header = header_of(str(body["jws"]))
    identity = body.get("signer_identity") or {}
    return Approval(
        note_id=str(note["id"]),
        org_ref=str(note.get("created_by_ref")),
        node_ref=str(header.get("kizuna_node")),
        node_name=str(identity.get("name", "")),
        kid=str(header.get("kid")),
        digest=str(body["digest"]),
        revision=int(body["revision"]),
        created=str(note["created"]),
    )


def signed_bundle(content: Content, notes: list[dict[str, Any]]) -> dict[str, Any]:
    """The publication bundle carrying the co-authors' approvals of this content."""
    bodies = [note["extensions"][APPROVAL_EXTENSION_ID] for note in notes]
    signatures = sorted(str(b["jws"]) for b in bodies)
    identities = {str(b["signer_identity"]["id"]): b["signer_identity"] for b in bodies}
    report = orjson.loads(orjson.dumps(content.report))
    report["extensions"][SIGNATURES_EXTENSION_ID] = {
        "extension_type": "property-extension",
        "signatures": signatures,
    }
    others = [o for o in content.bundle["objects"] if o["id"] != report["id"]]
    return bundle_of(str(report["id"]), [report, *others, *identities.values()])
