"""Adversarial access tests: every attack asserts the SAFE behaviour, so a test fails when
the node leaks. Four leaks this file first found (delete without read access, SCO and
audience-marking ownership oracles) are fixed; their tests now pass.

The node is driven over HTTP (TestClient) with orgs, tokens, collections and grants made
through the services, on SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.service import Org
from kizuna.access.subject import Role
from kizuna.access.tlp import (
    TLP1_MARKINGS,
    TLP2_MARKINGS,
    TLP_EXTENSION_ID,
    Tlp,
    audience_marking,
    tlp2_marking_definition,
)
from kizuna.api.app import create_app
from kizuna.api.context import Node
from kizuna.config import Settings
from kizuna.db.engine import write_transaction
from kizuna.stix.timestamps import now_micros
from kizuna.store import collections as store_collections

ROOT = "/taxii2/kizuna"
TAXII = "application/taxii+json;version=2.1"


def _stamp(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000Z"


@dataclass
class World:
    engine: Engine
    client: TestClient
    orgs: dict[str, Org] = field(default_factory=dict)

    # -- set-up through the services --------------------------------------------------------

    def org(self, name: str, *, remote: bool = False) -> Org:
        with write_transaction(self.engine) as conn:
            found = service.add_org(
                conn, name=f"{name}-{uuid.uuid4().hex[:6]}", country="GB", remote=remote
            )
        self.orgs[name] = found
        return found

    def token(self, org: Org, role: Role = Role.ANALYST, *, expires_us: int | None = None) -> str:
        with write_transaction(self.engine) as conn:
            return service.create_token(conn, org=org, role=role, expires_us=expires_us)

    def collection(
        self,
        *,
        default_tlp: Tlp = Tlp.AMBER,
        public: bool = False,
        grants: Iterable[tuple[Org, bool, bool]] = (),
        role_grants: Iterable[tuple[Role, bool, bool]] = (),
    ) -> str:
        with write_transaction(self.engine) as conn:
            cid = store_collections.add_collection(
                conn, title=f"c-{uuid.uuid4().hex[:6]}", default_tlp=default_tlp, public=public
            )
            for org, read, write in grants:
                store_collections.grant(
                    conn, collection_id=cid, org_id=org.id, read=read, write=write
                )
            for role, read, write in role_grants:
                store_collections.grant(conn, collection_id=cid, role=role, read=read, write=write)
        return cid

    # -- HTTP ---------------------------------------------------------------------------------

    @staticmethod
    def headers(token: str | None) -> dict[str, str]:
        headers = {"Accept": TAXII}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def post(self, token: str | None, cid: str, objects: list[dict[str, object]]) -> dict:
        response = self.client.post(
            f"{ROOT}/collections/{cid}/objects/",
            content=orjson.dumps({"objects": objects}),
            headers={**self.headers(token), "Content-Type": TAXII},
        )
        assert response.status_code == 202, response.text
        return response.json()

    def must_post(self, token: str, cid: str, objects: list[dict[str, object]]) -> dict:
        status = self.post(token, cid, objects)
        assert status["failure_count"] == 0, status
        return status

    def get(self, token: str | None, path: str, **params: str) -> object:
        return self.client.get(f"{ROOT}{path}", params=params, headers=self.headers(token))

    def delete(self, token: str | None, path: str, **params: str) -> object:
        return self.client.delete(f"{ROOT}{path}", params=params, headers=self.headers(token))


@pytest.fixture
def w(engine: Engine) -> World:
    app = create_app(Settings(), node=Node(settings=Settings(), engine=engine, secret=b"k"))
    return World(engine=engine, client=TestClient(app))


def indicator(
    owner: Org,
    *,
    tlp: Tlp | None = None,
    audience: Iterable[Org] = (),
    stix_id: str | None = None,
    modified: str = _stamp(1),
    markings: Iterable[str] = (),
    value: str = "198.51.100.1",
) -> list[dict[str, object]]:
    """An indicator by `owner`, preceded by its audience marking when it has one."""
    refs: list[str] = [TLP2_MARKINGS[tlp]] if tlp is not None else []
    refs.extend(markings)
    extra: list[dict[str, object]] = []
    members = [o.identity_id for o in audience]
    if members:
        marking = audience_marking(members)
        refs.append(str(marking["id"]))
        extra.append(marking)
    obj: dict[str, object] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": stix_id or f"indicator--{uuid.uuid4()}",
        "created": _stamp(1),
        "modified": modified,
        "created_by_ref": owner.identity_id,
        "pattern": f"[ipv4-addr:value = '{value}']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
    }
    if refs:
        obj["object_marking_refs"] = refs
    return [*extra, obj]


def relationship(
    owner: Org, source: str, target: str, *, tlp: Tlp | None = Tlp.GREEN
) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": _stamp(1),
        "modified": _stamp(1),
        "created_by_ref": owner.identity_id,
        "relationship_type": "indicates",
        "source_ref": source,
        "target_ref": target,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP2_MARKINGS[tlp]]
    return obj


def malware(owner: Org, *, tlp: Tlp | None = Tlp.GREEN) -> dict[str, object]:
    obj: dict[str, object] = {
        "type": "malware",
        "spec_version": "2.1",
        "id": f"malware--{uuid.uuid4()}",
        "created": _stamp(1),
        "modified": _stamp(1),
        "created_by_ref": owner.identity_id,
        "name": "evil",
        "is_family": True,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [TLP2_MARKINGS[tlp]]
    return obj


def ids_of(response: object) -> set[str]:
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    return {o["id"] for o in response.json().get("objects", [])}  # type: ignore[attr-defined]


def everything_text(w: World, token: str | None, cid: str) -> str:
    """Every read endpoint's answer for the collection, concatenated (for 'is X in here')."""
    parts: list[str] = []
    for path in ("/collections/", f"/collections/{cid}/", f"/collections/{cid}/objects/"):
        parts.append(w.get(token, path, **{"match[version]": "all"}).text)  # type: ignore[attr-defined]
    parts.append(w.get(token, f"/collections/{cid}/manifest/", **{"match[version]": "all"}).text)  # type: ignore[attr-defined]
    return "\n".join(parts)


