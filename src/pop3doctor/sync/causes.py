"""Exception -> diagnosis cause code, for fetch failures.

Decided from exception types and their typed attributes (never from message
text); a server's ``-ERR`` wording goes to the knowledge classifier, which
knows RFC 2449/3206 codes and real servers' phrasings.  Every code returned
exists in ``knowledge/data/causes.toml``.
"""

from __future__ import annotations

from pop3doctor.errors import AuthError, PolicyError, ServerError
from pop3doctor.knowledge.classify import classify_response
from pop3doctor.net.errors import (
    CertificateProblem,
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    DnsNotFound,
    DnsUnavailable,
    HostUnreachable,
    NetError,
    ReadTimeout,
    TlsHandshakeFailed,
    WriteTimeout,
)
from pop3doctor.protocol.errors import NotPop3Greeting, ProtocolError, RemoteClosed

_CERT_KINDS = {
    "untrusted": "cert-untrusted",
    "self-signed": "cert-untrusted",
    "expired": "cert-expired",
    "not-yet-valid": "cert-not-yet-valid",
    "hostname-mismatch": "cert-hostname-mismatch",
}

#: Stages after login: a lost connection there is a dropped download.
RETRIEVAL_STAGES = frozenset({"list", "retrieve", "delete", "quit"})


def cause_for(exc: BaseException, stage: str) -> str:
    """The cause code for ``exc`` raised during ``stage``.

    ``stage`` is the fetch step: "connect", "login", "list", "retrieve",
    "delete" or "quit".
    """
    if isinstance(exc, CertificateProblem):
        return _CERT_KINDS.get(exc.kind, "cert-untrusted")
    if isinstance(exc, TlsHandshakeFailed):
        return "tls-handshake-failed"
    if isinstance(exc, DnsNotFound):
        return "host-not-found"
    if isinstance(exc, DnsUnavailable):
        return "dns-unavailable"
    if isinstance(exc, ConnectRefused):
        return "connection-refused"
    if isinstance(exc, ConnectTimeout):
        return "connection-timeout"
    if isinstance(exc, HostUnreachable):
        return "host-unreachable"
    if isinstance(exc, ReadTimeout) and exc.phase == "greeting":
        return "greeting-timeout"
    if isinstance(exc, ConnectionClosed | ReadTimeout | WriteTimeout | RemoteClosed):
        return "connection-dropped" if stage in RETRIEVAL_STAGES or stage == "login" else "server-down"
    if isinstance(exc, NetError):
        return "connection-dropped" if stage in RETRIEVAL_STAGES else "connection-refused"
    if isinstance(exc, PolicyError):
        if exc.reason == "plaintext-refused":
            return "plaintext-auth-disallowed"
        if exc.reason == "starttls-unavailable":
            return "starttls-unavailable"
        return "auth-mechanism-unsupported"
    if isinstance(exc, AuthError):
        return classify_response(exc.status.text, code=exc.status.code, stage="login") or "auth-failed"
    if isinstance(exc, ServerError):
        found = classify_response(exc.status.text, code=exc.status.code, stage=exc.stage)
        if found:
            return found
        return "server-down" if exc.stage == "greeting" else "retrieval-failed"
    if isinstance(exc, NotPop3Greeting):
        return "not-pop3"
    if isinstance(exc, ProtocolError):
        return "retrieval-failed"
    return "retrieval-failed"
