"""Status lines and RFC 2449 extended response codes.

A POP3 status line is ``+OK`` or ``-ERR``, optionally followed by a space and
text.  RFC 2449 section 8 lets the text start with a response code in square
brackets, hierarchical with ``/`` (``[SYS/TEMP]``, ``[AUTH]``, ``[IN-USE]``).
Servers are lax in practice, so parsing here is forgiving: ``+OK`` with no
space, lower-case ``+ok``, and text after a bracket without a space are all
accepted.  What is not a status line at all (an IMAP ``* OK`` banner, an HTTP
response) is reported as ``None`` so the caller can say "this is not POP3".
"""

from __future__ import annotations

from dataclasses import dataclass

# RFC 2449 section 8 codes, plus RFC 3206 (SYS/TEMP, SYS/PERM, AUTH) and RFC
# 6856 (UTF8).  Unknown codes are kept as they are: the classifier decides.
KNOWN_CODES = frozenset(
    {"LOGIN-DELAY", "IN-USE", "SYS", "SYS/TEMP", "SYS/PERM", "AUTH", "UTF8"}
)


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """An extended response code such as ``SYS/TEMP``; ``parts`` is ``("SYS", "TEMP")``."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ResponseCode:
        return cls(tuple(p.upper() for p in text.split("/") if p))

    @property
    def top(self) -> str:
        return self.parts[0] if self.parts else ""

    def __str__(self) -> str:
        return "/".join(self.parts)


@dataclass(frozen=True, slots=True)
class StatusLine:
    ok: bool
    code: ResponseCode | None
    text: str

    def __str__(self) -> str:
        head = "+OK" if self.ok else "-ERR"
        code = f"[{self.code}] " if self.code else ""
        return f"{head} {code}{self.text}".rstrip()


def parse_status_line(line: bytes | str) -> StatusLine | None:
    """Parse one status line (without or with its CRLF); ``None`` if it is not one."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", "replace")
    line = line.rstrip("\r\n")
    upper = line[:4].upper()
    if upper.startswith("+OK"):
        ok, rest = True, line[3:]
    elif upper == "-ERR":
        ok, rest = False, line[4:]
    else:
        return None
    if rest and not rest[0].isspace():
        # "+OKAY" is not a status line; "+OK[IN-USE]" is tolerated below.
        if rest[0] != "[":
            return None
    rest = rest.strip()
    code: ResponseCode | None = None
    if rest.startswith("["):
        end = rest.find("]")
        # RFC 2449: a code is a short atom; a long bracketed run is just text.
        if 1 < end <= 64 and " " not in rest[1:end]:
            code = ResponseCode.parse(rest[1:end])
            rest = rest[end + 1 :].strip()
    return StatusLine(ok=ok, code=code, text=rest)
