"""`kizuna incident`, `kizuna assist` and `kizuna notify`: the incident channel on the
command line.

Like `kizuna hunt`, the CLI is an operator tool run on the node: it acts as the local
organisation named by ``--org`` with the analyst role, exactly as that org's analyst
token would over REST, so the access module decides what it may read and write. Commands
that create print the new id alone on stdout; listings print to stdout (``--json`` for
machines); errors are one line on stderr.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar

import typer
from sqlalchemy import Connection, Engine

from kizuna.access import service as access
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import Tlp
from kizuna.cli.common import err, friendly, ready_engine, settings
from kizuna.db.engine import read_transaction, write_transaction
from kizuna.errors import InvalidInput
from kizuna.incidents import channel, notify, objects, service
from kizuna.incidents.assistance import Sla, sla_terms
from kizuna.incidents.model import AssistanceDraft, IncidentChange, IncidentDraft
from kizuna.incidents.report import incident_json, timeline_json, timeline_markdown

app = typer.Typer(help="Report, update and follow incidents.", no_args_is_help=True)
assist = typer.Typer(help="Ask partners for help and answer their requests.", no_args_is_help=True)
notify_app = typer.Typer(help="Notify the duty officers of arrivals.", no_args_is_help=True)

T = TypeVar("T")

ORG = typer.Option(..., "--org", help="Act as this local organisation (name or identity id).")
COLLECTION = typer.Option(..., "--collection", help="The collection of the incident channel.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")


def _subject(conn: Connection, org: str) -> Subject:
    found = access.find_org(conn, org)
    if found.remote:
        raise InvalidInput(f"{found.name} is a remote organisation; the CLI acts as a local one")
    return Subject(org_id=found.id, identity_id=found.identity_id, role=Role.ANALYST)


def _write(org: str, action: Callable[[Connection, Subject], T]) -> T:
    engine = ready_engine(settings())
    try:
        with write_transaction(engine) as conn:
            return action(conn, _subject(conn, org))
    finally:
        engine.dispose()


def _read(org: str, action: Callable[[Connection, Subject, dict[str, str]], T]) -> T:
    engine = ready_engine(settings())
    try:
        with read_transaction(engine) as conn:
            names = {o.identity_id: o.name for o in access.list_orgs(conn)}
            return action(conn, _subject(conn, org), names)
    finally:
        engine.dispose()


def _sla() -> dict[int, Sla]:
    return sla_terms(settings().incident_sla)


def _tlp(text: str) -> Tlp:
    try:
        return Tlp.parse(text)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _print_json(value: object) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


# -- incident ----------------------------------------------------------------------------------


@app.command("report")
@friendly
def report(
    org: str = ORG,
    collection: str = COLLECTION,
    title: str = typer.Option(..., "--title"),
    category: int = typer.Option(..., "--category", help="NCSC category 1-6."),
    country: str = typer.Option(..., "--country", help="ISO code of the affected country."),
    sector: str | None = typer.Option(None, "--sector", help="Its critical-infra sector."),
    description: str | None = typer.Option(None, "--description"),
    severity: str | None = typer.Option(None, "--severity", help="The partner's own severity."),
    affected: list[str] | None = typer.Option(None, "--affected", help="Affected org (repeat)."),
    impact: list[str] | None = typer.Option(None, "--impact", help="destructive, disruptive, ..."),
    link: list[str] | None = typer.Option(None, "--link", help="Related indicator, malware, ..."),
    tlp: str = typer.Option("TLP:AMBER", "--tlp"),
    audience: list[str] | None = typer.Option(None, "--audience", help="Org that may read."),
) -> None:
    """Report an incident; prints its id."""
    draft = IncidentDraft(
        title=title,
        category=category,
        country=country.upper(),
        sector=sector,
        description=description,
        partner_severity=severity,
        affected_organisations=tuple(affected or ()),
        impact=tuple(impact or ()),
        related_refs=tuple(link or ()),
    )

    def act(conn: Connection, who: Subject) -> str:
        marking = objects.resolve_marking(conn, who, tlp=_tlp(tlp), audience=audience or ())
        return service.report(
            conn, subject=who, collection_id=collection, draft=draft, marking=marking
        ).id

    typer.echo(_write(org, act))


@app.command("update")
@friendly
def update(
    incident_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    status: str | None = typer.Option(None, "--status"),
    category: int | None = typer.Option(None, "--category"),
    title: str | None = typer.Option(None, "--title"),
    sector: str | None = typer.Option(None, "--sector"),
    description: str | None = typer.Option(None, "--description"),
    severity: str | None = typer.Option(None, "--severity"),
    affected: list[str] | None = typer.Option(None, "--affected"),
    impact: list[str] | None = typer.Option(None, "--impact"),
    link: list[str] | None = typer.Option(None, "--link", help="Related object to add."),
) -> None:
    """Publish a new version of an incident your organisation reported."""
    change = IncidentChange(
        title=title,
        category=category,
        status=status,
        sector=sector,
        description=description,
        partner_severity=severity,
        affected_organisations=tuple(affected) if affected else None,
        impact=tuple(impact) if impact else None,
        related_refs=tuple(link or ()),
    )
    facts = _write(
        org,
        lambda conn, who: service.update(
            conn, subject=who, collection_id=collection, incident_id=incident_id, change=change
        ),
    )
    err.print(f"{facts.id} is now {facts.draft.status} (version {facts.version})")


@app.command("note")
@friendly
def note(
    incident_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    text: str = typer.Option(..., "--text"),
) -> None:
    """Add a note to an incident's timeline; prints the note's id."""
    typer.echo(
        _write(
            org,
            lambda conn, who: service.add_note(
                conn, subject=who, collection_id=collection, incident_id=incident_id, content=text
            ),
        )
    )


@app.command("list")
@friendly
def list_incidents(
    org: str = ORG,
    collection: str = COLLECTION,
    status: str | None = typer.Option(None, "--status"),
    max_category: int | None = typer.Option(None, "--max-category", help="3: categories 1-3."),
    as_json: bool = AS_JSON,
) -> None:
    """Incidents your organisation may read."""
    rows = _read(
        org,
        lambda conn, who, names: [
            incident_json(f, names)
            for f in service.list_incidents(
                conn,
                subject=who,
                collection_id=collection,
                status=status,
                min_category=max_category,
            )
        ],
    )
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['id']}  cat {row['category']}  {row['status']:<10}  "
            f"{row['country']}/{row['sector'] or '-'}  {row['title']}"
        )


@app.command("show")
@friendly
def show(
    incident_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
) -> None:
    """An incident with its versions and assistance requests (JSON)."""

    def act(conn: Connection, who: Subject, names: dict[str, str]) -> dict[str, object]:
        detail = service.show_incident(
            conn, subject=who, collection_id=collection, incident_id=incident_id, sla=_sla()
        )
        return {
            **incident_json(detail.incident, names),
            "versions": len(detail.versions),
            "assistance": [view.as_json(names) for view in detail.requests],
        }

    _print_json(_read(org, act))


@app.command("timeline")
@friendly
def timeline(
    incident_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    format: str = typer.Option("markdown", "--format", help="markdown or json"),
) -> None:
    """The incident's timeline as a readable report."""
    if format not in ("markdown", "json"):
        raise InvalidInput("--format is markdown or json")

    def act(conn: Connection, who: Subject, names: dict[str, str]) -> str:
        detail, events = service.timeline(
            conn, subject=who, collection_id=collection, incident_id=incident_id, sla=_sla()
        )
        if format == "json":
            return json.dumps(timeline_json(detail, events, names), indent=2, ensure_ascii=False)
        return timeline_markdown(detail, events, names)

    typer.echo(_read(org, act), nl=False)


