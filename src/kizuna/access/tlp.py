"""TLP 2.0 (and 1.0) and PAP markings, and kizuna's audience marking.

Labels are ranked so that "most restrictive" is max(); the ranks are stored in the database.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from enum import IntEnum

import orjson


class Tlp(IntEnum):
    CLEAR = 0
    GREEN = 1
    AMBER = 2
    AMBER_STRICT = 3
    RED = 4

    @property
    def label(self) -> str:
        return "TLP:" + self.name.replace("_", "+")

    @classmethod
    def parse(cls, text: str) -> Tlp:
        key = text.strip().upper().removeprefix("TLP:").replace("+", "_").replace("-", "_")
        if key == "WHITE":
            key = "CLEAR"
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown TLP label {text!r}") from None


class Pap(IntEnum):
    CLEAR = 0
    GREEN = 1
    AMBER = 2
    RED = 3

    @property
    def label(self) -> str:
        return "PAP:" + self.name


TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
PAP_EXTENSION_ID = "extension-definition--f8d78575-edfd-406e-8e84-6162a8450f5b"

TLP2_MARKINGS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP1_MARKINGS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    Tlp.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    Tlp.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    Tlp.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
PAP_MARKINGS: dict[Pap, str] = {
    Pap.CLEAR: "marking-definition--ad15a0cd-55b6-4588-a14c-a66105329b92",
    Pap.GREEN: "marking-definition--c43594d1-4b11-4c59-93ab-1c9b14d53ce9",
    Pap.AMBER: "marking-definition--60f8932b-e51e-4458-b265-a2e8be9a80ab",
    Pap.RED: "marking-definition--740d36e5-7714-4c30-961a-3ae632ceee0e",
}
_PAP_WHITE = "marking-definition--a3bea94c-b469-41dc-9cfe-d6e7daba7730"

#: Every marking id whose meaning is fixed by a standard: (tlp, pap).
WELL_KNOWN: dict[str, tuple[Tlp | None, Pap | None]] = {
    **{mid: (tlp, None) for tlp, mid in TLP2_MARKINGS.items()},
    **{mid: (tlp, None) for tlp, mid in TLP1_MARKINGS.items()},
    **{mid: (None, pap) for pap, mid in PAP_MARKINGS.items()},
    _PAP_WHITE: (None, Pap.CLEAR),
}

# kizuna's own declarations: the identity that publishes them and the audience extension.
KIZUNA_IDENTITY_ID = "identity--1bd604bd-27ec-4a9f-b628-1a6e18a18887"
AUDIENCE_EXTENSION_ID = "extension-definition--5a9a7b9c-7d0b-4c23-adc8-aac223b0298a"
_AUDIENCE_NAMESPACE = uuid.UUID("3097222f-8817-4ef9-b3e8-c494b7eb0acd")
_DECLARED = "2026-01-01T00:00:00.000Z"


def tlp2_marking_definition(tlp: Tlp) -> dict[str, object]:
    """The OASIS TLP 2.0 marking-definition object for a label."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKINGS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": tlp.label,
        "extensions": {
            TLP_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.name.lower().replace("_", "+"),
            }
        },
        "created_by_ref": "identity--b3bca3c2-1f3d-4b54-b44f-dac42c3a8f01",
    }


def tlp1_marking_definition(tlp: Tlp) -> dict[str, object]:
    """The STIX 2.1 TLP 1.0 marking-definition object for a label (CLEAR is TLP:WHITE)."""
    colour = "white" if tlp is Tlp.CLEAR else tlp.name.lower()
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP1_MARKINGS[tlp],
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{colour.upper()}",
        "definition": {"tlp": colour},
    }


def pap_marking_definition(marking_id: str, pap: Pap) -> dict[str, object]:
    """A PAP marking-definition (the OASIS PAP extension) for a well-known PAP id."""
    colour = "white" if marking_id == _PAP_WHITE else pap.name.lower()
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"PAP:{colour.upper()}",
        "extensions": {PAP_EXTENSION_ID: {"extension_type": "property-extension", "pap": colour}},
    }


