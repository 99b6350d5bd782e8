"""Parsing TAXII 2.1 query parameters (match[...], added_after, limit, next) into Filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import parse_timestamp
from kizuna.store.query import Filters, VersionMatch


def _values(params: Mapping[str, Sequence[str]], key: str) -> tuple[str, ...]:
    """A filter may be given once with commas, or repeated; both mean OR."""
    found: list[str] = []
    for raw in params.get(key, ()):
        found.extend(v.strip() for v in raw.split(",") if v.strip())
    return tuple(dict.fromkeys(found))


def _timestamp(text: str, name: str) -> int:
    try:
        return parse_timestamp(text)
    except InvalidInput:
        raise InvalidInput(
            f"{name} must be a timestamp like 2024-01-31T12:00:00.000Z, not {text!r}"
        ) from None


def parse_filters(
    params: Mapping[str, Sequence[str]], *, default_versions: VersionMatch
) -> Filters:
    versions = default_versions
    version_values = _values(params, "match[version]")
    if version_values:
        first = last = every = False
        exact: list[int] = []
        for value in version_values:
            if value == "first":
                first = True
            elif value == "last":
                last = True
            elif value == "all":
                every = True
            else:
                exact.append(_timestamp(value, "match[version]"))
        versions = VersionMatch(first=first, last=last, all=every, exact=tuple(exact))
    added_after = _values(params, "added_after")
    if len(added_after) > 1:
        raise InvalidInput("added_after takes one timestamp")
    return Filters(
        ids=_values(params, "match[id]"),
        types=_values(params, "match[type]"),
        versions=versions,
        spec_versions=_values(params, "match[spec_version]"),
        added_after_us=_timestamp(added_after[0], "added_after") if added_after else None,
    )


def parse_limit(params: Mapping[str, Sequence[str]], *, default: int, maximum: int) -> int:
    values = params.get("limit")
    if not values:
        return default
    text = values[-1].strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"limit must be a positive integer, not {values[-1]!r}")
    limit = int(text)
    if limit < 1:
        raise InvalidInput("limit must be a positive integer")
    # The spec lets a server return fewer than asked; it says so through 'more'.
    return min(limit, maximum)
