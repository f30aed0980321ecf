"""Errors of the POP3 client layer (above net/ and protocol/).

The hierarchy is typed so nothing above parses messages: network failures are
`pop3doctor.net.errors.NetError` subclasses, peer misbehaviour is
`pop3doctor.protocol.ProtocolError`, and what the server *said* is a
`ServerError` carrying the parsed status line.
"""

from __future__ import annotations

from pop3doctor.protocol.codes import StatusLine


class Pop3Error(Exception):
    """Base of the client's own errors."""


class ServerError(Pop3Error):
    """The server answered ``-ERR`` (or an ``-ERR`` greeting).

    ``stage`` is where it happened ("greeting", "stls", "user", "login",
    "stat", "retr", ...); ``command`` is the *redacted* command text.
    """

    def __init__(self, stage: str, command: str | None, status: StatusLine) -> None:
        super().__init__(f"{stage}: {status}")
        self.stage = stage
        self.command = command
        self.status = status

    @property
    def code(self) -> str | None:
        return str(self.status.code) if self.status.code else None

    @property
    def text(self) -> str:
        return self.status.text


class AuthError(ServerError):
    """Login was refused.  ``sasl_error`` holds an XOAUTH2/OAUTHBEARER error challenge."""

    sasl_error: bytes | None = None


class PolicyError(Pop3Error):
    """We refused to go on, to protect the user (``reason`` is a stable slug):

    - ``plaintext-refused``: login would send the password unencrypted and
      ``allow_plaintext`` was not given;
    - ``starttls-unavailable``: STARTTLS was asked for but the server does not offer STLS;
    - ``mechanism-unavailable``: none of the mechanisms we may use is offered.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
