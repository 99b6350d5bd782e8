"""REST for joint attribution and deterrence campaigns, under ``/api/v1``.

* ``/attributions``: draft (POST), list (GET); ``/attributions/{id}``: show (GET), edit
  (PATCH); ``/attributions/{id}/review|approve|publish|withdraw|correct`` (POST): the
  workflow steps of :mod:`kizuna.attribution.workflow`, each audited.
* ``GET /attributions/{id}/bundle``: the signed, TLP:CLEAR publication bundle as a file,
  without authentication, once published (``?version=`` picks an earlier signed version);
  ``{id}`` is the draft's id or the published report's.
* ``GET /node/identity``: this node's STIX identity with its public signing keys (no
  authentication: anyone verifying a publication may fetch it); ``POST /node/keys/rotate``
  (admin of a local organisation).
* ``/campaigns``: deterrence campaign records: create, list, show, add a dated entry.

Services never commit; each request is one transaction. Errors are the node's JSON errors.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.api.context import Node, node, subject
from kizuna.attribution import campaigns, keys, repository, workflow
from kizuna.attribution.content import attribution_of
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import Forbidden, NotFound, Unauthenticated
from kizuna.stix.timestamps import format_timestamp

__all__ = ["ensure_node_key", "router"]

router = APIRouter(prefix="/api/v1", tags=["attribution"])
STIX_JSON = "application/stix+json;version=2.1"


# -- wire types --------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DraftBody(_Body):
    """``POST /attributions``: a new draft, readable by its co-authors only."""

    collection: str = Field(description="Collection to keep the draft in (on this node).")
    title: str = Field(min_length=1, max_length=500)
    activity_ref: str = Field(description="The campaign or intrusion-set attributed.")
    actor_ref: str = Field(description="The threat-actor it is attributed to.")
    actor_state: str | None = Field(None, description="The state held responsible, if any.")
    assessment: str = Field(min_length=1, description="The agreed public wording.")
    likelihood: str | None = Field(None, description="A UK probability yardstick term.")
    confidence: int | None = Field(None, ge=0, le=100, description="Percentage (STIX).")
    evidence_refs: list[str] = Field(default_factory=list)
    co_authors: list[str] = Field(min_length=1, description="Organisation names or ids.")
    tlp: Literal["AMBER", "AMBER+STRICT", "RED"] = "AMBER"


class ChangesBody(_Body):
    """``PATCH /attributions/{id}`` and ``POST .../correct``: only the fields given change."""

    title: str | None = None
    assessment: str | None = None
    likelihood: str | None = None
    confidence: int | None = Field(None, ge=0, le=100)
    evidence_refs: list[str] | None = None
    actor_state: str | None = None

    def changes(self) -> workflow.Changes:
        return workflow.Changes(
            title=self.title,
            assessment=self.assessment,
            likelihood=self.likelihood,
            confidence=self.confidence,
            evidence_refs=tuple(self.evidence_refs) if self.evidence_refs is not None else None,
            actor_state=self.actor_state,
        )


class PublishBody(_Body):
    collection: str = Field(description="A public collection to publish into.")


class WithdrawBody(_Body):
    reason: str = Field(min_length=1, description="Why; published with the withdrawal.")


class ApprovalOut(BaseModel):
    note_id: str
    org_ref: str
    node_ref: str
    node_name: str
    kid: str
    digest: str
    revision: int
    created: str


class PublicationOut(BaseModel):
    report_id: str
    version: str
    status: str
    collection_id: str
    published: str
    bundle_url: str


class AttributionOut(BaseModel):
    id: str
    title: str
    status: str
    intent: str
    revision: int
    likelihood: str
    confidence: int
    co_authors: list[dict[str, str]]
    collection_id: str
    digest: str | None = None
    problem: str | None = None
    withheld: list[str] = Field(default_factory=list)
    approvals: list[ApprovalOut] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    publications: list[PublicationOut] = Field(default_factory=list)
    draft: dict[str, Any]


class PublishedOut(BaseModel):
    publication: PublicationOut
    withheld: list[str]
    not_copied: list[str]


class CampaignBody(_Body):
    collection: str
    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    tlp: Literal["CLEAR", "GREEN", "AMBER", "AMBER+STRICT"] = "GREEN"
    audience: list[str] = Field(default_factory=list)


class EntryBody(_Body):
    kind: Literal["attribution", "advisory", "statement", "sanction", "other"]
    date: str = Field(description="YYYY-MM-DD")
    title: str = Field(min_length=1)
    ref: str | None = None
    url: str | None = None


# -- helpers -----------------------------------------------------------------------------------


def _publication(p: repository.Publication) -> PublicationOut:
    return PublicationOut(
        report_id=p.report_id,
        version=p.version,
        status=p.status,
        collection_id=p.collection_id,
        published=format_timestamp(p.published_us),
        bundle_url=f"/api/v1/attributions/{p.draft_id}/bundle?version={p.version}",
    )


def _out(a: workflow.Attribution, pubs: list[repository.Publication]) -> AttributionOut:
    body = attribution_of(a.draft)
    return AttributionOut(
        id=a.id,
        title=str(a.draft["name"]),
        status=a.status,
        intent=str(body["intent"]),
        revision=int(body["revision"]),
        likelihood=str(body["likelihood"]),
        confidence=int(a.draft["confidence"]),
        co_authors=list(body["co_authors"]),
        collection_id=a.collection_id,
        digest=a.digest,
        problem=a.problem,
        withheld=list(a.withheld),
        approvals=[ApprovalOut(**_fields(x)) for x in a.approvals],
        missing=a.missing,
        publications=[_publication(p) for p in pubs],
        draft=a.draft,
    )


def _fields(approval: workflow.Approval) -> dict[str, Any]:
    return {name: getattr(approval, name) for name in ApprovalOut.model_fields}


def _shown(here: Node, who: Subject, draft_id: str) -> AttributionOut:
    with read_transaction(here.engine) as conn:
        found = workflow.show(conn, subject=who, draft_id=draft_id)
        return _out(found, repository.publications(conn, draft_id))


# -- attributions ------------------------------------------------------------------------------


@router.post("/attributions", status_code=201, response_model=AttributionOut)
def create_draft(
    body: DraftBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    spec = workflow.DraftSpec(
        collection_id=body.collection,
        title=body.title,
        activity_ref=body.activity_ref,
        actor_ref=body.actor_ref,
        assessment=body.assessment,
        co_authors=tuple(body.co_authors),
        likelihood=body.likelihood,
        confidence=body.confidence,
        evidence_refs=tuple(body.evidence_refs),
        actor_state=body.actor_state,
        tlp=Tlp.parse(body.tlp),
    )
    with write_transaction(here.engine) as conn:
        made = workflow.draft(conn, subject=who, spec=spec)
    return _out(made, [])


@router.get("/attributions", response_model=list[AttributionOut])
def list_drafts(
    who: Subject = Depends(subject), here: Node = Depends(node)
) -> list[AttributionOut]:
    with read_transaction(here.engine) as conn:
        found = workflow.list_attributions(conn, subject=who)
        return [_out(a, repository.publications(conn, a.id)) for a in found]


@router.get("/attributions/{draft_id}", response_model=AttributionOut)
def show_draft(
    draft_id: str, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    return _shown(here, who, draft_id)


@router.patch("/attributions/{draft_id}", response_model=AttributionOut)
def edit_draft(
    draft_id: str, body: ChangesBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    with write_transaction(here.engine) as conn:
        workflow.edit(conn, subject=who, draft_id=draft_id, changes=body.changes())
    return _shown(here, who, draft_id)


@router.post("/attributions/{draft_id}/review", response_model=AttributionOut)
def review_draft(
    draft_id: str, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    with write_transaction(here.engine) as conn:
        workflow.review(conn, subject=who, draft_id=draft_id)
    return _shown(here, who, draft_id)


@router.post("/attributions/{draft_id}/approve", status_code=201, response_model=ApprovalOut)
def approve_draft(
    draft_id: str, who: Subject = Depends(subject), here: Node = Depends(node)
) -> ApprovalOut:
    with write_transaction(here.engine) as conn:
        approval = workflow.approve(
            conn,
            subject=who,
            draft_id=draft_id,
            secret_key=here.secret,
            node_name=here.settings.node_name,
        )
    return ApprovalOut(**_fields(approval))


@router.post("/attributions/{draft_id}/publish", response_model=PublishedOut)
def publish_draft(
    draft_id: str, body: PublishBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> PublishedOut:
    with write_transaction(here.engine) as conn:
        done = workflow.publish(conn, subject=who, draft_id=draft_id, collection_id=body.collection)
    return PublishedOut(
        publication=_publication(done.publication),
        withheld=list(done.withheld),
        not_copied=list(done.not_copied),
    )


@router.post("/attributions/{draft_id}/withdraw", response_model=AttributionOut)
def withdraw_attribution(
    draft_id: str, body: WithdrawBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    with write_transaction(here.engine) as conn:
        workflow.withdraw(conn, subject=who, draft_id=draft_id, reason=body.reason)
    return _shown(here, who, draft_id)


@router.post("/attributions/{draft_id}/correct", response_model=AttributionOut)
def correct_attribution(
    draft_id: str, body: ChangesBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> AttributionOut:
    with write_transaction(here.engine) as conn:
        workflow.correct(conn, subject=who, draft_id=draft_id, changes=body.changes())
    return _shown(here, who, draft_id)


@router.get(
    "/attributions/{attribution_id}/bundle",
    responses={200: {"content": {STIX_JSON: {}}, "description": "The signed bundle."}},
)
def download_bundle(
    attribution_id: str,
    version: str | None = Query(None, description="A published version (default: latest)."),
    here: Node = Depends(node),
) -> Response:
    """The published, signed TLP:CLEAR bundle, exactly as signed; no token needed."""
    with read_transaction(here.engine) as conn:
        found = repository.publications(conn, attribution_id)
    if version is not None:
        found = [p for p in found if p.version == version]
    if not found:
        raise NotFound(f"no published attribution {attribution_id}")
    chosen = found[-1]
    name = f"{chosen.report_id}_{chosen.version.replace(':', '')}.json"
    return Response(
        chosen.bundle.encode(),
        media_type=STIX_JSON,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- node keys ---------------------------------------------------------------------------------


@router.get("/node/identity")
def node_identity(here: Node = Depends(node)) -> dict[str, Any]:
    """This node's STIX identity (system) with its public signing keys, as JWKs. A read:
    the node's first key is made when the application starts (:func:`ensure_node_key`)."""
    with read_transaction(here.engine) as conn:
        found = keys.public_keys(conn)
    if not found:
        raise NotFound("this node has no signing key yet")
    return keys.node_identity(here.settings.node_name, found)


