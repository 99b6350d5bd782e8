"""`kizuna attribution`, `kizuna node-key` and `kizuna campaign`: joint attribution from the
command line, acting for one of this node's organisations (``--org``) as its analyst (or
its admin, to approve), exactly as that organisation's token would over REST.

`kizuna attribution verify BUNDLE` needs no database: it checks a published bundle offline
and says which nodes signed it, or exactly what fails (exit status 1).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson
import typer

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.attribution import campaigns, keys, repository, workflow
from kizuna.attribution.canonical import parse_json
from kizuna.attribution.content import attribution_of
from kizuna.attribution.verify import trusted_keys, verify_bundle
from kizuna.cli.common import err, friendly, ready_engine, settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput, NotFound

app = typer.Typer(
    help="Joint attributions: draft, approve, co-sign, publish, verify.", no_args_is_help=True
)
node_key = typer.Typer(help="This node's signing keys.", no_args_is_help=True)
campaign = typer.Typer(help="Deterrence campaign records.", no_args_is_help=True)

_ORG = typer.Option(..., "--org", help="Act for this local organisation (name or identity).")


def _acting(org: str, role: Role = Role.ANALYST) -> tuple[Any, Subject]:
    config = settings()
    engine = ready_engine(config)
    with read_transaction(engine) as conn:
        found = service.find_org(conn, org)
    if found.remote:
        raise InvalidInput(f"{found.name} stands for another node; act for a local organisation")
    return engine, Subject(org_id=found.id, identity_id=found.identity_id, role=role)


def _print_json(value: object) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _summary(a: workflow.Attribution) -> None:
    body = attribution_of(a.draft)
    err.print(
        f"{a.id}: {a.status} (revision {body['revision']}, {body['likelihood']}, "
        f"confidence {a.draft['confidence']})",
        markup=False,
    )
    for approval in a.approvals:
        err.print(f"  approved by {approval.org_ref} on {approval.node_name}", markup=False)
    if a.missing:
        err.print(f"  awaiting approval by: {', '.join(a.missing)}", markup=False)
    if a.problem:
        err.print(f"  cannot be published: {a.problem}", markup=False)


# -- attribution -------------------------------------------------------------------------------


@app.command("draft")
@friendly
def draft(
    org: str = _ORG,
    collection: str = typer.Option(..., "--collection", help="Keep the draft here."),
    title: str = typer.Option(..., "--title"),
    activity: str = typer.Option(..., "--activity", help="campaign-- or intrusion-set-- id."),
    actor: str = typer.Option(..., "--actor", help="threat-actor-- id."),
    assessment: str = typer.Option(..., "--assessment", help="The agreed public wording."),
    co_author: list[str] = typer.Option(..., "--co-author", help="Organisation (repeatable)."),
    likelihood: str | None = typer.Option(None, "--likelihood", help="Yardstick term."),
    confidence: int | None = typer.Option(None, "--confidence", help="Percentage."),
    evidence: list[str] | None = typer.Option(None, "--evidence", help="Evidence id (repeatable)."),
    actor_state: str | None = typer.Option(None, "--actor-state", help="State held responsible."),
    tlp: str = typer.Option("AMBER", "--tlp", help="AMBER, AMBER+STRICT or RED."),
) -> None:
    """Start a draft; prints its id."""
    engine, who = _acting(org)
    spec = workflow.DraftSpec(
        collection_id=collection,
        title=title,
        activity_ref=activity,
        actor_ref=actor,
        assessment=assessment,
        co_authors=tuple(co_author),
        likelihood=likelihood,
        confidence=confidence,
        evidence_refs=tuple(evidence or ()),
        actor_state=actor_state,
        tlp=Tlp.parse(tlp),
    )
    with write_transaction(engine) as conn:
        made = workflow.draft(conn, subject=who, spec=spec)
    typer.echo(made.id)


def _changes(
    title: str | None,
    assessment: str | None,
    likelihood: str | None,
    confidence: int | None,
    evidence: list[str] | None,
    actor_state: str | None,
) -> workflow.Changes:
    return workflow.Changes(
        title=title,
        assessment=assessment,
        likelihood=likelihood,
        confidence=confidence,
        evidence_refs=tuple(evidence) if evidence else None,
        actor_state=actor_state,
    )


_TITLE = typer.Option(None, "--title")
_ASSESSMENT = typer.Option(None, "--assessment")
_LIKELIHOOD = typer.Option(None, "--likelihood")
_CONFIDENCE = typer.Option(None, "--confidence")
_EVIDENCE = typer.Option(None, "--evidence", help="The new evidence list (repeatable).")
_STATE = typer.Option(None, "--actor-state")


@app.command("edit")
@friendly
def edit(
    draft_id: str,
    org: str = _ORG,
    title: str | None = _TITLE,
    assessment: str | None = _ASSESSMENT,
    likelihood: str | None = _LIKELIHOOD,
    confidence: int | None = _CONFIDENCE,
    evidence: list[str] | None = _EVIDENCE,
    actor_state: str | None = _STATE,
) -> None:
    """Edit a draft (approvals given so far lapse)."""
    engine, who = _acting(org)
    changes = _changes(title, assessment, likelihood, confidence, evidence, actor_state)
    with write_transaction(engine) as conn:
        _summary(workflow.edit(conn, subject=who, draft_id=draft_id, changes=changes))


@app.command("correct")
@friendly
def correct(
    draft_id: str,
    org: str = _ORG,
    title: str | None = _TITLE,
    assessment: str | None = _ASSESSMENT,
    likelihood: str | None = _LIKELIHOOD,
    confidence: int | None = _CONFIDENCE,
    evidence: list[str] | None = _EVIDENCE,
    actor_state: str | None = _STATE,
) -> None:
    """Propose a correction of a published attribution (to approve and publish again)."""
    engine, who = _acting(org)
    changes = _changes(title, assessment, likelihood, confidence, evidence, actor_state)
    with write_transaction(engine) as conn:
        _summary(workflow.correct(conn, subject=who, draft_id=draft_id, changes=changes))


@app.command("review")
@friendly
def review(draft_id: str, org: str = _ORG) -> None:
    """Put a draft to the co-authors for approval."""
    engine, who = _acting(org)
    with write_transaction(engine) as conn:
        _summary(workflow.review(conn, subject=who, draft_id=draft_id))


@app.command("approve")
@friendly
def approve(draft_id: str, org: str = _ORG) -> None:
    """Approve for ORG (as its admin): this node signs; prints the approval note's id."""
    engine, who = _acting(org, Role.ADMIN)
    config = settings()
    with write_transaction(engine) as conn:
        approval = workflow.approve(
            conn,
            subject=who,
            draft_id=draft_id,
            secret_key=config.resolved_secret_key(),
            node_name=config.node_name,
        )
    err.print(f"signed with key {approval.kid}; digest {approval.digest}", markup=False)
    typer.echo(approval.note_id)


