"""Errors of the sans-IO core.

`ProtocolError` means the *peer* broke the protocol (or the connection ended
where it must not); `LocalProtocolError` means *we* asked for something the
protocol does not allow (a command in the wrong state, an argument that would
inject a second command).  Like h11, the core raises nothing else: arbitrary
bytes from a server produce events or a `ProtocolError`.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """The server sent something a POP3 client cannot accept."""


class LineTooLong(ProtocolError):
    """A status or listing line exceeded the limit (see `limits.MAX_LINE`)."""


class NotPop3Greeting(ProtocolError):
    """The first line is not ``+OK``/``-ERR``: another service (IMAP, SMTP, HTTP) or garbage.

    ``line`` is the first line as received (bounded by the line limit) so the
    caller can say *what* answered instead.
    """

    def __init__(self, message: str, *, line: bytes) -> None:
        super().__init__(message)
        self.line = line


class RemoteClosed(ProtocolError):
    """The server closed the connection while a response was still owed.

    ``during`` names what we were waiting for ("greeting" or a command name);
    ``in_body`` is true when a multi-line body had started (a dropped download).
    """

    def __init__(self, message: str, *, during: str, in_body: bool) -> None:
        super().__init__(message)
        self.during = during
        self.in_body = in_body


class LocalProtocolError(Exception):
    """We tried to do something POP3 does not allow in this state."""
