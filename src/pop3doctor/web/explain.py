"""A pasted mail-program message or server reply, explained for the page: plain JSON, both languages.

Thin: `pop3doctor.knowledge.explain.explain_paste` decides everything; this
module only words its answer for the page.  The pasted text (the line read,
the server name it quoted) goes out through `visible`, and the page sets it
with ``textContent``: shown, never obeyed.
"""

from __future__ import annotations

from typing import Any

from pop3doctor.escaping import visible
from pop3doctor.i18n import LANGS
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.client_messages import Check
from pop3doctor.knowledge.explain import PasteReading
from pop3doctor.web import text as t
from pop3doctor.web.events import Bilingual, both
from pop3doctor.web.form import valid_host


def _pair(text: Check) -> Bilingual:
    return {"ja": visible(text.ja), "en": visible(text.en)}


def explain_event(reading: PasteReading) -> dict[str, Any]:
    """The explanation the page shows, and the server name to prefill the form with (or None)."""
    result = reading.explanation
    part = result.client
    data: dict[str, Any] = {
        "cause": result.cause,
        "client_name": _pair(part.client_name) if part is not None else None,
        "title": None,
        "explanation": None,
        "candidates": [],
        "check": _pair(part.check) if part is not None and part.check is not None else None,
        "remedy": [],
        "host": None,
        "read": None,
        "unknown": both(t.EXPLAIN_UNKNOWN) if result.cause is None else None,
    }
    if reading.lines:
        data["read"] = {"lines": list(reading.lines), "text": visible(reading.text)}
    if part is not None and part.host is not None and valid_host(part.host):
        data["host"] = visible(part.host)
    if result.cause is None:
        return data
    info = get_cause(result.cause)
    data["title"] = both(info.title)
    data["explanation"] = {lang: visible(info.explanation_text(lang), keep_newlines=True) for lang in LANGS}
    steps = {lang: info.remedy_text(lang) for lang in LANGS}
    data["remedy"] = [{lang: visible(steps[lang][i]) for lang in LANGS} for i in range(len(steps["en"]))]
    if part is not None and len(part.candidates) > 1:
        data["candidates"] = [{"cause": c, "title": both(get_cause(c).title)} for c in part.candidates]
    return data
