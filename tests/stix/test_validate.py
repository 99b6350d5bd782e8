"""kizuna.stix.validate: one STIX 2.1 object at a time, valid or InvalidStix with a clear reason."""

from __future__ import annotations

import contextlib
import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import stix2.v21 as lib
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import parse_timestamp
from kizuna.stix.types import KNOWN_TYPES, PROPERTY_KINDS, SCO_FORBIDDEN, property_count
from kizuna.stix.validate import InvalidStix, validate_object

DROP = object()  # as a change value: remove the property
T0 = "2024-03-01T12:00:00.000Z"
T1 = "2024-03-02T08:30:00.123456Z"


def ident(kind: str, n: int = 0) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, f'{kind}/{n}')}"


IDENTITY = ident("identity")
LOCATION = ident("location")
INDICATOR = ident("indicator")
MALWARE = ident("malware")
OBSERVED = ident("observed-data")
IPV4 = ident("ipv4-addr")
FILE = ident("file")
TLP_RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
EXTDEF = ident("extension-definition")


def _sdo(kind: str, **props: Any) -> dict[str, Any]:
    head = {"type": kind, "spec_version": "2.1", "id": ident(kind), "created": T0, "modified": T0}
    return head | props


def _sco(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, "spec_version": "2.1", "id": ident(kind)} | props


# The smallest valid object of every type STIX 2.1 defines.
BASE: dict[str, dict[str, Any]] = {
    **{
        kind: _sdo(kind, name=f"a {kind}")
        for kind in (
            "attack-pattern",
            "campaign",
            "course-of-action",
            "identity",
            "incident",
            "infrastructure",
            "intrusion-set",
            "threat-actor",
            "tool",
            "vulnerability",
        )
    },
    "grouping": _sdo("grouping", context="suspicious-activity", object_refs=[INDICATOR]),
    "indicator": _sdo(
        "indicator", pattern="[ipv4-addr:value = '10.0.0.1']", pattern_type="stix", valid_from=T0
    ),
    "location": _sdo("location", country="JP"),
    "malware": _sdo("malware", is_family=False),
    "malware-analysis": _sdo("malware-analysis", product="sandbox", result="malicious"),
    "note": _sdo("note", content="seen again", object_refs=[INDICATOR]),
    "observed-data": _sdo(
        "observed-data", first_observed=T0, last_observed=T1, number_observed=1, object_refs=[IPV4]
    ),
    "opinion": _sdo("opinion", opinion="agree", object_refs=[INDICATOR]),
    "report": _sdo("report", name="weekly", published=T1, object_refs=[INDICATOR]),
    "relationship": _sdo(
        "relationship", relationship_type="indicates", source_ref=INDICATOR, target_ref=MALWARE
    ),
    "sighting": _sdo("sighting", sighting_of_ref=INDICATOR),
    "language-content": _sdo(
        "language-content",
        object_ref=INDICATOR,
        object_modified=T0,
        contents={"ja": {"name": "悪意のあるIP"}},
    ),
    "marking-definition": {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_RED,
        "created": "2022-10-01T00:00:00.000Z",
        "name": "TLP:RED",
        "extensions": {
            "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                "extension_type": "property-extension",
                "tlp_2_0": "red",
            }
        },
    },
    "extension-definition": _sdo(
        "extension-definition",
        name="acme widgets",
        schema="https://example.com/widget.json",
        version="1.0.0",
        extension_types=["new-sdo"],
        created_by_ref=IDENTITY,
    ),
    "artifact": _sco("artifact", payload_bin="aGVsbG8="),
    "autonomous-system": _sco("autonomous-system", number=64500),
    "directory": _sco("directory", path="C:\\Windows"),
    "domain-name": _sco("domain-name", value="example.com"),
    "email-addr": _sco("email-addr", value="a@example.com"),
    "email-message": _sco("email-message", is_multipart=False),
    "file": _sco("file", name="evil.exe"),
    "ipv4-addr": _sco("ipv4-addr", value="10.0.0.1"),
    "ipv6-addr": _sco("ipv6-addr", value="2001:db8::1"),
    "mac-addr": _sco("mac-addr", value="00:00:5e:00:53:af"),
    "mutex": _sco("mutex", name="Global\\evil"),
    "network-traffic": _sco("network-traffic", protocols=["tcp"], dst_ref=IPV4),
    "process": _sco("process", pid=4242),
    "software": _sco("software", name="Word"),
    "url": _sco("url", value="https://example.com/"),
    "user-account": _sco("user-account", user_id="1001"),
    "windows-registry-key": _sco("windows-registry-key", key="HKEY_LOCAL_MACHINE\\System"),
    "x509-certificate": _sco("x509-certificate", serial_number="01"),
}


def obj(kind: str, changes: dict[str, Any] | None = None, /, **props: Any) -> dict[str, Any]:
    """BASE[kind] with changes applied; DROP removes a property."""
    result = copy.deepcopy(BASE[kind])
    for key, value in {**(changes or {}), **props}.items():
        if value is DROP:
            result.pop(key, None)
        else:
            result[key] = value
    return result


