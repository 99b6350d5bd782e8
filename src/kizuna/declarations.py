"""kizuna's own STIX extension-definitions: one form for every feature that declares one
(published by kizuna's identity, TLP:CLEAR, stable dates), so they are byte for byte the
same on every node and any organisation may store them (see ``store.ingest``)."""

from __future__ import annotations

from kizuna.access.tlp import KIZUNA_IDENTITY_ID, TLP2_MARKINGS, Tlp

__all__ = ["extension_definition"]

_DECLARED = "2026-01-01T00:00:00.000Z"
_SCHEMAS = "https://kizuna.invalid/schemas/"


def extension_definition(
    extension_id: str, name: str, description: str, schema: str, kind: str
) -> dict[str, object]:
    """An extension-definition of kizuna's: ``schema`` is a file name under kizuna's schema
    base, ``kind`` the STIX extension type (``property-extension``, ``new-sdo``, ...)."""
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": extension_id,
        "created": _DECLARED,
        "modified": _DECLARED,
        "created_by_ref": KIZUNA_IDENTITY_ID,
        "name": name,
        "description": description,
        "schema": _SCHEMAS + schema,
        "version": "1.0.0",
        "extension_types": [kind],
        "object_marking_refs": [TLP2_MARKINGS[Tlp.CLEAR]],
    }
