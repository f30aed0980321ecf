"""Explicit limits, each with the reason for its value.

RFC 2449 section 4 limits a response line to 512 octets including CRLF, and a
command line to 255.  Real servers exceed the response limit (long
IMPLEMENTATION strings, provider errors with URLs, IMAP/HTTP banners when the
port is wrong), so we accept 16 times that before calling the peer broken;
that still bounds memory per line to a few kilobytes.  Message bodies have *no*
line limit: the body decoder streams, so a 10 MB line without CRLF (seen in
base64 bodies from broken senders) costs no memory.
"""

from __future__ import annotations

#: RFC 2449 s4: commands "MUST NOT exceed 255 octets, including the terminating CRLF".
MAX_COMMAND_LINE = 255

#: Status lines and lines of CAPA/LIST/UIDL listings: 16 x RFC 2449's 512.
MAX_LINE = 8192

#: Bytes we hold for one message's unique-id: RFC 1939 s7 says 1 to 70 characters.
#: Kept generous (some servers emit longer ones) but bounded.
MAX_UID = 512

# Multi-line bodies other than RETR's have a natural size, so each has a cap
# (issue 12: a TOP that never ended grew a diagnosis to 6 GB).  RETR has none
# here: a message is as large as it is, and the client checks it against the
# size LIST gave (`client.retr_limit`).

#: TOP n 0 is a message's header.  RFC 5322 s2.1.1 limits a line to 998
#: octets; real headers are a few KiB (large ones, with long Received and
#: ARC/DKIM chains, 50-100 KiB).  1 MiB is ten times the largest seen.
MAX_TOP = 1024 * 1024

#: CAPA (RFC 2449) lists a few dozen short lines; a SASL mechanism list the
#: same.  64 KiB is a hundred times Dovecot's answer.
MAX_CAPA = 64 * 1024

#: LIST and UIDL listings: one line per message, up to ~80 octets (RFC 1939
#: s7: a unique-id is at most 70 characters), so 64 MiB is ~800,000 messages,
#: beyond any mailbox POP3 serves in practice.
MAX_LISTING = 64 * 1024 * 1024

#: The cap per multi-line command; commands not named (RETR) have none.
BODY_LIMITS: dict[str, int] = {
    "TOP": MAX_TOP,
    "CAPA": MAX_CAPA,
    "AUTH": MAX_CAPA,
    "LIST": MAX_LISTING,
    "UIDL": MAX_LISTING,
}