CUSTOM_SDO = {
    "type": "x-acme-widget",
    "spec_version": "2.1",
    "id": ident("x-acme-widget"),
    "created": T0,
    "modified": T0,
    "extensions": {EXTDEF: {"extension_type": "new-sdo"}},
    "colour": "blue",
}
CUSTOM_SCO = {
    "type": "x-acme-token",
    "id": ident("x-acme-token"),
    "extensions": {EXTDEF: {"extension_type": "new-sco"}},
    "value": "abc",
}
LEGACY_CUSTOM = {"type": "x-acme-legacy", "spec_version": "2.1", "id": ident("x-acme-legacy")}

VALID: list[tuple[str, dict[str, Any]]] = [
    (
        "realistic indicator",
        obj(
            "indicator",
            {
                "created_by_ref": IDENTITY,
                "created": "2024-03-01T12:00:00Z",
                "modified": "2024-03-01T12:00:00.5Z",
                "name": "C2 address",
                "description": "",
                "indicator_types": ["malicious-activity"],
                "pattern_version": "2.1",
                "valid_until": "2024-06-01T00:00:00Z",
                "labels": ["phishing"],
                "confidence": 100,
                "lang": "en",
                "object_marking_refs": [TLP_RED],
                "granular_markings": [
                    {"selectors": ["description"], "marking_ref": TLP_RED},
                    {"selectors": ["name"], "lang": "ja"},
                ],
                "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "c2"}],
                "external_references": [
                    {
                        "source_name": "cert",
                        "url": "https://example.com",
                        "hashes": {"SHA-256": "ab"},
                    },
                    {"source_name": "capec", "external_id": "CAPEC-1"},
                ],
                "revoked": False,
            },
        ),
    ),
    ("confidence at zero", obj("identity", confidence=0)),
    ("modified equal to created", obj("campaign", created=T1, modified=T1)),
    (
        "modified equal to created in other digits",
        obj("campaign", created=T0, modified="2024-03-01T12:00:00Z"),
    ),
    ("fraction with nanoseconds", obj("tool", modified="2024-03-01T12:00:00.000000001Z")),
    ("leap day", obj("tool", created="2024-02-29T00:00:00Z", modified="2024-02-29T00:00:01Z")),
    ("TLP 1.0 white marking", json.loads(lib.TLP_WHITE.serialize())),
    (
        "statement marking",
        {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": ident("marking-definition"),
            "created": T0,
            "definition_type": "statement",
            "definition": {"statement": "(c) ACME"},
        },
    ),
    ("location by coordinates", obj("location", country=DROP, latitude=35.68, longitude=139)),
    ("location by region", obj("location", country=DROP, region="eastern-asia")),
    ("location at the edges", obj("location", latitude=-90, longitude=180.0)),
    ("malware family with name", obj("malware", is_family=True, name="Emotet")),
    (
        "malware analysis with SCO refs",
        obj("malware-analysis", result=DROP, analysis_sco_refs=[FILE]),
    ),
    (
        "observed data with deprecated objects",
        obj("observed-data", object_refs=DROP, objects={"0": {"type": "ipv4-addr"}}),
    ),
    (
        "sighting in full",
        obj(
            "sighting",
            count=0,
            first_seen=T0,
            last_seen=T0,
            observed_data_refs=[OBSERVED],
            where_sighted_refs=[IDENTITY, LOCATION],
            summary=True,
        ),
    ),
    ("relationship to an SCO", obj("relationship", target_ref=IPV4)),
    (
        "custom property and custom reference",
        obj(
            "indicator",
            x_acme_score=7,
            x_acme_source_ref=IDENTITY,
            x_acme_peer_refs=[MALWARE],
            Abc="ok",
        ),
    ),
    (
        "toplevel property extension",
        obj(
            "indicator",
            {
                "extensions": {EXTDEF: {"extension_type": "toplevel-property-extension"}},
                "acme_rank": 3,
            },
        ),
    ),
    ("SCO without spec_version", obj("domain-name", spec_version=DROP)),
    (
        "SCO with predefined extension",
        obj(
            "file",
            extensions={
                "ntfs-ext": {"sid": "S-1-5-21"},
                "archive-ext": {"contains_refs": [FILE]},
            },
            defanged=True,
            hashes={"MD5": "d41d8cd98f00b204e9800998ecf8427e"},
        ),
    ),
    ("file by hashes only", obj("file", name=DROP, hashes={"SHA-1": "da39a3ee"})),
    (
        "artifact by url",
        obj("artifact", payload_bin=DROP, url="https://x.example/a", hashes={"SHA-256": "00"}),
    ),
    ("multipart email", obj("email-message", is_multipart=True, body_multipart=[{"body": "hi"}])),
    (
        "process described only by its extension",
        obj(
            "process",
            pid=DROP,
            extensions={
                "windows-process-ext": {"aslr_enabled": True},
            },
        ),
    ),
    ("custom object, new-sdo", CUSTOM_SDO),
    ("custom object, new-sco without spec_version", CUSTOM_SCO),
    ("custom object, deprecated form", LEGACY_CUSTOM),
    ("custom object, deprecated form with dates", {**LEGACY_CUSTOM, "created": T0, "modified": T1}),
    (
        "custom type with v7 UUID",
        {**LEGACY_CUSTOM, "id": "x-acme-legacy--01890a5d-ac96-774b-bcce-b302099a8057"},
    ),
    (
        "250-character type",
        {**LEGACY_CUSTOM, "type": "x" * 250, "id": "x" * 250 + "--" + str(uuid.uuid4())},
    ),
]


