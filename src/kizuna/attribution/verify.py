"""Offline verification of a published joint attribution, and the rule for what is signed.

**The published form.** A STIX 2.1 bundle whose ``objects`` are sorted by ``id`` and hold:
one ``report`` (TLP:CLEAR) carrying the attribution extension
(``extension-definition--66b0e175-53b2-4977-9294-cb421279c924``: co-authors, assessment,
likelihood, status) and the signatures extension
(``extension-definition--0efb125b-4b72-4e0d-98b4-63a3a69430ef``); the objects the report's
``object_refs`` name (activity, actor, the ``attributed-to`` relationship, TLP:CLEAR
evidence); and one ``identity`` (identity_class ``system``) per signing node, publishing
its Ed25519 keys as JWKs in the node-keys extension
(``extension-definition--22c72df1-a8ad-4aeb-ba89-e75ca052f8c1``).

**What is signed** (the payload), so that anyone can implement this check:

1. take the bundle as published;
2. remove from ``objects`` every ``identity`` that carries the node-keys extension;
3. remove the signatures extension from the report's ``extensions``;
4. serialise the result with RFC 8785 (JSON Canonicalization Scheme).

Each entry of the signatures extension's ``signatures`` list is a detached JWS
(RFC 7515 compact form ``HEADER..SIGNATURE``, ``alg`` ``EdDSA``) over that payload: the
Ed25519 signature covers ASCII(BASE64URL(header) "." BASE64URL(payload)). The protected
header names ``kid`` (the RFC 7638 thumbprint of the signing JWK), ``kizuna_org`` (the
co-authoring organisation's identity id) and ``kizuna_node`` (the signing node's identity
id). A published attribution is valid when every co-author in the attribution extension's
``co_authors`` has a signature that verifies under a key whose thumbprint is its kid.

**Trust.** The bundle carries the signers' keys, so it can be checked with nothing else;
that proves the co-authors' nodes signed only if those keys are known to be theirs. Given a
trusted-keys file (a JWK set, a list of JWKs or node identities, or one node identity), a
signature whose kid is not in it is reported as an unknown key.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kizuna.attribution.canonical import canonical_bytes
from kizuna.attribution.extensions import (
    ATTRIBUTION_EXTENSION_ID,
    NODE_KEYS_EXTENSION_ID,
    SIGNATURES_EXTENSION_ID,
)
from kizuna.attribution.jws import JwsError, header_of
from kizuna.attribution.jws import verify as verify_jws
from kizuna.attribution.keys import jwk_key, node_keys_of, thumbprint
from kizuna.errors import InvalidInput

__all__ = [
    "Failure",
    "Signer",
    "Verification",
    "assemble",
    "bundle_of",
    "payload_of",
    "signatures_of",
    "trusted_keys",
    "verify_bundle",
]


@dataclass(frozen=True, slots=True)
class Failure:
    """Why verification failed. ``code``: malformed, tampered, unknown-key, key-mismatch,
    bad-signature, wrong-alg, missing-co-signer."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Signer:
    org_ref: str
    org_name: str
    node_ref: str
    node_name: str
    kid: str


@dataclass(slots=True)
class Verification:
    report_id: str = ""
    version: str = ""
    status: str = ""
    signers: list[Signer] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and bool(self.signers)


def _is_node_identity(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") == "identity"
        and NODE_KEYS_EXTENSION_ID in (obj.get("extensions") or {})
    )


def _is_signed_report(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") == "report"
        and isinstance(obj.get("extensions"), dict)
        and ATTRIBUTION_EXTENSION_ID in obj["extensions"]
    )


def payload_of(bundle: Mapping[str, Any]) -> bytes:
    """The canonical bytes every co-author signs (the rule in the module docstring)."""
    stripped = copy.deepcopy(dict(bundle))
    kept = []
    for obj in stripped.get("objects") or []:
        if _is_node_identity(obj):
            continue
        if _is_signed_report(obj):
            obj["extensions"].pop(SIGNATURES_EXTENSION_ID, None)
        kept.append(obj)
    stripped["objects"] = kept
    return canonical_bytes(stripped)


