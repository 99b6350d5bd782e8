"""SLA clocks with fixed clocks, and the custom objects as STIX 2.1 referees read them."""

from __future__ import annotations

import stix2

from kizuna.access.tlp import KIZUNA_IDENTITY_ID, TLP2_MARKINGS, Tlp
from kizuna.incidents.assistance import (
    DEFAULT_SLA,
    RequestFacts,
    ResponseFacts,
    derive_state,
    sla_clocks,
)
from kizuna.incidents.extensions import declarations
from kizuna.incidents.model import AssistanceDraft, build_request, build_response
from kizuna.stix.timestamps import format_timestamp
from kizuna.stix.validate import validate_object

T0 = 1_800_000_000_000_000  # the request's created, in µs
MIN = 60 * 1_000_000
UK, JP = "identity--5a1c3d0e-1111-4111-8111-111111111111", KIZUNA_IDENTITY_ID


def _request(category: int, deadline_us: int | None = None) -> RequestFacts:
    return RequestFacts(
        id="x-kizuna-assistance-request--0c6bd6b1-5b5e-4c55-9d4c-6b9b3e4bd1a1",
        created_us=T0,
        modified=format_timestamp(T0),
        creator=UK,
        incident_id="",
        addressee=JP,
        needs=("analysis",),
        urgency="priority",
        category=category,
        status="open",
        deadline_us=deadline_us,
        title="",
        description=None,
        marking_refs=(),
    )


def _answer(action: str, after_min: int) -> ResponseFacts:
    return ResponseFacts(f"x--{action}", T0 + after_min * MIN, JP, action, (), None)


def test_category_2_acknowledged_within_the_hour_then_offered_late() -> None:
    request = _request(2)
    state = derive_state(
        request, [_answer("acknowledge", 40), _answer("offer", 300)], closed_us=None
    )
    clocks = sla_clocks(request, state, DEFAULT_SLA, now_us=T0 + 600 * MIN)
    assert clocks["acknowledge"] == {
        "limit_seconds": 3600,
        "due": format_timestamp(T0 + 60 * MIN),
        "stopped": format_timestamp(T0 + 40 * MIN),
        "elapsed_seconds": 2400.0,
        "breached": False,
    }
    assert clocks["respond"]["breached"] is True  # type: ignore[index]
    assert clocks["respond"]["elapsed_seconds"] == 18000.0  # type: ignore[index]
    assert clocks["breached"] is True


def test_an_unanswered_category_1_request_breaches_while_it_waits() -> None:
    request = _request(1, deadline_us=T0 + 90 * MIN)
    state = derive_state(request, [], closed_us=None)
    early = sla_clocks(request, state, DEFAULT_SLA, now_us=T0 + 20 * MIN)
    late = sla_clocks(request, state, DEFAULT_SLA, now_us=T0 + 100 * MIN)
    assert early["breached"] is False
    assert late["acknowledge"]["breached"] is True  # type: ignore[index]
    assert late["respond"]["breached"] is False  # type: ignore[index]
    assert late["deadline_passed"] is True


def test_out_of_order_and_foreign_responses_are_ignored_with_reasons() -> None:
    request = _request(3)
    stranger = ResponseFacts("x--s", T0 + MIN, UK, "acknowledge", (), None)
    state = derive_state(
        request, [stranger, _answer("accept", 2), _answer("acknowledge", 3)], closed_us=None
    )
    assert state.state == "acknowledged"
    assert [why for _, why in state.ignored] == [
        "not from the organisation the request is addressed to",
        "cannot accept a request that is requested; accept needs a request that is acknowledged",
    ]


def test_custom_objects_are_declared_valid_stix() -> None:
    refs = [TLP2_MARKINGS[Tlp.AMBER]]
    stamp = format_timestamp(T0)
    request = build_request(
        AssistanceDraft(
            incident_id="incident--6f1c3c5e-2f7b-4b8e-9d3a-0d6e3b1f2a4c",
            addressee=JP,
            needs=("analysis",),
        ),
        stix_id="x-kizuna-assistance-request--0c6bd6b1-5b5e-4c55-9d4c-6b9b3e4bd1a1",
        creator=UK,
        category=2,
        created=stamp,
        modified=stamp,
        status="open",
        marking_refs=refs,
    )
    response = build_response(
        request_id=str(request["id"]),
        creator=JP,
        action="offer",
        created=stamp,
        marking_refs=refs,
        resources=["indicators"],
    )
    for obj in [*declarations(), request, response]:
        validate_object(obj)
        parsed = stix2.parse(obj, allow_custom=True)
        assert parsed["id"] == obj["id"]