@app.command("publish")
@friendly
def publish(
    draft_id: str,
    org: str = _ORG,
    collection: str = typer.Option(..., "--collection", help="A public collection."),
) -> None:
    """Publish once every co-author approved; prints the published report's id."""
    engine, who = _acting(org)
    with write_transaction(engine) as conn:
        done = workflow.publish(conn, subject=who, draft_id=draft_id, collection_id=collection)
    if done.withheld:
        err.print(f"left out (not TLP:CLEAR): {', '.join(done.withheld)}", markup=False)
    err.print(f"published {done.publication.status} version {done.publication.version}")
    typer.echo(done.publication.report_id)


@app.command("withdraw")
@friendly
def withdraw(
    draft_id: str,
    org: str = _ORG,
    reason: str = typer.Option(..., "--reason", help="Published with the withdrawal."),
) -> None:
    """Propose withdrawing a published attribution (to approve and publish again)."""
    engine, who = _acting(org)
    with write_transaction(engine) as conn:
        _summary(workflow.withdraw(conn, subject=who, draft_id=draft_id, reason=reason))


@app.command("list")
@friendly
def list_(org: str = _ORG) -> None:
    """The attributions ORG may read: id, status, title (tab-separated)."""
    engine, who = _acting(org)
    with read_transaction(engine) as conn:
        found = workflow.list_attributions(conn, subject=who)
    for a in found:
        typer.echo(f"{a.id}\t{a.status}\t{a.draft['name']}")


@app.command("show")
@friendly
def show(draft_id: str, org: str = _ORG) -> None:
    """The draft as JSON on stdout; approvals and what is missing on stderr."""
    engine, who = _acting(org)
    with read_transaction(engine) as conn:
        found = workflow.show(conn, subject=who, draft_id=draft_id)
    _summary(found)
    _print_json(found.draft)


