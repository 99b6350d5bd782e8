"""TAXII 2.1 content negotiation: which Accept headers a TAXII 2.1 response satisfies, and
which request Content-Types are TAXII 2.1 JSON."""

from __future__ import annotations

import pytest

from kizuna.taxii.media import STIX_JSON, TAXII_JSON, accepts_taxii, is_taxii_content


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        # No preference at all.
        (None, True),
        ("", True),
        ("   ", True),
        # Wildcards.
        ("*/*", True),
        ("application/*", True),
        ("text/html, */*;q=0.1", True),
        # The TAXII media type, with or without its version, in any spelling.
        (TAXII_JSON, True),
        ("application/taxii+json", True),
        ("application/taxii+json; version=2.1", True),
        ("application/taxii+json ; version = 2.1", True),
        ('application/taxii+json;version="2.1"', True),
        ("APPLICATION/TAXII+JSON;VERSION=2.1", True),
        ("application/taxii+json;version=2.1;q=0.5", True),
        ("application/taxii+json;q=1", True),
        ("application/json, application/taxii+json;version=2.1", True),
        ("application/taxii+json;version=2.0, application/taxii+json;version=2.1", True),
        # Another TAXII version, or another media type entirely.
        ("application/taxii+json;version=2.0", False),
        ("application/taxii+json;version=2", False),
        ("application/taxii+json;version=2.10", False),
        ("application/json", False),
        ("text/html", False),
        (STIX_JSON, False),
        ("application/vnd.oasis.taxii+json", False),
        ("text/*", False),
        # q=0 means "not acceptable", whatever the type.
        ("application/taxii+json;version=2.1;q=0", False),
        ("application/taxii+json; q=0.0", False),
        ("*/*;q=0", False),
        ("application/*; q=0.000", False),
        ("application/taxii+json;Q=0", False),
        ("*/*;q=0, application/taxii+json;version=2.1", True),
        ("*/*;q=0.001", True),
    ],
)
def test_accept_header(accept: str | None, expected: bool) -> None:
    assert accepts_taxii(accept) is expected


def test_accept_q_zero_with_an_empty_fraction_is_not_acceptable() -> None:
    assert accepts_taxii("application/taxii+json;q=0.") is False


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (TAXII_JSON, True),
        ("application/taxii+json", True),
        ("application/taxii+json; version=2.1", True),
        ('application/taxii+json; version="2.1"', True),
        ("application/taxii+json ;version= 2.1 ", True),
        ("Application/TAXII+JSON; Version=2.1", True),
        ("application/taxii+json;version=2.1;charset=utf-8", True),
        # Not TAXII 2.1 JSON.
        ("application/taxii+json;version=2.0", False),
        ("application/taxii+json;version=", False),
        (STIX_JSON, False),
        ("application/json", False),
        ("text/plain", False),
        ("*/*", False),
        ("application/*", False),
        # One type only: a list is not a Content-Type.
        ("application/taxii+json, application/json", False),
        (TAXII_JSON + ", " + TAXII_JSON, False),
        # Missing.
        ("", False),
        (None, False),
        (";version=2.1", False),
    ],
)
def test_content_type(content_type: str | None, expected: bool) -> None:
    assert is_taxii_content(content_type) is expected
