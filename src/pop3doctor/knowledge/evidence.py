"""Evidence -> cause code: pure functions over the typed errors of net/, protocol/ and the client.

Nothing here parses exception messages; every decision reads a type or an
attribute.  Server *wording* is the classifier's job (`classify.py`); this
module calls it for ``-ERR`` texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from pop3doctor.errors import AuthError, PolicyError, ServerError
from pop3doctor.knowledge._data import load
from pop3doctor.knowledge.classify import banner_kind, classify_greeting, classify_response, match_wording
from pop3doctor.net.certs import CertFacts
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
)
from pop3doctor.protocol.errors import LocalProtocolError, NotPop3Greeting, ProtocolError, RemoteClosed


@dataclass(frozen=True)
class Interceptor:
    product: str
    pattern: re.Pattern[str]
    source: str


@cache
def interceptors() -> tuple[Interceptor, ...]:
    return tuple(
        Interceptor(e["product"], re.compile(e["pattern"], re.IGNORECASE), e["source"])
        for e in load("interceptors.toml")["interceptor"]
    )


def interception_product(cert: CertFacts | None) -> str | None:
    """The security product whose CA issued ``cert``, if its issuer names one."""
    if cert is None:
        return None
    issuer = " ".join(x for x in (cert.issuer_cn, cert.issuer_org, cert.issuer) if x)
    for entry in interceptors():
        if entry.pattern.search(issuer):
            return entry.product
    return None


def cause_for_certificate(problem: CertificateProblem) -> str:
    if problem.kind in ("untrusted", "self-signed") and interception_product(problem.cert):
        return "tls-intercepted"
    return {
        "expired": "cert-expired",
        "not-yet-valid": "cert-not-yet-valid",
        "hostname-mismatch": "cert-hostname-mismatch",
    }.get(problem.kind, "cert-untrusted")


def cause_for_error(exc: BaseException, *, implicit_tls: bool = False, stage: str | None = None) -> str:
    """The cause code for a failure of connect/TLS/greeting/login/mailbox steps.

    ``implicit_tls`` says whether the failing connection expected TLS from the
    first byte; it decides what a TLS "wrong version number" means.  ``stage``
    says where: malformed data in place of a greeting means another service,
    after login it means the retrieval itself is broken.
    """
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
    if isinstance(exc, CertificateProblem):
        return cause_for_certificate(exc)
    if isinstance(exc, TlsHandshakeFailed):
        # A plain-text POP3 server answers a TLS ClientHello with "-ERR ...",
        # which OpenSSL reports as a wrong version number / packet length.
        if implicit_tls and exc.reason in ("wrong-version-number", "not-tls"):
            return "port-expects-plain"
        return "tls-handshake-failed"
    if isinstance(exc, ReadTimeout):
        return "greeting-timeout" if exc.phase == "greeting" else "server-busy"
    if isinstance(exc, NotPop3Greeting):
        return classify_greeting(exc.line.decode("utf-8", "replace")) or "not-pop3"
    if isinstance(exc, RemoteClosed):
        if exc.in_body:
            return "connection-dropped"
        return "server-busy" if exc.during == "greeting" else "connection-dropped"
    if isinstance(exc, ConnectionClosed):
        return "connection-dropped"
    if isinstance(exc, LocalProtocolError):
        # Our own misuse of the protocol says nothing about the server's service.
        return "retrieval-failed"
    if isinstance(exc, ProtocolError) and stage == "greeting":
        return "not-pop3"
    if isinstance(exc, PolicyError):
        return {
            "starttls-unavailable": "starttls-unavailable",
            # Our own refusal to send a password in clear text: the setting is the problem.
            "plaintext-refused": "encryption-off",
            "mechanism-unavailable": "auth-mechanism-unsupported",
        }.get(exc.reason, "auth-mechanism-unsupported")
    if isinstance(exc, ServerError):
        return cause_for_server_error(exc)
    if isinstance(exc, ProtocolError):
        return "retrieval-failed"
    if isinstance(exc, NetError):
        return "connection-dropped"
    return "retrieval-failed"


_STAGE_DEFAULTS = {
    "greeting": "server-busy",
    "stls": "starttls-unavailable",
    "user": "auth-failed",
    "login": "auth-failed",
}


def cause_for_server_error(exc: ServerError) -> str:
    """What an ``-ERR`` means: response code first, then wording, then the stage's default."""
    stage = "login" if isinstance(exc, AuthError) or exc.stage in ("user", "login") else exc.stage
    if stage == "greeting":
        # A refused greeting is about the connection, so a specific wording
        # ("too many connections") is more telling than the generic [SYS/TEMP].
        pattern = match_wording(exc.status.text, stage)
        if pattern is not None:
            return pattern.cause
    cause = classify_response(exc.status.text, code=exc.status.code, stage=stage)
    if cause is not None:
        return cause
    return _STAGE_DEFAULTS.get(exc.stage, "server-permanent-error" if stage != "login" else "auth-failed")


def greeting_kind(line: bytes) -> str | None:
    """What kind of service answered instead of POP3 ("imap", "smtp", "http", ...)."""
    return banner_kind(line.decode("utf-8", "replace"))