def _stix2_objects() -> list[tuple[str, dict[str, Any]]]:
    """One object of every SDO, SRO and SCO type, as the stix2 library writes them."""
    ind = lib.Indicator(pattern="[ipv4-addr:value = '10.0.0.1']", pattern_type="stix")
    ip = lib.IPv4Address(value="10.0.0.1")
    ident_ = lib.Identity(name="CERT", identity_class="organization")
    loc = lib.Location(latitude=35.6, longitude=139.7)
    file_ = lib.File(name="a.exe", hashes={"SHA-256": "aa" * 32})
    od = lib.ObservedData(
        first_observed=T0, last_observed=T1, number_observed=3, object_refs=[ip.id]
    )
    kcp = lib.KillChainPhase(kill_chain_name="lockheed-martin-cyber-kill-chain", phase_name="c2")
    made = [
        ind,
        ip,
        ident_,
        loc,
        file_,
        od,
        lib.AttackPattern(name="spearphishing", kill_chain_phases=[kcp]),
        lib.Campaign(name="c", first_seen=T0, last_seen=T1),
        lib.CourseOfAction(name="block"),
        lib.Grouping(context="suspicious-activity", object_refs=[ind.id]),
        lib.Incident(name="breach"),
        lib.Infrastructure(name="c2 server", infrastructure_types=["command-and-control"]),
        lib.IntrusionSet(name="APT0", aliases=["zero"]),
        lib.Location(region="eastern-asia", country="JP"),
        lib.Malware(name="Emotet", is_family=True, malware_types=["trojan"]),
        lib.MalwareAnalysis(product="sandbox", result="malicious", sample_ref=file_.id),
        lib.Note(content="text", object_refs=[ind.id], authors=["me"]),
        lib.Opinion(opinion="strongly-agree", object_refs=[ind.id]),
        lib.Report(name="r", published=T1, object_refs=[ind.id], report_types=["threat-report"]),
        lib.ThreatActor(name="actor", threat_actor_types=["crime-syndicate"]),
        lib.Tool(name="mimikatz", tool_types=["credential-exploitation"]),
        lib.Vulnerability(
            name="CVE-2021-44228",
            external_references=[{"source_name": "cve", "external_id": "CVE-2021-44228"}],
        ),
        lib.Relationship(ind, "indicates", lib.Malware(name="m", is_family=True)),
        lib.Sighting(
            sighting_of_ref=ind.id,
            count=2,
            observed_data_refs=[od.id],
            where_sighted_refs=[ident_.id, loc.id],
        ),
        lib.LanguageContent(
            object_ref=ind.id, object_modified=ind.modified, contents={"ja": {"name": "名前"}}
        ),
        lib.ExtensionDefinition(
            created_by_ref=ident_.id,
            name="ext",
            schema="https://example.com/schema.json",
            version="1.0",
            extension_types=["property-extension"],
        ),
        lib.Artifact(payload_bin="aGVsbG8=", mime_type="text/plain"),
        lib.Artifact(url="https://example.com/a", hashes={"SHA-256": "bb" * 32}),
        lib.AutonomousSystem(number=64500, name="AS"),
        lib.Directory(path="/tmp", contains_refs=[file_.id]),
        lib.DomainName(value="example.com", resolves_to_refs=[ip.id]),
        lib.EmailAddress(value="a@example.com", display_name="A"),
        lib.EmailMessage(is_multipart=False, subject="hi", body="hello", date=T0),
        lib.IPv6Address(value="2001:db8::1"),
        lib.MACAddress(value="00:00:5e:00:53:af"),
        lib.Mutex(name="Global\\m"),
        lib.NetworkTraffic(protocols=["ipv4", "tcp"], src_ref=ip.id, src_port=443),
        lib.Process(pid=1, command_line="a.exe"),
        lib.Software(name="Word", vendor="Microsoft", version="16"),
        lib.URL(value="https://example.com/"),
        lib.UserAccount(user_id="1001", is_privileged=False),
        lib.WindowsRegistryKey(key="HKEY_LOCAL_MACHINE\\System", number_of_subkeys=1),
        lib.X509Certificate(serial_number="01", is_self_signed=True),
        lib.TLP_GREEN,
    ]
    return [(o["type"], json.loads(o.serialize())) for o in made]


def _too_long_name() -> str:
    return "x_" + "a" * 249


