"""Sans-IO POP3 client core: bytes in, events out.  No sockets, no asyncio, no clocks."""

from pop3doctor.protocol.capabilities import Capabilities, LineSplitter
from pop3doctor.protocol.codes import ResponseCode, StatusLine, parse_status_line
from pop3doctor.protocol.commands import Command
from pop3doctor.protocol.connection import ClientConnection, State
from pop3doctor.protocol.errors import (
    LineTooLong,
    LocalProtocolError,
    MessageLargerThanListed,
    NotPop3Greeting,
    ProtocolError,
    RemoteClosed,
    ResponseTooLong,
    StartTlsInjection,
)
from pop3doctor.protocol.events import (
    NEED_DATA,
    Closed,
    Continuation,
    Data,
    EndOfData,
    Event,
    Greeting,
    Response,
    ServerNotice,
)

__all__ = [
    "NEED_DATA",
    "Capabilities",
    "ClientConnection",
    "Closed",
    "Command",
    "Continuation",
    "Data",
    "EndOfData",
    "Event",
    "Greeting",
    "LineSplitter",
    "LineTooLong",
    "LocalProtocolError",
    "MessageLargerThanListed",
    "NotPop3Greeting",
    "ProtocolError",
    "RemoteClosed",
    "Response",
    "ResponseCode",
    "ResponseTooLong",
    "ServerNotice",
    "StartTlsInjection",
    "State",
    "StatusLine",
    "parse_status_line",
]
