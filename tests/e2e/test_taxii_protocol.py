"""The protocol's edges over real HTTP: authentication, negotiation, limits, and errors in
TAXII's own JSON form, never a stack trace."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.conftest import LiveNode
from tests.e2e.test_taxii_clients import indicator as _indicator

TAXII = "application/taxii+json;version=2.1"


def assert_taxii_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == TAXII
    body = response.json()
    assert body["http_status"] == str(status)
    assert body["title"]
    assert body["description"]
    assert "Traceback" not in response.text
    return body


def test_missing_and_bad_tokens_get_401_with_a_challenge(live_node: LiveNode) -> None:
    url = live_node.objects_url("intel")
    missing = httpx.get(url)
    assert_taxii_error(missing, 401)
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    bad = httpx.get(url, headers={"Authorization": "Bearer kz_not-a-real-token"})
    assert_taxii_error(bad, 401)
    garbage = httpx.get(url, headers={"Authorization": "Basic !!!"})
    assert_taxii_error(garbage, 401)
    discovery_with_bad_token = httpx.get(
        live_node.discovery, headers={"Authorization": "Bearer nope"}
    )
    assert_taxii_error(discovery_with_bad_token, 401)


def test_anonymous_reads_only_clear_objects_of_public_collections(live_node: LiveNode) -> None:
    collections = httpx.get(f"{live_node.url}/taxii2/kizuna/collections/").json()
    assert [c["title"] for c in collections["collections"]] == ["Public advisories"]
    assert httpx.get(live_node.objects_url("public")).status_code == 200
    assert_taxii_error(httpx.get(live_node.objects_url("secret")), 401)


def test_hidden_and_missing_collections_look_the_same(live_node: LiveNode) -> None:
    auth = ("kizuna", live_node.tokens["bank"])
    hidden = httpx.get(live_node.objects_url("secret"), auth=auth)
    missing = httpx.get(
        f"{live_node.url}/taxii2/kizuna/collections/00000000-0000-4000-8000-000000000000/objects/",
        auth=auth,
    )
    assert_taxii_error(hidden, 404)
    assert_taxii_error(missing, 404)
    assert hidden.json()["description"].startswith("no collection")
    assert missing.json()["description"].startswith("no collection")


def test_reader_may_not_write(live_node: LiveNode) -> None:
    response = httpx.post(
        live_node.objects_url("intel"),
        content=b'{"objects": []}',
        headers={"Content-Type": TAXII},
        auth=("kizuna", live_node.tokens["bank"]),
    )
    assert_taxii_error(response, 403)


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        (TAXII, 200),
        ("application/taxii+json", 200),
        ("*/*", 200),
        ("text/html,application/xhtml+xml,*/*;q=0.8", 200),
        ("application/taxii+json;version=2.0", 406),
        ("application/xml", 406),
    ],
)
def test_content_negotiation(live_node: LiveNode, accept: str, status: int) -> None:
    response = httpx.get(
        live_node.objects_url("intel"),
        headers={"Accept": accept},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    if status == 200:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == TAXII
    else:
        assert_taxii_error(response, status)


@pytest.mark.parametrize(
    "content_type", ["application/json", "text/plain", "application/stix+json;version=2.1"]
)
def test_wrong_content_type_is_415(live_node: LiveNode, content_type: str) -> None:
    response = httpx.post(
        live_node.objects_url("intel"),
        content=b'{"objects": []}',
        headers={"Content-Type": content_type},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    assert_taxii_error(response, 415)


def test_oversized_body_is_413(live_node: LiveNode) -> None:
    limit = httpx.get(
        f"{live_node.url}/taxii2/kizuna/", auth=("kizuna", live_node.tokens["ncsc"])
    ).json()["max_content_length"]
    response = httpx.post(
        live_node.objects_url("intel"),
        content=b" " * (limit + 1),
        headers={"Content-Type": TAXII},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    assert_taxii_error(response, 413)

    def chunks() -> object:
        # No Content-Length: the server must count as it reads.
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = httpx.post(
        live_node.objects_url("intel"),
        content=chunks(),  # type: ignore[arg-type]
        headers={"Content-Type": TAXII},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    assert_taxii_error(streamed, 413)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "TAXII envelope"),
        (b'{"objects": {"a": 1}}', "must be a list"),
    ],
)
def test_malformed_envelopes_are_400(live_node: LiveNode, body: bytes, fragment: str) -> None:
    response = httpx.post(
        live_node.objects_url("intel"),
        content=body,
        headers={"Content-Type": TAXII},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    assert fragment in str(assert_taxii_error(response, 400)["description"])


@pytest.mark.parametrize(
    "params",
    [
        {"added_after": "yesterday"},
        {"limit": "-3"},
        {"limit": "many"},
        {"match[version]": "2026-13-45T00:00:00Z"},
        {"next": "forged.cursor"},
    ],
)
def test_bad_filters_are_400(live_node: LiveNode, params: dict[str, str]) -> None:
    response = httpx.get(
        live_node.objects_url("intel"), params=params, auth=("kizuna", live_node.tokens["ncsc"])
    )
    assert_taxii_error(response, 400)


def test_a_cursor_cannot_be_replayed_by_another_org_or_query(live_node: LiveNode) -> None:
    url = live_node.objects_url("intel")
    envelope = {"objects": [_indicator(n) for n in range(3)]}
    posted = httpx.post(
        url,
        content=json.dumps(envelope),
        headers={"Content-Type": TAXII},
        auth=("k", live_node.tokens["ncsc"]),
    )
    assert posted.json()["success_count"] == 3
    first = httpx.get(url, params={"limit": 1}, auth=("kizuna", live_node.tokens["ncsc"])).json()
    assert first["more"] is True
    stolen = httpx.get(
        url, params={"next": first["next"]}, auth=("kizuna", live_node.tokens["water"])
    )
    assert_taxii_error(stolen, 400)
    other_query = httpx.get(
        url,
        params={"next": first["next"], "match[type]": "malware"},
        auth=("kizuna", live_node.tokens["ncsc"]),
    )
    assert_taxii_error(other_query, 400)


def test_unknown_paths_and_methods_answer_in_taxii_json(live_node: LiveNode) -> None:
    assert_taxii_error(
        httpx.get(f"{live_node.url}/taxii2/nowhere/", auth=("k", live_node.tokens["ncsc"])), 404
    )
    assert_taxii_error(
        httpx.put(live_node.objects_url("intel"), auth=("k", live_node.tokens["ncsc"])), 405
    )


def test_revoked_token_is_refused_at_once(live_node: LiveNode) -> None:
    from tests.e2e.server import kizuna

    token = kizuna(live_node.env, "token", "create", "--org", "NCSC", "--role", "reader")
    url = live_node.objects_url("intel")
    assert httpx.get(url, auth=("k", token)).status_code == 200
    kizuna(live_node.env, "token", "revoke", token)
    assert_taxii_error(httpx.get(url, auth=("k", token)), 401)