# -- a standard little world ---------------------------------------------------------------


@dataclass
class Shared:
    owner: Org
    other: Org
    peer: Org
    owner_token: str
    other_token: str
    peer_token: str
    cid: str


def shared(w: World, *, default_tlp: Tlp = Tlp.AMBER, public: bool = False) -> Shared:
    """Owner and another local org (read+write), and a remote peer (read+write)."""
    owner, other, peer = w.org("owner"), w.org("other"), w.org("peer", remote=True)
    cid = w.collection(
        default_tlp=default_tlp,
        public=public,
        grants=[(owner, True, True), (other, True, True), (peer, True, True)],
    )
    return Shared(
        owner=owner,
        other=other,
        peer=peer,
        owner_token=w.token(owner),
        other_token=w.token(other),
        peer_token=w.token(peer, Role.PEER),
        cid=cid,
    )


# == 1. Reads with every filter ==============================================================


def test_red_object_is_invisible_to_other_org_under_every_filter(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    rid = str(red["id"])
    base = f"/collections/{s.cid}"
    for params in (
        {},
        {"match[version]": "all"},
        {"match[version]": "first"},
        {"match[version]": "last"},
        {"match[version]": "first,last,all"},
        {"match[version]": _stamp(1)},
        {"match[id]": rid},
        {"match[type]": "indicator"},
        {"match[spec_version]": "2.1"},
        {"added_after": "2000-01-01T00:00:00.000Z"},
        {"limit": "1"},
    ):
        for path in (f"{base}/objects/", f"{base}/manifest/"):
            r = w.get(s.other_token, path, **params)
            assert rid not in r.text, (path, params)  # type: ignore[attr-defined]
            assert "X-TAXII-Date-Added-First" not in r.headers  # type: ignore[attr-defined]
        one = w.get(s.other_token, f"{base}/objects/{rid}/", **params)
        assert one.status_code == 404  # type: ignore[attr-defined]
        versions = w.get(s.other_token, f"{base}/objects/{rid}/versions/", **params)
        assert versions.status_code == 404  # type: ignore[attr-defined]


def test_404_for_hidden_object_is_identical_to_missing_object(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    missing = f"indicator--{uuid.uuid4()}"
    for suffix in ("/", "/versions/"):
        hidden = w.get(s.other_token, f"/collections/{s.cid}/objects/{red['id']}{suffix}")
        absent = w.get(s.other_token, f"/collections/{s.cid}/objects/{missing}{suffix}")
        assert hidden.status_code == absent.status_code == 404  # type: ignore[attr-defined]
        assert hidden.json()["description"].replace(str(red["id"]), "X") == absent.json()[  # type: ignore[attr-defined]
            "description"
        ].replace(missing, "X")


def test_more_flag_does_not_count_hidden_rows_after_the_page(w: World) -> None:
    s = shared(w)
    green = indicator(s.owner, tlp=Tlp.GREEN)[-1]
    w.must_post(s.owner_token, s.cid, [green])
    for _ in range(3):
        w.must_post(s.owner_token, s.cid, [indicator(s.owner, tlp=Tlp.RED)[-1]])
    for path in ("objects", "manifest"):
        r = w.get(s.other_token, f"/collections/{s.cid}/{path}/", limit="1")
        body = r.json()  # type: ignore[attr-defined]
        assert body.get("more") is False, (path, body)
        assert "next" not in body
    versions = w.get(
        s.other_token, f"/collections/{s.cid}/objects/{green['id']}/versions/", limit="1"
    )
    assert versions.json()["more"] is False  # type: ignore[attr-defined]


def test_paging_never_returns_hidden_rows_between_visible_ones(w: World) -> None:
    s = shared(w)
    visible: set[str] = set()
    for i in range(6):
        obj = indicator(s.owner, tlp=Tlp.GREEN if i % 2 == 0 else Tlp.RED)[-1]
        w.must_post(s.owner_token, s.cid, [obj])
        if i % 2 == 0:
            visible.add(str(obj["id"]))
    seen: set[str] = set()
    params = {"limit": "1"}
    for _ in range(10):
        r = w.get(s.other_token, f"/collections/{s.cid}/objects/", **params)
        body = r.json()  # type: ignore[attr-defined]
        seen |= {o["id"] for o in body.get("objects", [])}
        if not body.get("more"):
            break
        params = {"limit": "1", "next": body["next"]}
    assert seen == visible


def test_cursor_from_owner_cannot_be_replayed_by_another_org(w: World) -> None:
    s = shared(w)
    for _ in range(3):
        w.must_post(s.owner_token, s.cid, [indicator(s.owner, tlp=Tlp.RED)[-1]])
    first = w.get(s.owner_token, f"/collections/{s.cid}/objects/", limit="1").json()  # type: ignore[attr-defined]
    assert first["more"] is True
    replay = w.get(s.other_token, f"/collections/{s.cid}/objects/", limit="1", next=first["next"])
    assert replay.status_code == 400  # type: ignore[attr-defined]


def test_cursor_from_another_collection_or_endpoint_is_refused(w: World) -> None:
    s = shared(w)
    cid2 = w.collection(grants=[(s.owner, True, True), (s.other, True, True)])
    for _ in range(3):
        w.must_post(s.other_token, cid2, [indicator(s.other, tlp=Tlp.GREEN)[-1]])
        w.must_post(s.owner_token, s.cid, [indicator(s.owner, tlp=Tlp.RED)[-1]])
    page = w.get(s.other_token, f"/collections/{cid2}/objects/", limit="1").json()  # type: ignore[attr-defined]
    token = page["next"]
    for path in (f"/collections/{s.cid}/objects/", f"/collections/{cid2}/manifest/"):
        r = w.get(s.other_token, path, limit="1", next=token)
        assert r.status_code == 400, path  # type: ignore[attr-defined]


def test_forged_cursor_with_early_timestamp_is_refused(w: World) -> None:
    s = shared(w)
    payload = base64.urlsafe_b64encode(orjson.dumps({"a": 0, "q": "x"})).rstrip(b"=").decode()
    for forged in (payload + ".AAAA", payload, "." + payload, "", "a.b.c"):
        r = w.get(s.other_token, f"/collections/{s.cid}/objects/", next=forged)
        assert r.status_code == 400, forged  # type: ignore[attr-defined]


def test_get_object_with_next_does_not_reveal_hidden_object(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    r = w.get(s.other_token, f"/collections/{s.cid}/objects/{red['id']}/", next="x.y")
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert "indicator" not in r.text.replace(str(red["id"]), "")  # type: ignore[attr-defined]


# == 2. Versions ===============================================================================


def test_last_version_red_hides_it_while_green_first_stays(w: World) -> None:
    s = shared(w)
    green = indicator(s.owner, tlp=Tlp.GREEN)[-1]
    red = {**green, "modified": _stamp(2), "object_marking_refs": [TLP2_MARKINGS[Tlp.RED]]}
    w.must_post(s.owner_token, s.cid, [green, red])
    base = f"/collections/{s.cid}/objects/{green['id']}"
    for params in ({"match[version]": "all"}, {"match[version]": "last"}, {}):
        r = w.get(s.other_token, f"{base}/", **params)
        if r.status_code == 200:  # type: ignore[attr-defined]
            assert all(o["modified"] == _stamp(1) for o in r.json()["objects"])  # type: ignore[attr-defined]
    assert w.get(s.other_token, f"{base}/versions/").json()["versions"] == [_stamp(1)]  # type: ignore[attr-defined]
    exact = w.get(s.other_token, f"{base}/", **{"match[version]": _stamp(2)})
    assert exact.status_code == 404  # type: ignore[attr-defined]


def test_other_org_cannot_add_a_green_version_of_a_red_object(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    forged = {
        **red,
        "modified": _stamp(3),
        "created_by_ref": s.other.identity_id,
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
    }
    status = w.post(s.other_token, s.cid, [forged])
    assert status["success_count"] == 0
    # and neither can a relaying peer
    status = w.post(s.peer_token, s.cid, [forged])
    assert status["success_count"] == 0
    assert str(red["id"]) not in w.get(s.other_token, f"/collections/{s.cid}/objects/").text  # type: ignore[attr-defined]


def test_older_modified_green_version_does_not_expose_newer_red_body(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED, modified=_stamp(5), value="203.0.113.66")[-1]
    w.must_post(s.owner_token, s.cid, [red])
    older = {
        **red,
        "modified": _stamp(2),
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
    }
    w.must_post(s.owner_token, s.cid, [older])
    text = everything_text(w, s.other_token, s.cid)
    assert "203.0.113.66" not in text
    first = w.get(s.other_token, f"/collections/{s.cid}/objects/", **{"match[version]": "first"})
    assert all(o["modified"] == _stamp(2) for o in first.json().get("objects", []))  # type: ignore[attr-defined]


# == 3. Marking tricks at ingest ===============================================================


def test_redefining_a_tlp2_id_as_clear_does_not_downgrade_red(w: World) -> None:
    s = shared(w)
    fake = tlp2_marking_definition(Tlp.CLEAR)
    fake["id"] = TLP2_MARKINGS[Tlp.RED]
    fake["created_by_ref"] = s.other.identity_id
    w.post(s.other_token, s.cid, [fake])
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    assert str(red["id"]) not in everything_text(w, s.other_token, s.cid)
    assert str(red["id"]) not in everything_text(w, s.peer_token, s.cid)


def test_custom_marking_cannot_be_redefined_after_use(w: World) -> None:
    s = shared(w)
    mid = f"marking-definition--{uuid.uuid4()}"
    amber = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": mid,
        "created": _stamp(1),
        "created_by_ref": s.owner.identity_id,
        "name": "our amber",
        "extensions": {
            TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "amber"}
        },
    }
    obj = indicator(s.owner, markings=[mid])[-1]
    w.must_post(s.owner_token, s.cid, [amber, obj])
    clear = {
        **amber,
        "created": _stamp(2),
        "created_by_ref": s.other.identity_id,
        "extensions": {
            TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "clear"}
        },
    }
    status = w.post(s.other_token, s.cid, [clear])
    assert status["success_count"] == 0
    later = indicator(s.owner, markings=[mid])[-1]
    w.must_post(s.owner_token, s.cid, [later])
    assert str(later["id"]) not in everything_text(w, s.other_token, s.cid)


def test_audience_marking_with_forged_id_is_refused(w: World) -> None:
    s = shared(w)
    # An audience naming `other`, presented under the id of the audience {owner}.
    real_id = audience_marking([s.owner.identity_id])["id"]
    forged = audience_marking([s.other.identity_id])
    forged["id"] = real_id
    status = w.post(s.other_token, s.cid, [forged])
    assert status["success_count"] == 0


def test_pre_registered_audience_marking_cannot_widen_audience(w: World) -> None:
    s = shared(w)
    # `other` registers, first, the audience marking {owner} with a CLEAR label mixed in.
    crafted = audience_marking([s.owner.identity_id])
    crafted["extensions"][TLP_EXTENSION_ID] = {  # type: ignore[index]
        "extension_type": "property-extension",
        "tlp_2_0": "clear",
    }
    w.post(s.other_token, s.cid, [crafted])
    # The owner then marks an AMBER object for its own audience, referring to the id.
    obj = indicator(s.owner, tlp=Tlp.AMBER)[-1]
    obj["object_marking_refs"] = [TLP2_MARKINGS[Tlp.AMBER], crafted["id"]]
    w.post(s.owner_token, s.cid, [obj])
    assert str(obj["id"]) not in everything_text(w, s.other_token, s.cid)
    assert str(obj["id"]) not in everything_text(w, s.peer_token, s.cid)


def test_object_marked_clear_and_red_is_red(w: World) -> None:
    s = shared(w, public=True)
    obj = indicator(s.owner, tlp=Tlp.CLEAR, markings=[TLP2_MARKINGS[Tlp.RED]])[-1]
    w.must_post(s.owner_token, s.cid, [obj])
    for token in (s.other_token, s.peer_token, None):
        assert str(obj["id"]) not in everything_text(w, token, s.cid)


def test_granular_red_marking_restricts_whole_object(w: World) -> None:
    s = shared(w, public=True)
    obj = indicator(s.owner, tlp=Tlp.CLEAR)[-1]
    obj["granular_markings"] = [
        {"marking_ref": TLP2_MARKINGS[Tlp.RED], "selectors": ["pattern"]},
    ]
    w.must_post(s.owner_token, s.cid, [obj])
    for token in (s.other_token, s.peer_token, None):
        assert str(obj["id"]) not in everything_text(w, token, s.cid)


def test_tlp1_red_and_amber_ids_are_enforced(w: World) -> None:
    s = shared(w, public=True)
    red = indicator(s.owner, markings=[TLP1_MARKINGS[Tlp.RED]])[-1]
    amber = indicator(s.owner, markings=[TLP1_MARKINGS[Tlp.AMBER]])[-1]
    white = indicator(s.owner, markings=[TLP1_MARKINGS[Tlp.CLEAR]])[-1]
    w.must_post(s.owner_token, s.cid, [red, amber, white])
    other = everything_text(w, s.other_token, s.cid)
    assert str(red["id"]) not in other
    assert str(amber["id"]) not in other
    anonymous = everything_text(w, None, s.cid)
    assert str(white["id"]) in anonymous
    assert str(red["id"]) not in anonymous
    assert str(amber["id"]) not in anonymous


def test_unknown_marking_is_refused_not_ignored(w: World) -> None:
    s = shared(w)
    obj = indicator(s.owner, tlp=Tlp.GREEN, markings=[f"marking-definition--{uuid.uuid4()}"])[-1]
    status = w.post(s.owner_token, s.cid, [obj])
    assert status["success_count"] == 0


def test_two_audiences_mean_intersection(w: World) -> None:
    s = shared(w)
    third = w.org("third")
    with write_transaction(w.engine) as conn:
        store_collections.grant(conn, collection_id=s.cid, org_id=third.id, read=True)
    third_token = w.token(third)
    a1 = audience_marking([s.other.identity_id, third.identity_id])
    a2 = audience_marking([s.other.identity_id])
    obj = indicator(s.owner, tlp=Tlp.AMBER)[-1]
    obj["object_marking_refs"] = [TLP2_MARKINGS[Tlp.AMBER], a1["id"], a2["id"]]
    w.must_post(s.owner_token, s.cid, [a1, a2, obj])
    assert str(obj["id"]) in everything_text(w, s.other_token, s.cid)
    assert str(obj["id"]) not in everything_text(w, third_token, s.cid)


# == 4. Audience and external readers ========================================================


def test_red_with_audience_never_goes_to_peer_or_remote(w: World) -> None:
    s = shared(w)
    local_peer_token = w.token(s.other, Role.PEER)
    red = indicator(s.owner, tlp=Tlp.RED, audience=[s.other, s.peer])
    w.must_post(s.owner_token, s.cid, red)
    rid = str(red[-1]["id"])
    assert rid in everything_text(w, s.other_token, s.cid)
    assert rid not in everything_text(w, local_peer_token, s.cid)
    assert rid not in everything_text(w, s.peer_token, s.cid)
    remote_analyst = w.token(s.peer, Role.ANALYST)
    assert rid not in everything_text(w, remote_analyst, s.cid)


def test_owner_peer_token_does_not_read_own_red_or_unmarked(w: World) -> None:
    s = shared(w, default_tlp=Tlp.CLEAR)
    owner_peer = w.token(s.owner, Role.PEER)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    unmarked = indicator(s.owner)[-1]
    w.must_post(s.owner_token, s.cid, [red, unmarked])
    text = everything_text(w, owner_peer, s.cid)
    assert str(red["id"]) not in text
    assert str(unmarked["id"]) not in text


def test_unmarked_in_clear_public_collection_hidden_from_external(w: World) -> None:
    s = shared(w, default_tlp=Tlp.CLEAR, public=True)
    unmarked = indicator(s.owner)[-1]
    w.must_post(s.owner_token, s.cid, [unmarked])
    assert str(unmarked["id"]) in everything_text(w, s.other_token, s.cid)
    for token in (None, s.peer_token):
        assert str(unmarked["id"]) not in everything_text(w, token, s.cid)


def test_anonymous_sees_only_clear_in_public_collection(w: World) -> None:
    s = shared(w, default_tlp=Tlp.CLEAR, public=True)
    clear = indicator(s.owner, tlp=Tlp.CLEAR)[-1]
    green = indicator(s.owner, tlp=Tlp.GREEN)[-1]
    w.must_post(s.owner_token, s.cid, [clear, green])
    got = ids_of(w.get(None, f"/collections/{s.cid}/objects/", **{"match[version]": "all"}))
    assert got == {str(clear["id"])}
    private = w.collection(grants=[(s.owner, True, True)])
    for path in (f"/collections/{private}/", f"/collections/{private}/objects/"):
        assert w.get(None, path).status_code == 401  # type: ignore[attr-defined]
    assert w.get(None, f"/collections/{uuid.uuid4()}/").status_code == 401  # type: ignore[attr-defined]


# == 5. References =============================================================================


def test_relationship_to_hidden_object_is_hidden(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    evil = malware(s.owner)
    rel = relationship(s.owner, str(red["id"]), str(evil["id"]))
    w.must_post(s.owner_token, s.cid, [red, evil, rel])
    text = everything_text(w, s.other_token, s.cid)
    assert str(rel["id"]) not in text
    assert str(red["id"]) not in text
    assert str(evil["id"]) in text


def test_relationship_ref_in_unreadable_collection_is_hidden(w: World) -> None:
    s = shared(w)
    secret_cid = w.collection(grants=[(s.owner, True, True)])
    green_elsewhere = indicator(s.owner, tlp=Tlp.GREEN)[-1]
    w.must_post(s.owner_token, secret_cid, [green_elsewhere])
    evil = malware(s.owner)
    rel = relationship(s.owner, str(green_elsewhere["id"]), str(evil["id"]))
    w.must_post(s.owner_token, s.cid, [evil, rel])
    assert str(rel["id"]) not in everything_text(w, s.other_token, s.cid)


def test_sighting_of_hidden_object_is_hidden(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    sighting = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid4()}",
        "created": _stamp(1),
        "modified": _stamp(1),
        "created_by_ref": s.owner.identity_id,
        "sighting_of_ref": red["id"],
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
    }
    w.must_post(s.owner_token, s.cid, [red, sighting])
    assert str(sighting["id"]) not in everything_text(w, s.other_token, s.cid)


# == 6. Collections, status, auth ============================================================


def test_collection_list_hides_ungranted_collections(w: World) -> None:
    s = shared(w)
    hidden = w.collection(grants=[(s.owner, True, True)])
    listing = w.get(s.other_token, "/collections/").text  # type: ignore[attr-defined]
    assert hidden not in listing
    r = w.get(s.other_token, f"/collections/{hidden}/")
    missing = w.get(s.other_token, f"/collections/{uuid.uuid4()}/")
    assert r.status_code == missing.status_code == 404  # type: ignore[attr-defined]
    post = w.client.post(
        f"{ROOT}/collections/{hidden}/objects/",
        content=b'{"objects":[]}',
        headers={**w.headers(s.other_token), "Content-Type": TAXII},
    )
    assert post.status_code == 404


def test_status_of_another_org_is_not_found(w: World) -> None:
    s = shared(w)
    status = w.must_post(s.owner_token, s.cid, [indicator(s.owner, tlp=Tlp.RED)[-1]])
    for token in (s.other_token, s.peer_token):
        r = w.get(token, f"/status/{status['id']}/")
        assert r.status_code == 404  # type: ignore[attr-defined]
        assert "successes" not in r.text  # type: ignore[attr-defined]
    assert w.get(None, f"/status/{status['id']}/").status_code == 401  # type: ignore[attr-defined]


def test_revoked_and_expired_tokens_are_anonymous_at_best(w: World) -> None:
    s = shared(w, default_tlp=Tlp.CLEAR)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    revoked = w.token(s.owner)
    with write_transaction(w.engine) as conn:
        service.revoke_token(conn, token=revoked)
    expired = w.token(s.owner, expires_us=now_micros() - 1)
    for token in (revoked, expired):
        for path in (
            f"/collections/{s.cid}/objects/",
            f"/collections/{s.cid}/objects/{red['id']}/",
        ):
            r = w.get(token, path)
            assert r.status_code == 401, path  # type: ignore[attr-defined]
            assert str(red["id"]) not in r.text.replace(path, "")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + base64.b64encode(b"kz_nothing").decode(),
        "Basic " + base64.b64encode(b"user:").decode(),
        "Basic " + base64.b64encode(b":").decode(),
        "Basic !!!",
        "Bearer",
        "Bearer ",
        "",
        "Token kz_abc",
        "Bearer kz_" + "a" * 300,
        "Basic " + base64.b64encode(b"user:kz_wrong").decode(),
    ],
)
def test_malformed_credentials_are_401_not_anonymous(w: World, header: str) -> None:
    s = shared(w, default_tlp=Tlp.CLEAR, public=True)
    clear = indicator(s.owner, tlp=Tlp.CLEAR)[-1]
    w.must_post(s.owner_token, s.cid, [clear])
    r = w.client.get(
        f"{ROOT}/collections/{s.cid}/objects/", headers={"Accept": TAXII, "Authorization": header}
    )
    assert r.status_code == 401


