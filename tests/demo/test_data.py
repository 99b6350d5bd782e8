"""The demo data set: valid STIX 2.1, valid patterns, coherent markings and references."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import stix2
from stix2patterns.validator import run_validator

from kizuna.access.tlp import (
    AUDIENCE_EXTENSION_ID,
    PAP_MARKINGS,
    TLP2_MARKINGS,
    WELL_KNOWN,
    Tlp,
    audience_marking,
)
from kizuna.demo.data import MAX_BATCH_OBJECTS, DemoBatch, build_demo_batches

NOW = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
IDENTITIES = {
    key: f"identity--{uuid.uuid5(uuid.NAMESPACE_URL, 'https://kizuna.invalid/' + key)}"
    for key in ("ncsc", "water", "bank", "jpcert")
}
TLP_OF = {marking_id: tlp for tlp, marking_id in TLP2_MARKINGS.items()}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

SDO_TYPES = ("threat-actor", "intrusion-set", "malware", "attack-pattern", "campaign", "tool")
SRO_AND_MORE = ("vulnerability", "relationship", "sighting", "report", "identity", "location")

Obj = dict[str, object]


@pytest.fixture(scope="module")
def batches() -> list[DemoBatch]:
    return build_demo_batches(identities=IDENTITIES, now=NOW)


def content(batch: DemoBatch) -> list[Obj]:
    return [o for o in batch.objects if o["type"] != "marking-definition"]


def everything(batches: list[DemoBatch]) -> list[Obj]:
    return [o for b in batches for o in content(b)]


def refs(obj: Obj, prop: str) -> list[str]:
    value = obj.get(prop)
    assert isinstance(value, list)
    return [str(v) for v in value]


def tlp_of(obj: Obj) -> Tlp:
    labels = [TLP_OF[m] for m in refs(obj, "object_marking_refs") if m in TLP_OF]
    assert len(labels) == 1, obj["id"]
    return labels[0]


def readers(obj: Obj, audiences: dict[str, frozenset[str]]) -> frozenset[str] | None:
    """The org identities that may read obj, or None for everyone (CLEAR/GREEN)."""
    found = [audiences[m] for m in refs(obj, "object_marking_refs") if m in audiences]
    if not found:
        return None
    return frozenset.intersection(*found) | {str(obj["created_by_ref"])}


def audiences_of(batches: list[DemoBatch]) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for batch in batches:
        for obj in batch.objects:
            if obj["type"] == "marking-definition":
                extensions = obj["extensions"]
                assert isinstance(extensions, dict)
                found[str(obj["id"])] = frozenset(extensions[AUDIENCE_EXTENSION_ID]["audience"])
    return found


def test_size_and_shape(batches: list[DemoBatch]) -> None:
    objects = everything(batches)
    assert 400 <= len(objects) <= 600
    types = Counter(str(o["type"]) for o in objects)
    assert types["indicator"] >= 200
    for kind in SDO_TYPES + SRO_AND_MORE:
        assert types[kind] > 0, kind
    for batch in batches:
        assert batch.poster in IDENTITIES
        assert batch.collection in ("intel", "cni", "public")
        assert 0 < len(batch.objects) <= MAX_BATCH_OBJECTS
    assert {b.poster for b in batches} == set(IDENTITIES)
    assert {b.collection for b in batches} == {"intel", "cni", "public"}


def test_every_object_parses_with_stix2(batches: list[DemoBatch]) -> None:
    # The audience markings (with kizuna's property extension) parse too: nothing is skipped.
    for batch in batches:
        for obj in batch.objects:
            parsed = stix2.parse(obj, allow_custom=True)
            assert parsed.id == obj["id"]


def test_every_pattern_is_valid(batches: list[DemoBatch]) -> None:
    patterns = [str(o["pattern"]) for o in everything(batches) if o["type"] == "indicator"]
    for pattern in patterns:
        assert run_validator(pattern) == [], pattern
    assert any(" OR " in p for p in patterns)
    assert any("] AND [" in p or "FOLLOWEDBY" in p for p in patterns)
    for kind in ("ipv4-addr", "domain-name", "file:hashes.'SHA-256'", "url:", "network-traffic"):
        assert any(kind in p for p in patterns), kind


def test_indicators_use_reserved_infrastructure(batches: list[DemoBatch]) -> None:
    for obj in everything(batches):
        if obj["type"] != "indicator":
            continue
        pattern = str(obj["pattern"])
        for ip in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", pattern):
            assert ip.rsplit(".", 1)[0] in ("192.0.2", "198.51.100", "203.0.113"), ip
        for name in re.findall(r"(?:domain-name:value = '|@|://)([a-z][a-z0-9.-]+)", pattern):
            assert name.endswith((".example", ".test", ".invalid", ".example.com",
                                  ".example.net", ".example.org")), name  # fmt: skip


def test_ids_unique_per_version(batches: list[DemoBatch]) -> None:
    versions = [(o["id"], o["modified"]) for o in everything(batches)]
    assert len(versions) == len(set(versions))
    assert len({v[0] for v in versions}) < len(versions)  # some objects are revised
    for batch in batches:
        ids = [o["id"] for o in batch.objects if o["type"] == "marking-definition"]
        assert len(ids) == len(set(ids))


def test_deterministic() -> None:
    first = build_demo_batches(identities=IDENTITIES, now=NOW)
    again = build_demo_batches(identities=dict(IDENTITIES), seed=2026, now=NOW)
    assert first == again
    other = build_demo_batches(identities=IDENTITIES, seed=7, now=NOW)
    assert [o["id"] for o in everything(other)] != [o["id"] for o in everything(first)]


def test_timestamps(batches: list[DemoBatch]) -> None:
    now = NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    for obj in everything(batches):
        for prop in ("created", "modified", "valid_from", "first_seen", "last_seen", "published"):
            if prop in obj:
                assert STAMP.fullmatch(str(obj[prop])), (prop, obj[prop])
        assert str(obj["created"]) <= str(obj["modified"]) <= now
    naive = build_demo_batches(identities=IDENTITIES, now=NOW.replace(tzinfo=None))
    assert naive == build_demo_batches(identities=IDENTITIES, now=NOW)


def test_every_tlp_label_occurs(batches: list[DemoBatch]) -> None:
    counts = Counter(tlp_of(o) for o in everything(batches))
    total = sum(counts.values())
    assert set(counts) == set(Tlp)
    assert 0.10 <= counts[Tlp.CLEAR] / total <= 0.20
    assert 0.33 <= counts[Tlp.GREEN] / total <= 0.47
    assert 0.18 <= counts[Tlp.AMBER] / total <= 0.32
    for tlp in (Tlp.AMBER_STRICT, Tlp.RED):
        assert 0.06 <= counts[tlp] / total <= 0.15


def test_markings(batches: list[DemoBatch]) -> None:
    pap_ids = set(PAP_MARKINGS.values())
    with_pap = 0
    for batch in batches:
        defined: dict[str, frozenset[str]] = {}
        seen_content = False
        for obj in batch.objects:
            if obj["type"] == "marking-definition":
                assert not seen_content, "marking-definitions come first in a batch"
                found = audiences_of([DemoBatch(batch.poster, batch.collection, [obj])])
                assert obj == audience_marking(found[str(obj["id"])])
                defined.update(found)
                continue
            seen_content = True
            marks = refs(obj, "object_marking_refs")
            assert len(marks) == len(set(marks))
            for mark in marks:
                assert mark in WELL_KNOWN or mark in defined, mark
            assert sum(m in TLP_OF for m in marks) == 1
            assert sum(m in pap_ids for m in marks) <= 1
            with_pap += any(m in pap_ids for m in marks)
            named = [defined[m] for m in marks if m in defined]
            if tlp_of(obj) >= Tlp.AMBER:
                assert len(named) == 1, obj["id"]
                assert named[0]
                assert named[0] <= set(IDENTITIES.values())
            else:
                assert named == [], obj["id"]
    assert 0 < with_pap < len(everything(batches))


def test_public_batches_are_clear_only(batches: list[DemoBatch]) -> None:
    public = [b for b in batches if b.collection == "public"]
    assert public
    for batch in public:
        assert all(o["type"] != "marking-definition" for o in batch.objects)
        assert {tlp_of(o) for o in batch.objects} == {Tlp.CLEAR}
    restricted = {tlp_of(o) for b in batches if b.collection != "public" for o in content(b)}
    assert Tlp.CLEAR not in restricted


def test_audiences_as_described(batches: list[DemoBatch]) -> None:
    audiences = audiences_of(batches)
    seen = set()
    for batch in batches:
        for obj in content(batch):
            group = readers(obj, audiences)
            if group is not None:
                names = sorted(k for k, v in IDENTITIES.items() if v in group)
                seen.add((batch.poster, tlp_of(obj), tuple(names)))
    assert ("ncsc", Tlp.AMBER, ("bank", "ncsc", "water")) in seen
    assert ("ncsc", Tlp.AMBER, ("jpcert", "ncsc")) in seen
    assert ("ncsc", Tlp.RED, ("ncsc", "water")) in seen
    assert ("bank", Tlp.AMBER_STRICT, ("bank", "ncsc")) in seen


def test_created_by_the_poster(batches: list[DemoBatch]) -> None:
    for batch in batches:
        for obj in content(batch):
            assert obj["created_by_ref"] == IDENTITIES[batch.poster]
            assert obj["spec_version"] == "2.1"


def test_references_resolve_in_order_and_are_readable(batches: list[DemoBatch]) -> None:
    audiences = audiences_of(batches)
    known: dict[str, dict[str, Obj]] = {}  # collection -> id -> object
    for batch in batches:
        available = known.setdefault(batch.collection, {})
        in_batch = {str(o["id"]) for o in content(batch)}
        for obj in content(batch):
            available[str(obj["id"])] = obj
        for obj in content(batch):
            targets: list[str] = []
            if obj["type"] == "relationship":
                targets = [str(obj["source_ref"]), str(obj["target_ref"])]
            elif obj["type"] == "sighting":
                targets = [str(obj["sighting_of_ref"])]
                assert refs(obj, "where_sighted_refs") == [IDENTITIES[batch.poster]]
                assert str(obj["first_seen"]) <= str(obj["last_seen"])
            elif obj["type"] == "report":
                targets = refs(obj, "object_refs")
                assert set(targets) <= in_batch
            for target_id in targets:
                assert target_id in available, (obj["id"], target_id)
                target = available[target_id]
                if obj["type"] == "sighting":
                    assert target["type"] == "indicator"
                assert tlp_of(target) <= tlp_of(obj), (obj["id"], target_id)
                theirs, ours = readers(target, audiences), readers(obj, audiences)
                if theirs is not None:
                    assert ours is not None, (obj["id"], target_id)
                    assert ours <= theirs, (obj["id"], target_id)


def test_attack_patterns_and_vulnerabilities_cite_sources(batches: list[DemoBatch]) -> None:
    for obj in everything(batches):
        if obj["type"] == "attack-pattern":
            ref = refs_dict(obj)
            assert ref["source_name"] == "mitre-attack"
            assert re.fullmatch(r"T\d{4}(\.\d{3})?", ref["external_id"])
        elif obj["type"] == "vulnerability":
            ref = refs_dict(obj)
            assert ref["source_name"] == "cve"
            assert ref["external_id"] == obj["name"]
            assert re.fullmatch(r"CVE-\d{4}-\d{4,}", ref["external_id"])


def refs_dict(obj: Obj) -> dict[str, str]:
    external = obj["external_references"]
    assert isinstance(external, list)
    assert len(external) == 1
    return dict(external[0])


def test_missing_identity_is_an_error() -> None:
    partial = {k: v for k, v in IDENTITIES.items() if k != "jpcert"}
    with pytest.raises(KeyError, match="jpcert"):
        build_demo_batches(identities=partial, now=NOW)