def ensure_node_key(here: Node) -> None:
    """Make the node's first signing key if it has none (at start-up, by the operator's
    process, so that no anonymous request ever writes)."""
    with write_transaction(here.engine) as conn:
        keys.active_key(conn, secret_key=here.secret)


@router.post("/node/keys/rotate")
def rotate_key(who: Subject = Depends(subject), here: Node = Depends(node)) -> dict[str, Any]:
    """Retire the active key (it still verifies) and make a new one."""
    if who.anonymous:
        raise Unauthenticated("rotating the node key needs a token")
    if who.external or who.role is not Role.ADMIN:
        raise Forbidden("only an admin of a local organisation may rotate the node key")
    with write_transaction(here.engine) as conn:
        keys.rotate(conn, secret_key=here.secret, who=who)
        return keys.node_identity(here.settings.node_name, keys.public_keys(conn))


# -- campaigns ---------------------------------------------------------------------------------


@router.post("/campaigns", status_code=201)
def create_campaign(
    body: CampaignBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    with write_transaction(here.engine) as conn:
        return campaigns.create(
            conn,
            subject=who,
            collection_id=body.collection,
            name=body.name,
            description=body.description,
            tlp=Tlp.parse(body.tlp),
            audience=body.audience,
        )


@router.get("/campaigns")
def list_campaigns(
    who: Subject = Depends(subject), here: Node = Depends(node)
) -> list[dict[str, Any]]:
    with read_transaction(here.engine) as conn:
        return campaigns.list_campaigns(conn, subject=who)


@router.get("/campaigns/{campaign_id}")
def show_campaign(
    campaign_id: str, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    with read_transaction(here.engine) as conn:
        return campaigns.get(conn, subject=who, campaign_id=campaign_id)


@router.post("/campaigns/{campaign_id}/entries", status_code=201)
def add_campaign_entry(
    campaign_id: str, body: EntryBody, who: Subject = Depends(subject), here: Node = Depends(node)
) -> dict[str, Any]:
    entry = campaigns.Entry(
        kind=body.kind, date=body.date, title=body.title, ref=body.ref, url=body.url
    )
    with write_transaction(here.engine) as conn:
        return campaigns.add_entry(conn, subject=who, campaign_id=campaign_id, entry=entry)
