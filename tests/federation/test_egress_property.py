"""Property: whatever the labels, audiences and relationships, a push lets across exactly
what TLP 2.0 allows the peer's org to read, and nothing else reaches the other node.

The expectation is written out here from DESIGN.md section 2, independently of the access
module: CLEAR and GREEN cross; AMBER and AMBER+STRICT only when the peer's org is in the
audience; RED and unmarked never; a relationship only when it may cross and both its ends do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.access.tlp import Tlp
from kizuna.config import Settings
from kizuna.db.engine import write_transaction
from kizuna.federation.peers import add_peer
from kizuna.federation.sync import sync_peer
from kizuna.store.collections import add_collection, grant
from tests.federation.nodes import Node, indicator, marked, relationship, two_nodes

LABELS: list[Tlp | None] = [Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED, None]
AUDIENCE_KEYS = ("jpcert", "water", "ncsc")
_counter = itertools.count()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    with two_nodes("sqlite", tmp_path_factory.mktemp("egress")) as nodes:
        yield nodes


def crosses(label: Tlp | None, audience: frozenset[str]) -> bool:
    if label in (Tlp.CLEAR, Tlp.GREEN):
        return True
    if label in (Tlp.AMBER, Tlp.AMBER_STRICT):
        return "jpcert" in audience
    return False


item = st.tuples(
    st.sampled_from(LABELS),
    st.frozensets(st.sampled_from(AUDIENCE_KEYS)),
    st.sampled_from(("ncsc", "water")),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(item, min_size=1, max_size=8),
    links=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 7), st.sampled_from(LABELS))),
)
def test_push_lets_across_exactly_what_tlp_allows(
    pair: tuple[Node, Node],
    items: list[tuple[Tlp | None, frozenset[str], str]],
    links: list[tuple[int, int, Tlp | None]],
) -> None:
    uk, jp = pair
    n = next(_counter)
    with write_transaction(uk.engine) as conn:
        source = add_collection(conn, title=f"egress {n}")
        for key in ("ncsc", "water"):
            grant(conn, collection_id=source, org_id=uk.orgs[key].id, write=True)
    with write_transaction(jp.engine) as conn:
        target = add_collection(conn, title=f"egress {n}")
        grant(conn, collection_id=target, org_id=jp.orgs["ncsc"].id, write=True)

    expected: set[str] = set()
    made: list[tuple[str, bool]] = []
    batch: list[dict[str, Any]] = []
    for k, (label, audience, creator) in enumerate(items):
        obj = indicator(creator, f"198.51.100.{k}")
        batch += marked(obj, label, audience)
        ok = crosses(label, audience)
        made.append((obj["id"], ok))
        if ok:
            expected.add(obj["id"])
    for source_index, target_index, label in links:
        if source_index >= len(made) or target_index >= len(made):
            continue
        (source_id, source_ok), (target_id, target_ok) = made[source_index], made[target_index]
        rel = relationship("ncsc", source_id, target_id)
        batch += marked(rel, label)
        if crosses(label, frozenset()) and source_ok and target_ok:
            expected.add(rel["id"])
    uk.intel, saved = source, uk.intel
    try:
        uk.store(
            "ncsc", [o for o in batch if o.get("created_by_ref") != uk.orgs["water"].identity_id]
        )
        uk.store(
            "water", [o for o in batch if o.get("created_by_ref") == uk.orgs["water"].identity_id]
        )
    finally:
        uk.intel = saved

    config = Settings(secret_key=uk.env["KIZUNA_SECRET_KEY"], home=Path(uk.env["KIZUNA_HOME"]))
    with write_transaction(uk.engine) as conn:
        add_peer(
            conn,
            secret_key=config.resolved_secret_key(),
            name=f"jp-{n}",
            url=jp.discovery,
            token=jp.tokens["ncsc"],
            org="JPCERT/CC",
            pulls=[],
            pushes=[(source, target)],
        )
    result = sync_peer(uk.engine, config, f"jp-{n}")
    assert result.ok, result

    jp.intel, saved = target, jp.intel
    try:
        arrived = {sid for sid, _ in jp.stored() if not sid.startswith("marking-definition--")}
    finally:
        jp.intel = saved
    assert arrived == expected
