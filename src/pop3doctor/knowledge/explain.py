"""Explain one pasted line: a raw ``-ERR ...`` reply or a mail program's error text."""

from __future__ import annotations

from dataclasses import dataclass

from pop3doctor.knowledge.classify import banner_kind, classify_detail, classify_greeting

_GREETING_SOURCE = "RFC 1939 section 4 (a POP3 server greets with +OK)"


@dataclass(frozen=True, slots=True)
class Explanation:
    """``cause`` is a cause code or None (unknown); ``code`` the RFC 2449 code seen, if any."""

    cause: str | None
    code: str | None
    matched_pattern_source: str | None


def explain(text: str) -> Explanation:
    """Classify *text* without any network access.

    A banner of another protocol (IMAP ``* OK``, SMTP ``220``, ...) pasted as
    the "error" means the program connected to the wrong service.  Everything
    else goes through `classify_detail`, which finds a status line or a
    bracketed response code inside the text and then applies the wording
    patterns.
    """
    if banner_kind(text.lstrip()) is not None:
        return Explanation(classify_greeting(text.lstrip()), None, _GREETING_SOURCE)
    result = classify_detail(text)
    code = str(result.code) if result.code is not None else None
    return Explanation(result.cause, code, result.source)
