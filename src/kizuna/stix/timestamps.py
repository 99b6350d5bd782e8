"""STIX/TAXII timestamps (RFC 3339, UTC, 'Z') to and from integer microseconds since the epoch.

Integers compare exactly and index well; the store keeps them beside the original text.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from kizuna.errors import InvalidInput

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_timestamp(text: object) -> bool:
    return isinstance(text, str) and _TIMESTAMP.fullmatch(text) is not None and _valid(text)


def _valid(text: str) -> bool:
    try:
        parse_timestamp(text)
    except InvalidInput:
        return False
    return True


def parse_timestamp(text: str) -> int:
    """Microseconds since the epoch. Digits past the microsecond are truncated."""
    match = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(f"{text!r} is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a valid date and time: {exc}") from None
    delta = moment - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000
    if fraction:
        micros += int((fraction + "000000")[:6])
    return micros


def format_timestamp(micros: int) -> str:
    """The TAXII form: always six fractional digits, so that every instant prints distinctly."""
    seconds, fraction = divmod(micros, 1_000_000)
    m = _EPOCH + timedelta(seconds=seconds)
    return (
        f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:{m.second:02d}"
        f".{fraction:06d}Z"
    )


def now_micros() -> int:
    return time.time_ns() // 1000
