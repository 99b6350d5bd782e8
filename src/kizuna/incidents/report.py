"""Readable exports of an incident: JSON (for tools) and Markdown (for people), built from
what the requester was allowed to read, so an export never holds more than a read would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kizuna.incidents.model import IncidentFacts
from kizuna.incidents.service import IncidentDetail, TimelineEvent

__all__ = ["incident_json", "timeline_json", "timeline_markdown"]


def incident_json(facts: IncidentFacts, names: Mapping[str, str]) -> dict[str, object]:
    d = facts.draft
    return {
        "id": facts.id,
        "version": facts.version,
        "created": facts.created,
        "reporter": names.get(facts.creator, facts.creator),
        "title": d.title,
        "description": d.description,
        "category": d.category,
        "partner_severity": d.partner_severity,
        "country": d.country,
        "sector": d.sector,
        "affected_organisations": list(d.affected_organisations),
        "impact": list(d.impact),
        "status": d.status,
        "related_refs": list(d.related_refs),
    }


def timeline_json(
    detail: IncidentDetail, events: Sequence[TimelineEvent], names: Mapping[str, str]
) -> dict[str, object]:
    return {
        "incident": incident_json(detail.incident, names),
        "versions": len(detail.versions),
        "assistance": [view.as_json(names) for view in detail.requests],
        "timeline": [
            {"at": e.at, "who": e.who, "kind": e.kind, "what": e.what, "id": e.id} for e in events
        ],
    }


def _cell(text: str) -> str:
    """Table-safe text: a pipe or a line break would end the Markdown cell."""
    return " ".join(text.split()).replace("|", "\\|")


def timeline_markdown(
    detail: IncidentDetail, events: Sequence[TimelineEvent], names: Mapping[str, str]
) -> str:
    facts, d = detail.incident, detail.incident.draft
    severity = f", partner severity {d.partner_severity}" if d.partner_severity else ""
    lines = [
        f"# {_cell(d.title)}",
        "",
        f"- **Incident:** `{facts.id}`",
        f"- **Category:** {d.category} (NCSC){severity}",
        f"- **Status:** {d.status}",
        f"- **Country / sector:** {d.country} / {d.sector or 'not given'}",
        f"- **Reporter:** {names.get(facts.creator, facts.creator)}",
    ]
    if d.impact:
        lines.append(f"- **Impact:** {', '.join(d.impact)}")
    if d.affected_organisations:
        lines.append(f"- **Affected organisations:** {_cell(', '.join(d.affected_organisations))}")
    if d.description:
        lines += ["", d.description]
    lines += ["", "## Timeline", "", "| When (UTC) | Who | What |", "|---|---|---|"]
    lines += [f"| {e.at} | {_cell(e.who)} | {e.kind}: {_cell(e.what)} |" for e in events]
    if detail.requests:
        lines += ["", "## Assistance", ""]
        for view in detail.requests:
            sla = view.sla
            flag = "SLA BREACHED" if sla["breached"] else "within SLA"
            to = names.get(view.request.addressee, view.request.addressee)
            lines.append(
                f"- `{view.request.id}` to {_cell(to)}: {', '.join(view.request.needs)}; "
                f"{view.state.state}; {flag}"
            )
    return "\n".join(lines) + "\n"
