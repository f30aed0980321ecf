"""Small behaviours that scenarios plug into a session.

A scenario is mostly data (texts, flags); what cannot be said as data is one
of these hooks:

- a *connect hook* runs before the greeting; it returns ``True`` to carry on
  with the normal greeting, ``False`` when it has dealt with the connection;
- a *transaction hook* sees each TRANSACTION-state command first; it returns
  ``True`` when it has answered (or broken) the command itself.

Hooks talk to the client only through `Conn`, so they know nothing of
asyncio streams or TLS.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from pop3doctor.lab.mailbox import LabMessage, stuff, top_blocks
from pop3doctor.lab.options import LabOptions


class Conn(Protocol):
    """What a hook may do with the connection it is given."""

    @property
    def options(self) -> LabOptions: ...

    async def send(self, data: bytes) -> None:
        """Write ``data`` and wait until the transport has taken it."""

    async def send_line(self, line: str) -> None:
        """Send one line; CRLF is added."""

    async def read_line(self) -> bytes | None:
        """Next client line without CRLF; ``None`` on EOF, idle timeout or overlong line."""

    def abort(self) -> None:
        """Drop the connection at once (no QUIT processing, no TLS close_notify)."""

    def message(self, arg: str) -> LabMessage | None:
        """The session's message numbered ``arg``, or ``None`` if there is none."""


ConnectHook = Callable[[Conn], Awaitable[bool]]
CommandHook = Callable[[Conn, str, list[str]], Awaitable[bool]]

#: RFC 3206 section 4 (SYS/TEMP: "may succeed later").  No provider's text for
#: a server-wide connection limit was found to cite, so the wording is ours.
BUSY_REPLY = "-ERR [SYS/TEMP] Too many connections, try again later"


async def busy(conn: Conn) -> bool:
    """Refuse every connection as a server at its connection limit does."""
    await conn.send_line(BUSY_REPLY)
    return False


async def slow_greeting(conn: Conn) -> bool:
    """Greet after ``greeting_delay`` seconds, or never (``inf``).

    While waiting, whatever the client sends is read and ignored, as a server
    stuck before its greeting would not answer it either.
    """
    delay = conn.options.greeting_delay
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay if math.isfinite(delay) else math.inf

    async def drain_input() -> None:
        while await conn.read_line() is not None:
            pass

    reader = asyncio.ensure_future(drain_input())
    try:
        timeout = None if deadline == math.inf else max(0.0, deadline - loop.time())
        done, _ = await asyncio.wait({reader}, timeout=timeout)
        # The client gave up (EOF) before the greeting was due.
        return not done
    finally:
        reader.cancel()
        # Let the cancellation land before the session reads: a StreamReader
        # still waiting in the cancelled reader refuses a second reader.
        await asyncio.wait({reader})


# Real banners of other services, so "not POP3" is recognisable as what it is.
# IMAP: Dovecot's greeting (RFC 9051 untagged OK with CAPABILITY), the form in
# Debian's dovecot-imapd.  SMTP: Postfix's default smtpd_banner on Debian,
# "$myhostname ESMTP $mail_name (Debian/GNU)".  HTTP: nginx's 400 page.
_IMAP_BANNER = (
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
    "STARTTLS AUTH=PLAIN] Dovecot (Debian) ready."
)
_SMTP_BANNER = "220 mail.example.jp ESMTP Postfix (Debian/GNU)"
_HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Server: nginx\r\n"
    b"Content-Type: text/html\r\n"
    b"Content-Length: 150\r\n"
    b"Connection: close\r\n"
    b"\r\n"
    b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
    b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


async def not_pop3(conn: Conn) -> bool:
    """Answer as an IMAP, SMTP or HTTP server would (``not_pop3_banner``).

    IMAP and SMTP servers greet first and then reject each POP3 command in
    their own protocol's words; an HTTP server says nothing until it has read
    a request line, then answers 400 and closes.
    """
    kind = conn.options.not_pop3_banner
    if kind == "http":
        if await conn.read_line() is not None:
            await conn.send(_HTTP_400)
        return False
    await conn.send_line(_IMAP_BANNER if kind == "imap" else _SMTP_BANNER)
    while (line := await conn.read_line()) is not None:
        if kind == "imap":
            tag = line.split(b" ", 1)[0].decode("ascii", "replace") or "*"
            await conn.send_line(f"{tag} BAD Error in IMAP command received by server.")
        else:
            # Postfix's reply to an unknown verb.
            await conn.send_line("502 5.5.2 Error: command not recognized")
            if line.strip().upper() == b"QUIT":
                break
    return False


async def drop_mid_retr(conn: Conn, verb: str, args: list[str]) -> bool:
    """RETR and TOP: send the status line and part of the content, then drop.

    TOP counts too, because a connection that breaks mid-transfer breaks for
    whatever is being transferred (and a diagnosis samples with TOP).
    """
    if verb not in ("RETR", "TOP") or len(args) != (1 if verb == "RETR" else 2):
        return False
    message = conn.message(args[0])
    if message is None or (verb == "TOP" and not args[1].isdigit()):
        return False
    if verb == "RETR":
        await conn.send_line(f"+OK {message.size} octets")
        blocks: Iterable[bytes] = message.chunks()
        total = message.size
    else:
        await conn.send_line("+OK")
        top = [stuff(b) for b in top_blocks(message, int(args[1]))]
        blocks, total = top, sum(map(len, top))
    budget = max(1, int(total * conn.options.drop_fraction))
    for chunk in blocks:
        block = stuff(chunk) if verb == "RETR" else chunk
        if len(block) >= budget:
            await conn.send(block[:budget])
            break
        await conn.send(block)
        budget -= len(block)
    conn.abort()
    return True


#: Malformed answers: "+0K" (zero, not O), a NUL, bytes that are not UTF-8 and
#: a bare LF; none of them is a status line (RFC 1939 section 3).
GARBAGE_LINE = b"+0K \x00\xff\xfe\x1b[31mmaildrop \xe3\x81\n ready\r\n"

_TRANSACTION_DATA_COMMANDS = frozenset({"STAT", "LIST", "UIDL", "RETR", "TOP"})


async def garbage(conn: Conn, verb: str, args: list[str]) -> bool:
    """Answer the commands that fetch data with a line that is not POP3."""
    if verb not in _TRANSACTION_DATA_COMMANDS:
        return False
    await conn.send(GARBAGE_LINE)
    return True


async def huge_line(conn: Conn, verb: str, args: list[str]) -> bool:
    """Answer data commands with a status line of ``huge_line_size`` octets.

    The line is well-formed (``+OK `` ... CRLF) apart from its length, so only
    a client that bounds its line buffer notices; the connection stays open.
    """
    if verb not in _TRANSACTION_DATA_COMMANDS:
        return False
    remaining = conn.options.huge_line_size - len(b"+OK \r\n")
    await conn.send(b"+OK ")
    piece = b"x" * 65536
    while remaining > 0:
        await conn.send(piece[:remaining])
        remaining -= len(piece)
    await conn.send(b"\r\n")
    return True