def _report(bundle: Any) -> dict[str, Any]:
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise InvalidInput("not a STIX bundle")
    objects = bundle.get("objects")
    if not isinstance(objects, list):
        raise InvalidInput("the bundle has no objects list")
    reports: list[dict[str, Any]] = [o for o in objects if _is_signed_report(o)]
    if len(reports) != 1:
        raise InvalidInput(
            f"expected exactly one attribution report in the bundle, found {len(reports)}"
        )
    return reports[0]


def signatures_of(report: Mapping[str, Any]) -> list[str]:
    body = (report.get("extensions") or {}).get(SIGNATURES_EXTENSION_ID)
    found = body.get("signatures") if isinstance(body, dict) else None
    if not isinstance(found, list) or not all(isinstance(s, str) for s in found):
        return []
    return list(found)


def trusted_keys(document: Any) -> dict[str, str]:
    """kid -> JWK x from a trusted-keys document (JWK set, list of JWKs or node
    identities, one node identity, or a bundle of them). A key must match its kid."""
    if isinstance(document, dict) and isinstance(document.get("keys"), list):
        items: list[Any] = document["keys"]
    elif isinstance(document, dict) and isinstance(document.get("objects"), list):
        items = document["objects"]
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    found: dict[str, str] = {}
    for item in items:
        jwks = node_keys_of(item) if _is_node_identity(item) else [item]
        for jwk in jwks:
            if not isinstance(jwk, dict) or not isinstance(jwk.get("x"), str):
                raise InvalidInput("the trusted keys must be Ed25519 JWKs or node identities")
            kid = thumbprint(jwk["x"])
            if jwk.get("kid", kid) != kid:
                raise InvalidInput(f"trusted key {jwk.get('kid')} does not match its thumbprint")
            found[kid] = jwk["x"]
    return found


@dataclass(frozen=True, slots=True)
class _Published:
    x: str
    node_ref: str
    node_name: str


def _published_keys(bundle: Mapping[str, Any], out: Verification) -> dict[str, _Published]:
    """kid -> key of every node identity in the bundle; a JWK whose x does not hash to its
    kid (a swapped key) is a failure, and is not used."""
    keys: dict[str, _Published] = {}
    for obj in bundle["objects"]:
        if not _is_node_identity(obj):
            continue
        for jwk in node_keys_of(obj):
            kid, x = jwk.get("kid"), jwk.get("x")
            if not isinstance(kid, str) or not isinstance(x, str):
                out.failures.append(
                    Failure("malformed", f"{obj['id']} publishes a key without kid or x")
                )
                continue
            if thumbprint(x) != kid:
                out.failures.append(
                    Failure(
                        "key-mismatch",
                        f"{obj.get('name')} ({obj['id']}) publishes for kid {kid} a key whose "
                        "thumbprint differs: the key was swapped or altered",
                    )
                )
                continue
            keys[kid] = _Published(x, str(obj["id"]), str(obj.get("name", "")))
    return keys


def _co_authors(report: Mapping[str, Any]) -> dict[str, str]:
    body = report["extensions"][ATTRIBUTION_EXTENSION_ID]
    authors = body.get("co_authors") if isinstance(body, dict) else None
    if not isinstance(authors, list) or not authors:
        raise InvalidInput("the attribution names no co-authors")
    return {str(a.get("ref")): str(a.get("name", "")) for a in authors if isinstance(a, dict)}


