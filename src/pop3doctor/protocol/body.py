"""Incremental decoding of multi-line bodies (RFC 1939 s3): dot-unstuffing and
the terminating ``.`` line, without ever holding a whole message.

Inside a body, a line can start with ``.`` only when the server stuffed it or
when it is the terminator.  So for a stretch of buffer known not to contain
the terminator, unstuffing is a single ``replace(b"\\n.", b"\\n")`` -- one C
pass, however many dot lines a message has (a profile of the line-by-line
version spent most of a 100 MB fetch in a Python loop over them).  Bytes are
held back only when a buffer ends where the next bytes could turn out to be
the terminator (``\\n.`` or ``\\n.\\r``).
"""

from __future__ import annotations

#: Terminators: CRLF as RFC 1939 says, and bare LF from lax servers.
_TERMINATORS = (b"\n.\r\n", b"\n.\n")


class BodyDecoder:
    """Feed it buffers; it returns (unstuffed data, bytes consumed, finished)."""

    __slots__ = ("_at_line_start",)

    def __init__(self) -> None:
        # The body starts right after the status line's CRLF: a line start.
        self._at_line_start = True

    def decode(self, buf: bytes | bytearray) -> tuple[bytes, int, bool]:
        n = len(buf)
        if n == 0:
            return b"", 0, False
        if self._at_line_start and buf[0] == 0x2E:  # "." at the very start
            if buf.startswith((b".\r\n", b".\n")):
                return b"", 3 if buf[1] == 0x0D else 2, True
            if buf in (b".", b".\r"):
                return b"", 0, False  # could still become the terminator
        # The terminator is the first "\n.\r\n" (or "\n.\n") in the buffer.
        end = -1
        term_len = 0
        for term in _TERMINATORS:
            idx = buf.find(term)
            if idx >= 0 and (end < 0 or idx < end):
                end, term_len = idx, len(term)
        if end >= 0:
            region = bytes(buf[: end + 1])
            consumed, finished = end + term_len, True
        else:
            cut = n
            last_nl = buf.rfind(b"\n")
            if last_nl >= 0 and buf[last_nl + 1 :] in (b".", b".\r"):
                cut = last_nl + 1  # hold back a possible terminator's start
            region = bytes(buf[:cut])
            consumed, finished = cut, False
        if not region:
            return b"", consumed, finished
        starts_line = self._at_line_start
        self._at_line_start = region.endswith(b"\n")
        if starts_line and region.startswith(b"."):
            region = region[1:]  # a stuffed dot at the start of this buffer
        return region.replace(b"\n.", b"\n"), consumed, finished


def stuff(message: bytes) -> bytes:
    """Dot-stuff a message for sending as a multi-line body (the lab and tests use it).

    Lines are CRLF-terminated on the wire; a final line without CRLF gets one,
    then the terminator follows.
    """
    if not message:
        return b".\r\n"
    if message.startswith(b"."):
        message = b"." + message
    message = message.replace(b"\n.", b"\n..")
    if not message.endswith(b"\n"):
        message += b"\r\n"
    return message + b".\r\n"
