"""Typed network failures, each carrying the facts that tell causes apart.

Layers above net/ decide what a failure *means* from these attributes and
from ``evidence()`` (a JSON-ready dict); they never parse ``str(exc)``, which
is an English developer message with no stable form.  Every ``elapsed_ms``
is measured with ``time.monotonic`` from the start of the failing phase.
Each class has a stable ``code`` used as ``evidence()["error"]``.

Hierarchy (codes in brackets; `NetError` is a `pop3doctor.errors.Pop3DoctorError`)::

    NetError [net-error]
    ├── DnsNotFound [dns-not-found], DnsUnavailable [dns-unavailable]
    ├── ConnectError [connect-error]
    │   └── ConnectRefused [connect-refused], ConnectTimeout [connect-timeout],
    │       HostUnreachable [host-unreachable], ConnectFailed [connect-failed]
    ├── ConnectionClosed [connection-closed], ReadTimeout [read-timeout],
    │   WriteTimeout [write-timeout]
    └── TlsHandshakeFailed [tls-handshake-failed]
        └── CertificateProblem [certificate-problem]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NotRequired, TypedDict, Unpack

from pop3doctor.base_error import Pop3DoctorError
from pop3doctor.net.attempt import Attempt
from pop3doctor.net.certs import CertFacts

CertKind = Literal["untrusted", "self-signed", "expired", "not-yet-valid", "hostname-mismatch"]


class Where(TypedDict):
    """The keyword arguments every `NetError` takes: where and when it failed."""

    host: str
    port: int | None
    elapsed_ms: float
    address: NotRequired[str | None]
    attempts: NotRequired[Sequence[Attempt]]


class NetError(Pop3DoctorError):
    """Base of every failure net/ reports.

    ``address`` is the IP actually used when one was (None before a
    connection exists); ``attempts`` lists the TCP attempts made by
    `open_connection` (empty when the error came from a later phase of an
    established connection).
    """

    code = "net-error"

    def __init__(
        self,
        message: str,
        *,
        host: str,
        port: int | None,
        elapsed_ms: float,
        address: str | None = None,
        attempts: Sequence[Attempt] = (),
    ) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.elapsed_ms = elapsed_ms
        self.address = address
        self.attempts: list[Attempt] = list(attempts)

    def _facts(self) -> dict[str, object]:
        """Subclass-specific fields for `evidence`."""
        return {}

    def evidence(self) -> dict[str, object]:
        """JSON-ready facts: error code, endpoint, timing, subclass facts, attempts."""
        data: dict[str, object] = {
            "error": self.code,
            "host": self.host,
            "port": self.port,
            "address": self.address,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
        data.update(self._facts())
        data["attempts"] = [attempt.to_dict() for attempt in self.attempts]
        return data


class DnsNotFound(NetError):
    """The name does not exist (NXDOMAIN) or has no A/AAAA record.

    ``reason`` is "nxdomain" or "no-address".
    """

    code = "dns-not-found"

    def __init__(self, message: str, *, reason: str, **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.reason = reason

    def _facts(self) -> dict[str, object]:
        return {"reason": self.reason}


class DnsUnavailable(NetError):
    """No usable answer: the name may exist but we could not find out.

    ``reason`` is one of:

    - "servfail", "refused": the explicit nameserver answered with that rcode;
    - "timeout": no answer within the resolve timeout;
    - "no-nameservers": no explicit nameserver could be asked;
    - "temporary": the system resolver said EAI_AGAIN, which glibc uses for
      SERVFAIL, for no reply and for no reachable resolver alike;
    - "failure": the system resolver said EAI_FAIL;
    - "error": anything else.
    """

    code = "dns-unavailable"

    def __init__(self, message: str, *, reason: str, **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.reason = reason

    def _facts(self) -> dict[str, object]:
        return {"reason": self.reason}


class ConnectError(NetError):
    """No TCP connection to any address; ``attempts`` says what each did."""

    code = "connect-error"


class ConnectRefused(ConnectError):
    """A host answered and refused the port (TCP RST).

    On Linux an ICMP port-unreachable also arrives as ECONNREFUSED, so a
    firewall REJECT "with icmp port-unreachable" lands here too.
    """

    code = "connect-refused"


class ConnectTimeout(ConnectError):
    """No answer within the connect timeout: typically a firewall dropping SYNs."""

    code = "connect-timeout"


class HostUnreachable(ConnectError):
    """No route to the host or network (ENETUNREACH/EHOSTUNREACH, ICMP unreachable).

    ``errno`` is the errno of the deciding attempt, or None.
    """

    code = "host-unreachable"

    def __init__(self, message: str, *, errno: int | None, **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.errno = errno

    def _facts(self) -> dict[str, object]:
        return {"errno": self.errno}


class ConnectFailed(ConnectError):
    """Connecting failed for another OS reason (e.g. EADDRNOTAVAIL); ``errno`` may be None."""

    code = "connect-failed"

    def __init__(self, message: str, *, errno: int | None, **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.errno = errno

    def _facts(self) -> dict[str, object]:
        return {"errno": self.errno}


class _PhaseError(NetError):
    """A failure in a named phase of an established connection."""

    def __init__(self, message: str, *, phase: str, **where: Unpack[Where]) -> None:
        super().__init__(message, **where)
        self.phase = phase

    def _facts(self) -> dict[str, object]:
        return {"phase": self.phase}


class ConnectionClosed(_PhaseError):
    """The peer closed (or reset) the connection while we expected data.

    ``phase`` is the caller's name for what we waited for ("greeting",
    "command", "write", ...); ``reset`` is True for a TCP reset rather than
    an orderly close.
    """

    code = "connection-closed"

    def __init__(
        self, message: str, *, phase: str, reset: bool = False, **where: Unpack[Where]
    ) -> None:
        super().__init__(message, phase=phase, **where)
        self.reset = reset

    def _facts(self) -> dict[str, object]:
        return {"phase": self.phase, "reset": self.reset}


class ReadTimeout(_PhaseError):
    """No data within the timeout of ``phase`` ("greeting", "command", ...).

    ``limit`` says which limit ended the wait: "idle" (nothing arrived within
    the per-read timeout) or "throughput" (data kept coming, too slowly: the
    answer's `timeouts.Deadline` passed -- a server dripping its answer).
    """

    code = "read-timeout"

    def __init__(self, message: str, *, phase: str, limit: str = "idle", **where: Unpack[Where]) -> None:
        super().__init__(message, phase=phase, **where)
        self.limit = limit

    def _facts(self) -> dict[str, object]:
        return {"phase": self.phase, "limit": self.limit}


class WriteTimeout(_PhaseError):
    """The peer did not take our data within the timeout (send buffer stayed full)."""

    code = "write-timeout"


class TlsHandshakeFailed(NetError):
    """The TLS handshake did not complete.

    ``reason`` is a stable slug:

    - "wrong-version-number": the peer's first bytes are not a TLS record,
      i.e. it is not speaking TLS (a plain-text service on the port).
      OpenSSL 3 reports reason WRONG_VERSION_NUMBER for a POP3/IMAP/SMTP
      banner; tests/test_net_tls.py checks this against the real library.
    - "protocol-version": no TLS version in common (server too old, or it
      refuses ours).
    - "handshake-timeout": the peer accepted TCP but sent no handshake in time.
    - "eof": the peer closed or reset the connection during the handshake.
    - "alert-<name>": the peer sent a TLS alert, e.g. "alert-handshake-failure".
    - "certificate": see `CertificateProblem`.
    - "other": anything else; ``library_reason`` keeps ssl's reason string.

    ``library_reason`` is `ssl.SSLError.reason` (e.g. "WRONG_VERSION_NUMBER")
    or None when the failure was not an SSLError.

    ``after_plaintext`` is true when the handshake was an upgrade of a
    connection that had been speaking clear text (STARTTLS) and the peer
    then sent bytes that are not TLS: after a server's ``+OK`` to STLS that
    is clear text someone injected, or a broken server (see
    `pop3doctor.protocol.StartTlsInjection` for bytes that arrive with
    the ``+OK`` itself).  On a fresh connection (implicit TLS) the same
    reason only says the port speaks clear text, so it stays false there.
    """

    code = "tls-handshake-failed"

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        library_reason: str | None = None,
        **where: Unpack[Where],
    ) -> None:
        super().__init__(message, **where)
        self.reason = reason
        self.library_reason = library_reason
        self.after_plaintext = False  # set by `Connection.start_tls` (see above)

    def _facts(self) -> dict[str, object]:
        return {"reason": self.reason, "library_reason": self.library_reason, "after_plaintext": self.after_plaintext}


class CertificateProblem(TlsHandshakeFailed):
    """The server's certificate failed verification.

    ``kind`` is decided by OpenSSL's ``verify_code``: 10 "expired",
    9 "not-yet-valid", 62 "hostname-mismatch", 18 "self-signed" (the leaf
    itself is self-signed), 19/20/21/2 "untrusted" (the chain ends at, or
    needs, a CA we do not trust; 19 means the server sent that untrusted
    root itself).  ``cert`` holds the leaf's facts when a second, unverified
    look could fetch them, else None.  ``verify_message`` is OpenSSL's text,
    informational only.
    """

    code = "certificate-problem"

    def __init__(
        self,
        message: str,
        *,
        kind: CertKind,
        verify_code: int | None,
        verify_message: str | None = None,
        cert: CertFacts | None = None,
        library_reason: str | None = None,
        **where: Unpack[Where],
    ) -> None:
        super().__init__(
            message, reason="certificate", library_reason=library_reason, **where
        )
        self.kind: CertKind = kind
        self.verify_code = verify_code
        self.verify_message = verify_message
        self.cert = cert

    def _facts(self) -> dict[str, object]:
        facts = super()._facts()
        facts.update(
            kind=self.kind,
            verify_code=self.verify_code,
            verify_message=self.verify_message,
            cert=None if self.cert is None else self.cert.to_dict(),
        )
        return facts
