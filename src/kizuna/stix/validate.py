"""Validation of one STIX 2.1 object on the ingest hot path.

This module owns the rules a single object must obey on its own (OASIS STIX 2.1, 2021): the shape
of type and id, spec_version, the common properties, property names, the properties each type
requires and the orderings between its timestamps. It does not resolve references between
objects, parse indicator patterns or open bundles. It is plain dict and string checks with
precompiled regexes and frozensets, because ingest validates tens of thousands of objects a second.
The type and property tables it reads live in kizuna.stix.types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import parse_timestamp
from kizuna.stix.types import (
    COMMON_PROPERTIES,
    DATED_TYPES,
    EXTENSION_TYPES,
    KNOWN_TYPES,
    NEW_OBJECT_EXTENSIONS,
    NONEMPTY_SCO_TYPES,
    NOT_RELATABLE,
    OPINIONS,
    PROPERTY_KINDS,
    REQUIRED_PROPERTIES,
    SCO_BASE_PROPERTIES,
    SCO_FORBIDDEN,
    SCO_TYPES,
)

__all__ = ["InvalidStix", "validate_object"]


class InvalidStix(InvalidInput):
    """One object broke a STIX 2.1 rule. message names the property path and the rule."""


Check = Callable[[str, str, Any], None]
Obj = dict[Any, Any]

_TYPE = re.compile(r"[a-z0-9-]{3,250}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
_PROPERTY_NAME = re.compile(r"[a-zA-Z0-9_]+")
_EXTENSION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,246}-ext")
_RELATIONSHIP_TYPE = re.compile(r"[a-z0-9-]+")
_EXTENSION_DEFINITION = "extension-definition--"
_ID_SHAPE = "<type>--<UUID> with a lowercase RFC 4122 UUID"
_TS_SHAPE = "YYYY-MM-DDTHH:MM:SS[.s+]Z"
_MAX_COUNT = 999_999_999

# The shape parse_timestamp accepts, with times in range, in ASCII digits, with no trailing
# newline (parse_timestamp's '$' and '\d' would let those two through). Only the calendar date
# then needs parse_timestamp, once per distinct day: parsing each timestamp whole costs ~1.5 us.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z", re.ASCII)
_day_starts: dict[str, int] = {}
_good_refs: dict[str, str] = {}  # identifier -> its type, for identifiers already found good


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(label: str, prop: str, rule: str) -> NoReturn:
    head = f"{label}: " if label else ""
    details: dict[str, object] = {"object": label, "property": prop}
    raise InvalidStix(f"{head}property '{prop}' {rule}", details=details)


def _identifier_type(value: object) -> str | None:
    """The type part of a well-formed identifier, or None when value is not one."""
    if not isinstance(value, str) or len(value) < 41:
        return None
    cut = len(value) - 36
    if value[cut - 2 : cut] != "--" or _UUID.fullmatch(value, cut) is None:
        return None
    kind = value[: cut - 2]
    if kind in KNOWN_TYPES or _TYPE.fullmatch(kind) is not None:
        return kind
    return None


def _referenced_type(value: object) -> str | None:
    """_identifier_type for references, which repeat (authors, markings): remembered."""
    if not isinstance(value, str):
        return None
    kind = _good_refs.get(value)
    if kind is None:
        kind = _identifier_type(value)
        if kind is not None:
            if len(_good_refs) >= 16384:
                _good_refs.clear()
            _good_refs[value] = kind
    return kind


def _day_start(day: str) -> int | None:
    """parse_timestamp's microseconds for midnight of day (YYYY-MM-DD), or None if no such day."""
    start = _day_starts.get(day)
    if start is None:
        try:
            start = parse_timestamp(day + "T00:00:00Z")
        except InvalidInput:
            return None
        if len(_day_starts) >= 65536:
            _day_starts.clear()
        _day_starts[day] = start
    return start


