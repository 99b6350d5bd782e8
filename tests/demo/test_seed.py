"""The demo node as a newcomer meets it: every label present, and each token sees what
TLP allows it and nothing more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import Engine

from kizuna.access.service import authenticate
from kizuna.access.tlp import WELL_KNOWN, Tlp
from kizuna.cli.demo import seed
from kizuna.db.engine import make_engine, read_transaction
from kizuna.db.migrate import upgrade
from kizuna.errors import NotFound
from kizuna.store.collections import get_collection
from kizuna.store.query import Filters, VersionMatch, read_page


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Engine, dict[str, str], dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    tokens, ids, _counts = seed(engine)
    yield engine, tokens, ids
    engine.dispose()


def _visible(engine: Engine, token: str, collection_id: str) -> list[dict[str, object]]:
    with read_transaction(engine) as conn:
        subject = authenticate(conn, token)
        try:
            collection = get_collection(conn, subject, collection_id)
        except NotFound:
            return []
        page = read_page(
            conn,
            subject=subject,
            collection=collection,
            filters=Filters(versions=VersionMatch.every()),
            after_us=None,
            limit=100_000,
        )
    return [orjson.loads(row.body) for row in page.rows]


def _label(obj: dict[str, object]) -> Tlp | None:
    found = [WELL_KNOWN[m][0] for m in obj.get("object_marking_refs", []) if m in WELL_KNOWN]  # type: ignore[attr-defined]
    labels = [t for t in found if t is not None]
    return max(labels) if labels else None


def test_demo_has_hundreds_of_objects_across_every_label(
    demo: tuple[Engine, dict[str, str], dict[str, str]],
) -> None:
    engine, tokens, ids = demo
    seen: list[dict[str, object]] = []
    for collection_id in ids.values():
        seen += _visible(engine, tokens["ncsc analyst"], collection_id)
    assert len(seen) >= 300
    assert {_label(o) for o in seen} >= set(Tlp)
    assert {"indicator", "malware", "threat-actor", "relationship", "report"} <= {
        o["type"] for o in seen
    }


def test_bank_reader_never_sees_red_it_is_not_named_for(
    demo: tuple[Engine, dict[str, str], dict[str, str]],
) -> None:
    engine, tokens, ids = demo
    bank = [o for c in ids.values() for o in _visible(engine, tokens["bank reader"], c)]
    assert bank, "the bank reads the GREEN and CLEAR intelligence"
    assert all(_label(o) is not Tlp.RED for o in bank)


def test_japanese_peer_sees_green_and_amber_addressed_to_it_but_never_red(
    demo: tuple[Engine, dict[str, str], dict[str, str]],
) -> None:
    engine, tokens, ids = demo
    peer = _visible(engine, tokens["jpcert peer"], ids["intel"])
    labels = {_label(o) for o in peer}
    assert Tlp.GREEN in labels
    assert Tlp.AMBER in labels
    assert Tlp.RED not in labels
    assert None not in labels  # unmarked objects never leave the node
    assert _visible(engine, tokens["jpcert peer"], ids["cni"]) == []
