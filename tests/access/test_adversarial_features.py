"""Adversarial tests of the REST read paths added with incidents, assistance, attribution,
campaigns, hunts and peers: every attack asserts the SAFE behaviour, so a test fails when
the node leaks. Hidden things must answer exactly like missing ones (404, same body shape).

Leaks this file first found, now fixed (their tests pass):
- an incident or assistance request whose newest version the requester may no longer read
  was still shown (its older, readable version presented as current);
- a campaign entry could name an object (e.g. an attribution draft) that the campaign's
  readers may not read, so its id reached everyone who could read the campaign.

The node is driven in process over HTTP (TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from kizuna.access import service
from kizuna.access.models import tokens
from kizuna.access.service import Org
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.api.app import create_app
from kizuna.api.context import Node
from kizuna.config import Settings
from kizuna.db.engine import write_transaction
from kizuna.store import collections as store_collections
from kizuna.store.ingest import add_objects
from kizuna.store.models import hunt_jobs

API = "/api/v1"
STAMP = "2026-03-01T00:00:00.000Z"


@dataclass
class World:
    engine: Engine
    client: TestClient
    intel: str = ""
    public: str = ""
    orgs: dict[str, Org] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def org(self, key: str, *, remote: bool = False) -> Org:
        with write_transaction(self.engine) as conn:
            found = service.add_org(
                conn, name=f"{key}-{uuid.uuid4().hex[:6]}", country="GB", remote=remote
            )
        self.orgs[key] = found
        return found

    def token(self, key: str, role: Role = Role.ANALYST) -> str:
        with write_transaction(self.engine) as conn:
            return service.create_token(conn, org=self.orgs[key], role=role)

    def who(self, key: str, role: Role = Role.ANALYST) -> Subject:
        org = self.orgs[key]
        return Subject(org_id=org.id, identity_id=org.identity_id, role=role, remote=org.remote)

    def store(self, key: str, collection: str, objs: list[dict[str, Any]]) -> None:
        with write_transaction(self.engine) as conn:
            outcomes = add_objects(
                conn, subject=self.who(key), collection_id=collection, submitted=objs
            )
        assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]

    # -- HTTP ---------------------------------------------------------------------------------

    @staticmethod
    def auth(token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, token: str | None, path: str, **params: str) -> Any:
        return self.client.get(f"{API}{path}", params=params, headers=self.auth(token))

    def post(self, token: str | None, path: str, body: object) -> Any:
        return self.client.post(
            f"{API}{path}",
            content=orjson.dumps(body),
            headers={**self.auth(token), "Content-Type": "application/json"},
        )

    def ok(self, token: str | None, path: str, body: object) -> Any:
        response = self.post(token, path, body)
        assert response.status_code in (200, 201), response.text
        return response.json()


@pytest.fixture
def w(engine: Engine) -> World:
    app = create_app(Settings(), node=Node(settings=Settings(), engine=engine, secret=b"k"))
    world = World(engine=engine, client=TestClient(app))
    for key in ("uk", "fcdo", "water"):
        world.org(key)
    world.org("jp", remote=True)
    with write_transaction(engine) as conn:
        world.intel = store_collections.add_collection(conn, title="intel")
        world.public = store_collections.add_collection(
            conn, title="public", default_tlp=Tlp.CLEAR, public=True
        )
        for cid in (world.intel, world.public):
            for role in (Role.ANALYST, Role.ADMIN, Role.READER, Role.PEER):
                store_collections.grant(
                    conn, collection_id=cid, role=role, read=True, write=role is not Role.READER
                )
    for key in ("uk", "fcdo", "water"):
        world.tokens[key] = world.token(key)
        world.tokens[f"{key}-admin"] = world.token(key, Role.ADMIN)
        world.tokens[f"{key}-reader"] = world.token(key, Role.READER)
    world.tokens["jp"] = world.token("jp", Role.PEER)
    return world


def _same_404(hidden: Any, missing: Any, hidden_id: str, missing_id: str) -> None:
    """A hidden thing answers exactly as a missing one, apart from the id it was asked by."""
    assert hidden.status_code == missing.status_code == 404, (hidden.text, missing.text)
    assert hidden.headers["content-type"] == missing.headers["content-type"]
    assert hidden.text.replace(hidden_id, "X") == missing.text.replace(missing_id, "X")
    assert set(hidden.json()) == {"title", "description", "http_status"}


def _no_trace(response: Any) -> None:
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert set(response.json()) == {"title", "description", "http_status"}


# -- incidents ---------------------------------------------------------------------------------


def _incident(w: World, who: str = "uk", **extra: object) -> dict[str, Any]:
    body = {
        "collection": w.intel,
        "title": "SECRET-TITLE water plant ransomware",
        "category": 2,
        "country": "GB",
        "description": "SECRET-DESCRIPTION",
        "tlp": "TLP:AMBER",
        "audience": [w.orgs["fcdo"].name],
        **extra,
    }
    return dict(w.ok(w.tokens[who], "/incidents", body))


def _incident_world(w: World) -> dict[str, str]:
    """An AMBER incident of UK shared with FCDO, a note by FCDO, an assistance request to
    FCDO with its acknowledgement: Thames Water is outside all of it."""
    incident = _incident(w)
    note = w.ok(
        w.tokens["fcdo"],
        f"/incidents/{incident['id']}/notes",
        {"collection": w.intel, "content": "SECRET-NOTE"},
    )
    request = w.ok(
        w.tokens["uk"],
        "/assistance",
        {
            "collection": w.intel,
            "incident_id": incident["id"],
            "addressee": w.orgs["fcdo"].name,
            "needs": ["analysis"],
            "title": "SECRET-REQUEST",
        },
    )
    answer = w.ok(
        w.tokens["fcdo"],
        f"/assistance/{request['id']}/responses",
        {"collection": w.intel, "action": "acknowledge", "comment": "SECRET-COMMENT"},
    )
    return {
        "incident": incident["id"],
        "note": note["id"],
        "request": request["id"],
        "response": answer["id"],
    }


SECRETS = ("SECRET-",)


def _leaks(text: str, ids: dict[str, str]) -> list[str]:
    found = [s for s in SECRETS if s in text]
    found += [i for i in ids.values() if i in text]
    return found


def test_outsider_lists_no_incident_request_or_count(w: World) -> None:
    ids = _incident_world(w)
    for token in ("water", "water-admin", "water-reader", "jp"):
        for path in ("/incidents", "/assistance"):
            response = w.get(w.tokens[token], path, collection=w.intel)
            assert response.status_code == 200, response.text
            assert list(response.json().values()) == [[]], (token, path, response.text)
            assert not _leaks(response.text, ids)
    # The audience does see them (the attack above is meaningful).
    listed = w.get(w.tokens["fcdo-reader"], "/incidents", collection=w.intel).json()
    assert [i["id"] for i in listed["incidents"]] == [ids["incident"]]


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/{incident}",
        "/incidents/{incident}/timeline",
        "/incidents/{incident}/timeline?format=markdown",
        "/assistance/{request}",
    ],
)
def test_outsider_show_timeline_markdown_is_a_plain_404(w: World, path: str) -> None:
    ids = _incident_world(w)
    missing = {
        "incident": f"incident--{uuid.uuid4()}",
        "request": f"x-kizuna-assistance-request--{uuid.uuid4()}",
    }
    key = "incident" if "{incident}" in path else "request"
    for token in ("water", "water-reader", "jp"):
        hidden = w.client.get(
            API + path.format(**ids) + ("&" if "?" in path else "?") + f"collection={w.intel}",
            headers=w.auth(w.tokens[token]),
        )
        gone = w.client.get(
            API + path.format(**missing) + ("&" if "?" in path else "?") + f"collection={w.intel}",
            headers=w.auth(w.tokens[token]),
        )
        _same_404(hidden, gone, ids[key], missing[key])
        assert not _leaks(hidden.text.replace(ids[key], ""), ids)


def test_anonymous_and_bad_tokens_get_401_on_every_incident_read(w: World) -> None:
    ids = _incident_world(w)
    for path in (
        "/incidents",
        f"/incidents/{ids['incident']}",
        f"/incidents/{ids['incident']}/timeline",
        "/assistance",
        f"/assistance/{ids['request']}",
    ):
        for token in (None, "not-a-token"):
            response = w.get(token, path, collection=w.intel)
            assert response.status_code == 401, (path, response.text)
            _no_trace(response)
            assert not _leaks(response.text, ids)


def test_collection_the_requester_may_not_read_is_404_like_a_missing_one(w: World) -> None:
    ids = _incident_world(w)
    with write_transaction(w.engine) as conn:  # a collection only UK and FCDO may read
        private = store_collections.add_collection(conn, title="private")
        for key in ("uk", "fcdo"):
            store_collections.grant(
                conn, collection_id=private, org_id=w.orgs[key].id, read=True, write=True
            )
    incident = w.ok(
        w.tokens["uk"],
        "/incidents",
        {
            "collection": private,
            "title": "SECRET-P",
            "category": 3,
            "country": "GB",
            "tlp": "TLP:GREEN",
        },
    )
    nowhere = f"collection-{uuid.uuid4()}"
    for path in ("/incidents", f"/incidents/{incident['id']}", "/assistance"):
        hidden = w.get(w.tokens["water"], path, collection=private)
        gone = w.get(w.tokens["water"], path, collection=nowhere)
        _same_404(hidden, gone, private, nowhere)
        assert "SECRET" not in hidden.text
    # Writing into it (a note) is refused without confirming the incident exists.
    note = w.post(
        w.tokens["water"],
        f"/incidents/{ids['incident']}/notes",
        {"collection": w.intel, "content": "probe"},
    )
    note_missing = w.post(
        w.tokens["water"],
        f"/incidents/incident--{uuid.uuid4()}/notes",
        {"collection": w.intel, "content": "probe"},
    )
    assert note.status_code == note_missing.status_code == 404


def test_outsider_cannot_answer_or_close_a_hidden_request(w: World) -> None:
    ids = _incident_world(w)
    missing = f"x-kizuna-assistance-request--{uuid.uuid4()}"
    for suffix, body in (
        ("responses", {"collection": w.intel, "action": "decline"}),
        ("close", {"collection": w.intel}),
    ):
        hidden = w.post(w.tokens["water"], f"/assistance/{ids['request']}/{suffix}", body)
        gone = w.post(w.tokens["water"], f"/assistance/{missing}/{suffix}", body)
        _same_404(hidden, gone, ids["request"], missing)
    # Asking for help with a hidden incident does not confirm it either.
    ask = {"collection": w.intel, "addressee": w.orgs["uk"].name, "needs": ["analysis"]}
    hidden = w.post(w.tokens["water"], "/assistance", {**ask, "incident_id": ids["incident"]})
    gone_id = f"incident--{uuid.uuid4()}"
    gone = w.post(w.tokens["water"], "/assistance", {**ask, "incident_id": gone_id})
    _same_404(hidden, gone, ids["incident"], gone_id)


def test_a_request_hidden_from_an_incident_reader_stays_out_of_its_views(w: World) -> None:
    """The incident is AMBER to UK, FCDO and Water; the request about it only to UK and
    FCDO: Water reads the incident but never the request, its answer or their count."""
    incident = _incident(w, audience=[w.orgs["fcdo"].name, w.orgs["water"].name])
    request = w.ok(
        w.tokens["uk"],
        "/assistance",
        {
            "collection": w.intel,
            "incident_id": incident["id"],
            "addressee": w.orgs["fcdo"].name,
            "needs": ["technical-staff"],
            "title": "SECRET-REQUEST",
            "tlp": "TLP:AMBER",
            "audience": [w.orgs["fcdo"].name],
        },
    )
    answer = w.ok(
        w.tokens["fcdo"],
        f"/assistance/{request['id']}/responses",
        {"collection": w.intel, "action": "acknowledge", "comment": "SECRET-COMMENT"},
    )
    water = w.tokens["water"]
    shown = w.get(water, f"/incidents/{incident['id']}", collection=w.intel)
    assert shown.status_code == 200
    assert shown.json()["assistance"] == []
    for fmt in ("json", "markdown"):
        timeline = w.get(
            water, f"/incidents/{incident['id']}/timeline", collection=w.intel, format=fmt
        )
        assert timeline.status_code == 200
        for secret in ("SECRET-REQUEST", "SECRET-COMMENT", request["id"], answer["id"]):
            assert secret not in timeline.text
        assert "## Assistance" not in timeline.text
    listed = w.get(water, "/assistance", collection=w.intel)
    assert listed.json() == {"requests": []}


def test_newer_narrower_incident_version_hides_the_older_one(w: World) -> None:
    """UK re-marks its incident (a new version over TAXII, RED to itself): FCDO, in the
    old audience, must not be shown the older version as if it were current."""
    incident = _incident(w)
    note = w.ok(
        w.tokens["fcdo"],
        f"/incidents/{incident['id']}/notes",
        {"collection": w.intel, "content": "before"},
    )
    assert note["id"]
    shown = w.client.get(
        f"/taxii2/kizuna/collections/{w.intel}/objects/{incident['id']}/",
        headers={**w.auth(w.tokens["uk"]), "Accept": "application/taxii+json;version=2.1"},
    ).json()["objects"][0]
    newer = {
        **shown,
        "modified": "2099-01-01T00:00:00.000Z",
        "name": "SECRET-RED-TITLE",
        "object_marking_refs": [
            TLP2_MARKINGS[Tlp.RED],
            str(audience_marking([w.orgs["uk"].identity_id])["id"]),
        ],
    }
    w.store("uk", w.intel, [audience_marking([w.orgs["uk"].identity_id]), newer])
    fcdo = w.tokens["fcdo"]
    missing = f"incident--{uuid.uuid4()}"
    assert w.get(fcdo, "/incidents", collection=w.intel).json() == {"incidents": []}
    for suffix in ("", "/timeline"):
        hidden = w.get(fcdo, f"/incidents/{incident['id']}{suffix}", collection=w.intel)
        gone = w.get(fcdo, f"/incidents/{missing}{suffix}", collection=w.intel)
        _same_404(hidden, gone, incident["id"], missing)
    # And UK, the owner, sees the current version.
    own = w.get(w.tokens["uk"], f"/incidents/{incident['id']}", collection=w.intel).json()
    assert own["title"] == "SECRET-RED-TITLE"


def test_newer_narrower_request_version_hides_the_older_one(w: World) -> None:
    ids = _incident_world(w)
    fcdo = w.tokens["fcdo"]
    raw = w.client.get(
        f"/taxii2/kizuna/collections/{w.intel}/objects/{ids['request']}/",
        headers={**w.auth(w.tokens["uk"]), "Accept": "application/taxii+json;version=2.1"},
    ).json()["objects"][0]
    red = audience_marking([w.orgs["uk"].identity_id])
    newer = {
        **raw,
        "modified": "2099-01-01T00:00:00.000Z",
        "name": "SECRET-RED-REQUEST",
        "object_marking_refs": [TLP2_MARKINGS[Tlp.RED], str(red["id"])],
    }
    w.store("uk", w.intel, [red, newer])
    listed = w.get(fcdo, "/assistance", collection=w.intel).json()
    assert listed == {"requests": []}
    missing = f"x-kizuna-assistance-request--{uuid.uuid4()}"
    hidden = w.get(fcdo, f"/assistance/{ids['request']}", collection=w.intel)
    gone = w.get(fcdo, f"/assistance/{missing}", collection=w.intel)
    _same_404(hidden, gone, ids["request"], missing)
    shown = w.get(fcdo, f"/incidents/{ids['incident']}", collection=w.intel).json()
    assert shown["assistance"] == []


def test_red_incident_never_reaches_a_peer_token_even_in_its_audience(w: World) -> None:
    incident = _incident(w, tlp="TLP:RED", audience=[w.orgs["jp"].name])
    jp = w.tokens["jp"]
    assert w.get(jp, "/incidents", collection=w.intel).json() == {"incidents": []}
    missing = f"incident--{uuid.uuid4()}"
    for suffix in ("", "/timeline"):
        hidden = w.get(jp, f"/incidents/{incident['id']}{suffix}", collection=w.intel)
        gone = w.get(jp, f"/incidents/{missing}{suffix}", collection=w.intel)
        _same_404(hidden, gone, incident["id"], missing)
    # Peers do not write through the local REST channel.
    note = w.post(jp, f"/incidents/{incident['id']}/notes", {"collection": w.intel, "content": "x"})
    assert note.status_code == 403
    assert incident["id"] not in note.text


def test_notes_on_a_hidden_incident_do_not_surface_elsewhere(w: World) -> None:
    """A GREEN note pointing at an AMBER incident (made over TAXII) is not shown through
    the REST channel to anyone who cannot read the incident."""
    ids = _incident_world(w)
    note = {
        "type": "note",
        "spec_version": "2.1",
        "id": f"note--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": w.orgs["fcdo"].identity_id,
        "content": "SECRET-GREEN-NOTE",
        "object_refs": [ids["incident"]],
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
    }
    w.store("fcdo", w.intel, [note])
    water = w.tokens["water"]
    for path in ("/incidents", "/assistance"):
        assert "SECRET" not in w.get(water, path, collection=w.intel).text
    hidden = w.get(water, f"/incidents/{ids['incident']}/timeline", collection=w.intel)
    assert hidden.status_code == 404
    assert "SECRET" not in hidden.text


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/incidents", b"{not json"),
        ("/incidents", b"[]"),
        ("/incidents", b'{"collection": 1, "title": [], "category": "x", "country": "GB"}'),
        ("/incidents", b'{"collection": "c", "title": "t", "category": 9, "country": "GB"}'),
        (
            "/incidents",
            b'{"collection": "c", "title": "t", "category": 1, "country": "GB", "unknown": 1}',
        ),
        (
            "/incidents",
            b'{"collection": "c", "title": "' + b"x" * 600 + b'", "category": 1, "country": "GB"}',
        ),
        ("/assistance", b'{"collection": "c", "incident_id": "i", "addressee": "a", "needs": []}'),
        ("/attributions", b'{"collection": "c"}'),
        ("/attributions", b"\xff\xfe"),
        ("/campaigns", b'{"collection": "c", "name": "n", "tlp": "PURPLE"}'),
        ("/campaigns", b'{"collection": "c", "name": "n", "extra": true}'),
    ],
)
def test_malformed_bodies_are_clear_400s_without_traces(w: World, path: str, body: bytes) -> None:
    response = w.client.post(
        f"{API}{path}",
        content=body,
        headers={**w.auth(w.tokens["uk"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    _no_trace(response)
    assert response.json()["description"]


def test_wrong_query_types_and_unknown_formats_are_400s(w: World) -> None:
    uk = w.tokens["uk"]
    for path, params in (
        ("/incidents", {"collection": w.intel, "max_category": "lots"}),
        ("/incidents", {}),
        (f"/incidents/incident--{uuid.uuid4()}/timeline", {"collection": w.intel, "format": "pdf"}),
        ("/hunts/x/report", {"format": "xml"}),
    ):
        response = w.get(uk, path, **params)
        assert response.status_code in (400, 404), (path, response.text)
        _no_trace(response)


# -- attribution and campaigns -----------------------------------------------------------------


def _sdo(w: World, kind: str, tlp: Tlp, audience: list[str] | None = None, **extra: Any) -> str:
    obj: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": w.orgs["uk"].identity_id,
        "name": f"{kind} {tlp.name}",
        "object_marking_refs": [TLP2_MARKINGS[tlp]],
        **extra,
    }
    batch: list[dict[str, Any]] = []
    if audience:
        marking = audience_marking(audience)
        obj["object_marking_refs"].append(str(marking["id"]))
        batch.append(marking)
    if kind == "indicator":
        obj.update(pattern="[ipv4-addr:value = '198.51.100.9']", pattern_type="stix")
        obj["valid_from"] = STAMP
    w.store("uk", w.intel, [*batch, obj])
    return str(obj["id"])


def _draft(w: World) -> dict[str, str]:
    authors = [w.orgs["uk"].identity_id, w.orgs["fcdo"].identity_id]
    ids = {
        "activity": _sdo(w, "campaign", Tlp.CLEAR),
        "actor": _sdo(w, "threat-actor", Tlp.CLEAR),
        "clear": _sdo(w, "indicator", Tlp.CLEAR),
        "amber": _sdo(w, "indicator", Tlp.AMBER, authors),
    }
    made = w.ok(
        w.tokens["uk"],
        "/attributions",
        {
            "collection": w.intel,
            "title": "SECRET-DRAFT-TITLE",
            "activity_ref": ids["activity"],
            "actor_ref": ids["actor"],
            "assessment": "SECRET-ASSESSMENT",
            "likelihood": "highly likely",
            "evidence_refs": [ids["clear"], ids["amber"]],
            "co_authors": [w.orgs["fcdo"].name],
        },
    )
    ids["draft"] = made["id"]
    return ids


def _publish(w: World, draft_id: str) -> dict[str, Any]:
    w.ok(w.tokens["uk"], f"/attributions/{draft_id}/review", {})
    for admin in ("uk-admin", "fcdo-admin"):
        w.ok(w.tokens[admin], f"/attributions/{draft_id}/approve", {})
    return dict(w.ok(w.tokens["uk"], f"/attributions/{draft_id}/publish", {"collection": w.public}))


def test_draft_is_invisible_to_non_co_authors_and_peers(w: World) -> None:
    ids = _draft(w)
    missing = f"report--{uuid.uuid4()}"
    for token in ("water", "water-admin", "water-reader"):
        listed = w.get(w.tokens[token], "/attributions")
        assert listed.status_code == 200
        assert listed.json() == []
        hidden = w.get(w.tokens[token], f"/attributions/{ids['draft']}")
        gone = w.get(w.tokens[token], f"/attributions/{missing}")
        _same_404(hidden, gone, ids["draft"], missing)
    # A peer token is refused whatever it names; anonymous needs a token.
    for token, status in ((w.tokens["jp"], 403), (None, 401)):
        for path in ("/attributions", f"/attributions/{ids['draft']}", f"/attributions/{missing}"):
            response = w.get(token, path)
            assert response.status_code == status, response.text
            assert "SECRET" not in response.text
    # Water cannot act on it either, and learns nothing from trying.
    for step in ("review", "approve", "publish", "withdraw"):
        body: dict[str, object] = {}
        if step == "publish":
            body = {"collection": w.public}
        if step == "withdraw":
            body = {"reason": "x"}
        hidden = w.post(w.tokens["water-admin"], f"/attributions/{ids['draft']}/{step}", body)
        gone = w.post(w.tokens["water-admin"], f"/attributions/{missing}/{step}", body)
        _same_404(hidden, gone, ids["draft"], missing)


def test_bundle_of_an_unpublished_draft_is_a_plain_404(w: World) -> None:
    ids = _draft(w)
    w.ok(w.tokens["uk"], f"/attributions/{ids['draft']}/review", {})
    w.ok(w.tokens["uk-admin"], f"/attributions/{ids['draft']}/approve", {})
    missing = f"report--{uuid.uuid4()}"
    for token in (None, w.tokens["water"], w.tokens["fcdo"]):
        hidden = w.get(token, f"/attributions/{ids['draft']}/bundle")
        gone = w.get(token, f"/attributions/{missing}/bundle")
        _same_404(hidden, gone, ids["draft"], missing)


def test_published_bundle_holds_only_clear_objects_and_no_hidden_ids(w: World) -> None:
    ids = _draft(w)
    done = _publish(w, ids["draft"])
    assert done["withheld"] == [ids["amber"]]  # told to the drafter, who may read it
    report_id = done["publication"]["report_id"]
    for key in (ids["draft"], report_id):
        bundle = w.get(None, f"/attributions/{key}/bundle")
        assert bundle.status_code == 200
        text = bundle.text
        assert ids["amber"] not in text
        assert ids["draft"] not in text
        assert "withheld" not in text
        for obj in orjson.loads(text)["objects"]:
            if obj["type"] != "identity":
                assert obj["object_marking_refs"] == [TLP2_MARKINGS[Tlp.CLEAR]], obj["id"]
    # Water (not a co-author) still cannot open the draft, now that it is published.
    assert w.get(w.tokens["water"], f"/attributions/{ids['draft']}").status_code == 404


def test_unpublished_correction_or_withdrawal_never_reaches_the_bundle(w: World) -> None:
    ids = _draft(w)
    _publish(w, ids["draft"])
    w.ok(
        w.tokens["uk"], f"/attributions/{ids['draft']}/correct", {"assessment": "SECRET-CORRECTION"}
    )
    bundle = w.get(None, f"/attributions/{ids['draft']}/bundle")
    assert bundle.status_code == 200
    assert "SECRET-CORRECTION" not in bundle.text
    unknown = w.get(None, f"/attributions/{ids['draft']}/bundle", version="2099-01-01T00:00:00Z")
    assert unknown.status_code == 404


def test_campaign_entry_cannot_name_a_draft_its_readers_may_not_read(w: World) -> None:
    ids = _draft(w)
    uk = w.tokens["uk"]
    green = w.ok(uk, "/campaigns", {"collection": w.intel, "name": "Lantern"})
    entry = {"kind": "attribution", "date": "2026-11-25", "title": "Joint attribution"}
    for ref in (ids["draft"], ids["amber"]):
        refused = w.post(uk, f"/campaigns/{green['id']}/entries", {**entry, "ref": ref})
        assert refused.status_code == 400, refused.text
        _no_trace(refused)
    # An AMBER record whose audience is wider than the draft's is refused too.
    amber = w.ok(
        uk,
        "/campaigns",
        {
            "collection": w.intel,
            "name": "Lantern",
            "tlp": "AMBER",
            "audience": [w.orgs["water"].name],
        },
    )
    refused = w.post(uk, f"/campaigns/{amber['id']}/entries", {**entry, "ref": ids["draft"]})
    assert refused.status_code == 400
    # A guessed id is refused like a hidden one (the keeper learns nothing new).
    guessed = w.post(
        uk, f"/campaigns/{green['id']}/entries", {**entry, "ref": f"report--{uuid.uuid4()}"}
    )
    assert guessed.status_code == 400
    # ... while the published report may be named, and Water then reads only that.
    report_id = _publish(w, ids["draft"])["publication"]["report_id"]
    w.ok(uk, f"/campaigns/{green['id']}/entries", {**entry, "ref": report_id})
    shown = w.get(w.tokens["water"], f"/campaigns/{green['id']}")
    assert shown.status_code == 200
    assert ids["draft"] not in shown.text
    assert ids["amber"] not in shown.text
    assert report_id in shown.text


def test_amber_campaign_hidden_like_missing_and_absent_from_lists(w: World) -> None:
    made = w.ok(
        w.tokens["uk"],
        "/campaigns",
        {
            "collection": w.intel,
            "name": "SECRET-CAMPAIGN",
            "tlp": "AMBER",
            "audience": [w.orgs["fcdo"].name],
        },
    )
    missing = f"grouping--{uuid.uuid4()}"
    for token in ("water", "water-reader"):
        assert "SECRET" not in w.get(w.tokens[token], "/campaigns").text
        hidden = w.get(w.tokens[token], f"/campaigns/{made['id']}")
        gone = w.get(w.tokens[token], f"/campaigns/{missing}")
        _same_404(hidden, gone, made["id"], missing)
        entry = {"kind": "other", "date": "2026-01-01", "title": "x", "url": "https://x"}
        hidden = w.post(w.tokens[token], f"/campaigns/{made['id']}/entries", entry)
        gone = w.post(w.tokens[token], f"/campaigns/{missing}/entries", entry)
        assert hidden.status_code == gone.status_code
        assert hidden.text.replace(made["id"], "X") == gone.text.replace(missing, "X")
    assert w.get(None, "/campaigns").status_code == 401
    jp = w.get(w.tokens["jp"], f"/campaigns/{made['id']}")
    jp_gone = w.get(w.tokens["jp"], f"/campaigns/{missing}")
    _same_404(jp, jp_gone, made["id"], missing)


def test_node_identity_names_no_organisation_or_object(w: World) -> None:
    _draft(w)
    shown = w.get(None, "/node/identity")
    assert shown.status_code == 200
    text = shown.text
    for org in w.orgs.values():
        assert org.identity_id not in text
        assert org.name not in text
    assert "SECRET" not in text
    assert "private" not in text.lower().replace("private_key", "")
    assert '"d"' not in text  # a JWK's private part


# -- peers and hunts ---------------------------------------------------------------------------


def test_peers_are_for_local_admins_only(w: World) -> None:
    for token, status in (
        (None, 401),
        (w.tokens["uk"], 403),
        (w.tokens["uk-reader"], 403),
        (w.tokens["jp"], 403),
    ):
        for path in ("/peers", "/peers/anything"):
            response = w.get(token, path)
            assert response.status_code == status, (path, response.text)
            _no_trace(response)
    assert w.get(w.tokens["uk-admin"], "/peers").status_code == 200


def _hunt_job(w: World, records: list[dict[str, Any]]) -> str:
    """A finished hunt of UK's, as the runner records it (the hunt itself is tested
    elsewhere; the attack is on reading its report)."""
    job_id = str(uuid.uuid4())
    with write_transaction(w.engine) as conn:
        token_id = conn.execute(
            select(tokens.c.id).where(tokens.c.org_id == w.orgs["uk"].id).limit(1)
        ).scalar_one()
        conn.execute(
            insert(hunt_jobs).values(
                id=job_id,
                org_id=w.orgs["uk"].id,
                token_id=token_id,
                state="done",
                request=orjson.dumps({"files": ["SECRET-FILE"]}).decode(),
                files_total=1,
                files_done=1,
                events=1,
                bad=0,
                matching_events=len(records),
                created_us=1,
                result=orjson.dumps(
                    {
                        "records": records,
                        "indicators": len(records),
                        "invalid_indicators": [],
                        "bad_examples": [],
                        "candidate_pairs": 0,
                        "seconds": 0.1,
                        "stored": 0,
                        "refused": [],
                        "refused_count": 0,
                    }
                ).decode(),
            )
        )
    return job_id


def _record(indicator_id: str) -> dict[str, Any]:
    return {
        "indicator_id": indicator_id,
        "name": "SECRET-AT-HUNT-TIME",
        "source": "f",
        "rows": [1],
        "count": 1,
        "first_seen": STAMP,
        "last_seen": STAMP,
    }


def test_hunts_of_another_org_are_404_like_missing_ones(w: World) -> None:
    job = _hunt_job(w, [])
    missing = str(uuid.uuid4())
    for token in ("water", "water-admin"):
        for path in ("/hunts/{}", "/hunts/{}/report"):
            hidden = w.get(w.tokens[token], path.format(job))
            gone = w.get(w.tokens[token], path.format(missing))
            _same_404(hidden, gone, job, missing)
        listed = w.get(w.tokens[token], "/hunts")
        assert listed.status_code == 200
        assert "SECRET" not in listed.text
    assert w.get(w.tokens["jp"], "/hunts").status_code == 403
    assert w.get(w.tokens["jp"], f"/hunts/{job}").status_code == 403
    assert w.get(None, "/telemetry").status_code == 401


def test_hunt_report_names_only_indicators_the_reader_may_read_now(w: World) -> None:
    """UK's analyst hunted with an indicator in a collection only analysts may read; a
    UK reader token reads the job's report: the indicator is not named there."""
    with write_transaction(w.engine) as conn:
        analysts = store_collections.add_collection(conn, title="analysts only")
        store_collections.grant(conn, collection_id=analysts, role=Role.ANALYST, write=True)
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": w.orgs["uk"].identity_id,
        "name": "SECRET-INDICATOR",
        "pattern": "[ipv4-addr:value = '198.51.100.9']",
        "pattern_type": "stix",
        "valid_from": STAMP,
        "object_marking_refs": [TLP2_MARKINGS[Tlp.GREEN]],
    }
    w.store("uk", analysts, [indicator])
    job = _hunt_job(w, [_record(str(indicator["id"]))])
    seen = w.get(w.tokens["uk"], f"/hunts/{job}/report")
    assert seen.status_code == 200
    assert "SECRET-INDICATOR" in seen.text
    for fmt in ("json", "csv"):
        report = w.get(w.tokens["uk-reader"], f"/hunts/{job}/report", format=fmt)
        assert report.status_code == 200
        assert str(indicator["id"]) not in report.text
        assert "SECRET" not in report.text
    summary = w.get(w.tokens["uk-reader"], f"/hunts/{job}")
    assert summary.status_code == 200
    assert str(indicator["id"]) not in summary.text


