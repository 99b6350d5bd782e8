"""kizuna's STIX extension-definitions for the incident channel (STIX 2.1 section 7.3).

Three declarations, with fixed ids so every node means the same thing by them:

* a property-extension on ``incident`` carrying what the core type lacks: the NCSC
  category, the partner's own severity, country, sector, affected organisations, impact,
  status and links to related objects;
* ``x-kizuna-assistance-request`` (new-sdo): one node asks a partner for help;
* ``x-kizuna-assistance-response`` (new-sdo): the partner's acknowledgement, acceptance,
  refusal or offer. A separate object, because only a request's creator may version it.

They are published by kizuna's own identity under TLP:CLEAR, like the audience marking.
"""

from __future__ import annotations

from kizuna.declarations import extension_definition

__all__ = [
    "INCIDENT_EXTENSION_ID",
    "REQUEST_EXTENSION_ID",
    "REQUEST_TYPE",
    "RESPONSE_EXTENSION_ID",
    "RESPONSE_TYPE",
    "declarations",
    "new_sdo_marker",
]

INCIDENT_EXTENSION_ID = "extension-definition--5e6aa277-739c-4d20-9730-ead1ecc990a5"
REQUEST_EXTENSION_ID = "extension-definition--94b45883-72f5-4d84-83e6-a517332716b4"
RESPONSE_EXTENSION_ID = "extension-definition--7ab7ce12-cef5-42b5-90d2-7c5d1ed9a8f6"
REQUEST_TYPE = "x-kizuna-assistance-request"
RESPONSE_TYPE = "x-kizuna-assistance-response"


def declarations() -> list[dict[str, object]]:
    """The three extension-definition objects, as any node publishes them."""
    return [
        extension_definition(
            INCIDENT_EXTENSION_ID,
            "kizuna incident properties",
            "A property-extension on incident: 'category' (UK NCSC scale 1-6), "
            "'partner_severity' (the reporting partner's own scale), 'country' (ISO 3166 "
            "alpha-2), 'sector' (the country's critical-infrastructure sector), "
            "'affected_organisations', 'impact' (destructive, disruptive, destabilising, data, "
            "service), 'status' (reported, triaged, contained, eradicated, recovered, closed) "
            "and 'related_refs' (indicators, malware, threat actors, observed data, sightings).",
            "incident.json",
            "property-extension",
        ),
        extension_definition(
            REQUEST_EXTENSION_ID,
            "kizuna assistance request",
            f"Declares {REQUEST_TYPE}: a request for help with an incident addressed to a "
            "partner organisation: 'incident_ref', 'addressee_ref', 'needs' (analysis, "
            "indicators, technical-staff, attribution-coordination, diplomatic-engagement), "
            "'urgency', 'deadline', 'category', 'status' (open or closed by the requester).",
            "assistance-request.json",
            "new-sdo",
        ),
        extension_definition(
            RESPONSE_EXTENSION_ID,
            "kizuna assistance response",
            f"Declares {RESPONSE_TYPE}: the addressee's answer to an assistance request: "
            "'request_ref', 'action' (acknowledge, accept, decline, offer), 'resources' "
            "offered and a 'comment'. The request's state is derived from its responses.",
            "assistance-response.json",
            "new-sdo",
        ),
    ]


def new_sdo_marker(extension_id: str) -> dict[str, dict[str, str]]:
    """The ``extensions`` entry a custom object carries to say which definition declares it."""
    return {extension_id: {"extension_type": "new-sdo"}}
