"""CAPA responses (RFC 2449 s5-6) and the listings of LIST, UIDL and STAT (RFC 1939)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from pop3doctor.protocol.errors import LineTooLong, ProtocolError
from pop3doctor.protocol.limits import MAX_LINE, MAX_UID


@dataclass(frozen=True)
class Capabilities:
    """What the server announced.  Names are upper-case; arguments as sent."""

    items: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: False when CAPA failed (RFC 1939-only servers): nothing is known, not "nothing offered".
    known: bool = True

    @classmethod
    def parse(cls, lines: list[bytes]) -> Capabilities:
        items: dict[str, tuple[str, ...]] = {}
        for raw in lines:
            words = raw.decode("utf-8", "replace").split()
            if words:
                items[words[0].upper()] = tuple(words[1:])
        return cls(items)

    @classmethod
    def unknown(cls) -> Capabilities:
        return cls({}, known=False)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.upper() in self.items

    def args(self, name: str) -> tuple[str, ...]:
        return self.items.get(name.upper(), ())

    @property
    def sasl(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.args("SASL"))

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self

    @property
    def stls(self) -> bool:
        return "STLS" in self

    @property
    def login_delay(self) -> int | None:
        """Minimum seconds between logins (RFC 2449 s6.5), when announced."""
        args = self.args("LOGIN-DELAY")
        return int(args[0]) if args and _is_number(args[0]) else None

    @property
    def expire(self) -> str | None:
        """Days the server keeps retrieved mail, "NEVER", or None (RFC 2449 s6.7)."""
        args = self.args("EXPIRE")
        return args[0] if args else None

    @property
    def implementation(self) -> str | None:
        args = self.args("IMPLEMENTATION")
        return " ".join(args) if args else None

    def to_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.items.items()}


def _is_number(text: str) -> bool:
    # str.isdigit() accepts "²" and other digits int() refuses: a hostile
    # server's STAT or CAPA would then raise ValueError instead of ProtocolError.
    return text.isascii() and text.isdigit()


class LineSplitter:
    """Splits streamed listing data into lines, with the per-line limit enforced."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._rest = b""
        self._max_line = max_line

    def feed(self, data: bytes) -> Iterator[bytes]:
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()
        if len(self._rest) > self._max_line:
            raise LineTooLong(f"listing line of over {self._max_line} octets")
        for line in lines:
            if len(line) > self._max_line:
                raise LineTooLong(f"listing line of {len(line)} octets")
            yield line[:-1] if line.endswith(b"\r") else line

    def close(self) -> Iterator[bytes]:
        if self._rest.strip():
            yield self._rest.rstrip(b"\r")
        self._rest = b""


def _short_number(token: bytes) -> bool:
    # int() refuses over 4,300 digits with ValueError (CPython's limit on
    # int parsing), which a hostile listing line must not turn into a crash.
    return token.isdigit() and len(token) <= 20


def parse_scan_line(line: bytes) -> tuple[int, int]:
    """``"msgno octets"`` from LIST (RFC 1939 s5 scan listing)."""
    parts = line.split()
    if len(parts) < 2 or not _short_number(parts[0]) or not _short_number(parts[1]):
        raise ProtocolError(f"bad scan listing line: {line[:80]!r}")
    return int(parts[0]), int(parts[1])


def parse_uidl_line(line: bytes) -> tuple[int, str]:
    """``"msgno unique-id"`` from UIDL (RFC 1939 s7: 1-70 chars 0x21-0x7E)."""
    parts = line.split()
    if len(parts) < 2 or not _short_number(parts[0]):
        raise ProtocolError(f"bad UIDL line: {line[:80]!r}")
    uid = parts[1]
    if len(uid) > MAX_UID:
        raise ProtocolError(f"unique-id of {len(uid)} octets")
    return int(parts[0]), uid.decode("ascii", "replace")


def parse_stat_text(text: str) -> tuple[int, int]:
    """The text of a STAT +OK: ``"count octets"``."""
    parts = text.split()
    if len(parts) < 2 or not _is_number(parts[0]) or not _is_number(parts[1]):
        raise ProtocolError(f"bad STAT response: {text[:80]!r}")
    return int(parts[0]), int(parts[1])