def _timestamp(label: str, prop: str, value: Any) -> None:
    if (
        isinstance(value, str)
        and _TIMESTAMP.fullmatch(value) is not None
        and (value[:10] in _day_starts or _day_start(value[:10]) is not None)
    ):
        return
    _fail(label, prop, f"must be a UTC timestamp {_TS_SHAPE}, got {_show(value)}")


def _micros(label: str, prop: str, value: Any) -> int:
    """Microseconds since the epoch, exactly as kizuna.stix.timestamps.parse_timestamp counts."""
    _timestamp(label, prop, value)
    start = _day_start(value[:10])  # not _day_starts[...]: another thread may have cleared it
    if start is None:  # pragma: no cover - _timestamp has just found the day valid
        _fail(label, prop, f"must be a UTC timestamp {_TS_SHAPE}, got {_show(value)}")
    hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
    fraction = value[20:-1]
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return start + (hour * 3600 + minute * 60 + second) * 1_000_000 + micros


def _ref(label: str, prop: str, value: Any, allowed: frozenset[str] | None = None) -> None:
    kind = _referenced_type(value)
    if kind is None:
        _fail(label, prop, f"must be an identifier {_ID_SHAPE}, got {_show(value)}")
    if allowed is not None and kind not in allowed:
        wanted = " or ".join(sorted(allowed))
        _fail(label, prop, f"must reference an object of type {wanted}, got {_show(value)}")


def _refs(label: str, prop: str, value: Any, allowed: frozenset[str] | None = None) -> None:
    if not isinstance(value, list) or not value:
        _fail(label, prop, f"must be a non-empty list of identifiers, got {_show(value)}")
    for i, item in enumerate(value):
        kind = _referenced_type(item)
        if kind is None or (allowed is not None and kind not in allowed):
            _ref(label, f"{prop}[{i}]", item, allowed)


def _custom(label: str, prop: Any, value: Any) -> None:
    """A property the tables do not know: check its name, and its value if named *_ref(s)."""
    if not isinstance(prop, str) or _PROPERTY_NAME.fullmatch(prop) is None:
        _fail(label, _show(prop)[:60], "has a bad name: use only ASCII letters, digits and _")
    if len(prop) < 3:
        _fail(label, prop, "is not a STIX property, and custom property names need 3+ characters")
    if len(prop) > 250:
        _fail(label, prop[:40] + "...", "has a name longer than 250 characters")
    if value is None:
        _fail(label, prop, "is null: STIX has no null values, leave the property out")
    if prop.endswith("_ref"):
        _ref(label, prop, value)
    elif prop.endswith("_refs"):
        _refs(label, prop, value)


# Checkers for one property value, named by the kinds in kizuna.stix.types.


def _spec_version(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, str) or value != "2.1":
        _fail(label, prop, f'must be "2.1" (this node speaks STIX 2.1), got {_show(value)}')


def _string(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, str):
        _fail(label, prop, f"must be a string, got {_show(value)}")


