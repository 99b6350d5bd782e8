"""The assistance channel's state and clocks, as plain functions over read-back objects.

A request's state is never stored: it is derived from the request (its creator may close
it) and the addressee's responses, applied in the order they were created through the
transition table. Both nodes hold the same objects after a sync, so both derive the same
state. A response that does not fit (a second acknowledgement, an answer from someone
other than the addressee, anything after closing) is kept but ignored, with the reason.

SLA clocks run from the request's ``created``: *acknowledge* stops at the first response
of any kind, *respond* at the first decision or offer (accept, decline, offer). A clock is
breached when it stopped late, or is still running past its limit at ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "DEFAULT_SLA",
    "RESPONSE_TRANSITIONS",
    "Clock",
    "RequestFacts",
    "RequestState",
    "ResponseFacts",
    "Sla",
    "derive_state",
    "next_state",
    "request_facts",
    "response_facts",
    "sla_clocks",
    "sla_terms",
]

#: action -> the states it may follow -> the state after it (None: the state stays).
RESPONSE_TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "acknowledge": (frozenset({"requested"}), "acknowledged"),
    "accept": (frozenset({"acknowledged"}), "accepted"),
    "decline": (frozenset({"requested", "acknowledged"}), "declined"),
    "offer": (frozenset({"acknowledged", "accepted"}), None),
}
_ACK_STOPS = frozenset({"acknowledge", "accept", "decline", "offer"})
_RESPOND_STOPS = frozenset({"accept", "decline", "offer"})
_UNDECIDED = frozenset({"requested", "acknowledged"})


@dataclass(frozen=True, slots=True)
class Sla:
    """How long a partner has, in seconds, to acknowledge and to respond."""

    acknowledge_s: int
    respond_s: int


#: Defaults per NCSC category (Settings.incident_sla overrides them).
DEFAULT_SLA: dict[int, Sla] = {
    1: Sla(30 * 60, 2 * 3600),
    2: Sla(3600, 4 * 3600),
    3: Sla(4 * 3600, 24 * 3600),
    4: Sla(24 * 3600, 72 * 3600),
    5: Sla(24 * 3600, 72 * 3600),
    6: Sla(24 * 3600, 72 * 3600),
}


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """The latest version of an assistance request, read back."""

    id: str
    created_us: int
    modified: str
    creator: str
    incident_id: str
    addressee: str
    needs: tuple[str, ...]
    urgency: str
    category: int
    status: str  # 'open' or 'closed' (the requester's own word)
    deadline_us: int | None
    title: str
    description: str | None
    marking_refs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ResponseFacts:
    id: str
    created_us: int
    creator: str
    action: str
    resources: tuple[str, ...]
    comment: str | None


@dataclass(frozen=True, slots=True)
class RequestState:
    state: str
    applied: tuple[ResponseFacts, ...]
    ignored: tuple[tuple[ResponseFacts, str], ...]
    acknowledged_us: int | None
    responded_us: int | None
    closed_us: int | None
    offers: tuple[ResponseFacts, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Clock:
    limit_s: int
    due: str
    stopped: str | None
    elapsed_s: float
    breached: bool

    def as_json(self) -> dict[str, object]:
        return {
            "limit_seconds": self.limit_s,
            "due": self.due,
            "stopped": self.stopped,
            "elapsed_seconds": round(self.elapsed_s, 3),
            "breached": self.breached,
        }


def request_facts(obj: Mapping[str, Any]) -> RequestFacts:
    deadline = obj.get("deadline")
    return RequestFacts(
        id=str(obj["id"]),
        created_us=parse_timestamp(str(obj["created"])),
        modified=str(obj["modified"]),
        creator=str(obj.get("created_by_ref", "")),
        incident_id=str(obj.get("incident_ref", "")),
        addressee=str(obj.get("addressee_ref", "")),
        needs=tuple(obj.get("needs") or ()),
        urgency=str(obj.get("urgency", "")),
        category=int(obj.get("category", 6)),
        status=str(obj.get("status", "open")),
        deadline_us=parse_timestamp(deadline) if isinstance(deadline, str) else None,
        title=str(obj.get("name", "")),
        description=obj.get("description"),
        marking_refs=tuple(obj.get("object_marking_refs") or ()),
    )


def response_facts(obj: Mapping[str, Any]) -> ResponseFacts:
    return ResponseFacts(
        id=str(obj["id"]),
        created_us=parse_timestamp(str(obj["created"])),
        creator=str(obj.get("created_by_ref", "")),
        action=str(obj.get("action", "")),
        resources=tuple(obj.get("resources") or ()),
        comment=obj.get("comment"),
    )


def next_state(state: str, action: str) -> str:
    """The state after ``action``, or InvalidInput saying why it cannot follow ``state``."""
    rule = RESPONSE_TRANSITIONS.get(action)
    if rule is None:
        raise InvalidInput(f"unknown response {action!r}: use {', '.join(RESPONSE_TRANSITIONS)}")
    allowed, after = rule
    if state not in allowed:
        raise InvalidInput(
            f"cannot {action} a request that is {state}; {action} needs a request that is "
            f"{' or '.join(sorted(allowed))}"
        )
    return after or state


def derive_state(
    request: RequestFacts, responses: Sequence[ResponseFacts], *, closed_us: int | None
) -> RequestState:
    """Apply the addressee's responses in creation order. ``closed_us``: when the requester
    closed the request (its closing version's ``modified``), if it did."""
    state = "requested"
    applied: list[ResponseFacts] = []
    ignored: list[tuple[ResponseFacts, str]] = []
    for response in sorted(responses, key=lambda r: (r.created_us, r.id)):
        if response.creator != request.addressee:
            ignored.append((response, "not from the organisation the request is addressed to"))
            continue
        if closed_us is not None and response.created_us > closed_us:
            ignored.append((response, "the requester had closed the request"))
            continue
        try:
            state = next_state(state, response.action)
        except InvalidInput as exc:
            ignored.append((response, exc.message))
            continue
        applied.append(response)
    return RequestState(
        state="closed" if closed_us is not None else state,
        applied=tuple(applied),
        ignored=tuple(ignored),
        acknowledged_us=_first(applied, _ACK_STOPS),
        responded_us=_first(applied, _RESPOND_STOPS),
        closed_us=closed_us,
        offers=tuple(r for r in applied if r.action == "offer"),
    )


def _first(applied: Sequence[ResponseFacts], actions: frozenset[str]) -> int | None:
    return next((r.created_us for r in applied if r.action in actions), None)


def _clock(start_us: int, stop_us: int | None, limit_s: int, now_us: int) -> Clock:
    end = stop_us if stop_us is not None else now_us
    elapsed = max(0, end - start_us) / 1_000_000
    return Clock(
        limit_s=limit_s,
        due=format_timestamp(start_us + limit_s * 1_000_000),
        stopped=format_timestamp(stop_us) if stop_us is not None else None,
        elapsed_s=elapsed,
        breached=elapsed > limit_s,
    )


def sla_clocks(
    request: RequestFacts, state: RequestState, sla: Mapping[int, Sla], *, now_us: int
) -> dict[str, object]:
    """The acknowledge and respond clocks, and whether an undecided request is past its
    deadline at ``now_us``. A closed request's running clocks stop at its closing."""
    terms = sla.get(request.category) or DEFAULT_SLA[6]
    stop_running = state.closed_us if state.closed_us is not None else now_us
    acknowledge = _clock(
        request.created_us, state.acknowledged_us, terms.acknowledge_s, stop_running
    )
    respond = _clock(request.created_us, state.responded_us, terms.respond_s, stop_running)
    overdue = (
        request.deadline_us is not None
        and state.state in _UNDECIDED
        and now_us > request.deadline_us
    )
    return {
        "category": request.category,
        "acknowledge": acknowledge.as_json(),
        "respond": respond.as_json(),
        "deadline": format_timestamp(request.deadline_us) if request.deadline_us else None,
        "deadline_passed": overdue,
        "breached": acknowledge.breached or respond.breached or overdue,
    }


def sla_terms(overrides: Mapping[int, tuple[int, int]]) -> dict[int, Sla]:
    """The defaults with a node's own terms (Settings.incident_sla) laid over them."""
    terms = dict(DEFAULT_SLA)
    for category, (acknowledge_s, respond_s) in overrides.items():
        terms[int(category)] = Sla(acknowledge_s, respond_s)
    return terms