# (why it is invalid, the object, a substring the message must contain)
INVALID: list[tuple[str, Any, str]] = [
    # Rule 1: shape, type and id
    ("not a JSON object", [BASE["indicator"]], "must be a JSON object"),
    ("no type", obj("tool", type=DROP), "property 'type' is required"),
    ("type too short", {**LEGACY_CUSTOM, "type": "xy"}, "3-250 characters"),
    ("type with upper case", obj("tool", type="Tool"), "3-250 characters"),
    ("type not a string", obj("tool", type=7), "property 'type' must be"),
    ("bundle is not an object", {"type": "bundle", "id": ident("bundle")}, "envelope"),
    ("no id", obj("tool", id=DROP), "tool object: property 'id' is required"),
    ("id of another type", obj("tool", id=INDICATOR), "must start with its type 'tool--'"),
    (
        "id with upper-case UUID",
        obj("tool", id=ident("tool").upper().replace("TOOL", "tool")),
        "lowercase RFC 4122 UUID",
    ),
    (
        "id with wrong UUID variant",
        obj("tool", id="tool--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f"),
        "lowercase RFC 4122 UUID",
    ),
    (
        "id without hyphens",
        obj("tool", id="tool--8e2e2d2b17d44cbf938f98ee46b3cd3f"),
        "lowercase RFC 4122 UUID",
    ),
    ("id with a trailing newline", obj("tool", id=ident("tool") + "\n"), "RFC 4122"),
    ("id not a string", obj("tool", id=17), "RFC 4122"),
    # Rule 2: spec_version, created, modified
    ("SDO without spec_version", obj("tool", spec_version=DROP), "'spec_version' is required"),
    ("STIX 2.0 object", obj("tool", spec_version="2.0"), 'must be "2.1"'),
    ("spec_version as a number", obj("tool", spec_version=2.1), 'must be "2.1"'),
    ("SDO without created", obj("tool", created=DROP), "property 'created' is required"),
    ("SDO without modified", obj("tool", modified=DROP), "property 'modified' is required"),
    (
        "modified before created",
        obj("tool", created="2021-01-01T00:00:00Z", modified="2020-01-01T00:00:00Z"),
        "property 'modified' (2020-01-01T00:00:00Z) is earlier than"
        " 'created' (2021-01-01T00:00:00Z)",
    ),
    (
        "modified a microsecond before created",
        obj("tool", created="2024-01-01T00:00:00.000001Z", modified="2024-01-01T00:00:00Z"),
        "is earlier than 'created'",
    ),
    ("timestamp without Z", obj("tool", created="2024-01-01T00:00:00"), "UTC timestamp"),
    ("timestamp with offset", obj("tool", created="2024-01-01T00:00:00+09:00"), "UTC timestamp"),
    ("timestamp on 30 February", obj("tool", created="2024-02-30T00:00:00Z"), "UTC timestamp"),
    ("timestamp in year zero", obj("tool", created="0000-01-01T00:00:00Z"), "UTC timestamp"),
    ("timestamp at hour 24", obj("tool", modified="2024-01-01T24:00:00Z"), "UTC timestamp"),
    ("timestamp with trailing newline", obj("tool", created=T0 + "\n"), "UTC timestamp"),
    (
        "timestamp in full-width digits",
        obj("tool", created="２０２４-01-01T00:00:00Z"),
        "UTC timestamp",
    ),
    ("timestamp as a number", obj("tool", created=1700000000), "UTC timestamp"),
    (
        "relationship without spec_version",
        obj("relationship", spec_version=DROP),
        "'spec_version' is required",
    ),
    ("marking without created", obj("marking-definition", created=DROP), "'created' is required"),
    (
        "marking with bad modified",
        obj("marking-definition", modified="yesterday"),
        "'modified' must be a UTC timestamp",
    ),
    (
        "extension definition modified first",
        obj("extension-definition", modified="2020-01-01T00:00:00Z"),
        "is earlier than 'created'",
    ),
    (
        "language content without modified",
        obj("language-content", modified=DROP),
        "'modified' is required",
    ),
    # Rule 3: SCOs
    ("SCO with spec_version 2.0", obj("url", spec_version="2.0"), 'must be "2.1"'),
    # Rule 4: common properties
    (
        "created_by_ref to an indicator",
        obj("tool", created_by_ref=INDICATOR),
        "'created_by_ref' must reference an object of type identity",
    ),
    (
        "created_by_ref malformed",
        obj("tool", created_by_ref="identity--1234"),
        "'created_by_ref' must be an identifier",
    ),
    ("revoked as a string", obj("tool", revoked="true"), "'revoked' must be true or false"),
    ("labels as a string", obj("tool", labels="phishing"), "'labels' must be a non-empty list"),
    ("labels empty", obj("tool", labels=[]), "'labels' must be a non-empty list"),
    ("labels holding a number", obj("tool", labels=["a", 1]), "'labels[1]' must be a string"),
    ("confidence above 100", obj("tool", confidence=101), "'confidence' must be an integer 0-100"),
    ("confidence negative", obj("tool", confidence=-1), "must be an integer 0-100"),
    ("confidence as a bool", obj("tool", confidence=True), "must be an integer 0-100"),
    ("confidence as a float", obj("tool", confidence=50.0), "must be an integer 0-100"),
    ("confidence as a string", obj("tool", confidence="50"), "must be an integer 0-100"),
    ("lang as a list", obj("tool", lang=["en"]), "'lang' must be a string"),
    (
        "external references as a dict",
        obj("tool", external_references={"source_name": "x"}),
        "'external_references' must be a non-empty list",
    ),
    (
        "external reference without source_name",
        obj("tool", external_references=[{"url": "u"}]),
        "'external_references[0].source_name' is required",
    ),
    (
        "external reference with only source_name",
        obj("tool", external_references=[{"source_name": "a", "url": "u"}, {"source_name": "b"}]),
        "'external_references[1]' needs at least one of",
    ),
    (
        "external reference url as a number",
        obj("tool", external_references=[{"source_name": "a", "url": 5}]),
        "'external_references[0].url' must be a string",
    ),
    (
        "external reference with empty hashes",
        obj("tool", external_references=[{"source_name": "a", "url": "u", "hashes": {}}]),
        "'external_references[0].hashes' must be a non-empty dictionary",
    ),
    ("hashes empty", obj("file", hashes={}), "'hashes' must be a non-empty dictionary"),
    ("hash value a number", obj("file", hashes={"MD5": 5}), "'hashes.MD5' must be a non-empty"),
    ("hashes as a list", obj("file", hashes=["MD5"]), "'hashes' must be a non-empty dictionary"),
    (
        "object_marking_refs to an identity",
        obj("tool", object_marking_refs=[IDENTITY]),
        "'object_marking_refs[0]' must reference an object of type marking-definition",
    ),
    (
        "object_marking_refs as a string",
        obj("tool", object_marking_refs=TLP_RED),
        "'object_marking_refs' must be a non-empty list of identifiers",
    ),
    (
        "granular marking without selectors",
        obj("tool", granular_markings=[{"marking_ref": TLP_RED}]),
        "'granular_markings[0].selectors' is required",
    ),
    (
        "granular marking with no selector",
        obj("tool", granular_markings=[{"selectors": [], "marking_ref": TLP_RED}]),
        "'granular_markings[0].selectors' must be a non-empty list",
    ),
    (
        "granular marking with empty selector",
        obj("tool", granular_markings=[{"selectors": [""], "marking_ref": TLP_RED}]),
        "must not contain empty selectors",
    ),
    (
        "granular marking with ref and lang",
        obj(
            "tool",
            granular_markings=[{"selectors": ["name"], "marking_ref": TLP_RED, "lang": "en"}],
        ),
        "exactly one of 'marking_ref' or 'lang'",
    ),
    (
        "granular marking with neither ref nor lang",
        obj("tool", granular_markings=[{"selectors": ["name"]}]),
        "exactly one of 'marking_ref' or 'lang'",
    ),
    (
        "granular marking to an identity",
        obj("tool", granular_markings=[{"selectors": ["name"], "marking_ref": IDENTITY}]),
        "'granular_markings[0].marking_ref' must reference an object of type marking-definition",
    ),
    (
        "extensions empty",
        obj("file", extensions={}),
        "'extensions' must be a non-empty JSON object",
    ),
    (
        "extension with a bad name",
        obj("file", extensions={"ntfs": {"sid": "1"}}),
        "'extensions.ntfs' is not an extension",
    ),
    (
        "extension body not an object",
        obj("file", extensions={"ntfs-ext": "sid"}),
        "'extensions.ntfs-ext' must be a JSON object",
    ),
    (
        "extension definition with bad UUID",
        obj("tool", extensions={"extension-definition--1234": {"extension_type": "new-sdo"}}),
        "is not a valid extension-definition identifier",
    ),
    (
        "extension with an unknown extension_type",
        obj("tool", extensions={EXTDEF: {"extension_type": "new-thing"}}),
        f"'extensions.{EXTDEF}.extension_type' must be one of",
    ),
    (
        "extension with a bad reference inside",
        obj("file", extensions={"archive-ext": {"contains_refs": ["file"]}}),
        "'extensions.archive-ext.contains_refs[0]' must be an identifier",
    ),
    (
        "kill chain phase without phase_name",
        obj("tool", kill_chain_phases=[{"kill_chain_name": "mitre-attack"}]),
        "'kill_chain_phases[0].phase_name' is required",
    ),
    (
        "kill chain phase name a number",
        obj("tool", kill_chain_phases=[{"kill_chain_name": "k", "phase_name": 3}]),
        "'kill_chain_phases[0].phase_name' must be a non-empty string",
    ),
    (
        "kill chain phases as a dict",
        obj("tool", kill_chain_phases={"kill_chain_name": "k", "phase_name": "p"}),
        "'kill_chain_phases' must be a non-empty list",
    ),
    (
        "custom _ref malformed",
        obj("tool", x_acme_owner_ref="bob"),
        "'x_acme_owner_ref' must be an identifier",
    ),
    (
        "custom _refs empty",
        obj("tool", x_acme_peer_refs=[]),
        "'x_acme_peer_refs' must be a non-empty list of identifiers",
    ),
    (
        "custom _refs as a string",
        obj("tool", x_acme_peer_refs=MALWARE),
        "'x_acme_peer_refs' must be a non-empty list of identifiers",
    ),
    (
        "known _refs holding a bad identifier",
        obj("note", object_refs=[INDICATOR, "indicator"]),
        "'object_refs[1]' must be an identifier",
    ),
    # Rule 5: property names
    ("property name with a hyphen", obj("tool", {"x-acme": 1}), "has a bad name"),
    ("property name not ASCII", obj("tool", {"x_café": 1}), "has a bad name"),
    ("property name of two characters", obj("tool", xy=1), "need 3+ characters"),
    ("property name over 250 characters", obj("tool", {_too_long_name(): 1}), "longer than 250"),
    ("custom property set to null", obj("tool", x_acme=None), "'x_acme' is null"),
    ("known property set to null", obj("tool", description=None), "'description' must be a string"),
    # Rule 6: required properties per type
    ("name empty", obj("attack-pattern", name=""), "'name' must be a non-empty string"),
    ("name a number", obj("identity", name=5), "'name' must be a non-empty string"),
    ("grouping without context", obj("grouping", context=DROP), "'context' is required"),
    (
        "grouping without object_refs",
        obj("grouping", object_refs=DROP),
        "'object_refs' is required",
    ),
    ("indicator without pattern", obj("indicator", pattern=DROP), "'pattern' is required"),
    (
        "indicator without pattern_type",
        obj("indicator", pattern_type=DROP),
        "'pattern_type' is required",
    ),
    (
        "indicator without valid_from",
        obj("indicator", valid_from=DROP),
        "property 'valid_from' is required",
    ),
    (
        "indicator valid_until equal to valid_from",
        obj("indicator", valid_until=T0),
        "'valid_until' (2024-03-01T12:00:00.000Z) must be later than 'valid_from'",
    ),
    (
        "indicator valid_until before valid_from",
        obj("indicator", valid_until="2024-01-01T00:00:00Z"),
        "must be later than 'valid_from'",
    ),
    ("location with nothing", obj("location", country=DROP), "'region' is required unless"),
    ("location with latitude alone", obj("location", latitude=10), "'latitude' needs"),
    ("location with longitude alone", obj("location", longitude=10), "'longitude' needs"),
    (
        "latitude past the pole",
        obj("location", latitude=90.5, longitude=0),
        "'latitude' must be a number from -90 to 90",
    ),
    (
        "longitude past the date line",
        obj("location", latitude=0, longitude=-181),
        "'longitude' must be a number from -180 to 180",
    ),
    ("latitude as a string", obj("location", latitude="35", longitude=0), "'latitude' must be"),
    ("latitude as a bool", obj("location", latitude=True, longitude=0), "'latitude' must be"),
    ("malware without is_family", obj("malware", is_family=DROP), "'is_family' is required"),
    (
        "malware is_family as a string",
        obj("malware", is_family="yes"),
        "'is_family' must be true or false",
    ),
    (
        "malware family without name",
        obj("malware", is_family=True),
        "'name' is required when 'is_family' is true",
    ),
    (
        "malware analysis without product",
        obj("malware-analysis", product=DROP),
        "'product' is required",
    ),
    (
        "malware analysis without result",
        obj("malware-analysis", result=DROP),
        "'result' is required unless 'analysis_sco_refs'",
    ),
    ("note without content", obj("note", content=DROP), "'content' is required"),
    ("note without object_refs", obj("note", object_refs=DROP), "'object_refs' is required"),
    (
        "observed data without first_observed",
        obj("observed-data", first_observed=DROP),
        "'first_observed' is required",
    ),
    (
        "observed data ending before it starts",
        obj("observed-data", first_observed=T1, last_observed=T0),
        "'last_observed' (2024-03-01T12:00:00.000Z) is earlier than 'first_observed'",
    ),
    (
        "observed data seen zero times",
        obj("observed-data", number_observed=0),
        "'number_observed' must be an integer 1-999,999,999",
    ),
    (
        "observed data seen a billion times",
        obj("observed-data", number_observed=1_000_000_000),
        "'number_observed' must be an integer 1-999,999,999",
    ),
    (
        "observed data with refs and objects",
        obj("observed-data", objects={"0": {"type": "ipv4-addr"}}),
        "but not both",
    ),
    (
        "observed data with neither refs nor objects",
        obj("observed-data", object_refs=DROP),
        "'object_refs' or 'objects' (deprecated) is required",
    ),
    (
        "observed data objects holding a string",
        obj("observed-data", object_refs=DROP, objects={"0": "ipv4-addr"}),
        "'objects.0' must be a JSON object",
    ),
    (
        "observed data object without type",
        obj("observed-data", object_refs=DROP, objects={"0": {"value": "10.0.0.1"}}),
        "'objects.0.type' must be a STIX type name",
    ),
    ("opinion outside the scale", obj("opinion", opinion="maybe"), "'opinion' must be one of"),
    ("opinion without object_refs", obj("opinion", object_refs=DROP), "'object_refs' is required"),
    ("report without published", obj("report", published=DROP), "'published' is required"),
    ("report without name", obj("report", name=DROP), "'name' is required"),
    (
        "relationship without type",
        obj("relationship", relationship_type=DROP),
        "'relationship_type' is required",
    ),
    (
        "relationship type in capitals",
        obj("relationship", relationship_type="Indicates"),
        "'relationship_type' must be lowercase",
    ),
    (
        "relationship without source",
        obj("relationship", source_ref=DROP),
        "'source_ref' is required",
    ),
    (
        "relationship to a marking",
        obj("relationship", target_ref=TLP_RED),
        "'target_ref' must reference an SDO or SCO",
    ),
    (
        "sighting without sighting_of_ref",
        obj("sighting", sighting_of_ref=DROP),
        "'sighting_of_ref' is required",
    ),
    ("sighting count negative", obj("sighting", count=-1), "'count' must be an integer 0-"),
    ("sighting count a bool", obj("sighting", count=True), "'count' must be an integer 0-"),
    (
        "sighting last_seen before first_seen",
        obj("sighting", first_seen=T1, last_seen=T0),
        "'last_seen' (2024-03-01T12:00:00.000Z) is earlier than 'first_seen'",
    ),
    (
        "sighting observed_data_refs to an indicator",
        obj("sighting", observed_data_refs=[INDICATOR]),
        "'observed_data_refs[0]' must reference an object of type observed-data",
    ),
    (
        "sighting where_sighted_refs to malware",
        obj("sighting", where_sighted_refs=[IDENTITY, MALWARE]),
        "'where_sighted_refs[1]' must reference an object of type identity or location",
    ),
    (
        "language content without object_ref",
        obj("language-content", object_ref=DROP),
        "'object_ref' is required",
    ),
    (
        "language content without contents",
        obj("language-content", contents=DROP),
        "'contents' is required",
    ),
    (
        "language content with empty contents",
        obj("language-content", contents={}),
        "'contents' must be a non-empty JSON object",
    ),
    (
        "language content bad object_modified",
        obj("language-content", object_modified="now"),
        "'object_modified' must be a UTC timestamp",
    ),
    (
        "marking with neither definition nor extensions",
        obj("marking-definition", extensions=DROP),
        "'definition_type' and 'definition' are required unless 'extensions'",
    ),
    (
        "marking with definition_type alone",
        obj("marking-definition", definition_type="tlp"),
        "'definition' is required when",
    ),
    (
        "marking definition as a string",
        obj("marking-definition", definition_type="statement", definition="(c) ACME"),
        "'definition' must be a non-empty JSON object",
    ),
    (
        "extension definition without schema",
        obj("extension-definition", schema=DROP),
        "'schema' is required",
    ),
    (
        "extension definition without author",
        obj("extension-definition", created_by_ref=DROP),
        "'created_by_ref' is required",
    ),
    (
        "extension definition with no types",
        obj("extension-definition", extension_types=[]),
        "'extension_types' must be a non-empty list",
    ),
    (
        "extension definition with unknown type",
        obj("extension-definition", extension_types=["new-sdo", "new-widget"]),
        "'extension_types' may contain only",
    ),
    (
        "artifact with neither payload nor url",
        obj("artifact", payload_bin=DROP),
        "'payload_bin' or 'url' is required, but not both",
    ),
    (
        "artifact with payload and url",
        obj("artifact", url="https://x/", hashes={"MD5": "0"}),
        "but not both",
    ),
    (
        "artifact url without hashes",
        obj("artifact", payload_bin=DROP, url="https://x/"),
        "'hashes' is required when 'url' is given",
    ),
    (
        "autonomous system number as a string",
        obj("autonomous-system", number="64500"),
        "'number' must be an integer",
    ),
    (
        "autonomous system without number",
        obj("autonomous-system", number=DROP),
        "'number' is required",
    ),
    ("directory without path", obj("directory", path=DROP), "'path' is required"),
    ("domain name without value", obj("domain-name", value=DROP), "'value' is required"),
    ("email address value a number", obj("email-addr", value=5), "'value' must be a non-empty"),
    (
        "email message without is_multipart",
        obj("email-message", is_multipart=DROP),
        "'is_multipart' is required",
    ),
    (
        "multipart email with a body",
        obj("email-message", is_multipart=True, body="x"),
        "'body' must not be used when 'is_multipart' is true",
    ),
    ("file with neither hashes nor name", obj("file", name=DROP), "'hashes' or 'name' is required"),
    ("ipv4 without value", obj("ipv4-addr", value=DROP), "'value' is required"),
    ("ipv6 without value", obj("ipv6-addr", value=DROP), "'value' is required"),
    ("mac address without value", obj("mac-addr", value=DROP), "'value' is required"),
    ("url without value", obj("url", value=DROP), "'value' is required"),
    ("mutex without name", obj("mutex", name=DROP), "'name' is required"),
    ("software without name", obj("software", name=DROP), "'name' is required"),
    (
        "network traffic without protocols",
        obj("network-traffic", protocols=DROP),
        "'protocols' is required",
    ),
    (
        "network traffic protocols as a string",
        obj("network-traffic", protocols="tcp"),
        "'protocols' must be a non-empty list of strings",
    ),
    (
        "network traffic without endpoints",
        obj("network-traffic", dst_ref=DROP),
        "'src_ref' or 'dst_ref' is required",
    ),
    (
        "network traffic port out of range",
        obj("network-traffic", dst_port=70000),
        "'dst_port' must be an integer 0-65,535",
    ),
    (
        "process with nothing of its own",
        obj("process", pid=DROP),
        "a process object needs at least one property",
    ),
    (
        "user account with nothing of its own",
        obj("user-account", user_id=DROP, defanged=True),
        "a user-account object needs at least one property",
    ),
    (
        "registry key with nothing of its own",
        obj("windows-registry-key", key=DROP),
        "a windows-registry-key object needs at least one property",
    ),
    (
        "certificate with nothing of its own",
        obj("x509-certificate", serial_number=DROP, extensions={"x509-ext": {"a": "b"}}),
        "a x509-certificate object needs at least one property",
    ),
    # Rule 7: custom objects
    (
        "deprecated custom object of STIX 2.0",
        {**LEGACY_CUSTOM, "spec_version": "2.0"},
        'must be "2.1"',
    ),
    (
        "deprecated custom object missing spec_version",
        {k: v for k, v in LEGACY_CUSTOM.items() if k != "spec_version"},
        "'spec_version' is required",
    ),
    (
        "deprecated custom object modified first",
        {**LEGACY_CUSTOM, "created": T1, "modified": T0},
        "is earlier than 'created'",
    ),
    (
        "deprecated custom object bad created",
        {**LEGACY_CUSTOM, "created": "2024"},
        "'created' must be a UTC timestamp",
    ),
    (
        "deprecated custom object bad labels",
        {**LEGACY_CUSTOM, "labels": "x"},
        "'labels' must be a non-empty list",
    ),
    (
        "new-sdo custom object without created",
        {k: v for k, v in CUSTOM_SDO.items() if k != "created"},
        "'created' is required",
    ),
    (
        "new-sco custom object with created",
        {**CUSTOM_SCO, "created": T0},
        "'created' is not allowed on a cyber-observable object",
    ),
    # Rule 8: booleans
    ("defanged as a string", obj("ipv4-addr", defanged="no"), "'defanged' must be true or false"),
    ("revoked as a number", obj("indicator", revoked=1), "'revoked' must be true or false"),
]


