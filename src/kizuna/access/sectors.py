"""Critical-infrastructure sectors of each partner country (DESIGN.md section 5)."""

from __future__ import annotations

SECTORS: dict[str, tuple[str, ...]] = {
    # UK CNI: 13 sectors, plus data infrastructure (designated September 2024).
    "GB": (
        "chemicals",
        "civil-nuclear",
        "communications",
        "defence",
        "emergency-services",
        "energy",
        "finance",
        "food",
        "government",
        "health",
        "space",
        "transport",
        "water",
        "data-infrastructure",
    ),
    # Japan: 15 critical-infrastructure sectors (ports added March 2024).
    "JP": (
        "information-and-communications",
        "finance",
        "aviation",
        "airports",
        "railways",
        "electric-power",
        "gas",
        "government-and-administrative-services",
        "medical",
        "water",
        "logistics",
        "chemicals",
        "credit-cards",
        "petroleum",
        "ports",
    ),
}


def check_sector(country: str, sector: str | None) -> None:
    if sector is None:
        return
    known = SECTORS.get(country)
    if known is not None and sector not in known:
        raise ValueError(
            f"{sector!r} is not a critical-infrastructure sector of {country}; "
            f"choose one of: {', '.join(known)}"
        )
