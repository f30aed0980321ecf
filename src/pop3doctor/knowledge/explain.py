"""Explain one pasted line: a raw ``-ERR ...`` reply or a mail program's error text."""

from __future__ import annotations

from dataclasses import dataclass

from pop3doctor.knowledge.classify import banner_kind, classify_detail, classify_greeting, quotes_server_reply
from pop3doctor.knowledge.client_messages import Check, client_names, match_client_message, quoted_reply

_GREETING_SOURCE = "RFC 1939 section 4 (a POP3 server greets with +OK)"


@dataclass(frozen=True, slots=True)
class ClientPart:
    """What a recognised mail-program message adds: whose it is, the candidates, the check.

    ``client_name`` is the program's name in ja and en; ``candidates`` are
    cause codes, most likely first; ``check`` is None when there is only one
    candidate (or the server's own words decided); ``host`` is the server name
    the message quoted, if any.
    """

    client: str
    client_name: Check
    message_id: str
    candidates: tuple[str, ...]
    check: Check | None
    host: str | None


@dataclass(frozen=True, slots=True)
class Explanation:
    """``cause`` is a cause code or None (unknown); ``code`` the RFC 2449 code seen, if any."""

    cause: str | None
    code: str | None
    matched_pattern_source: str | None
    client: ClientPart | None = None


def explain(text: str) -> Explanation:
    """Classify *text* without any network access.

    A banner of another protocol (IMAP ``* OK``, SMTP ``220``, ...) pasted as
    the "error" means the program connected to the wrong service.  A server
    reply quoted in the text (``-ERR ...``, a ``[CODE]``, or Thunderbird's
    "Mail server X responded: ...") that the server rules classify wins: the
    server's words say more than the program's.
    Otherwise a mail program's own message (client_messages.toml) gives the
    candidate causes in order and the check that separates them; failing
    that, `classify_detail` applies the wording patterns to the whole text.
    """
    if banner_kind(text.lstrip()) is not None:
        return Explanation(classify_greeting(text.lstrip()), None, _GREETING_SOURCE)
    result = classify_detail(text)
    code = str(result.code) if result.code is not None else None
    found = match_client_message(text)
    if found is None:
        return Explanation(result.cause, code, result.source)
    message = found.message
    name = client_names()[message.client]
    server = result if result.cause is not None and quotes_server_reply(text) else None
    reply = quoted_reply(text) if server is None else None
    if reply is not None:
        # Thunderbird quotes the server without its "-ERR": classify that part alone.
        quoted = classify_detail(reply)
        server = quoted if quoted.cause is not None else None
    if server is not None:
        server_code = str(server.code) if server.code is not None else None
        part = ClientPart(message.client, name, message.id, (str(server.cause),), None, found.host)
        return Explanation(server.cause, server_code, server.source, part)
    check = message.check if len(message.causes) > 1 else None
    part = ClientPart(message.client, name, message.id, message.causes, check, found.host)
    return Explanation(message.causes[0], code, found.wording.source, part)


#: A paste longer than this is read from its end: a log's last error is the one that matters,
#: and every line is classified (about 0.1 ms each), so the bound keeps a pasted log quick.
MAX_PASTE_CHARS = 1_000_000
#: A paste of at most this many lines may be one dialog broken over lines (Outlook's
#: "Task ... reported error" above "Account: ..., Socket Error: ..."): it is also read whole.
DIALOG_LINES = 8


@dataclass(frozen=True, slots=True)
class PasteReading:
    """What `explain_paste` read: the explanation, the 1-based line numbers it used, their text.

    ``lines`` is empty when the paste was one line (there is nothing to say about
    which line); ``text`` is exactly what was explained.
    """

    explanation: Explanation
    lines: tuple[int, ...]
    text: str


def _telling(result: Explanation) -> tuple[int, int, bool]:
    """How much a result says: a server reply that decided > a mail program's message >
    a wording pattern > nothing; among equals, fewer candidates say more, and then
    naming the server (what the check is started with) says more."""
    if result.cause is None:
        return (0, 0, False)
    part = result.client
    if part is None:
        return (3 if result.code is not None else 2, 0, False)
    named = part.host is not None
    if part.check is None:  # one candidate, or the quoted server reply decided
        return (4, 0, named)
    return (3, -len(part.candidates), named)


def explain_paste(text: str) -> PasteReading:
    """Explain a paste of one or many lines (a dialog, a mail program's log).

    Each non-empty line is explained and the most telling one is used (among
    equals the last: a log ends with the failure that stopped it); a short paste
    is also explained whole, and wins when that says more (a dialog split over
    lines).  Pure: no I/O.
    """
    text = text[-MAX_PASTE_CHARS:]
    numbered = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(numbered) <= 1:
        only = numbered[0][1] if numbered else text.strip()
        return PasteReading(explain(only), (), only)
    best: PasteReading | None = None
    best_score = (0, 0, False)
    for number, line in numbered:
        result = explain(line)
        score = _telling(result)
        if best is None or score >= best_score:
            best, best_score = PasteReading(result, (number,), line), score
    if len(numbered) <= DIALOG_LINES:
        joined = " ".join(line for _, line in numbered)
        whole = explain(joined)
        if _telling(whole) > best_score:
            return PasteReading(whole, tuple(n for n, _ in numbered), joined)
    assert best is not None
    return best