def _text(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        _fail(label, prop, f"must be a non-empty string, got {_show(value)}")


def _strings(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, list) or not value:
        _fail(label, prop, f"must be a non-empty list of strings, got {_show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            _fail(label, f"{prop}[{i}]", f"must be a string, got {_show(item)}")


def _boolean(label: str, prop: str, value: Any) -> None:
    if value is not True and value is not False:
        _fail(label, prop, f"must be true or false, got {_show(value)}")


def _integer(label: str, prop: str, value: Any) -> None:
    if type(value) is not int:
        _fail(label, prop, f"must be an integer, got {_show(value)}")


def _bounded(low: int, high: int) -> Check:
    def check(label: str, prop: str, value: Any) -> None:
        if type(value) is not int or not low <= value <= high:
            _fail(label, prop, f"must be an integer {low:,}-{high:,}, got {_show(value)}")

    return check


def _number(label: str, prop: str, value: Any) -> None:
    if type(value) is not int and type(value) is not float:
        _fail(label, prop, f"must be a number, got {_show(value)}")


def _degrees(limit: int) -> Check:
    def check(label: str, prop: str, value: Any) -> None:
        if (type(value) is not int and type(value) is not float) or not -limit <= value <= limit:
            _fail(label, prop, f"must be a number from -{limit} to {limit}, got {_show(value)}")

    return check


def _dictionary(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, dict) or not value:
        _fail(label, prop, f"must be a non-empty JSON object, got {_show(value)}")


def _dictionaries(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, list) or not value:
        _fail(label, prop, f"must be a non-empty list of JSON objects, got {_show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            _fail(label, f"{prop}[{i}]", f"must be a JSON object, got {_show(item)}")


def _confidence(label: str, prop: str, value: Any) -> None:
    if type(value) is not int or not 0 <= value <= 100:
        _fail(label, prop, f"must be an integer 0-100, got {_show(value)}")


def _hashes(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, dict) or not value:
        _fail(label, prop, f"must be a non-empty dictionary of hashes, got {_show(value)}")
    for name, digest in value.items():
        if not isinstance(name, str) or not name:
            _fail(label, prop, f"has a hash name that is not a non-empty string: {_show(name)}")
        if not isinstance(digest, str) or not digest:
            _fail(label, f"{prop}.{name}", f"must be a non-empty string, got {_show(digest)}")


def _external_references(label: str, prop: str, value: Any) -> None:
    _dictionaries(label, prop, value)
    for i, ref in enumerate(value):
        source = ref.get("source_name")
        if (  # the common case, checked without building property paths
            type(source) is str
            and source
            and ("description" in ref or "url" in ref or "external_id" in ref)
            and type(ref.get("description", "")) is str
            and type(ref.get("url", "")) is str
            and type(ref.get("external_id", "")) is str
            and "hashes" not in ref
        ):
            continue
        here = f"{prop}[{i}]"
        if source is None:
            _fail(label, f"{here}.source_name", "is required")
        _text(label, f"{here}.source_name", source)
        present = False
        for key in ("description", "url", "external_id"):
            if key in ref:
                _string(label, f"{here}.{key}", ref[key])
                present = True
        if not present:
            _fail(label, here, "needs at least one of 'description', 'url' or 'external_id'")
        if "hashes" in ref:
            _hashes(label, f"{here}.hashes", ref["hashes"])


def _granular_markings(label: str, prop: str, value: Any) -> None:
    _dictionaries(label, prop, value)
    for i, marking in enumerate(value):
        here = f"{prop}[{i}]"
        selectors = marking.get("selectors")
        if selectors is None:
            _fail(label, f"{here}.selectors", "is required")
        _strings(label, f"{here}.selectors", selectors)
        if not all(selectors):
            _fail(label, f"{here}.selectors", "must not contain empty selectors")
        has_ref, has_lang = "marking_ref" in marking, "lang" in marking
        if has_ref == has_lang:
            _fail(label, here, "must have exactly one of 'marking_ref' or 'lang'")
        if has_ref:
            _ref(label, f"{here}.marking_ref", marking["marking_ref"], _MARKING)
        else:
            _string(label, f"{here}.lang", marking["lang"])


def _extensions(label: str, prop: str, value: Any) -> None:
    _dictionary(label, prop, value)
    for name, body in value.items():
        if not isinstance(name, str):
            _fail(label, prop, f"has a key that is not a string: {_show(name)}")
        here = f"{prop}.{name}"
        is_definition = name.startswith(_EXTENSION_DEFINITION)
        if is_definition and _identifier_type(name) != "extension-definition":
            _fail(label, here, f"is not a valid extension-definition identifier {_ID_SHAPE}")
        if not is_definition and _EXTENSION_NAME.fullmatch(name) is None:
            _fail(label, here, "is not an extension: use extension-definition--<UUID> or *-ext")
        if not isinstance(body, dict):
            _fail(label, here, f"must be a JSON object, got {_show(body)}")
        kind = body.get("extension_type") if is_definition else None
        if kind is not None and (not isinstance(kind, str) or kind not in EXTENSION_TYPES):
            allowed = ", ".join(sorted(EXTENSION_TYPES))
            _fail(label, f"{here}.extension_type", f"must be one of {allowed}; got {kind!r}")
        for key, inner in body.items():
            if isinstance(key, str) and key.endswith("_ref"):
                _ref(label, f"{here}.{key}", inner)
            elif isinstance(key, str) and key.endswith("_refs"):
                _refs(label, f"{here}.{key}", inner)


def _kill_chain_phases(label: str, prop: str, value: Any) -> None:
    _dictionaries(label, prop, value)
    for i, phase in enumerate(value):
        name, phase_name = phase.get("kill_chain_name"), phase.get("phase_name")
        if type(name) is str and type(phase_name) is str and name and phase_name:
            continue
        for key in ("kill_chain_name", "phase_name"):
            if key not in phase:
                _fail(label, f"{prop}[{i}].{key}", "is required")
            _text(label, f"{prop}[{i}].{key}", phase[key])


def _objects(label: str, prop: str, value: Any) -> None:
    _dictionary(label, prop, value)
    for key, sco in value.items():
        if not isinstance(sco, dict):
            _fail(label, f"{prop}.{key}", f"must be a JSON object, got {_show(sco)}")
        kind = sco.get("type")
        if not isinstance(kind, str) or _TYPE.fullmatch(kind) is None:
            _fail(label, f"{prop}.{key}.type", f"must be a STIX type name, got {_show(kind)}")


def _contents(label: str, prop: str, value: Any) -> None:
    _dictionary(label, prop, value)
    for lang, body in value.items():
        if not isinstance(body, dict) or not body:
            _fail(label, f"{prop}.{lang}", f"must be a non-empty JSON object, got {_show(body)}")


def _opinion(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, str) or value not in OPINIONS:
        allowed = ", ".join(sorted(OPINIONS))
        _fail(label, prop, f"must be one of {allowed}; got {_show(value)}")


def _relationship_type(label: str, prop: str, value: Any) -> None:
    if not isinstance(value, str) or _RELATIONSHIP_TYPE.fullmatch(value) is None:
        _fail(label, prop, f"must be lowercase letters, digits and hyphens, got {_show(value)}")


def _extension_types(label: str, prop: str, value: Any) -> None:
    _strings(label, prop, value)
    for item in value:
        if item not in EXTENSION_TYPES:
            allowed = ", ".join(sorted(EXTENSION_TYPES))
            _fail(label, prop, f"may contain only {allowed}; got {item!r}")


_MARKING = frozenset({"marking-definition"})
_CHECKS: dict[str, Check] = {
    "spec_version": _spec_version,
    "timestamp": _timestamp,
    "boolean": _boolean,
    "text": _text,
    "string": _string,
    "strings": _strings,
    "integer": _integer,
    "unsigned": _bounded(0, 2**63 - 1),
    "port": _bounded(0, 65535),
    "number": _number,
    "dictionary": _dictionary,
    "dictionaries": _dictionaries,
    "confidence": _confidence,
    "external_references": _external_references,
    "granular_markings": _granular_markings,
    "extensions": _extensions,
    "kill_chain_phases": _kill_chain_phases,
    "hashes": _hashes,
    "objects": _objects,
    "contents": _contents,
    "opinion": _opinion,
    "relationship_type": _relationship_type,
    "extension_types": _extension_types,
    "latitude": _degrees(90),
    "longitude": _degrees(180),
    "count": _bounded(0, _MAX_COUNT),
    "number_observed": _bounded(1, _MAX_COUNT),
}


def _compile(kind: str) -> Check | None:
    if kind == "skip":
        return None
    plural, _, kinds = kind.partition(":")
    if not kinds:
        return _CHECKS[kind]
    allowed = frozenset(kinds.split())
    if plural == "refs":
        return lambda label, prop, value: _refs(label, prop, value, allowed)
    return lambda label, prop, value: _ref(label, prop, value, allowed)


# Property name -> checker (None: checked elsewhere). Custom types get the common subset only.
_KNOWN_TABLE: dict[str, Check | None] = {p: _compile(k) for p, k in PROPERTY_KINDS.items()}
_CUSTOM_TABLE: dict[str, Check | None] = {p: _KNOWN_TABLE[p] for p in COMMON_PROPERTIES}


# Whole-object rules: presence and relations between properties, run after every present
# property has passed its own check.


def _require(label: str, obj: Obj, *props: str) -> None:
    for prop in props:
        if prop not in obj:
            _fail(label, prop, "is required")


def _not_before(label: str, obj: Obj, early: str, late: str, *, strict: bool = False) -> None:
    """When both are present, late must not be earlier than early (strict: must be later)."""
    first, last = obj.get(early), obj.get(late)
    if first is None or last is None or (first == last and not strict):
        return
    start, end = _micros(label, early, first), _micros(label, late, last)
    if strict and end <= start:
        _fail(label, late, f"({last}) must be later than '{early}' ({first})")
    if end < start:
        _fail(label, late, f"({last}) is earlier than '{early}' ({first})")


def _indicator(label: str, obj: Obj) -> None:
    _not_before(label, obj, "valid_from", "valid_until", strict=True)


def _location(label: str, obj: Obj) -> None:
    has_lat, has_long = "latitude" in obj, "longitude" in obj
    if has_lat != has_long:
        _fail(label, "latitude" if has_lat else "longitude", "needs 'longitude'/'latitude' too")
    if not (has_lat or "region" in obj or "country" in obj):
        _fail(label, "region", "is required unless 'country' or 'latitude'/'longitude' is given")


def _malware(label: str, obj: Obj) -> None:
    if obj["is_family"] is True and "name" not in obj:
        _fail(label, "name", "is required when 'is_family' is true")


def _malware_analysis(label: str, obj: Obj) -> None:
    if "result" not in obj and "analysis_sco_refs" not in obj:
        _fail(label, "result", "is required unless 'analysis_sco_refs' is given")


def _observed_data(label: str, obj: Obj) -> None:
    _not_before(label, obj, "first_observed", "last_observed")
    if ("object_refs" in obj) == ("objects" in obj):
        _fail(label, "object_refs", "or 'objects' (deprecated) is required, but not both")


def _relationship(label: str, obj: Obj) -> None:
    for prop in ("source_ref", "target_ref"):
        kind = _identifier_type(obj[prop])
        if kind in NOT_RELATABLE:
            _fail(label, prop, f"must reference an SDO or SCO, not a {kind}")


def _sighting(label: str, obj: Obj) -> None:
    _not_before(label, obj, "first_seen", "last_seen")


def _marking_definition(label: str, obj: Obj) -> None:
    has_type, has_definition = "definition_type" in obj, "definition" in obj
    if has_type != has_definition:
        other = "definition" if has_type else "definition_type"
        _fail(label, other, "is required when the other of 'definition_type'/'definition' is set")
    if not has_type and "extensions" not in obj:
        _fail(label, "definition_type", "and 'definition' are required unless 'extensions' is")


def _artifact(label: str, obj: Obj) -> None:
    has_payload, has_url = "payload_bin" in obj, "url" in obj
    if has_payload == has_url:
        _fail(label, "payload_bin", "or 'url' is required, but not both")
    if has_url and "hashes" not in obj:
        _fail(label, "hashes", "is required when 'url' is given")


def _email_message(label: str, obj: Obj) -> None:
    if obj["is_multipart"] is True and "body" in obj:
        _fail(label, "body", "must not be used when 'is_multipart' is true (use body_multipart)")
    if obj["is_multipart"] is False and "body_multipart" in obj:
        _fail(label, "body_multipart", "must not be used when 'is_multipart' is false")


def _file(label: str, obj: Obj) -> None:
    if "hashes" not in obj and "name" not in obj:
        _fail(label, "hashes", "or 'name' is required")


def _network_traffic(label: str, obj: Obj) -> None:
    if "src_ref" not in obj and "dst_ref" not in obj:
        _fail(label, "src_ref", "or 'dst_ref' is required")


def _not_empty_sco(label: str, obj: Obj) -> None:
    if obj.keys() <= SCO_BASE_PROPERTIES and not (obj["type"] == "process" and "extensions" in obj):
        details: dict[str, object] = {"object": label, "property": ""}
        message = f"{label}: a {obj['type']} object needs at least one property of its own"
        raise InvalidStix(message, details=details)


_TYPE_RULES: dict[str, Callable[[str, Obj], None]] = {
    "indicator": _indicator,
    "location": _location,
    "malware": _malware,
    "malware-analysis": _malware_analysis,
    "observed-data": _observed_data,
    "relationship": _relationship,
    "sighting": _sighting,
    "marking-definition": _marking_definition,
    "artifact": _artifact,
    "email-message": _email_message,
    "file": _file,
    "network-traffic": _network_traffic,
}
_TYPE_RULES.update(dict.fromkeys(NONEMPTY_SCO_TYPES, _not_empty_sco))


def _declared_kind(obj: Obj) -> str | None:
    """new-sdo/new-sco/new-sro when a custom object declares itself through an extension."""
    extensions = obj.get("extensions")
    if isinstance(extensions, dict):
        for name, body in extensions.items():
            if isinstance(name, str) and name.startswith(_EXTENSION_DEFINITION):
                kind = body.get("extension_type") if isinstance(body, dict) else None
                if isinstance(kind, str) and kind in NEW_OBJECT_EXTENSIONS:
                    return kind
    return None


def _head(obj: object) -> tuple[Obj, str, str]:
    """Check the object's shape, type and id; return it with its type and its id."""
    if not isinstance(obj, dict):
        raise InvalidStix(
            f"a STIX object must be a JSON object, got {type(obj).__name__}",
            details={"object": "", "property": ""},
        )
    kind = obj.get("type")
    if kind is None:
        _fail("", "type", "is required")
    if not isinstance(kind, str) or (kind not in KNOWN_TYPES and _TYPE.fullmatch(kind) is None):
        _fail("", "type", f"must be 3-250 characters of a-z, 0-9 and '-', got {_show(kind)}")
    label = f"{kind} object"
    if kind == "bundle":
        _fail(label, "type", "'bundle' is an envelope: validate the objects inside it one by one")
    oid = obj.get("id")
    if oid is None:
        _fail(label, "id", "is required")
    prefix = _identifier_type(oid)
    if prefix is None:
        _fail(label, "id", f"must be {kind}--<UUID>, a lowercase RFC 4122 UUID; got {_show(oid)}")
    if prefix != kind:
        _fail(label, "id", f"must start with its type '{kind}--', got {_show(oid)}")
    return obj, kind, oid


def validate_object(obj: object) -> None:
    """Raise InvalidStix for the first rule the object breaks; return None when valid."""
    body, kind, label = _head(obj)
    if kind in KNOWN_TYPES:
        table = _KNOWN_TABLE
        dated = kind in DATED_TYPES
        sco = kind in SCO_TYPES
    else:
        table = _CUSTOM_TABLE
        declared = _declared_kind(body)
        dated = declared in ("new-sdo", "new-sro")
        sco = declared == "new-sco"
    if sco:
        for prop in SCO_FORBIDDEN:
            if prop in body:
                _fail(label, prop, f"is not allowed on a cyber-observable object ({kind})")
    for prop, value in body.items():
        check: Check | None = table.get(prop, _custom)
        if check is not None:
            check(label, prop, value)
    if dated:
        _require(label, body, "spec_version", "created", "modified")
        _not_before(label, body, "created", "modified")
    elif not sco:
        _require(label, body, "spec_version")
        if kind != "marking-definition":  # the deprecated custom-object form
            _not_before(label, body, "created", "modified")
    _require(label, body, *REQUIRED_PROPERTIES.get(kind, ()))
    rule = _TYPE_RULES.get(kind)
    if rule is not None:
        rule(label, body)
