"""TAXII 2.1 query parameters: match[...] filters, added_after and limit."""

from __future__ import annotations

import pytest

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import parse_timestamp
from kizuna.store.query import Filters, VersionMatch
from kizuna.taxii.params import parse_filters, parse_limit

T1 = "2026-01-31T12:00:00.000Z"
T2 = "2026-02-01T00:00:00.123456Z"


def filters(params: dict[str, list[str]], default: VersionMatch | None = None) -> Filters:
    return parse_filters(params, default_versions=default or VersionMatch.latest())


def test_no_parameters_mean_no_filter_and_the_default_versions() -> None:
    assert filters({}) == Filters(versions=VersionMatch.latest())
    assert filters({}, VersionMatch.every()).versions == VersionMatch.every()
    assert filters({"match[version]": [""]}, VersionMatch.every()).versions == (
        VersionMatch.every()
    )


@pytest.mark.parametrize("key", ["match[id]", "match[type]", "match[spec_version]"])
def test_comma_lists_and_repeated_parameters_both_mean_or(key: str) -> None:
    attribute = {"match[id]": "ids", "match[type]": "types", "match[spec_version]": "spec_versions"}
    expected = ("a", "b", "c")
    for params in (
        {key: ["a,b,c"]},
        {key: ["a", "b", "c"]},
        {key: ["a,b", "c"]},
        {key: [" a , b,,c "]},
        {key: ["a,b", "b,c", "a"]},
    ):
        assert getattr(filters(params), attribute[key]) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["first"], VersionMatch(first=True)),
        (["last"], VersionMatch(last=True)),
        (["all"], VersionMatch(all=True)),
        (["first,last"], VersionMatch(first=True, last=True)),
        (["first", "last"], VersionMatch(first=True, last=True)),
        ([T1], VersionMatch(exact=(parse_timestamp(T1),))),
        ([f"{T1},{T2}"], VersionMatch(exact=(parse_timestamp(T1), parse_timestamp(T2)))),
        ([f"last,{T1}"], VersionMatch(last=True, exact=(parse_timestamp(T1),))),
        (["all", "first"], VersionMatch(first=True, all=True)),
    ],
)
def test_match_version(values: list[str], expected: VersionMatch) -> None:
    assert filters({"match[version]": values}, VersionMatch.every()).versions == expected


def test_an_exact_version_keeps_its_microseconds() -> None:
    [exact] = filters({"match[version]": [T2]}).versions.exact
    assert exact % 1_000_000 == 123_456


@pytest.mark.parametrize("bad", ["latest", "2026-01-31", "2026-01-31T12:00:00", "First"])
def test_a_bad_match_version_names_the_parameter_and_the_value(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        filters({"match[version]": [bad]})
    assert "match[version]" in caught.value.message
    assert repr(bad) in caught.value.message
    assert "2024-01-31T12:00:00.000Z" in caught.value.message


def test_added_after() -> None:
    assert filters({"added_after": [T2]}).added_after_us == parse_timestamp(T2)
    assert filters({}).added_after_us is None


@pytest.mark.parametrize("params", [{"added_after": [T1, T2]}, {"added_after": [f"{T1},{T2}"]}])
def test_two_added_after_values_are_refused(params: dict[str, list[str]]) -> None:
    with pytest.raises(InvalidInput, match="added_after takes one timestamp"):
        filters(params)


@pytest.mark.parametrize("bad", ["yesterday", "2026-02-30T00:00:00Z", "1706702400"])
def test_a_bad_added_after_names_the_parameter_and_the_value(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        filters({"added_after": [bad]})
    message = caught.value.message
    assert message.startswith("added_after must be a timestamp like")
    assert repr(bad) in message


def test_filters_combine() -> None:
    parsed = filters(
        {
            "match[id]": ["indicator--1"],
            "match[type]": ["indicator,malware"],
            "match[spec_version]": ["2.1"],
            "match[version]": ["all"],
            "added_after": [T1],
        }
    )
    assert parsed == Filters(
        ids=("indicator--1",),
        types=("indicator", "malware"),
        versions=VersionMatch.every(),
        spec_versions=("2.1",),
        added_after_us=parse_timestamp(T1),
    )


def limit(params: dict[str, list[str]]) -> int:
    return parse_limit(params, default=100, maximum=1000)


def test_limit_defaults_when_absent() -> None:
    assert limit({}) == 100
    assert limit({"limit": []}) == 100


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("250", 250), ("1000", 1000)])
def test_limit_within_range_is_kept(value: str, expected: int) -> None:
    assert limit({"limit": [value]}) == expected


@pytest.mark.parametrize("value", ["1001", "999999999999"])
def test_limit_is_clamped_to_the_maximum(value: str) -> None:
    assert limit({"limit": [value]}) == 1000


@pytest.mark.parametrize("value", ["0", "-1", "-1000", "ten", "1.5", "", "0x10", "1e3"])
def test_limit_must_be_a_positive_integer(value: str) -> None:
    with pytest.raises(InvalidInput, match="limit must be a positive integer"):
        limit({"limit": [value]})
