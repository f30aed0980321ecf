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