def _check_one(
    jws: str,
    payload: bytes,
    published: Mapping[str, _Published],
    trusted: Mapping[str, str] | None,
    names: Mapping[str, str],
) -> Signer | Failure:
    try:
        header = header_of(jws)
    except JwsError as exc:
        return Failure("malformed", exc.message)
    kid = str(header.get("kid", ""))
    if trusted is not None and kid not in trusted:
        return Failure("unknown-key", f"key {kid} is not among the trusted keys")
    key = published.get(kid)
    if key is None:
        return Failure("unknown-key", f"key {kid} is not published by any node in the bundle")
    if trusted is not None and trusted[kid] != key.x:
        return Failure("key-mismatch", f"the bundle's key for {kid} is not the trusted one")
    if header.get("kizuna_node") != key.node_ref:
        return Failure(
            "key-mismatch", f"key {kid} belongs to {key.node_ref}, not {header.get('kizuna_node')}"
        )
    try:
        verify_jws(jws, payload, jwk_key({"kty": "OKP", "crv": "Ed25519", "x": key.x}))
    except JwsError as exc:
        return Failure(exc.reason, f"{key.node_name}: {exc.message}")
    org = str(header.get("kizuna_org", ""))
    return Signer(org, names.get(org, org), key.node_ref, key.node_name, kid)


def verify_bundle(bundle: Any, *, trusted: Mapping[str, str] | None = None) -> Verification:
    """Check a published bundle: who signed it, or exactly what fails."""
    out = Verification()
    try:
        report = _report(bundle)
        names = _co_authors(report)
        payload = payload_of(bundle)
    except InvalidInput as exc:
        out.failures.append(Failure("malformed", exc.message))
        return out
    out.report_id = str(report.get("id"))
    out.version = str(report.get("modified"))
    out.status = str(report["extensions"][ATTRIBUTION_EXTENSION_ID].get("status", ""))
    published = _published_keys(bundle, out)
    signatures = signatures_of(report)
    if not signatures:
        out.failures.append(Failure("missing-co-signer", "the report carries no signatures"))
    results = [_check_one(s, payload, published, trusted, names) for s in signatures]
    bad = [r for r in results if isinstance(r, Failure)]
    out.signers = [r for r in results if isinstance(r, Signer)]
    if bad and not out.signers and all(f.code == "bad-signature" for f in bad):
        out.failures.append(
            Failure(
                "tampered",
                "the content does not match any signature: it was altered after signing",
            )
        )
    else:
        out.failures.extend(bad)
    signed = {s.org_ref for s in out.signers}
    for ref, name in names.items():
        if ref not in signed:
            out.failures.append(
                Failure("missing-co-signer", f"co-author {name} ({ref}) has no valid signature")
            )
    return out


def assemble(objects: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The published bundle rebuilt from loose objects (e.g. read over TAXII): the latest
    signed report, the objects it names, and the node identities its signatures name."""
    latest: dict[str, dict[str, Any]] = {}
    for obj in objects:
        held = latest.get(str(obj.get("id")))
        if held is None or str(held.get("modified", "")) < str(obj.get("modified", "")):
            latest[str(obj.get("id"))] = dict(obj)
    reports = [o for o in latest.values() if _is_signed_report(o) and signatures_of(o)]
    if len(reports) != 1:
        raise InvalidInput(f"expected one signed attribution report, found {len(reports)}")
    report = reports[0]
    wanted = set(report.get("object_refs") or [])
    for jws in signatures_of(report):
        wanted.add(str(header_of(jws).get("kizuna_node")))
    missing = sorted(w for w in wanted if w not in latest)
    if missing:
        raise InvalidInput(f"the published objects are incomplete: missing {', '.join(missing)}")
    chosen = [report, *(latest[w] for w in wanted)]
    return bundle_of(str(report["id"]), chosen)


def bundle_of(report_id: str, objects: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A publication bundle: objects sorted by id, the bundle id taken from the report's."""
    return {
        "type": "bundle",
        "id": "bundle--" + report_id.split("--", 1)[1],
        "objects": sorted((dict(o) for o in objects), key=lambda o: str(o["id"])),
    }
