"""Server text -> cause code.

Two questions are answered here, both as pure functions over strings:

* `classify_response`: what does this ``-ERR`` reply (or a mail program's
  error text quoting one) mean?  RFC 2449 / RFC 3206 response codes are
  consulted first because they are the server's own machine-readable verdict;
  the wording patterns in ``data/patterns.toml`` come second, and refine the
  broad codes ``[AUTH]`` and ``[SYS/PERM]`` (Gmail says ``[AUTH]`` both for a
  wrong password and for "application-specific password required").
* `classify_greeting`: is the first line on the port a POP3 greeting at all?
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.knowledge._data import load
from pop3doctor.protocol.codes import KNOWN_CODES, ResponseCode, parse_status_line

# Where the response-code rules come from, reported as the "source" of a
# classification made by code alone.
_RFC2449 = "RFC 2449 section 8.1 (extended response codes)"
_RFC3206 = "RFC 3206 (SYS and AUTH response codes)"

# Codes whose meaning is complete by itself: the wording cannot change it.
# [IN-USE] and [LOGIN-DELAY] say exactly what happened (RFC 2449 8.1.1/8.1.2);
# [SYS/TEMP] says "wait and retry", which is the remedy whatever the words.
_DEFINITIVE: dict[tuple[str, ...], tuple[str, str]] = {
    ("IN-USE",): ("mailbox-in-use", _RFC2449),
    ("LOGIN-DELAY",): ("login-delay", _RFC2449),
    ("SYS", "TEMP"): ("server-temporary-error", _RFC3206),
}
# Broad codes: a wording pattern may say more; otherwise this is the cause.
_REFINABLE: dict[tuple[str, ...], tuple[str, str]] = {
    ("AUTH",): ("auth-failed", _RFC3206),
    ("SYS", "PERM"): ("server-permanent-error", _RFC3206),
}

# A status line quoted inside a longer message ("Error sending password: -ERR ...").
_EMBEDDED_STATUS = re.compile(r"(?:^|[\s:'\"(])(-ERR\b|\+OK\b)", re.IGNORECASE)
# A bare response code quoted without its "-ERR" ("server said: [AUTH] ...").
_BRACKET_CODE = re.compile(r"\[([A-Za-z][A-Za-z0-9/-]{0,62})\]")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One wording from patterns.toml; ``stages`` None means any stage."""

    id: str
    cause: str
    regex: re.Pattern[str]
    source: str
    sample: str
    stages: frozenset[str] | None
    #: Definitive response codes this wording overrides ("IN-USE"): servers send
    #: [IN-USE] for connection limits too (Dovecot's mail_max_userip_connections).
    refines: frozenset[str] = frozenset()

    def applies(self, text: str, stage: str | None) -> bool:
        if self.stages is not None and stage not in self.stages:
            return False
        return self.regex.search(text) is not None


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict with its evidence: which code, which pattern (its source)."""

    cause: str | None
    code: ResponseCode | None
    source: str | None
    pattern_id: str | None = None


def _parse_pattern(raw: dict[str, Any]) -> Pattern:
    stages = raw.get("stages")
    return Pattern(
        id=str(raw["id"]),
        cause=str(raw["cause"]),
        regex=re.compile(str(raw["regex"]), re.IGNORECASE),
        source=str(raw["source"]),
        sample=str(raw["sample"]),
        stages=frozenset(stages) if stages is not None else None,
        refines=frozenset(raw.get("refines", ())),
    )


@cache
def all_patterns() -> tuple[Pattern, ...]:
    """The wording patterns in priority order (first match wins)."""
    return tuple(_parse_pattern(p) for p in load("patterns.toml")["pattern"])


def match_wording(text: str, stage: str | None = None) -> Pattern | None:
    """The first wording pattern that matches *text* at *stage*, or None."""
    for pattern in all_patterns():
        if pattern.applies(text, stage):
            return pattern
    return None


def _split(text: str) -> tuple[bool, ResponseCode | None, str]:
    """Find the status line or bare response code in *text*, if any."""
    stripped = text.strip()
    status = parse_status_line(stripped)
    if status is None:
        found = _EMBEDDED_STATUS.search(stripped)
        if found:
            status = parse_status_line(stripped[found.start(1) :])
    if status is not None:
        return status.ok, status.code, status.text
    bracket = _BRACKET_CODE.search(stripped)
    if bracket:
        code = ResponseCode.parse(bracket.group(1))
        if str(code) in KNOWN_CODES:
            return False, code, stripped[bracket.end() :].strip()
    return False, None, stripped


def quotes_server_reply(text: str) -> bool:
    """Whether *text* holds a server's status line or a known ``[CODE]``.

    A mail program's message that quotes the server ("... The server responded:
    -ERR [AUTH] ...") is then explained by the server's words, which say more
    than the program's.
    """
    stripped = text.strip()
    if parse_status_line(stripped) is not None or _EMBEDDED_STATUS.search(stripped):
        return True
    bracket = _BRACKET_CODE.search(stripped)
    return bracket is not None and str(ResponseCode.parse(bracket.group(1))) in KNOWN_CODES


def classify_detail(
    text: str,
    *,
    code: ResponseCode | None = None,
    stage: str | None = None,
    ok: bool = False,
) -> Classification:
    """Like `classify_response`, but also says which code and pattern decided."""
    if code is None:
        parsed_ok, code, text = _split(text)
        ok = ok or parsed_ok
    if ok:
        # A success reply is not a failure to explain, whatever it says.
        return Classification(None, code, None)
    if code is not None:
        definitive = _DEFINITIVE.get(code.parts[:2]) or _DEFINITIVE.get(code.parts[:1])
        if definitive:
            refining = next((p for p in all_patterns() if str(code) in p.refines and p.applies(text, stage)), None)
            if refining is not None:
                return Classification(refining.cause, code, refining.source, refining.id)
            return Classification(definitive[0], code, definitive[1])
    pattern = match_wording(text, stage)
    if pattern is not None:
        return Classification(pattern.cause, code, pattern.source, pattern.id)
    if code is not None:
        broad = _REFINABLE.get(code.parts[:2]) or _REFINABLE.get(code.parts[:1])
        if broad:
            return Classification(broad[0], code, broad[1])
    return Classification(None, code, None)


def classify_response(
    text: str,
    *,
    code: ResponseCode | None = None,
    stage: str | None = None,
    ok: bool = False,
) -> str | None:
    """The cause code for a server reply, or None when nothing is known about it.

    *text* is either the status text with *code* already parsed out (what the
    protocol layer hands over), or a raw line / a mail program's error message
    (then the status line or ``[CODE]`` inside it is found here).  *ok* marks a
    ``+OK`` reply, which is never a failure.  *stage* lets stage-specific
    wordings apply (see patterns.toml); with None they are skipped.

    Order: definitive response codes ([IN-USE], [LOGIN-DELAY], [SYS/TEMP]),
    then wording patterns, then the broad codes' default ([AUTH] ->
    auth-failed, [SYS/PERM] -> server-permanent-error).
    """
    return classify_detail(text, code=code, stage=stage, ok=ok).cause


# --- greetings --------------------------------------------------------------

_BANNERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # A TLS record (alert 0x15 or handshake 0x16, version 3.x): this port
    # speaks TLS from the first byte and our plain-text client confused it.
    ("tls", re.compile(r"^[\x15\x16]\x03[\x00-\x04]")),
    ("imap", re.compile(r"^\* (OK|PREAUTH|BYE)\b", re.IGNORECASE)),
    ("smtp", re.compile(r"^[2345]\d\d[ -]")),  # SMTP and FTP banners alike
    ("http", re.compile(r"^HTTP/\d", re.IGNORECASE)),
    ("ssh", re.compile(r"^SSH-\d")),
    ("html", re.compile(r"^<(!doctype|html)", re.IGNORECASE)),
)


def banner_kind(line: str) -> str | None:
    """Name the non-POP3 protocol a first line belongs to ("imap", "smtp", ...), or None."""
    for kind, regex in _BANNERS:
        if regex.search(line):
            return kind
    return None


def classify_greeting(line: str) -> str | None:
    """The cause for a bad first line from the server; None for a POP3 ``+OK`` greeting.

    RFC 1939 section 4: the server greets with ``+OK``.  A ``-ERR`` greeting is
    classified like any reply (e.g. "too many connections"); a TLS record means
    the port wants TLS from the start ("port-expects-tls"); anything else that
    is not empty (IMAP ``* OK``, SMTP ``220``, HTTP, SSH, ...) is "not-pop3".
    """
    if banner_kind(line) == "tls":
        return "port-expects-tls"
    stripped = line.strip()
    if not stripped:
        return None
    status = parse_status_line(stripped)
    if status is not None:
        if status.ok:
            return None
        return classify_response(status.text, code=status.code, stage="greeting")
    return "not-pop3"
