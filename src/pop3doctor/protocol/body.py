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


class BodyDecoder:
    """Feed it buffers; it returns (unstuffed data, bytes consumed, finished)."""

    __slots__ = ("_at_line_start",)

    def __init__(self) -> None:
        # The body starts right after the status line's CRLF: a line start.
        self._at_line_start = True

    def decode(self, buf: bytes | bytearray, start: int = 0) -> tuple[bytes, int, bool]:
        """Decode ``buf[start:]``; returns (data, index up to which buf is consumed, finished)."""
        n = len(buf)
        if start >= n:
            return b"", start, False
        if self._at_line_start and buf[start] == 0x2E:  # "." at the very start
            if buf.startswith(b".\r\n", start):
                return b"", start + 3, True
            if buf.startswith(b".\n", start):
                return b"", start + 2, True
            if n - start <= 2 and buf[start:] in (b".", b".\r"):
                return b"", start, False  # could still become the terminator
        # The terminator is the first "\n.\r\n" in the buffer (RFC 1939), or a
        # bare-LF "\n.\n" from a lax server.
        end = buf.find(b"\n.\r\n", start)
        term_len = 4 if end >= 0 else 0
        # The lax bare-LF form only counts before the CRLF one; bounding the
        # search keeps it from scanning the rest of a buffer of pipelined
        # messages every time (quadratic in the number of messages per read).
        lf = buf.find(b"\n.\n", start, end + 3 if end >= 0 else n)
        if lf >= 0:
            end, term_len = lf, 3
        if end >= 0:
            region = bytes(buf[start : end + 1])
            consumed, finished = end + term_len, True
        else:
            cut = n
            last_nl = buf.rfind(b"\n", start)
            if last_nl >= 0 and n - last_nl <= 3 and buf[last_nl + 1 :] in (b".", b".\r"):
                cut = last_nl + 1  # hold back a possible terminator's start
            region = bytes(buf[start:cut])
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