# -- the CLI's read commands and a peer over TAXII -----------------------------------------------


def test_cli_reads_answer_for_the_named_org_only(
    w: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from typer.testing import CliRunner

    from kizuna.cli.main import app

    ids = _incident_world(w)
    draft = _draft(w)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", w.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("KIZUNA_HOME", str(tmp_path))
    monkeypatch.setenv("KIZUNA_SECRET_KEY", "test-secret-key-for-cli")
    runner = CliRunner()
    water, jp = w.orgs["water"].name, w.orgs["jp"].name

    def run(*args: str) -> Any:
        return runner.invoke(app, list(args))

    for args in (("incident", "list"), ("assist", "list"), ("attribution", "list")):
        extra = () if args[0] == "attribution" else ("--collection", w.intel)
        done = run(*args, "--org", water, *extra)
        assert done.exit_code == 0, done.output
        assert "SECRET" not in done.output
        assert not any(i in done.output for i in (*ids.values(), draft["draft"]))
    probes = (
        ("incident", "show", ids["incident"]),
        ("incident", "timeline", ids["incident"]),
        ("assist", "show", ids["request"]),
    )
    for args in probes:
        missing = args[2].split("--")[0] + f"--{uuid.uuid4()}"
        hidden = run(*args, "--org", water, "--collection", w.intel)
        gone = run(*args[:2], missing, "--org", water, "--collection", w.intel)
        assert hidden.exit_code == gone.exit_code == 1
        assert "SECRET" not in hidden.output
        assert "Traceback" not in hidden.output
        assert hidden.output.replace(args[2], "X") == gone.output.replace(missing, "X")
    hidden = run("attribution", "show", draft["draft"], "--org", water)
    assert hidden.exit_code == 1
    assert "SECRET" not in hidden.output
    # A remote org cannot be acted as from the CLI.
    for args in (("incident", "list", "--collection", w.intel), ("attribution", "list")):
        refused = run(*args, "--org", jp)
        assert refused.exit_code == 1
        assert "SECRET" not in refused.output


def test_peer_token_pulls_only_what_its_org_may_read(w: World) -> None:
    """JP (a remote org, peer token) is the addressee of a request about an incident it is
    not in the audience of: over TAXII it gets the request (its audience names JP) but
    never the incident, its notes, a RED incident naming JP, or FCDO's answer-less objects."""
    incident = _incident(w)
    red = _incident(w, tlp="TLP:RED", audience=[w.orgs["jp"].name])
    note = w.ok(
        w.tokens["fcdo"],
        f"/incidents/{incident['id']}/notes",
        {"collection": w.intel, "content": "SECRET-NOTE"},
    )
    request = w.ok(
        w.tokens["uk"],
        "/assistance",
        {
            "collection": w.intel,
            "incident_id": incident["id"],
            "addressee": w.orgs["jp"].name,
            "needs": ["analysis"],
            "tlp": "TLP:AMBER",
            "audience": [w.orgs["jp"].name],
        },
    )
    taxii = {**w.auth(w.tokens["jp"]), "Accept": "application/taxii+json;version=2.1"}
    got = w.client.get(f"/taxii2/kizuna/collections/{w.intel}/objects/", headers=taxii)
    assert got.status_code == 200
    seen = {o["id"] for o in got.json().get("objects", [])}
    assert request["id"] in seen
    assert not seen & {incident["id"], red["id"], note["id"]}
    for hidden_id in (incident["id"], red["id"], note["id"]):
        one = w.client.get(
            f"/taxii2/kizuna/collections/{w.intel}/objects/{hidden_id}/", headers=taxii
        )
        assert one.status_code == 404
