"""Turning STIX objects (bundle contents) into observations."""

from __future__ import annotations

from typing import Any

import pytest

from kizuna.errors import InvalidInput
from kizuna.patterns import compile_pattern, observation_from_scos, observations_from_stix

FIRST = "2021-03-04T05:06:07.5Z"
LAST = "2021-03-04T05:06:17Z"
FIRST_US = 1614834367_500000
LAST_US = 1614834377_000000


def observed(**extra: Any) -> dict[str, Any]:
    return {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--1",
        "created": FIRST,
        "modified": FIRST,
        "first_observed": FIRST,
        "last_observed": LAST,
        "number_observed": 3,
        **extra,
    }


NT = {
    "type": "network-traffic",
    "id": "network-traffic--1",
    "src_ref": "ipv4-addr--1",
    "protocols": ["tcp"],
}
IP = {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.1"}
DOMAIN = {"type": "domain-name", "id": "domain-name--1", "value": "example.com"}
INDICATOR = {
    "type": "indicator",
    "id": "indicator--1",
    "created": FIRST,
    "modified": FIRST,
    "pattern": "[ipv4-addr:value = '1.2.3.4']",
}


def test_object_refs_are_resolved_transitively() -> None:
    [obs] = observations_from_stix([observed(object_refs=["network-traffic--1"]), NT, IP])
    assert obs.first_observed_us == FIRST_US
    assert obs.last_observed_us == LAST_US
    assert obs.number_observed == 3
    assert obs.source_id == "observed-data--1"
    assert set(obs.objects) == {"network-traffic--1", "ipv4-addr--1"}
    assert set(obs.roots) == set(obs.objects)
    assert compile_pattern("[network-traffic:src_ref.value = '198.51.100.1']").matches([obs])
    assert compile_pattern("[ipv4-addr:value = '198.51.100.1']").matches([obs])


def test_sdos_are_not_observations_and_unreferenced_scos_stand_alone() -> None:
    result = observations_from_stix([INDICATOR, observed(object_refs=["ipv4-addr--1"]), IP, DOMAIN])
    assert len(result) == 2
    assert set(result[0].objects) == {"ipv4-addr--1"}
    alone = result[1]
    assert alone.objects == {"domain-name--1": DOMAIN}
    assert alone.roots == ("domain-name--1",)
    assert (alone.first_observed_us, alone.last_observed_us, alone.number_observed) == (0, 0, 1)


def test_standalone_sco_keeps_its_references_but_only_its_own_root() -> None:
    [nt_alone, ip_alone] = observations_from_stix([NT, IP])
    assert nt_alone.roots == ("network-traffic--1",)
    assert "ipv4-addr--1" in nt_alone.objects
    assert compile_pattern("[network-traffic:src_ref.value = '198.51.100.1']").matches([nt_alone])
    assert not compile_pattern("[ipv4-addr:value = '198.51.100.1']").matches([nt_alone])
    assert ip_alone.roots == ("ipv4-addr--1",)


def test_deprecated_objects_form() -> None:
    sdo = observed(
        objects={
            "0": {"type": "ipv4-addr", "value": "10.0.0.1"},
            "1": {"type": "network-traffic", "src_ref": "0", "protocols": ["udp"]},
        }
    )
    [obs] = observations_from_stix([sdo])
    assert obs.roots == ("0", "1")
    assert compile_pattern("[network-traffic:src_ref.value = '10.0.0.1']").matches([obs])
    assert compile_pattern("[network-traffic:protocols[*] = 'udp']").matches([obs])


def test_dangling_refs_are_skipped() -> None:
    [obs] = observations_from_stix(
        [observed(object_refs=["ipv4-addr--9", "network-traffic--1"]), NT]
    )
    assert set(obs.objects) == {"network-traffic--1"}
    assert not compile_pattern("[network-traffic:src_ref.value = '198.51.100.1']").matches([obs])


@pytest.mark.parametrize(
    "bad",
    [
        observed(object_refs=["x"], number_observed=0),
        observed(object_refs=["x"], number_observed="3"),
        observed(object_refs=["x"], first_observed="yesterday"),
        observed(object_refs=["x"], first_observed=LAST, last_observed=FIRST),
        observed(object_refs="ipv4-addr--1"),
        observed(),
        {k: v for k, v in observed(object_refs=[]).items() if k != "last_observed"},
        observed(objects={"0": "not an object"}),
    ],
)
def test_malformed_observed_data_is_invalid_input(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        observations_from_stix([bad])


def test_non_object_entries_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        observations_from_stix(["nope"])  # type: ignore[list-item]


def test_observation_from_scos() -> None:
    obs = observation_from_scos(
        [IP, {"type": "file", "name": "x"}],
        first_observed_us=5,
        last_observed_us=9,
        number_observed=2,
    )
    assert obs.roots == ("ipv4-addr--1", "1")
    assert obs.number_observed == 2
    assert (obs.first_observed_us, obs.last_observed_us) == (5, 9)
    with pytest.raises(InvalidInput):
        observation_from_scos([IP], number_observed=0)
    with pytest.raises(InvalidInput):
        observation_from_scos([IP], first_observed_us=2, last_observed_us=1)


def test_empty_input() -> None:
    assert observations_from_stix([]) == []
