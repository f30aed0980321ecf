"""Sizes for people: one formatter for every front end."""

from __future__ import annotations


def human_size(octets: int) -> str:
    """``3344`` -> ``"3.3 KB"``.  Decimal units (1 KB = 1000 octets), as mail programs and
    providers state message and quota sizes."""
    size = float(octets)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{octets} B"
