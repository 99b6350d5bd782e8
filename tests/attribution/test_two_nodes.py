"""End to end with two real nodes: the UK node drafts an attribution with Japan as
co-author; the draft federates; JPCERT/CC's admin approves (signs) on the Japanese node;
the approval federates back; NCSC approves and publishes on the UK node; anyone fetches the
publication anonymously, over TAXII and as a file; `kizuna attribution verify` says both
nodes signed it, and names exactly what fails once the file is tampered with."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.access.tlp import Tlp
from kizuna.attribution.extensions import (
    CAMPAIGN_EXTENSION_ID,
    NODE_KEYS_EXTENSION_ID,
    SIGNATURES_EXTENSION_ID,
)
from kizuna.attribution.jws import header_of
from kizuna.attribution.keys import jwk_of
from kizuna.attribution.verify import assemble, payload_of, verify_bundle
from kizuna.db.engine import write_transaction
from kizuna.store.collections import add_collection, grant
from kizuna.taxii.media import TAXII_JSON
from tests.attribution.helpers import marked, sdo
from tests.conftest import BACKENDS
from tests.federation.nodes import IDS, Node, link_uk_to_jp, two_nodes


@pytest.fixture(params=BACKENDS)
def nodes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    with two_nodes(request.param, tmp_path) as pair:
        yield pair


def _admin_token(node: Node, org: str) -> str:
    """An admin token for a local org, allowed to read and write the intel collection."""
    with write_transaction(node.engine) as conn:
        grant(conn, collection_id=node.intel, role=Role.ADMIN, write=True)
        return service.create_token(conn, org=node.orgs[org], role=Role.ADMIN)


def _public_collection(node: Node) -> str:
    with write_transaction(node.engine) as conn:
        public = add_collection(conn, title="Public", default_tlp=Tlp.CLEAR, public=True)
        grant(conn, collection_id=public, role=Role.ANALYST, write=True)
    return public


def _call(node: Node, method: str, path: str, token: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.request(method, node.server.url + path, json=body, headers=headers, timeout=30)
    assert response.status_code < 300, response.text
    return response.json()


def _verify_cli(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # No KIZUNA_* environment at all: verification needs no node and no database.
    return subprocess.run(
        [sys.executable, "-m", "kizuna", "attribution", "verify", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(path.parent)},
    )


def _write(path: Path, bundle: dict[str, Any]) -> Path:
    path.write_text(json.dumps(bundle, indent=2), encoding="utf-8")
    return path


def test_two_nodes_co_sign_and_anyone_verifies(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    uk, jp = nodes
    public = _public_collection(uk)
    jp_admin = _admin_token(jp, "jpcert")
    _admin_token(uk, "ncsc")
    link_uk_to_jp(uk, jp)
    authors = [IDS["ncsc"], IDS["jpcert"]]
    campaign = sdo("campaign", IDS["ncsc"], "Operation Lantern")
    actor = sdo("threat-actor", IDS["ncsc"], "APT-Example")
    clear = sdo("indicator", IDS["ncsc"], "Lantern C2")
    amber = sdo("indicator", IDS["ncsc"], "Lantern implant")
    uk.store("ncsc", [*marked(campaign, Tlp.CLEAR), *marked(actor, Tlp.CLEAR)])
    uk.store("ncsc", [*marked(clear, Tlp.CLEAR), *marked(amber, Tlp.AMBER, authors)])

    ncsc = uk.tokens["ncsc"]
    made = _call(
        uk,
        "POST",
        "/api/v1/attributions",
        ncsc,
        {
            "collection": uk.intel,
            "title": "Operation Lantern attributed to APT-Example",
            "activity_ref": campaign["id"],
            "actor_ref": actor["id"],
            "assessment": "The UK and Japan judge that APT-Example ran Operation Lantern.",
            "likelihood": "almost certain",
            "evidence_refs": [clear["id"], amber["id"]],
            "co_authors": ["JPCERT/CC"],
        },
    )
    draft_id = made["id"]
    assert made["status"] == "draft"
    assert made["confidence"] == 97
    _call(uk, "POST", f"/api/v1/attributions/{draft_id}/review", ncsc)
    uk.cli("sync", "--once")  # the draft and the CLEAR objects reach Japan

    on_jp = _call(jp, "GET", f"/api/v1/attributions/{draft_id}", jp_admin)
    assert on_jp["status"] == "review"
    assert on_jp["missing"] == sorted(authors)
    approval = _call(jp, "POST", f"/api/v1/attributions/{draft_id}/approve", jp_admin)
    assert approval["digest"] == on_jp["digest"]
    assert approval["node_name"] == "jp-node"
    # A token of a co-author's analyst, or of the other side's org, may not approve.
    refused = httpx.post(
        f"{jp.server.url}/api/v1/attributions/{draft_id}/approve",
        headers={"Authorization": f"Bearer {jp.tokens['jpcert']}"},
        timeout=30,
    )
    assert refused.status_code == 403

    uk.cli("sync", "--once")  # Japan's signed approval comes back
    state = _call(uk, "GET", f"/api/v1/attributions/{draft_id}", ncsc)
    assert state["missing"] == [IDS["ncsc"]]
    assert [a["org_ref"] for a in state["approvals"]] == [IDS["jpcert"]]
    assert approval["digest"] == state["digest"]  # both nodes computed the same bytes
    uk.cli("attribution", "approve", draft_id, "--org", "NCSC")
    published = _call(
        uk, "POST", f"/api/v1/attributions/{draft_id}/publish", ncsc, {"collection": public}
    )
    assert published["withheld"] == [amber["id"]]
    report_id = published["publication"]["report_id"]

    # Anyone: the file, without a token ...
    download = httpx.get(f"{uk.server.url}/api/v1/attributions/{draft_id}/bundle", timeout=30)
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    bundle = download.json()
    assert amber["id"] not in {o["id"] for o in bundle["objects"]}
    # ... and over TAXII, anonymously, from the public collection.
    taxii = httpx.get(
        f"{uk.server.url}/taxii2/kizuna/collections/{public}/objects/",
        headers={"Accept": TAXII_JSON},
        timeout=30,
    )
    assert taxii.status_code == 200, taxii.text
    rebuilt = assemble(taxii.json()["objects"])
    assert payload_of(rebuilt) == payload_of(bundle)
    assert verify_bundle(rebuilt).ok

    good = _write(tmp_path / "lantern.json", bundle)
    checked = _verify_cli(good)
    assert checked.returncode == 0, checked.stderr
    assert "signed by NCSC" in checked.stdout
    assert "on node uk-node" in checked.stdout
    assert "signed by JPCERT/CC" in checked.stdout
    assert "on node jp-node" in checked.stdout
    assert f"verified: {report_id}" in checked.stdout

    identities = [_call(n, "GET", "/api/v1/node/identity", None) for n in (uk, jp)]
    trusted = _write(tmp_path / "trusted.json", {"type": "bundle", "objects": identities})
    assert _verify_cli(good, "--trusted-keys", str(trusted)).returncode == 0
    only_uk = _write(tmp_path / "uk-only.json", identities[0])
    partial = _verify_cli(good, "--trusted-keys", str(only_uk))
    assert partial.returncode == 1
    assert "error: unknown-key: key" in partial.stderr
    assert "not among the trusted keys" in partial.stderr
    assert "missing-co-signer: co-author JPCERT/CC" in partial.stderr

    _tamper_tests(tmp_path, good.read_text(encoding="utf-8"), bundle)
    _campaign(uk, ncsc, report_id)


def _campaign(uk: Node, token: str, report_id: str) -> None:
    """The Dialogue's view: a deterrence campaign grouping the attribution with a date."""
    made = _call(
        uk,
        "POST",
        "/api/v1/campaigns",
        token,
        {"collection": uk.intel, "name": "Lantern response", "tlp": "GREEN"},
    )
    entry = {"kind": "attribution", "date": "2026-11-25", "title": "Joint attribution"}
    _call(uk, "POST", f"/api/v1/campaigns/{made['id']}/entries", token, {**entry, "ref": report_id})
    advisory = {"kind": "advisory", "date": "2026-11-20", "title": "Mitigation advice"}
    _call(
        uk,
        "POST",
        f"/api/v1/campaigns/{made['id']}/entries",
        token,
        {**advisory, "url": "https://www.ncsc.gov.uk/news/lantern"},
    )
    shown = _call(uk, "GET", f"/api/v1/campaigns/{made['id']}", uk.tokens["water"])
    entries = shown["extensions"][CAMPAIGN_EXTENSION_ID]["entries"]
    assert [e["date"] for e in entries] == ["2026-11-20", "2026-11-25"]
    assert shown["object_refs"] == [report_id]