# -- assist ------------------------------------------------------------------------------------


@assist.command("request")
@friendly
def request(
    incident_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    to: str = typer.Option(..., "--to", help="The partner organisation asked (remote org)."),
    need: list[str] = typer.Option(..., "--need", help="analysis, indicators, ... (repeat)."),
    urgency: str = typer.Option("priority", "--urgency", help="routine, priority, immediate"),
    deadline: str | None = typer.Option(None, "--deadline", help="UTC timestamp."),
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    tlp: str | None = typer.Option(None, "--tlp", help="Default: the incident's marking."),
    audience: list[str] | None = typer.Option(None, "--audience"),
) -> None:
    """Ask a partner for help with an incident; prints the request's id."""
    draft = AssistanceDraft(
        incident_id=incident_id,
        addressee=to,
        needs=tuple(need),
        urgency=urgency,
        deadline=deadline,
        description=description,
        title=title,
    )

    def act(conn: Connection, who: Subject) -> str:
        marking = (
            objects.resolve_marking(conn, who, tlp=_tlp(tlp), audience=audience or ())
            if tlp is not None
            else None
        )
        return channel.request_assistance(
            conn, subject=who, collection_id=collection, draft=draft, marking=marking
        )

    typer.echo(_write(org, act))


def _answer(
    action: str,
    request_id: str,
    org: str,
    collection: str,
    resources: list[str],
    comment: str | None,
) -> None:
    typer.echo(
        _write(
            org,
            lambda conn, who: channel.respond(
                conn,
                subject=who,
                collection_id=collection,
                request_id=request_id,
                action=action,
                resources=resources,
                comment=comment,
            ),
        )
    )


