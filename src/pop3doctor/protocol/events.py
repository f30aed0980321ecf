"""Events the sans-IO client core hands out, in the order the server sent them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pop3doctor.protocol.codes import StatusLine
from pop3doctor.protocol.commands import Command


@dataclass(frozen=True, slots=True)
class Greeting:
    """The server's first line.  ``apop_timestamp`` is the ``<...@...>`` banner part (RFC 1939 s7)."""

    status: StatusLine
    apop_timestamp: str | None
    raw: bytes


@dataclass(frozen=True, slots=True)
class Response:
    """A status line answering ``command``.  For a multi-line +OK, `Data` events follow."""

    command: Command
    status: StatusLine
    raw: bytes

    @property
    def ok(self) -> bool:
        return self.status.ok


@dataclass(frozen=True, slots=True)
class Continuation:
    """A SASL server challenge (``+ base64``), already base64-decoded (RFC 5034)."""

    command: Command
    challenge: bytes
    raw: bytes


@dataclass(frozen=True, slots=True)
class Data:
    """A chunk of a multi-line body, dot-unstuffed, line endings as the server sent them."""

    command: Command
    data: bytes


@dataclass(frozen=True, slots=True)
class EndOfData:
    """The terminating ``.`` of a multi-line body."""

    command: Command


@dataclass(frozen=True, slots=True)
class ServerNotice:
    """A status line nobody asked for, typically ``-ERR Disconnected for inactivity``
    just before the server closes.  Kept as an event so it can be classified."""

    status: StatusLine
    raw: bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The server closed the connection at a point where that is allowed."""


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by `ClientConnection.next_event` when more bytes are needed.
NEED_DATA: Final = _NeedData()

Event = Greeting | Response | Continuation | Data | EndOfData | ServerNotice | Closed