def _tamper_tests(tmp_path: Path, text: str, bundle: dict[str, Any]) -> None:
    # Flip one byte of the published text.
    at = text.index("APT-Example ran Operation Lantern")
    flipped = text[:at] + "B" + text[at + 1 :]
    (tmp_path / "flipped.json").write_text(flipped, encoding="utf-8")
    result = _verify_cli(tmp_path / "flipped.json")
    assert result.returncode == 1
    assert "error: tampered: the content does not match any signature" in result.stderr

    # Drop a signature.
    dropped = json.loads(text)
    report = next(o for o in dropped["objects"] if o["type"] == "report")
    signatures = report["extensions"][SIGNATURES_EXTENSION_ID]["signatures"]
    kept = [s for s in signatures if IDS["ncsc"] in json.dumps(header_of(s))]
    report["extensions"][SIGNATURES_EXTENSION_ID]["signatures"] = kept
    result = _verify_cli(_write(tmp_path / "dropped.json", dropped))
    assert result.returncode == 1
    assert "error: missing-co-signer: co-author JPCERT/CC" in result.stderr
    assert "signed by NCSC" in result.stdout

    # Swap a key: JP's published key replaced by another.
    swapped = json.loads(text)
    identity = next(
        o for o in swapped["objects"] if o["type"] == "identity" and o["name"] == "jp-node"
    )
    identity["extensions"][NODE_KEYS_EXTENSION_ID]["keys"][0]["x"] = jwk_of(
        Ed25519PrivateKey.generate().public_key()
    )
    result = _verify_cli(_write(tmp_path / "swapped.json", swapped))
    assert result.returncode == 1
    assert "error: key-mismatch: jp-node" in result.stderr
    assert "the key was swapped or altered" in result.stderr
    assert verify_bundle(bundle).ok  # the original is untouched