def test_basic_auth_with_token_as_username_only_is_refused(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    header = "Basic " + base64.b64encode(f"{s.owner_token}:".encode()).decode()
    r = w.client.get(
        f"{ROOT}/collections/{s.cid}/objects/", headers={"Accept": TAXII, "Authorization": header}
    )
    assert r.status_code == 401
    good = "Basic " + base64.b64encode(f"x:{s.other_token}".encode()).decode()
    r = w.client.get(
        f"{ROOT}/collections/{s.cid}/objects/", headers={"Accept": TAXII, "Authorization": good}
    )
    assert str(red["id"]) not in r.text


# == 7. Delete =================================================================================


def test_delete_of_hidden_object_is_404_like_missing(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    admin = w.token(s.other, Role.ADMIN)
    for token in (s.other_token, admin, s.peer_token):
        hidden = w.delete(token, f"/collections/{s.cid}/objects/{red['id']}/")
        absent = w.delete(token, f"/collections/{s.cid}/objects/indicator--{uuid.uuid4()}/")
        assert hidden.status_code == absent.status_code == 404  # type: ignore[attr-defined]
    assert w.get(s.owner_token, f"/collections/{s.cid}/objects/{red['id']}/").status_code == 200  # type: ignore[attr-defined]


def test_delete_of_hidden_version_is_404(w: World) -> None:
    s = shared(w)
    green = indicator(s.owner, tlp=Tlp.GREEN)[-1]
    red = {**green, "modified": _stamp(2), "object_marking_refs": [TLP2_MARKINGS[Tlp.RED]]}
    w.must_post(s.owner_token, s.cid, [green, red])
    admin = w.token(s.other, Role.ADMIN)
    r = w.delete(
        admin, f"/collections/{s.cid}/objects/{green['id']}/", **{"match[version]": _stamp(2)}
    )
    assert r.status_code == 404  # type: ignore[attr-defined]
    versions = w.get(s.owner_token, f"/collections/{s.cid}/objects/{green['id']}/versions/")
    assert _stamp(2) in versions.json()["versions"]  # type: ignore[attr-defined]


def test_write_only_org_cannot_probe_objects_with_delete(w: World) -> None:
    owner, writer = w.org("owner"), w.org("writer")
    inbox = w.collection(grants=[(owner, True, True), (writer, False, True)])
    owner_token, writer_token = w.token(owner), w.token(writer)
    green = indicator(owner, tlp=Tlp.GREEN)[-1]
    w.must_post(owner_token, inbox, [green])
    assert w.get(writer_token, f"/collections/{inbox}/objects/").status_code == 403  # type: ignore[attr-defined]
    hidden = w.delete(writer_token, f"/collections/{inbox}/objects/{green['id']}/")
    absent = w.delete(writer_token, f"/collections/{inbox}/objects/indicator--{uuid.uuid4()}/")
    assert hidden.status_code == absent.status_code  # type: ignore[attr-defined]


def test_write_only_admin_cannot_delete_unreadable_objects(w: World) -> None:
    owner, writer = w.org("owner"), w.org("writer")
    inbox = w.collection(grants=[(owner, True, True), (writer, False, True)])
    owner_token, admin = w.token(owner), w.token(writer, Role.ADMIN)
    green = indicator(owner, tlp=Tlp.GREEN)[-1]
    w.must_post(owner_token, inbox, [green])
    w.delete(admin, f"/collections/{inbox}/objects/{green['id']}/")
    assert w.get(owner_token, f"/collections/{inbox}/objects/{green['id']}/").status_code == 200  # type: ignore[attr-defined]


# == 8. POST responses as oracles ==============================================================


def _ipv4(value: str, marking: str | None) -> dict[str, object]:
    # STIX 2.1 SCO ids are UUIDv5 of the contributing properties: anyone can compute them.
    sco_uuid = uuid.uuid5(
        uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7"), orjson.dumps({"value": value}).decode()
    )
    obj: dict[str, object] = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": f"ipv4-addr--{sco_uuid}",
        "value": value,
    }
    if marking is not None:
        obj["object_marking_refs"] = [marking]
    return obj


def test_post_does_not_reveal_hidden_sco_by_deterministic_id(w: World) -> None:
    owner, spy = w.org("owner"), w.org("spy")
    secret_cid = w.collection(grants=[(owner, True, True)])
    spy_cid = w.collection(grants=[(spy, True, True)])
    owner_token, spy_token = w.token(owner), w.token(spy)
    w.must_post(owner_token, secret_cid, [_ipv4("203.0.113.7", TLP2_MARKINGS[Tlp.RED])])
    tracked = w.post(spy_token, spy_cid, [_ipv4("203.0.113.7", None)])
    untracked = w.post(spy_token, spy_cid, [_ipv4("203.0.113.8", None)])
    # Safe: the answer does not depend on what other orgs stored where the spy cannot read.
    assert tracked["success_count"] == untracked["success_count"]


def test_post_does_not_reveal_hidden_audience_marking(w: World) -> None:
    a, b, spy = w.org("a"), w.org("b"), w.org("spy")
    private = w.collection(grants=[(a, True, True), (b, True, False)])
    spy_cid = w.collection(grants=[(spy, True, True)])
    w.must_post(w.token(a), private, indicator(a, tlp=Tlp.AMBER, audience=[a, b]))
    spy_token = w.token(spy)

    def probe(members: list[Org]) -> int:
        variant = audience_marking(o.identity_id for o in members)
        variant["name"] = "probe"
        return int(w.post(spy_token, spy_cid, [variant])["success_count"])

    c = w.org("c")
    assert probe([a, b]) == probe([a, c])


def test_post_status_does_not_echo_hidden_object_content(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED, value="203.0.113.99")[-1]
    w.must_post(s.owner_token, s.cid, [red])
    forged = {
        **red,
        "created_by_ref": s.other.identity_id,
        "pattern": "[ipv4-addr:value = '1.1.1.1']",
    }
    status = w.post(s.other_token, s.cid, [forged])
    assert status["success_count"] == 0
    assert "203.0.113.99" not in orjson.dumps(status).decode()


def test_relationship_by_spy_does_not_make_hidden_target_visible(w: World) -> None:
    s = shared(w)
    red = indicator(s.owner, tlp=Tlp.RED)[-1]
    w.must_post(s.owner_token, s.cid, [red])
    evil = malware(s.other)
    rel = relationship(s.other, str(red["id"]), str(evil["id"]))
    w.post(s.other_token, s.cid, [evil, rel])
    text = everything_text(w, s.other_token, s.cid)
    assert str(rel["id"]) not in text
    assert w.get(s.other_token, f"/collections/{s.cid}/objects/{red['id']}/").status_code == 404  # type: ignore[attr-defined]
