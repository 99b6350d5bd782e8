"""`kizuna serve` syncs due peers in the background, and operators see the flows, cursors
and lag over REST (admins of a local org only)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from kizuna.access import service
from kizuna.access.subject import Role
from kizuna.access.tlp import Tlp
from kizuna.db.engine import write_transaction
from tests.federation.nodes import indicator, link_uk_to_jp, marked, two_nodes


def test_serve_syncs_in_the_background_and_reports_over_rest(tmp_path: Path) -> None:
    with two_nodes("sqlite", tmp_path, background_sync=True) as (uk, jp):
        green = indicator("jpcert", "203.0.113.50")
        jp.store("jpcert", marked(green, Tlp.GREEN))
        link_uk_to_jp(uk, jp, "--interval", "1")
        deadline = time.monotonic() + 30
        while green["id"] not in uk.visible("ncsc"):
            assert time.monotonic() < deadline, "the UK node's scheduler did not pull"
            time.sleep(0.2)
        # A later object arrives on a later run (interval 1 s), with no command.
        later = indicator("jpcert", "203.0.113.51")
        jp.store("jpcert", marked(later, Tlp.GREEN))
        while later["id"] not in uk.visible("ncsc"):
            assert time.monotonic() < deadline, "the next scheduled run did not come"
            time.sleep(0.2)

        with write_transaction(uk.engine) as conn:
            admin = service.create_token(conn, org=uk.orgs["ncsc"], role=Role.ADMIN)
        api = f"{uk.server.url}/api/v1/peers"
        view = httpx.get(api, headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert view.status_code == 200, view.text
        (peer,) = view.json()["peers"]
        assert peer["name"] == "jp"
        assert peer["org"]["name"] == "JPCERT/CC"
        assert peer["lag_seconds"] is not None
        assert peer["lag_seconds"] < 30
        flows = {f["direction"]: f for f in peer["flows"]}
        assert flows["pull"]["moved"] >= 2
        assert flows["push"]["backlog"] == 0
        assert "token" not in view.text.lower()

        # Only admins of a local org; a peer or an analyst gets 403, no token 401.
        for token, status in (
            (uk.tokens["ncsc"], 403),
            (uk.tokens["jpcert"], 403),
            (None, 401),
        ):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            assert httpx.get(api, headers=headers, timeout=10).status_code == status
        missing = httpx.get(f"{api}/nope", headers={"Authorization": f"Bearer {admin}"})
        assert missing.status_code == 404
        soon = httpx.post(f"{api}/jp/sync", headers={"Authorization": f"Bearer {admin}"})
        assert soon.status_code == 202
