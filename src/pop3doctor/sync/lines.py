"""Streaming line conversion for local mail files: CRLF -> LF, and mboxrd quoting.

POP3 delivers messages with CRLF line ends (RFC 1939 s3); Maildir and mbox
files hold LF, as every Unix mail reader expects.  mboxrd additionally quotes
every line matching ``^>*From `` with one more ``>`` so a reader that splits on
``From `` lines can restore the message exactly (the reverse strips one ``>``).

The converter takes arbitrary chunks (a chunk may end inside a line, between CR
and LF, or inside ``From``) and keeps at most one partial line, cut at
`MAX_HELD` octets, so memory stays bounded whatever the message looks like.
"""

from __future__ import annotations

import re

#: Longest partial line held back between chunks.  A line longer than this is
#: passed on in pieces; its start (which decides the mboxrd quoting) has then
#: been seen already, so cutting it is safe.
MAX_HELD = 64 * 1024

_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


class LineConverter:
    """Feed chunks, get converted bytes; call `finish` once at the end.

    ``mboxrd`` True adds the ``>From`` quoting.  `finish` guarantees the output
    ends with ``\\n`` when ``ensure_newline`` is True (mbox needs a line end
    before the separating blank line; Maildir keeps the message as it was).
    """

    def __init__(self, *, mboxrd: bool = False) -> None:
        self._mboxrd = mboxrd
        self._held = b""
        self._at_line_start = True
        self._last = b""

    def feed(self, data: bytes) -> bytes:
        buf = self._held + data if self._held else data
        cut = buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) < MAX_HELD:
                self._held = buf
                return b""
            # A very long line: pass it on, but keep a trailing CR that may
            # be the first half of a CRLF split across chunks.
            cut = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        out, self._held = buf[:cut], buf[cut:]
        return self._convert(out)

    def finish(self, *, ensure_newline: bool = False) -> bytes:
        out = self._convert(self._held) if self._held else b""
        self._held = b""
        if ensure_newline and not (out or self._last).endswith(b"\n"):
            out += b"\n"
        return out

    def _convert(self, out: bytes) -> bytes:
        out = out.replace(b"\r\n", b"\n")
        if self._mboxrd and b"From " in out:
            if self._at_line_start:
                out = _FROM_LINE.sub(rb">\1", out)
            else:
                # The first line continues one already passed on: its start
                # was decided then, so only later lines may be quoted.
                first = out.find(b"\n") + 1
                if first:
                    out = out[:first] + _FROM_LINE.sub(rb">\1", out[first:])
        if out:
            self._at_line_start = out.endswith(b"\n")
            self._last = out[-1:]
        return out


def convert_all(data: bytes, *, mboxrd: bool = False, ensure_newline: bool = False) -> bytes:
    """Convert a whole message at once (tests and small inputs)."""
    conv = LineConverter(mboxrd=mboxrd)
    return conv.feed(data) + conv.finish(ensure_newline=ensure_newline)
