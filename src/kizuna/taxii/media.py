"""TAXII 2.1 media types and content negotiation (TAXII 2.1 section 1.6.8)."""

from __future__ import annotations

TAXII_JSON = "application/taxii+json;version=2.1"
STIX_JSON = "application/stix+json;version=2.1"


def _parse(value: str) -> list[tuple[str, dict[str, str]]]:
    ranges: list[tuple[str, dict[str, str]]] = []
    for part in value.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, val = piece.partition("=")
            params[key.strip().lower()] = val.strip().strip('"')
        ranges.append((pieces[0].lower(), params))
    return ranges


def _zero_quality(q: str | None) -> bool:
    if q is None:
        return False
    try:
        return float(q) == 0.0
    except ValueError:
        return False


def accepts_taxii(accept: str | None) -> bool:
    """Whether a response in TAXII 2.1 JSON satisfies the Accept header.

    Lenient where the spec allows it: no header, */*, application/*, and
    application/taxii+json without a version all accept TAXII 2.1."""
    if accept is None or not accept.strip():
        return True
    for media, params in _parse(accept):
        if _zero_quality(params.get("q")):
            continue
        if media in ("*/*", "application/*"):
            return True
        if media == "application/taxii+json" and params.get("version", "2.1") == "2.1":
            return True
    return False


def is_taxii_content(content_type: str | None) -> bool:
    """Whether a request body's Content-Type is TAXII 2.1 JSON (version may be omitted)."""
    if not content_type:
        return False
    parsed = _parse(content_type)
    if len(parsed) != 1:
        return False
    media, params = parsed[0]
    return media == "application/taxii+json" and params.get("version", "2.1") == "2.1"