@app.command("bundle")
@friendly
def bundle(
    attribution_id: str,
    version: str | None = typer.Option(None, "--version", help="Default: the latest."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (default stdout)."),
) -> None:
    """Export a bundle this node published, byte for byte as signed."""
    engine = ready_engine(settings())
    with read_transaction(engine) as conn:
        found = repository.publications(conn, attribution_id)
    found = [p for p in found if version is None or p.version == version]
    if not found:
        raise NotFound(f"no published attribution {attribution_id}")
    if out is None:
        sys.stdout.write(found[-1].bundle + "\n")
    else:
        out.write_text(found[-1].bundle, encoding="utf-8")


def _read_json(path: Path, what: str) -> Any:
    try:
        return parse_json(path.read_bytes())
    except OSError as exc:
        raise InvalidInput(f"cannot read the {what} {path}: {exc.strerror}") from None


@app.command("verify")
@friendly
def verify(
    bundle_file: Path = typer.Argument(..., metavar="BUNDLE", help="A published bundle file."),
    trusted: Path | None = typer.Option(
        None, "--trusted-keys", help="JWK set or node identities whose keys you trust."
    ),
) -> None:
    """Verify a published attribution offline: who signed it, or exactly what fails."""
    document = _read_json(bundle_file, "bundle")
    keys_known = trusted_keys(_read_json(trusted, "trusted keys")) if trusted else None
    result = verify_bundle(document, trusted=keys_known)
    for signer in result.signers:
        typer.echo(
            f"signed by {signer.org_name} ({signer.org_ref}) on node {signer.node_name} "
            f"({signer.node_ref}) with key {signer.kid}"
        )
    if not result.ok:
        for failure in result.failures:
            typer.echo(f"error: {failure.code}: {failure.message}", err=True)
        typer.echo(f"FAILED: {result.report_id or bundle_file}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"verified: {result.report_id} version {result.version} ({result.status}), "
        f"signed by all {len(result.signers)} co-authors"
    )


# -- node keys ---------------------------------------------------------------------------------


@node_key.command("show")
@friendly
def key_show() -> None:
    """This node's identity with its public keys (JSON); makes the first key if needed."""
    config = settings()
    engine = ready_engine(config)
    with write_transaction(engine) as conn:
        keys.active_key(conn, secret_key=config.resolved_secret_key())
        _print_json(keys.node_identity(config.node_name, keys.public_keys(conn)))


@node_key.command("rotate")
@friendly
def key_rotate() -> None:
    """Retire the active key (it still verifies) and make a new one; prints the new kid."""
    config = settings()
    engine = ready_engine(config)
    with write_transaction(engine) as conn:
        new = keys.rotate(conn, secret_key=config.resolved_secret_key(), who=None)
    typer.echo(new.kid)


# -- campaigns ---------------------------------------------------------------------------------


@campaign.command("create")
@friendly
def campaign_create(
    org: str = _ORG,
    collection: str = typer.Option(..., "--collection"),
    name: str = typer.Option(..., "--name"),
    description: str | None = typer.Option(None, "--description"),
    tlp: str = typer.Option("GREEN", "--tlp", help="CLEAR, GREEN, AMBER or AMBER+STRICT."),
    audience: list[str] | None = typer.Option(None, "--audience", help="Org (AMBER; repeat)."),
) -> None:
    """Start a deterrence campaign record; prints its id."""
    engine, who = _acting(org)
    with write_transaction(engine) as conn:
        made = campaigns.create(
            conn,
            subject=who,
            collection_id=collection,
            name=name,
            description=description,
            tlp=Tlp.parse(tlp),
            audience=audience or (),
        )
    typer.echo(made["id"])


@campaign.command("add")
@friendly
def campaign_add(
    campaign_id: str,
    org: str = _ORG,
    kind: str = typer.Option(..., "--kind", help=", ".join(campaigns.KINDS)),
    date: str = typer.Option(..., "--date", help="YYYY-MM-DD"),
    title: str = typer.Option(..., "--title"),
    ref: str | None = typer.Option(None, "--ref", help="A STIX id (e.g. the published report)."),
    url: str | None = typer.Option(None, "--url"),
) -> None:
    """Record a dated action in a campaign."""
    engine, who = _acting(org)
    entry = campaigns.Entry(kind=kind, date=date, title=title, ref=ref, url=url)
    with write_transaction(engine) as conn:
        campaigns.add_entry(conn, subject=who, campaign_id=campaign_id, entry=entry)
    err.print(f"recorded {kind} of {date} in {campaign_id}", markup=False)


@campaign.command("list")
@friendly
def campaign_list(org: str = _ORG) -> None:
    """Campaign records ORG may read: id, entries, name (tab-separated)."""
    engine, who = _acting(org)
    with read_transaction(engine) as conn:
        found = campaigns.list_campaigns(conn, subject=who)
    for grouping in found:
        typer.echo(f"{grouping['id']}\t{len(campaigns.entries_of(grouping))}\t{grouping['name']}")


@campaign.command("show")
@friendly
def campaign_show(campaign_id: str, org: str = _ORG) -> None:
    """A campaign record as JSON, its entries in date order."""
    engine, who = _acting(org)
    with read_transaction(engine) as conn:
        _print_json(campaigns.get(conn, subject=who, campaign_id=campaign_id))
