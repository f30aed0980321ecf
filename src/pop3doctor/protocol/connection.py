"""The sans-IO POP3 client state machine.

Usage (any I/O model)::

    conn = ClientConnection()
    conn.receive_data(bytes_from_socket)      # b"" means the peer closed
    event = conn.next_event()                 # an Event, or NEED_DATA
    sock.send(conn.send(simple("STAT")))      # returns the bytes to write

Responses are matched to commands in the order they were sent, so any number
of commands may be outstanding (RFC 2449 PIPELINING) -- except across the
authentication boundary: USER, PASS, APOP, AUTH and STLS are sent alone, and
nothing is queued behind them (see `commands.BARRIER_COMMANDS`).  The core
never performs I/O, never sleeps and never reads a clock.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections import deque

from pop3doctor.protocol import events as ev
from pop3doctor.protocol.body import BodyDecoder
from pop3doctor.protocol.codes import parse_status_line
from pop3doctor.protocol.commands import Command
from pop3doctor.protocol.errors import (
    LineTooLong,
    LocalProtocolError,
    NotPop3Greeting,
    ProtocolError,
    RemoteClosed,
    ResponseTooLong,
    StartTlsInjection,
)
from pop3doctor.protocol.limits import BODY_LIMITS, MAX_LINE

#: Compact the receive buffer once this much of its front has been read.
_COMPACT_AT = 64 * 1024

# RFC 1939 s7: the APOP timestamp is a msg-id in angle brackets in the greeting.
_APOP_TIMESTAMP = re.compile(rb"<[^<>\s]+@[^<>\s]+>")


class State(enum.Enum):
    GREETING = "greeting"
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    CLOSED = "closed"


#: Commands allowed only after login (RFC 1939 s5).
_TRANSACTION_ONLY = frozenset({"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"})
#: Commands allowed only before login.
_AUTHORIZATION_ONLY = frozenset({"USER", "PASS", "APOP", "AUTH", "STLS", "UTF8"})


class ClientConnection:
    """POP3 client protocol state: feed bytes in, take events out, get bytes to send."""

    def __init__(self, *, max_line: int = MAX_LINE, body_limits: dict[str, int] | None = None) -> None:
        # Received bytes; ``_pos`` is where unread data starts.  Reading moves
        # the offset instead of deleting from the front, which would memmove
        # the rest of the buffer for every line (2,000 small pipelined
        # messages in one 256 KiB read cost ~0.5 GB of copying that way).
        self._buf = bytearray()
        self._pos = 0
        self._eof = False
        self._max_line = max_line
        self._pending: deque[Command] = deque()
        #: How many of ``_pending`` are barrier commands (kept, not recounted per send).
        self._barriers = 0
        self._body: BodyDecoder | None = None
        self._body_finished = False
        #: Octets of the current body read so far, and its command's cap (None: no cap).
        self._body_read = 0
        self._body_limit: int | None = None
        self._body_limits = BODY_LIMITS if body_limits is None else body_limits
        self._awaiting_tls = False
        self.state = State.GREETING
        #: Set by the caller when CAPA lists PIPELINING (RFC 2449 s6.6).
        self.pipelining = False

    # ---- sending -----------------------------------------------------------------

    @property
    def pending(self) -> tuple[Command, ...]:
        """Commands sent whose responses have not been fully received yet."""
        return tuple(self._pending)

    @property
    def in_body(self) -> bool:
        """True from a multi-line +OK until its `EndOfData`."""
        return self._body is not None

    def abandon(self) -> None:
        """The caller stops reading mid-answer (a limit of its own, such as RETR's
        size check): nothing sent afterwards could be matched to its answer."""
        self.state = State.CLOSED

    def can_send(self, command: Command) -> bool:
        """True when ``command`` may be sent now without breaking the pipelining rules."""
        if not self._pending:
            return True
        if command.barrier or self._barriers:
            return False
        return self.pipelining

    def send(self, command: Command) -> bytes:
        """Register ``command`` as sent and return its bytes for the wire."""
        if self.state is State.CLOSED:
            raise LocalProtocolError("connection is closed")
        if self.state is State.GREETING:
            raise LocalProtocolError("wait for the greeting before sending commands")
        if self._awaiting_tls:
            raise LocalProtocolError("STLS accepted: start TLS before sending anything else")
        if command.name in _TRANSACTION_ONLY and self.state is not State.TRANSACTION:
            raise LocalProtocolError(f"{command.name} is only valid after login")
        if command.name in _AUTHORIZATION_ONLY and self.state is not State.AUTHORIZATION:
            raise LocalProtocolError(f"{command.name} is only valid before login")
        if not self.can_send(command):
            raise LocalProtocolError(
                f"{command.name} cannot be queued now (pipelining off or an authentication step pending)"
            )
        data = command.encode()
        self._pending.append(command)
        self._barriers += command.barrier
        return data

    def send_sasl_response(self, response: bytes | None) -> bytes:
        """Answer a `Continuation`: ``response`` is raw bytes (base64-encoded here);
        ``None`` cancels the exchange with ``*`` (RFC 5034 s4)."""
        if not self._pending or self._pending[0].name != "AUTH":
            raise LocalProtocolError("no SASL exchange in progress")
        if response is None:
            return b"*\r\n"
        # RFC 5034 s4: continuation responses are not bound by the 255-octet command limit.
        return base64.b64encode(response) + b"\r\n"

    def tls_started(self) -> None:
        """Tell the core the TLS handshake after STLS succeeded; the session restarts
        in AUTHORIZATION and capabilities must be read again (RFC 2595 s4)."""
        if not self._awaiting_tls:
            raise LocalProtocolError("no STLS was accepted")
        self._awaiting_tls = False
        self.pipelining = False

    # ---- receiving ---------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Add bytes received from the server; ``b""`` means the server closed."""
        if data:
            if self._eof:
                raise LocalProtocolError("data received after EOF")
            if self._pos >= len(self._buf):
                self._buf = bytearray(data)
                self._pos = 0
            else:
                if self._pos >= _COMPACT_AT:
                    del self._buf[: self._pos]
                    self._pos = 0
                self._buf += data
        else:
            self._eof = True

    def next_event(self) -> ev.Event | ev._NeedData:
        """Return the next event, or `NEED_DATA`.  Raises `ProtocolError` on peer errors."""
        if self._body is not None:
            return self._next_body_event()
        line = self._take_line()
        if line is None:
            if self._eof:
                return self._on_eof()
            return ev.NEED_DATA
        if self.state is State.GREETING:
            return self._on_greeting(line)
        if not self._pending:
            return self._on_unsolicited(line)
        command = self._pending[0]
        if command.name == "AUTH" and (line == b"+" or line.startswith(b"+ ")):
            return self._on_continuation(command, line)
        status = parse_status_line(line)
        if status is None:
            raise ProtocolError(f"expected +OK or -ERR in answer to {command.name}, got {_show(line)}")
        response = ev.Response(command, status, bytes(line))
        if status.ok and command.multiline:
            self._body = BodyDecoder()
            self._body_read = 0
            self._body_limit = self._body_limits.get(command.name)
        else:
            self._finish_command()
            self._after_response(command, status.ok)
        return response

    # ---- internals ---------------------------------------------------------------

    def _finish_command(self) -> Command:
        command = self._pending.popleft()
        self._barriers -= command.barrier
        return command

    def _take_line(self) -> bytes | None:
        pos = self._pos
        idx = self._buf.find(b"\n", pos)
        if idx < 0:
            if len(self._buf) - pos > self._max_line:
                raise LineTooLong(f"a line of over {self._max_line} octets without CRLF")
            return None
        if idx + 1 - pos > self._max_line:
            raise LineTooLong(f"a line of {idx + 1 - pos} octets (limit {self._max_line})")
        line = bytes(self._buf[pos:idx])
        self._pos = idx + 1
        return line[:-1] if line.endswith(b"\r") else line

    def _next_body_event(self) -> ev.Event | ev._NeedData:
        assert self._body is not None
        command = self._pending[0]
        if not self._body_finished and self._pos < len(self._buf):
            start = self._pos
            data, self._pos, self._body_finished = self._body.decode(self._buf, self._pos)
            self._body_read += self._pos - start
            if self._body_limit is not None and self._body_read > self._body_limit:
                # The rest is never read; nothing sent after it can be matched.
                self.state = State.CLOSED
                raise ResponseTooLong(
                    f"the {command.name} answer exceeds {self._body_limit} octets",
                    command=command.name,
                    limit=self._body_limit,
                )
            if data:
                # When the terminator came in the same buffer, the data goes
                # out first and EndOfData with the next call.
                return ev.Data(command, data)
        if self._body_finished:
            self._body = None
            self._body_finished = False
            self._finish_command()
            return ev.EndOfData(command)
        if self._eof:
            raise RemoteClosed(
                f"the server closed the connection in the middle of the {command.name} data",
                during=command.name,
                in_body=True,
            )
        return ev.NEED_DATA

    def _on_greeting(self, line: bytes) -> ev.Greeting:
        status = parse_status_line(line)
        if status is None:
            raise NotPop3Greeting(f"not a POP3 greeting: {_show(line)}", line=bytes(line))
        match = _APOP_TIMESTAMP.search(line)
        timestamp = match.group().decode("ascii", "replace") if match else None
        self.state = State.AUTHORIZATION if status.ok else State.CLOSED
        return ev.Greeting(status, timestamp, bytes(line))

    def _on_unsolicited(self, line: bytes) -> ev.ServerNotice:
        status = parse_status_line(line)
        if status is None or status.ok:
            raise ProtocolError(f"unsolicited data from the server: {_show(line)}")
        # e.g. Dovecot's "-ERR Disconnected for inactivity." before it closes.
        self.state = State.CLOSED
        return ev.ServerNotice(status, bytes(line))

    def _on_continuation(self, command: Command, line: bytes) -> ev.Continuation:
        payload = line[2:].strip() if len(line) > 1 else b""
        try:
            challenge = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"SASL challenge is not base64: {_show(line)}") from exc
        return ev.Continuation(command, challenge, bytes(line))

    def _after_response(self, command: Command, ok: bool) -> None:
        name = command.name
        if not ok:
            return
        if name in ("PASS", "APOP", "AUTH"):
            self.state = State.TRANSACTION
        elif name == "QUIT":
            self.state = State.CLOSED
        elif name == "STLS":
            if self._pos < len(self._buf):
                # Bytes after "+OK" to STLS arrived in clear text and would be
                # read as if protected by TLS: the STARTTLS injection attack
                # (CVE-2011-0411 class).  Refuse rather than process them.
                raise StartTlsInjection(
                    "data received after the STLS response, before TLS (injection?)",
                    injected=bytes(self._buf[self._pos : self._pos + 200]),
                )
            self._awaiting_tls = True

    def _on_eof(self) -> ev.Event:
        if self.state is State.CLOSED and not self._pending:
            return ev.Closed()
        if self.state is State.GREETING:
            raise RemoteClosed("the server closed the connection before greeting", during="greeting", in_body=False)
        if self._pending:
            name = self._pending[0].name
            raise RemoteClosed(
                f"the server closed the connection without answering {name}", during=name, in_body=False
            )
        return ev.Closed()


def _show(line: bytes | bytearray, limit: int = 120) -> str:
    text = bytes(line[:limit]).decode("utf-8", "replace")
    return repr(text + ("…" if len(line) > limit else ""))
