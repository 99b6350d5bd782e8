"""The STIX 2.1 type vocabulary as data: which types exist, what kind each is, and property kinds.

kizuna.stix.validate owns the rules; this module only holds the tables those rules read, so that
they can be reviewed against the specification (OASIS STIX 2.1, 2021) line by line.
"""

from __future__ import annotations

SDO_TYPES: frozenset[str] = frozenset(
    {
        "attack-pattern",
        "campaign",
        "course-of-action",
        "grouping",
        "identity",
        "incident",
        "indicator",
        "infrastructure",
        "intrusion-set",
        "location",
        "malware",
        "malware-analysis",
        "note",
        "observed-data",
        "opinion",
        "report",
        "threat-actor",
        "tool",
        "vulnerability",
    }
)
SRO_TYPES: frozenset[str] = frozenset({"relationship", "sighting"})
META_TYPES: frozenset[str] = frozenset(
    {"language-content", "marking-definition", "extension-definition"}
)
SCO_TYPES: frozenset[str] = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)
KNOWN_TYPES: frozenset[str] = SDO_TYPES | SRO_TYPES | META_TYPES | SCO_TYPES

# Types that must carry spec_version "2.1" and both created and modified, modified >= created.
DATED_TYPES: frozenset[str] = SDO_TYPES | SRO_TYPES | {"language-content", "extension-definition"}

# Common SDO/SRO properties a cyber-observable object must not carry (STIX 2.1 section 3.2).
SCO_FORBIDDEN: tuple[str, ...] = (
    "created",
    "modified",
    "created_by_ref",
    "revoked",
    "labels",
    "confidence",
    "lang",
    "external_references",
)

# Properties each type requires outright (beyond type, id, spec_version, created, modified).
# Conditional requirements (one of several, required when another is set) are rules in validate.
REQUIRED_PROPERTIES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        (
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
            "mutex",
            "software",
        ),
        ("name",),
    ),
    **dict.fromkeys(
        ("domain-name", "email-addr", "ipv4-addr", "ipv6-addr", "mac-addr", "url"), ("value",)
    ),
    "grouping": ("context", "object_refs"),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "language-content": ("object_ref", "object_modified", "contents"),
    "marking-definition": ("created",),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "email-message": ("is_multipart",),
    "network-traffic": ("protocols",),
}
# SCO types that need at least one property beyond these (section 6: "MUST contain at least one").
SCO_BASE_PROPERTIES: frozenset[str] = frozenset(
    {
        "type",
        "id",
        "spec_version",
        "object_marking_refs",
        "granular_markings",
        "defanged",
        "extensions",
    }
)
NONEMPTY_SCO_TYPES: frozenset[str] = frozenset(
    {"process", "user-account", "windows-registry-key", "x509-certificate"}
)

EXTENSION_TYPES: frozenset[str] = frozenset(
    {"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"}
)
NEW_OBJECT_EXTENSIONS: frozenset[str] = frozenset({"new-sdo", "new-sco", "new-sro"})
OPINIONS: frozenset[str] = frozenset(
    {"strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"}
)
# What source_ref/target_ref of a relationship may not point at: it links SDOs and SCOs only.
NOT_RELATABLE: frozenset[str] = frozenset({"relationship", "sighting", "bundle"} | META_TYPES)

