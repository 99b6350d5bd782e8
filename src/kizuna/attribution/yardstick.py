"""The UK probability yardstick (DESIGN.md section 5): attribution likelihood in words and
the STIX ``confidence`` (0-100) that goes with it.

The bands leave gaps on purpose (a 7% judgement is not one the yardstick can express), so a
percentage in a gap is refused rather than rounded into a neighbouring term.
"""

from __future__ import annotations

from dataclasses import dataclass

from kizuna.errors import InvalidInput

__all__ = ["BANDS", "Band", "likelihood"]


@dataclass(frozen=True, slots=True)
class Band:
    term: str
    low: int
    high: int

    @property
    def middle(self) -> int:
        return (self.low + self.high) // 2


BANDS: tuple[Band, ...] = (
    Band("remote chance", 0, 5),
    Band("highly unlikely", 10, 20),
    Band("unlikely", 25, 35),
    Band("realistic possibility", 40, 50),
    Band("likely", 55, 75),
    Band("highly likely", 80, 90),
    Band("almost certain", 95, 100),
)
_TERMS = ", ".join(b.term for b in BANDS)


def _band(term: str) -> Band:
    wanted = " ".join(term.lower().replace("-", " ").split())
    for band in BANDS:
        if band.term == wanted:
            return band
    raise InvalidInput(f"likelihood {term!r} is not on the UK probability yardstick ({_TERMS})")


def _band_of(percent: int) -> Band:
    for band in BANDS:
        if band.low <= percent <= band.high:
            return band
    raise InvalidInput(
        f"{percent}% falls in a gap of the UK probability yardstick; choose one of "
        + ", ".join(f"{b.term} ({b.low}-{b.high}%)" for b in BANDS)
    )


def likelihood(term: str | None, percent: int | None) -> tuple[str, int]:
    """(yardstick term, STIX confidence) from a term, a percentage, or both (which must
    agree). A term alone gives the middle of its band."""
    if percent is not None and not 0 <= percent <= 100:
        raise InvalidInput(f"confidence is a percentage from 0 to 100, not {percent}")
    if term is None:
        if percent is None:
            raise InvalidInput("give the likelihood as a yardstick term or a percentage")
        band = _band_of(percent)
        return band.term, percent
    band = _band(term)
    if percent is None:
        return band.term, band.middle
    if not band.low <= percent <= band.high:
        raise InvalidInput(f"{percent}% is not {band.term} ({band.low}-{band.high}%)")
    return band.term, percent
