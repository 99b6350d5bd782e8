"""End to end with the stock clients: `taxii2-client` speaks TAXII 2.1 to a real
`kizuna serve` process, and `stix2` builds and re-reads the objects."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
import requests
import stix2
from taxii2client.v21 import Collection, Server, as_pages

from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from tests.e2e.conftest import LiveNode

GREEN = TLP2_MARKINGS[Tlp.GREEN]
TAXII = "application/taxii+json;version=2.1"


def indicator(n: int, *, marking: str = GREEN, **extra: object) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": f"C2 address {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [marking],
        **extra,
    }


def collection(node: LiveNode, key: str, who: str) -> Collection:
    url = node.objects_url(key).removesuffix("objects/")
    return Collection(url, user="kizuna", password=node.tokens[who])


def test_discovery_api_root_and_collections_through_taxii2_client(live_node: LiveNode) -> None:
    server = Server(live_node.discovery, user="kizuna", password=live_node.tokens["ncsc"])
    assert server.title == "kizuna node uk-test"
    root = server.default
    assert root.versions == [TAXII]
    assert root.max_content_length > 0
    titles = {c.title: (c.can_read, c.can_write) for c in root.collections}
    assert titles["Partnership intel"] == (True, True)
    assert titles["NCSC only"] == (True, True)
    # The bank's reader token sees the shared and public collections, never "NCSC only".
    bank = Server(live_node.discovery, user="kizuna", password=live_node.tokens["bank"])
    bank_titles = {c.title: (c.can_read, c.can_write) for c in bank.default.collections}
    assert bank_titles == {"Partnership intel": (True, False), "Public advisories": (True, False)}


def test_add_objects_reports_per_object_status_and_stores_the_valid_ones(
    live_node: LiveNode,
) -> None:
    target = collection(live_node, "intel", "ncsc")
    good = [indicator(n) for n in range(3)]
    bad = {**indicator(9), "pattern_type": None}
    broken = {"type": "indicator", "id": "not-an-id"}
    status = target.add_objects({"objects": [*good, bad, broken]})
    assert status.status == "complete"
    assert status.total_count == 5
    assert status.success_count == 3
    assert status.failure_count == 2
    assert {s["id"] for s in status.successes} == {o["id"] for o in good}
    messages = " ".join(f["message"] for f in status.failures)
    assert "pattern_type" in messages
    assert "not-an-id" in messages
    # The status resource is the poster's alone.
    again = httpx.get(
        status.url, auth=("kizuna", live_node.tokens["ncsc"]), headers={"Accept": TAXII}
    )
    assert again.status_code == 200
    assert again.json()["success_count"] == 3
    other = httpx.get(
        status.url, auth=("kizuna", live_node.tokens["water"]), headers={"Accept": TAXII}
    )
    assert other.status_code == 404
    for obj in good:
        fetched = target.get_object(obj["id"])["objects"]
        assert fetched == [obj]


def test_paging_through_more_than_a_thousand_objects_with_as_pages(live_node: LiveNode) -> None:
    target = collection(live_node, "intel", "ncsc")
    posted = [indicator(n, x_kizuna_batch="paging") for n in range(1200)]
    for start in range(0, len(posted), 500):
        envelope = posted[start : start + 500]
        status = target.add_objects({"objects": envelope})
        assert status.success_count == len(envelope), status.failures[:3]
    seen: list[str] = []
    pages = 0
    for envelope in as_pages(target.get_objects, per_request=250, type="indicator"):
        pages += 1
        seen.extend(
            o["id"] for o in envelope.get("objects", []) if o.get("x_kizuna_batch") == "paging"
        )
    assert pages >= 5
    assert len(seen) == len(set(seen)) == 1200
    assert set(seen) == {o["id"] for o in posted}
    # The manifest pages the same way.
    listed: list[str] = []
    for envelope in as_pages(target.get_manifest, per_request=400):
        listed.extend(entry["id"] for entry in envelope.get("objects", []))
    assert {o["id"] for o in posted} <= set(listed)
    assert len(listed) == len(set(listed))


def test_date_added_headers_and_added_after_resume(live_node: LiveNode) -> None:
    url = live_node.objects_url("intel")
    auth = ("kizuna", live_node.tokens["ncsc"])
    first = httpx.get(url, params={"limit": 2}, auth=auth, headers={"Accept": TAXII})
    assert first.status_code == 200
    assert first.headers["Content-Type"] == TAXII
    last_added = first.headers["X-TAXII-Date-Added-Last"]
    assert first.headers["X-TAXII-Date-Added-First"] <= last_added
    rest = httpx.get(url, params={"added_after": last_added, "limit": 10000}, auth=auth)
    first_ids = {o["id"] for o in first.json()["objects"]}
    assert first_ids.isdisjoint({o["id"] for o in rest.json()["objects"]})


def test_versions_filters_and_delete(live_node: LiveNode) -> None:
    target = collection(live_node, "intel", "ncsc")
    v1 = indicator(1)
    v2 = {**v1, "modified": "2026-03-02T00:00:00.000Z", "confidence": 80}
    v3 = {**v1, "modified": "2026-03-03T00:00:00.000Z", "confidence": 90}
    assert target.add_objects({"objects": [v3, v1, v2]}).success_count == 3
    stix_id = str(v1["id"])
    versions = target.object_versions(stix_id)["versions"]
    assert versions == [
        "2026-03-03T00:00:00.000Z",
        "2026-03-01T00:00:00.000Z",
        "2026-03-02T00:00:00.000Z",
    ]
    assert target.get_object(stix_id)["objects"] == [v3]
    assert target.get_object(stix_id, version="first")["objects"] == [v1]
    both = target.get_object(stix_id, version=["first", "last"])["objects"]
    assert {o["modified"] for o in both} == {v1["modified"], v3["modified"]}
    exact = target.get_object(stix_id, version="2026-03-02T00:00:00.000Z")["objects"]
    assert exact == [v2]
    assert len(target.get_object(stix_id, version="all")["objects"]) == 3
    assert target.get_objects(id=stix_id, spec_version="2.0") == {}
    # Identical re-submission is a success and stores nothing new.
    assert target.add_objects({"objects": [v2]}).success_count == 1
    assert len(target.object_versions(stix_id)["versions"]) == 3
    # A changed object under an existing version is refused.
    clash = target.add_objects({"objects": [{**v2, "name": "changed"}]})
    assert clash.failure_count == 1
    assert "different content" in clash.failures[0]["message"]
    # Deleting the latest version makes the previous one the latest.
    target.delete_object(stix_id, version="2026-03-03T00:00:00.000Z")
    assert target.get_object(stix_id)["objects"] == [v2]
    target.delete_object(stix_id)
    with pytest.raises(requests.HTTPError, match="404"):
        target.get_object(stix_id)


def test_stix2_objects_round_trip(live_node: LiveNode) -> None:
    target = collection(live_node, "intel", "water")
    identity = live_node.ids["water"]
    malware = stix2.Malware(
        name="Ryuk-like loader",
        is_family=True,
        created_by_ref=identity,
        object_marking_refs=[GREEN],
    )
    ind = stix2.Indicator(
        pattern="[file:hashes.'SHA-256' = '" + "ab" * 32 + "']",
        pattern_type="stix",
        created_by_ref=identity,
        object_marking_refs=[GREEN],
    )
    rel = stix2.Relationship(
        ind, "indicates", malware, created_by_ref=identity, object_marking_refs=[GREEN]
    )
    bundle = stix2.Bundle(malware, ind, rel)
    status = target.add_objects({"objects": json.loads(bundle.serialize())["objects"]})
    assert status.success_count == 3
    fetched = target.get_objects(id=[malware.id, ind.id, rel.id])["objects"]
    parsed = {o.id: o for o in (stix2.parse(obj, allow_custom=True) for obj in fetched)}
    assert parsed[malware.id].name == "Ryuk-like loader"
    assert parsed[rel.id].source_ref == ind.id


def test_amber_object_reaches_only_its_audience(live_node: LiveNode) -> None:
    audience = audience_marking([live_node.ids["water"]])
    amber = indicator(7, marking=TLP2_MARKINGS[Tlp.AMBER])
    amber["object_marking_refs"] = [TLP2_MARKINGS[Tlp.AMBER], audience["id"]]
    red = indicator(8, marking=TLP2_MARKINGS[Tlp.RED])
    red["object_marking_refs"] = [TLP2_MARKINGS[Tlp.RED], audience["id"]]
    status = collection(live_node, "intel", "ncsc").add_objects({"objects": [audience, amber, red]})
    assert status.success_count == 3

    def visible(who: str) -> set[str]:
        found = collection(live_node, "intel", who).get_objects(id=[amber["id"], red["id"]])
        return {o["id"] for o in found.get("objects", [])}

    assert visible("ncsc") == {amber["id"], red["id"]}
    assert visible("water") == {amber["id"], red["id"]}
    assert visible("bank") == set()
    assert visible("jpcert") == set()  # a peer is not in the audience, and RED never leaves
    one = httpx.get(
        live_node.objects_url("intel") + f"{amber['id']}/",
        auth=("kizuna", live_node.tokens["bank"]),
    )
    assert one.status_code == 404


def test_other_orgs_cannot_add_versions_of_an_object(live_node: LiveNode) -> None:
    original = indicator(3, created_by_ref=live_node.ids["ncsc"])
    assert (
        collection(live_node, "intel", "ncsc").add_objects({"objects": [original]}).success_count
        == 1
    )
    forged = {
        **original,
        "modified": "2026-04-01T00:00:00.000Z",
        "created_by_ref": live_node.ids["water"],
    }
    status = collection(live_node, "intel", "water").add_objects({"objects": [forged]})
    assert status.failure_count == 1
    assert "only its creator" in status.failures[0]["message"]
    impersonation = collection(live_node, "intel", "water").add_objects(
        {"objects": [indicator(4, created_by_ref=live_node.ids["ncsc"])]}
    )
    assert "only publish its own" in impersonation.failures[0]["message"]