# Property name -> kind. A kind is a checker name in kizuna.stix.validate, or "ref:<types>" /
# "refs:<types>" for identifiers limited to the space-separated types. Every property listed
# here has the same type wherever STIX 2.1 defines it, so one table serves all known types.
_BY_KIND: dict[str, tuple[str, ...]] = {
    "skip": ("type", "id"),
    "spec_version": ("spec_version",),
    "timestamp": (
        "created",
        "modified",
        "first_seen",
        "last_seen",
        "valid_from",
        "valid_until",
        "published",
        "first_observed",
        "last_observed",
        "start_time",
        "stop_time",
        "object_modified",
        "submitted",
        "analysis_started",
        "analysis_ended",
        "ctime",
        "mtime",
        "atime",
        "date",
        "start",
        "end",
        "created_time",
        "account_created",
        "account_expires",
        "credential_last_changed",
        "account_first_login",
        "account_last_login",
        "modified_time",
        "validity_not_before",
        "validity_not_after",
    ),
    "boolean": (
        "revoked",
        "defanged",
        "is_family",
        "summary",
        "is_multipart",
        "is_active",
        "is_hidden",
        "is_service_account",
        "is_privileged",
        "can_escalate_privs",
        "is_disabled",
        "is_self_signed",
    ),
    "text": (  # strings that must not be empty
        "name",
        "pattern",
        "pattern_type",
        "context",
        "content",
        "product",
        "value",
        "path",
        "schema",
        "version",
        "definition_type",
    ),
    "string": (
        "lang",
        "description",
        "pattern_version",
        "objective",
        "identity_class",
        "contact_information",
        "resource_level",
        "primary_motivation",
        "sophistication",
        "region",
        "country",
        "administrative_area",
        "city",
        "street_address",
        "postal_code",
        "configuration_version",
        "analysis_engine_version",
        "analysis_definition_version",
        "result_name",
        "result",
        "abstract",
        "explanation",
        "tool_version",
        "mime_type",
        "payload_bin",
        "url",
        "encryption_algorithm",
        "decryption_key",
        "rir",
        "path_enc",
        "display_name",
        "content_type",
        "message_id",
        "subject",
        "body",
        "name_enc",
        "magic_number_hex",
        "cwd",
        "command_line",
        "cpe",
        "swid",
        "vendor",
        "user_id",
        "credential",
        "account_login",
        "account_type",
        "key",
        "serial_number",
        "signature_algorithm",
        "issuer",
        "subject_public_key_algorithm",
        "subject_public_key_modulus",
    ),
    "strings": (  # non-empty lists of strings
        "labels",
        "aliases",
        "indicator_types",
        "malware_types",
        "tool_types",
        "infrastructure_types",
        "threat_actor_types",
        "report_types",
        "roles",
        "goals",
        "sectors",
        "secondary_motivations",
        "personal_motivations",
        "architecture_execution_envs",
        "implementation_languages",
        "capabilities",
        "modules",
        "authors",
        "protocols",
        "received_lines",
        "languages",
        "extension_properties",
    ),
    "integer": ("number", "pid", "subject_public_key_exponent"),
    "unsigned": (
        "size",
        "src_byte_count",
        "dst_byte_count",
        "src_packets",
        "dst_packets",
        "number_of_subkeys",
    ),
    "port": ("src_port", "dst_port"),
    "number": ("precision",),
    "dictionary": (
        "definition",
        "additional_header_fields",
        "environment_variables",
        "ipfix",
        "x509_v3_extensions",
    ),
    "dictionaries": ("body_multipart", "values"),
    # Checkers named after the one property they serve.
    "confidence": ("confidence",),
    "external_references": ("external_references",),
    "granular_markings": ("granular_markings",),
    "extensions": ("extensions",),
    "kill_chain_phases": ("kill_chain_phases",),
    "hashes": ("hashes",),
    "objects": ("objects",),
    "contents": ("contents",),
    "opinion": ("opinion",),
    "relationship_type": ("relationship_type",),
    "extension_types": ("extension_types",),
    "latitude": ("latitude",),
    "longitude": ("longitude",),
    "count": ("count",),
    "number_observed": ("number_observed",),
    "ref:identity": ("created_by_ref",),
    "refs:marking-definition": ("object_marking_refs",),
    "refs:observed-data": ("observed_data_refs",),
    "refs:identity location": ("where_sighted_refs",),
}
PROPERTY_KINDS: dict[str, str] = {prop: kind for kind, props in _BY_KIND.items() for prop in props}

# The properties whose meaning STIX fixes for every object, custom types included.
COMMON_PROPERTIES: frozenset[str] = frozenset(
    {
        "type",
        "id",
        "spec_version",
        "created",
        "modified",
        "created_by_ref",
        "revoked",
        "labels",
        "confidence",
        "lang",
        "external_references",
        "object_marking_refs",
        "granular_markings",
        "extensions",
        "defanged",
        "kill_chain_phases",
        "hashes",
    }
)


def property_count() -> int:
    """How many property names the kind table covers (guards against a name listed twice)."""
    return sum(len(props) for props in _BY_KIND.values())