@pytest.mark.parametrize("kind", sorted(BASE))
def test_minimal_object_of_every_stix_type_is_valid(kind: str) -> None:
    validate_object(BASE[kind])


def test_base_objects_cover_every_known_type() -> None:
    assert set(BASE) == KNOWN_TYPES


@pytest.mark.parametrize(("case", "stix"), VALID, ids=[case for case, _ in VALID])
def test_valid_object_passes(case: str, stix: dict[str, Any]) -> None:
    validate_object(stix)


@pytest.mark.parametrize(
    ("case", "stix", "fragment"), INVALID, ids=[case for case, _, _ in INVALID]
)
def test_invalid_object_is_rejected_with_a_message_naming_the_rule(
    case: str, stix: Any, fragment: str
) -> None:
    with pytest.raises(InvalidStix) as caught:
        validate_object(stix)
    assert fragment in caught.value.message


@pytest.mark.parametrize("prop", SCO_FORBIDDEN)
@pytest.mark.parametrize("kind", ["file", "ipv4-addr", "network-traffic", "x509-certificate"])
def test_sco_carrying_an_sdo_only_property_is_rejected(kind: str, prop: str) -> None:
    value = BASE["tool"].get(prop, IDENTITY if prop == "created_by_ref" else ["x"])
    with pytest.raises(InvalidStix, match=f"'{prop}' is not allowed on a cyber-observable"):
        validate_object(obj(kind, {prop: value}))


