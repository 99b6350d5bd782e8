"""kizuna's STIX extension-definitions for joint attribution (STIX 2.1 section 7.3).

Fixed ids, so every node and every outside verifier means the same thing by them. All are
property-extensions published by kizuna's own identity under TLP:CLEAR:

* on ``report``: the attribution (activity, actor, assessment, likelihood, evidence,
  co-authors, workflow status): the draft and the published form both carry it;
* on ``report``: the detached JWS signatures of a published attribution;
* on ``note``: one co-author's approval (the signed digest and the signing node);
* on ``identity`` (identity_class ``system``): a node's public signing keys as JWKs;
* on ``grouping``: a deterrence campaign's dated entries.
"""

from __future__ import annotations

from kizuna.declarations import extension_definition

__all__ = [
    "APPROVAL_EXTENSION_ID",
    "ATTRIBUTION_EXTENSION_ID",
    "CAMPAIGN_EXTENSION_ID",
    "NODE_KEYS_EXTENSION_ID",
    "SIGNATURES_EXTENSION_ID",
    "declarations",
]

ATTRIBUTION_EXTENSION_ID = "extension-definition--66b0e175-53b2-4977-9294-cb421279c924"
SIGNATURES_EXTENSION_ID = "extension-definition--0efb125b-4b72-4e0d-98b4-63a3a69430ef"
APPROVAL_EXTENSION_ID = "extension-definition--89e8e7bc-20b7-4b23-9fa2-9234686fd098"
NODE_KEYS_EXTENSION_ID = "extension-definition--22c72df1-a8ad-4aeb-ba89-e75ca052f8c1"
CAMPAIGN_EXTENSION_ID = "extension-definition--95bc1bac-5827-4c2b-8e7f-781f47e33064"

_TEXT: dict[str, tuple[str, str, str]] = {
    ATTRIBUTION_EXTENSION_ID: (
        "kizuna joint attribution",
        "A property-extension on report: 'activity_ref' (campaign or intrusion-set), "
        "'actor_ref' (threat-actor), 'actor_state' (the state held responsible, if any), "
        "'assessment' (the agreed wording), 'likelihood' (a term of the UK probability "
        "yardstick; the report's confidence is the percentage), 'evidence_refs', "
        "'co_authors' (identity ref and name of each co-authoring organisation), 'status', "
        "'intent', 'revision' and 'withdrawal_reason'.",
        "attribution.json",
    ),
    SIGNATURES_EXTENSION_ID: (
        "kizuna attribution signatures",
        "A property-extension on a published attribution report: 'signatures', a list of "
        "detached JWS (RFC 7515, EdDSA) over the RFC 8785 canonical JSON of the bundle "
        "without this extension and without the signers' node identities. Each protected "
        "header names 'kid' (RFC 7638 thumbprint), 'kizuna_org' and 'kizuna_node'.",
        "attribution-signatures.json",
    ),
    APPROVAL_EXTENSION_ID: (
        "kizuna attribution approval",
        "A property-extension on note: one co-author's approval of an attribution draft: "
        "'draft_ref', 'draft_version', 'digest' (SHA-256 of the canonical publication "
        "bundle), 'jws' (the detached signature) and 'signer_identity' (the signing node's "
        "identity with its public keys).",
        "attribution-approval.json",
    ),
    NODE_KEYS_EXTENSION_ID: (
        "kizuna node signing keys",
        "A property-extension on a system identity (a kizuna node): 'keys', the node's "
        "Ed25519 public keys as JWKs (RFC 8037) with 'kid' (RFC 7638 thumbprint) and "
        "'status' (active or retired; retired keys still verify what they signed).",
        "node-keys.json",
    ),
    CAMPAIGN_EXTENSION_ID: (
        "kizuna deterrence campaign",
        "A property-extension on grouping: 'entries', each with 'kind' (attribution, "
        "advisory, statement, sanction, other), 'date', 'title' and 'ref' or 'url'.",
        "deterrence-campaign.json",
    ),
}


def declarations() -> list[dict[str, object]]:
    """The extension-definition objects, as any node publishes them."""
    return [
        extension_definition(extension_id, name, description, schema, "property-extension")
        for extension_id, (name, description, schema) in _TEXT.items()
    ]