def canonical_marking(definition: dict[str, object]) -> dict[str, object] | None:
    """The one content kizuna stores for a marking-definition whose meaning is fixed: the
    TLP and PAP definitions by their ids, and audience markings by their member lists.
    None for any other marking. What a client sends under such an id is replaced, so that
    nobody can squat an id with other content, and every poster gets the same answer."""
    marking_id = str(definition.get("id"))
    known = WELL_KNOWN.get(marking_id)
    if known is not None:
        tlp, pap = known
        if tlp is not None:
            if TLP2_MARKINGS.get(tlp) == marking_id:
                return tlp2_marking_definition(tlp)
            return tlp1_marking_definition(tlp)
        assert pap is not None
        return pap_marking_definition(marking_id, pap)
    meaning = interpret_marking(definition)
    if meaning.audience is not None:
        return audience_marking(meaning.audience)
    return None


def kizuna_identity() -> dict[str, object]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": KIZUNA_IDENTITY_ID,
        "created": _DECLARED,
        "modified": _DECLARED,
        "name": "kizuna",
        "identity_class": "system",
        "object_marking_refs": [TLP2_MARKINGS[Tlp.CLEAR]],
        "description": "The kizuna platform: publisher of its STIX extension-definitions.",
    }


def audience_extension_definition() -> dict[str, object]:
    """Declares the audience marking: the org identities that may read an AMBER/RED object."""
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": AUDIENCE_EXTENSION_ID,
        "created": _DECLARED,
        "modified": _DECLARED,
        "created_by_ref": KIZUNA_IDENTITY_ID,
        "name": "kizuna audience marking",
        "description": (
            "A marking-definition property extension. 'audience' lists the identity ids of the "
            "organisations that may read an object marked TLP:AMBER, TLP:AMBER+STRICT or "
            "TLP:RED, besides its creator. Receiving nodes enforce it for their own members."
        ),
        "schema": "https://kizuna.invalid/schemas/audience-marking.json",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
        "object_marking_refs": [TLP2_MARKINGS[Tlp.CLEAR]],
    }


def audience_marking(identity_ids: Iterable[str]) -> dict[str, object]:
    """The audience marking for a set of org identities: same set, same id, same content."""
    audience = sorted(set(identity_ids))
    marking_uuid = uuid.uuid5(_AUDIENCE_NAMESPACE, ",".join(audience))
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{marking_uuid}",
        "created": _DECLARED,
        "name": "kizuna audience",
        # The audience names partnership members: community-readable, so it travels with
        # the objects it marks, but not public.
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
        "extensions": {
            AUDIENCE_EXTENSION_ID: {"extension_type": "property-extension", "audience": audience}
        },
    }


class MarkingMeaning:
    """What one marking-definition means for access: a TLP label, a PAP label, an audience."""

    __slots__ = ("audience", "pap", "tlp")

    def __init__(
        self, *, tlp: Tlp | None, pap: Pap | None, audience: frozenset[str] | None
    ) -> None:
        self.tlp = tlp
        self.pap = pap
        self.audience = audience


def interpret_marking(definition: dict[str, object]) -> MarkingMeaning:
    """Read a (validated) marking-definition. Unknown kinds mean nothing for access."""
    known = WELL_KNOWN.get(str(definition.get("id")))
    if known is not None:
        return MarkingMeaning(tlp=known[0], pap=known[1], audience=None)
    extensions = definition.get("extensions")
    tlp: Tlp | None = None
    pap: Pap | None = None
    audience: frozenset[str] | None = None
    if isinstance(extensions, dict):
        tlp_ext = extensions.get(TLP_EXTENSION_ID)
        if isinstance(tlp_ext, dict) and isinstance(tlp_ext.get("tlp_2_0"), str):
            tlp = Tlp.parse(tlp_ext["tlp_2_0"])
        pap_ext = extensions.get(PAP_EXTENSION_ID)
        if isinstance(pap_ext, dict) and isinstance(pap_ext.get("pap"), str):
            name = pap_ext["pap"].upper()
            pap = Pap.CLEAR if name == "WHITE" else Pap[name]
        audience_ext = extensions.get(AUDIENCE_EXTENSION_ID)
        if isinstance(audience_ext, dict):
            members = audience_ext.get("audience")
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise ValueError("the audience extension needs 'audience': a list of identity ids")
            audience = frozenset(members)
    if definition.get("definition_type") == "tlp":
        inner = definition.get("definition")
        if isinstance(inner, dict) and isinstance(inner.get("tlp"), str):
            tlp = Tlp.parse(inner["tlp"])
    return MarkingMeaning(tlp=tlp, pap=pap, audience=audience)


def content_hash(obj: object) -> str:
    return hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