@pytest.mark.parametrize(
    "kind",
    [
        "attack-pattern",
        "campaign",
        "course-of-action",
        "identity",
        "incident",
        "infrastructure",
        "intrusion-set",
        "threat-actor",
        "tool",
        "vulnerability",
    ],
)
def test_sdo_without_name_is_rejected(kind: str) -> None:
    with pytest.raises(InvalidStix, match="property 'name' is required"):
        validate_object(obj(kind, name=DROP))


@pytest.mark.parametrize(("kind", "stix"), _stix2_objects())
def test_object_written_by_the_stix2_library_is_valid(kind: str, stix: dict[str, Any]) -> None:
    validate_object(stix)


def test_message_starts_with_the_object_id() -> None:
    stix = obj("indicator", valid_from=DROP)
    with pytest.raises(InvalidStix) as caught:
        validate_object(stix)
    assert caught.value.message == f"{stix['id']}: property 'valid_from' is required"
    assert caught.value.details == {"object": stix["id"], "property": "valid_from"}


def test_invalid_stix_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        validate_object({})


def test_property_kind_table_lists_each_property_once() -> None:
    assert property_count() == len(PROPERTY_KINDS)


def test_error_for_a_huge_value_stays_short() -> None:
    with pytest.raises(InvalidStix) as caught:
        validate_object(obj("tool", description=["x" * 10_000]))
    assert len(caught.value.message) < 300


