"""STIX objects and a one-node setup for attribution tests, built through the public
services (orgs, tokens, collections, ingest)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from kizuna.access import service
from kizuna.access.subject import Role, Subject
from kizuna.access.tlp import TLP2_MARKINGS, Tlp, audience_marking
from kizuna.db.engine import write_transaction
from kizuna.store.collections import add_collection, grant
from kizuna.store.ingest import add_objects

STAMP = "2026-03-01T00:00:00.000Z"


def sdo(kind: str, creator: str, name: str, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--{uuid.uuid4()}",
        "created": STAMP,
        "modified": STAMP,
        "created_by_ref": creator,
        "name": name,
        **extra,
    }
    if kind == "indicator":
        obj.update(pattern="[ipv4-addr:value = '198.51.100.7']", pattern_type="stix")
        obj["valid_from"] = STAMP
    return obj


def marked(
    obj: dict[str, Any], tlp: Tlp, audience: list[str] | None = None
) -> list[dict[str, Any]]:
    refs = [TLP2_MARKINGS[tlp]]
    extra: list[dict[str, Any]] = []
    if audience:
        marking = audience_marking(audience)
        refs.append(str(marking["id"]))
        extra.append(marking)
    obj["object_marking_refs"] = refs
    return [*extra, obj]


def as_(org: service.Org, role: Role = Role.ANALYST) -> Subject:
    return Subject(org_id=org.id, identity_id=org.identity_id, role=role)


def store(engine: Engine, who: Subject, collection: str, objs: list[dict[str, Any]]) -> None:
    with write_transaction(engine) as conn:
        outcomes = add_objects(conn, subject=who, collection_id=collection, submitted=objs)
    assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]


@dataclass
class World:
    """One node: NCSC and FCDO co-author, Thames Water looks on; intel and public."""

    orgs: dict[str, service.Org]
    intel: str
    public: str
    objects: dict[str, dict[str, Any]]

    def who(self, key: str, role: Role = Role.ANALYST) -> Subject:
        return as_(self.orgs[key], role)


def build_world(engine: Engine) -> World:
    with write_transaction(engine) as conn:
        orgs = {
            "ncsc": service.add_org(conn, name="NCSC", country="GB", sector="government"),
            "fcdo": service.add_org(conn, name="FCDO", country="GB", sector="government"),
            "water": service.add_org(conn, name="Thames Water", country="GB", sector="water"),
        }
        intel = add_collection(conn, title="Partnership intel")
        public = add_collection(conn, title="Public", default_tlp=Tlp.CLEAR, public=True)
        for role in (Role.ANALYST, Role.ADMIN, Role.READER):
            grant(conn, collection_id=intel, role=role, write=role is not Role.READER)
            grant(conn, collection_id=public, role=role, write=role is not Role.READER)
    ncsc = orgs["ncsc"].identity_id
    authors = [ncsc, orgs["fcdo"].identity_id]
    objects = {
        "campaign": sdo("campaign", ncsc, "Operation Lantern"),
        "actor": sdo("threat-actor", ncsc, "APT-Example", threat_actor_types=["nation-state"]),
        "clear_evidence": sdo("indicator", ncsc, "Lantern C2"),
        "amber_evidence": sdo("indicator", ncsc, "Lantern implant hash"),
    }
    batch = [
        *marked(objects["campaign"], Tlp.CLEAR),
        *marked(objects["actor"], Tlp.CLEAR),
        *marked(objects["clear_evidence"], Tlp.CLEAR),
        *marked(objects["amber_evidence"], Tlp.AMBER, authors),
    ]
    store(engine, as_(orgs["ncsc"]), intel, batch)
    return World(orgs, intel, public, objects)