COMMENT = typer.Option(None, "--comment")


@assist.command("ack")
@friendly
def ack(
    request_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    comment: str | None = COMMENT,
) -> None:
    """Acknowledge a request addressed to your organisation; prints the response's id."""
    _answer("acknowledge", request_id, org, collection, [], comment)


@assist.command("accept")
@friendly
def accept(
    request_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    comment: str | None = COMMENT,
) -> None:
    """Accept an acknowledged request; prints the response's id."""
    _answer("accept", request_id, org, collection, [], comment)


@assist.command("decline")
@friendly
def decline(
    request_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    comment: str | None = COMMENT,
) -> None:
    """Decline a request; prints the response's id."""
    _answer("decline", request_id, org, collection, [], comment)


@assist.command("offer")
@friendly
def offer(
    request_id: str = typer.Argument(...),
    org: str = ORG,
    collection: str = COLLECTION,
    resource: list[str] = typer.Option(..., "--resource", help="What is offered (repeat)."),
    comment: str | None = COMMENT,
) -> None:
    """Offer resources for an acknowledged or accepted request; prints the response's id."""
    _answer("offer", request_id, org, collection, resource, comment)


@assist.command("close")
@friendly
def close(
    request_id: str = typer.Argument(...), org: str = ORG, collection: str = COLLECTION
) -> None:
    """Close a request your organisation made."""
    _write(
        org,
        lambda conn, who: channel.close_request(
            conn, subject=who, collection_id=collection, request_id=request_id
        ),
    )
    err.print(f"{request_id} closed")


@assist.command("list")
@friendly
def list_requests(org: str = ORG, collection: str = COLLECTION, as_json: bool = AS_JSON) -> None:
    """Requests your organisation may read, with their state and SLA clocks."""
    rows = _read(
        org,
        lambda conn, who, names: [
            v.as_json(names)
            for v in channel.list_requests(conn, subject=who, collection_id=collection, sla=_sla())
        ],
    )
    if as_json:
        _print_json(rows)
        return
    for row in rows:
        sla = row["sla"]
        flag = "SLA BREACHED" if isinstance(sla, dict) and sla["breached"] else "within SLA"
        typer.echo(
            f"{row['id']}  cat {row['category']}  {row['state']:<12}  "
            f"{row['requester']} -> {row['addressee']}  {flag}"
        )


@assist.command("show")
@friendly
def show_request(
    request_id: str = typer.Argument(...), org: str = ORG, collection: str = COLLECTION
) -> None:
    """One request as JSON: who asked whom for what, its state, offers and SLA clocks."""
    view = _read(
        org,
        lambda conn, who, names: channel.show_request(
            conn, subject=who, collection_id=collection, request_id=request_id, sla=_sla()
        ).as_json(names),
    )
    _print_json(view)


# -- notify ------------------------------------------------------------------------------------


def _notify_pass(engine: Engine) -> None:
    result = notify.run_once(engine, settings())
    err.print(
        f"queued {result.queued}, sent {result.sent}, retrying {result.failed}, "
        f"given up {result.gave_up}"
    )


@notify_app.command("run")
@friendly
def run(
    once: bool = typer.Option(False, "--once", help="One pass, then exit."),
    interval: float = typer.Option(10.0, "--interval", help="Seconds between passes."),
) -> None:
    """Queue and deliver duty-officer notifications (KIZUNA_DUTY_ORG, KIZUNA_DUTY_WEBHOOK_URL)."""
    engine = ready_engine(settings())
    try:
        while True:
            _notify_pass(engine)
            if once:
                return
            time.sleep(interval)
    finally:
        engine.dispose()
