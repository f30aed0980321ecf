"""Errors of the POP3 client layer (above net/ and protocol/), and the root of them all.

Every error pop3doctor raises on purpose is a `Pop3DoctorError` (defined in
the leaf module `pop3doctor.base_error` so the lowest layers can use it; import
it from here).  The tree is typed so nothing above parses messages: network
failures are `pop3doctor.net.errors.NetError` subclasses, peer misbehaviour
is `pop3doctor.protocol.ProtocolError`, and what the server *said* is a
`ServerError` carrying the parsed status line.  Each class has a stable
``code`` (in brackets)::

    Pop3DoctorError [pop3doctor-error]
    ├── NetError [net-error]                          net/errors.py
    │   ├── DnsNotFound [dns-not-found]
    │   ├── DnsUnavailable [dns-unavailable]
    │   ├── ConnectError [connect-error]
    │   │   ├── ConnectRefused [connect-refused]
    │   │   ├── ConnectTimeout [connect-timeout]
    │   │   ├── HostUnreachable [host-unreachable]
    │   │   └── ConnectFailed [connect-failed]
    │   ├── ConnectionClosed [connection-closed]
    │   ├── ReadTimeout [read-timeout]
    │   ├── WriteTimeout [write-timeout]
    │   └── TlsHandshakeFailed [tls-handshake-failed]
    │       └── CertificateProblem [certificate-problem]
    ├── ProtocolError [protocol-error]                protocol/errors.py
    │   ├── LineTooLong [line-too-long]
    │   ├── ResponseTooLong [response-too-long]
    │   ├── MessageLargerThanListed [message-larger-than-listed]
    │   ├── NotPop3Greeting [not-pop3-greeting]
    │   ├── RemoteClosed [remote-closed]
    │   ├── StartTlsInjection [starttls-injection]
    │   └── LocalProtocolError [local-protocol-error]  (our bug, not the peer's)
    ├── Pop3Error [pop3-error]                        here
    │   ├── ServerError [server-error]
    │   │   └── AuthError [auth-error]
    │   └── PolicyError [policy-error]
    ├── DnsQueryFailed [dns-query-failed]             net/records.py
    ├── StateDamaged [state-damaged]                  sync/errors.py
    ├── StateUnwritable [state-unwritable]            sync/errors.py
    ├── MboxLocked [mbox-locked]                      sync/errors.py
    └── HttpFetchFailed [http-fetch-failed]           net/http.py
"""

from __future__ import annotations

from pop3doctor.base_error import Pop3DoctorError
from pop3doctor.protocol.codes import StatusLine

__all__ = ["AuthError", "PolicyError", "Pop3DoctorError", "Pop3Error", "ServerError"]


class Pop3Error(Pop3DoctorError):
    """Base of the client's own errors."""

    code = "pop3-error"


class ServerError(Pop3Error):
    """The server answered ``-ERR`` (or an ``-ERR`` greeting).

    ``stage`` is where it happened ("greeting", "stls", "user", "login",
    "stat", "retr", ...); ``command`` is the *redacted* command text.
    ``response_code`` is the RFC 2449 response code the server gave
    (``"SYS/TEMP"``, ``"AUTH"``), not to be confused with the class's ``code``.
    """

    code = "server-error"

    def __init__(self, stage: str, command: str | None, status: StatusLine) -> None:
        super().__init__(f"{stage}: {status}")
        self.stage = stage
        self.command = command
        self.status = status

    @property
    def response_code(self) -> str | None:
        return str(self.status.code) if self.status.code else None

    @property
    def text(self) -> str:
        return self.status.text


class AuthError(ServerError):
    """Login was refused.  ``sasl_error`` holds an XOAUTH2/OAUTHBEARER error challenge."""

    code = "auth-error"
    sasl_error: bytes | None = None


class PolicyError(Pop3Error):
    """We refused to go on, to protect the user (``reason`` is a stable slug):

    - ``plaintext-refused``: login would send the password unencrypted and
      ``allow_plaintext`` was not given;
    - ``starttls-unavailable``: STARTTLS was asked for but the server does not offer STLS;
    - ``mechanism-unavailable``: none of the mechanisms we may use is offered.
    """

    code = "policy-error"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
