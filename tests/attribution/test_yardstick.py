"""The UK probability yardstick: terms, percentages, and the gaps between bands."""

from __future__ import annotations

import pytest

from kizuna.attribution.yardstick import BANDS, likelihood
from kizuna.errors import InvalidInput


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("remote chance", 2),
        ("Highly Unlikely", 15),
        ("unlikely", 30),
        ("realistic possibility", 45),
        ("likely", 65),
        ("highly-likely", 85),
        ("almost certain", 97),
    ],
)
def test_a_term_alone_gives_the_middle_of_its_band(term: str, expected: int) -> None:
    assert likelihood(term, None)[1] == expected


def test_a_percentage_alone_finds_its_term() -> None:
    assert likelihood(None, 80) == ("highly likely", 80)
    assert likelihood(None, 0) == ("remote chance", 0)
    assert likelihood(None, 100) == ("almost certain", 100)


@pytest.mark.parametrize("percent", [6, 9, 21, 24, 36, 39, 51, 54, 76, 79, 91, 94])
def test_percentages_in_the_gaps_are_refused(percent: int) -> None:
    with pytest.raises(InvalidInput, match="gap"):
        likelihood(None, percent)


def test_term_and_percentage_must_agree() -> None:
    assert likelihood("likely", 70) == ("likely", 70)
    with pytest.raises(InvalidInput, match="is not likely"):
        likelihood("likely", 80)
    with pytest.raises(InvalidInput, match="not on the UK probability yardstick"):
        likelihood("probable", None)
    with pytest.raises(InvalidInput, match="0 to 100"):
        likelihood(None, 101)
    with pytest.raises(InvalidInput, match="yardstick term or a percentage"):
        likelihood(None, None)


def test_every_band_lies_inside_zero_to_a_hundred_in_order() -> None:
    edges = [(b.low, b.high) for b in BANDS]
    assert edges == sorted(edges)
    assert all(0 <= low < high <= 100 for low, high in edges)
