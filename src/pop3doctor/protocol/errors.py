"""Errors of the sans-IO core.

`ProtocolError` means the *peer* broke the protocol (or the connection ended
where it must not); its subclass `LocalProtocolError` means *we* asked for
something the protocol does not allow (a command in the wrong state, an
argument that would inject a second command) -- a bug of ours, never a fact
about the server.  A handler that turns a `ProtocolError` into a verdict
about the server must let `LocalProtocolError` through (or name it apart, as
`knowledge.evidence.cause_for_error` does by its code).  Like h11, the core
raises nothing else: arbitrary bytes from a server produce events or a
`ProtocolError`.

Hierarchy (codes in brackets)::

    ProtocolError [protocol-error]
    ├── LineTooLong [line-too-long]
    ├── ResponseTooLong [response-too-long]
    ├── MessageLargerThanListed [message-larger-than-listed]
    ├── NotPop3Greeting [not-pop3-greeting]
    ├── RemoteClosed [remote-closed]
    ├── StartTlsInjection [starttls-injection]
    └── LocalProtocolError [local-protocol-error]
"""

from __future__ import annotations

from pop3doctor.base_error import Pop3DoctorError


class ProtocolError(Pop3DoctorError):
    """The server sent something a POP3 client cannot accept."""

    code = "protocol-error"


class LineTooLong(ProtocolError):
    """A status or listing line exceeded the limit (see `limits.MAX_LINE`)."""

    code = "line-too-long"


class ResponseTooLong(ProtocolError):
    """A multi-line answer grew beyond its command's cap (`limits.BODY_LIMITS`).

    ``command`` names the command, ``limit`` the cap in octets.  The rest of
    the answer is never read: the connection is out of step and must be closed.
    """

    code = "response-too-long"

    def __init__(self, message: str, *, command: str, limit: int) -> None:
        super().__init__(message)
        self.command = command
        self.limit = limit


class MessageLargerThanListed(ProtocolError):
    """A RETR body ran far beyond the size LIST gave for it (the client's check, `client.retr_limit`).

    RFC 1939 s5 makes LIST's size exact; a body many times larger is a broken
    or hostile server streaming without end.  ``listed`` and ``limit`` are
    octets; the message is not saved, and must not be deleted.
    """

    code = "message-larger-than-listed"

    def __init__(self, message: str, *, msgnum: int, listed: int, limit: int) -> None:
        super().__init__(message)
        self.msgnum = msgnum
        self.listed = listed
        self.limit = limit


class NotPop3Greeting(ProtocolError):
    """The first line is not ``+OK``/``-ERR``: another service (IMAP, SMTP, HTTP) or garbage.

    ``line`` is the first line as received (bounded by the line limit) so the
    caller can say *what* answered instead.
    """

    code = "not-pop3-greeting"

    def __init__(self, message: str, *, line: bytes) -> None:
        super().__init__(message)
        self.line = line


class RemoteClosed(ProtocolError):
    """The server closed the connection while a response was still owed.

    ``during`` names what we were waiting for ("greeting" or a command name);
    ``in_body`` is true when a multi-line body had started (a dropped download).
    """

    code = "remote-closed"

    def __init__(self, message: str, *, during: str, in_body: bool) -> None:
        super().__init__(message)
        self.during = during
        self.in_body = in_body


class StartTlsInjection(ProtocolError):
    """Clear-text bytes arrived right behind the ``+OK`` to STLS, where TLS must begin.

    A real server says ``+OK`` and then waits for our handshake; anything
    more was either put there by someone between us and the server (the
    STARTTLS injection attack, CVE-2011-0411 class) or sent by a broken
    server.  Either way the session must end before a password is sent.
    ``injected`` is the start of those bytes (bounded), for the evidence.
    """

    code = "starttls-injection"

    def __init__(self, message: str, *, injected: bytes) -> None:
        super().__init__(message)
        self.injected = injected


class LocalProtocolError(ProtocolError):
    """We tried to do something POP3 does not allow in this state (our bug, not the server's)."""

    code = "local-protocol-error"
