"""Units a threshold may be written in, and their conversion to a metric's unit."""

from __future__ import annotations

# Each family maps a unit to its size in the family's base unit.
_FAMILIES = (
    {"bit/s": 1, "kbit/s": 1e3, "Mbit/s": 1e6, "Gbit/s": 1e9},
    {"B/s": 1, "KiB/s": 2**10, "MiB/s": 2**20, "GiB/s": 2**30, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9},
    {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9, "min": 60e9, "h": 3600e9},
    {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30},
)


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` from one unit to another of the same family.

    Raises ``ValueError`` when the units do not measure the same thing.
    """
    if from_unit == to_unit:
        return value
    for family in _FAMILIES:
        if from_unit in family and to_unit in family:
            return value * family[from_unit] / family[to_unit]
    raise ValueError(f"cannot convert {from_unit!r} to {to_unit!r}")


def comparable(unit: str, other: str) -> bool:
    return unit == other or any(unit in family and other in family for family in _FAMILIES)
