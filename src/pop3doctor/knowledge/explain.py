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