def _iso(moment: datetime, digits: int) -> str:
    text = (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )
    return text + ("." + f"{moment.microsecond:06d}"[:digits] if digits else "") + "Z"


instants = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)
).map(lambda d: d.replace(tzinfo=UTC))


@settings(max_examples=300, database=None)
@given(created=instants, modified=instants, digits=st.integers(0, 6))
def test_modified_ordering_agrees_with_parse_timestamp(
    created: datetime, modified: datetime, digits: int
) -> None:
    first, last = _iso(created, digits), _iso(modified, 6 - digits)
    stix = obj("tool", created=first, modified=last)
    if parse_timestamp(last) >= parse_timestamp(first):
        validate_object(stix)
    else:
        with pytest.raises(InvalidStix, match="is earlier than 'created'"):
            validate_object(stix)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@settings(max_examples=300, database=None)
@given(value=json_values)
def test_random_json_raises_nothing_but_invalid_stix(value: object) -> None:
    with contextlib.suppress(InvalidStix):
        validate_object(value)


_property_names = st.sampled_from(
    [*sorted(PROPERTY_KINDS), "object_refs", "x_acme_ref", "x_acme_refs", "ab", "x-y"]
)


@settings(max_examples=500, database=None)
@given(
    kind=st.sampled_from(sorted(BASE)),
    changes=st.dictionaries(_property_names, json_values, max_size=3),
)
def test_valid_object_with_random_changes_raises_nothing_but_invalid_stix(
    kind: str, changes: dict[str, Any]
) -> None:
    with contextlib.suppress(InvalidStix):
        validate_object(obj(kind, changes))
