"""Incremental decoding of multi-line bodies (RFC 1939 s3): dot-unstuffing and
the terminating ``.`` line, without ever holding a whole message.

The decoder only has to look at line starts that begin with ``.``; everything
else is copied through.  It jumps between ``\\n.`` occurrences with
``bytes.find``, so its cost is one C-level scan per buffer, not a Python loop
per line.  Bytes are held back only when a buffer ends where the next bytes
could turn out to be the terminator (after ``\\n``, ``\\n.`` or ``\\n.\\r``).
"""

from __future__ import annotations

_DOT = 0x2E
_CR = 0x0D
_LF = 0x0A


class BodyDecoder:
    """Feed it buffers; it returns (unstuffed data, bytes consumed, finished)."""

    __slots__ = ("_at_line_start",)

    def __init__(self) -> None:
        # The body starts right after the status line's CRLF: a line start.
        self._at_line_start = True

    def decode(self, buf: bytes | bytearray) -> tuple[bytes, int, bool]:
        view = memoryview(buf)
        n = len(view)
        pos = 0
        out: list[memoryview] = []
        finished = False
        while pos < n:
            if self._at_line_start:
                if view[pos] == _DOT:
                    if pos + 1 >= n:
                        break  # "." alone so far: could be the terminator
                    nxt = view[pos + 1]
                    if nxt == _LF:
                        # ".\n": a terminator from a server that sends bare LF.
                        pos += 2
                        finished = True
                        break
                    if nxt == _CR:
                        if pos + 2 >= n:
                            break  # ".\r" so far
                        if view[pos + 2] == _LF:
                            pos += 3
                            finished = True
                            break
                    pos += 1  # a stuffed dot: drop it (RFC 1939 s3)
                self._at_line_start = False
                if pos >= n:
                    break
            # Copy through to the next line that starts with a dot.
            idx = buf.find(b"\n.", pos)
            if idx < 0:
                out.append(view[pos:n])
                self._at_line_start = view[n - 1] == _LF
                pos = n
                break
            out.append(view[pos : idx + 1])
            pos = idx + 1
            self._at_line_start = True
        if not out:
            data = b""
        elif len(out) == 1:
            data = out[0].tobytes()
        else:
            data = b"".join(out)
        return data, pos, finished


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
