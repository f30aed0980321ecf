"""The page's first language, from the browser's ``Accept-Language`` (RFC 9110 section 12.5.4)."""

from __future__ import annotations

from pop3doctor.i18n import Lang


def from_accept_language(header: str | None, default: Lang = "en") -> Lang:
    """The supported language the browser ranks highest ("ja-JP,ja;q=0.9,en;q=0.8" -> "ja")."""
    best: tuple[float, int, Lang] | None = None
    for position, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary not in ("ja", "en"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        # Higher quality wins; among equals, the earlier entry (the browser's order).
        found: Lang = "ja" if primary == "ja" else "en"
        key = (quality, -position, found)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else default
