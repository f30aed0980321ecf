"""Evidence -> cause code: pure functions over the typed errors of net/, protocol/ and the client.

Nothing here parses exception messages; every decision reads an error's
stable ``code`` (the `_CAUSES` table) or an attribute.  Server *wording* is
the classifier's job (`classify.py`); this module calls it for ``-ERR`` texts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.errors import AuthError, PolicyError, Pop3DoctorError, ServerError
from pop3doctor.knowledge._data import load
from pop3doctor.knowledge.classify import classify_greeting, classify_response, match_wording
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
from pop3doctor.protocol.errors import (
    LocalProtocolError,
    MessageLargerThanListed,
    NotPop3Greeting,
    ProtocolError,
    RemoteClosed,
    ResponseTooLong,
    StartTlsInjection,
)


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


@dataclass(frozen=True)
class _Context:
    """What the caller knows besides the error (see `cause_for_error`)."""

    implicit_tls: bool
    stage: str | None


#: A table entry: a cause code, or a small function of the error and its context.
#: A function gets an instance of the class whose code keys its row (the lookup
#: walks the error's own class hierarchy), so each one names that class; ``Any``
#: lets the one table hold them all.
_Rule = str | Callable[[Any, _Context], str]


def _tls_handshake(exc: TlsHandshakeFailed, ctx: _Context) -> str:
    # A plain-text POP3 server answers a TLS ClientHello with "-ERR ...",
    # which OpenSSL reports as a wrong version number / packet length.
    if ctx.implicit_tls and exc.reason in ("wrong-version-number", "not-tls"):
        return "port-expects-plain"
    # After STLS's "+OK" a server only waits for our handshake: clear text
    # answering it is injected (or the server is broken), never "old TLS".
    if exc.after_plaintext and not ctx.implicit_tls:
        return "starttls-injection"
    return "tls-handshake-failed"


def _read_timeout(exc: ReadTimeout, ctx: _Context) -> str:
    if exc.limit == "throughput":  # data came, a drip: not silence
        return "server-too-slow"
    return "greeting-timeout" if exc.phase == "greeting" else "server-busy"


def _not_pop3_greeting(exc: NotPop3Greeting, ctx: _Context) -> str:
    return classify_greeting(exc.line.decode("utf-8", "replace")) or "not-pop3"


def _remote_closed(exc: RemoteClosed, ctx: _Context) -> str:
    # Closing before the greeting is what a server at its connection limit does.
    if not exc.in_body and exc.during == "greeting":
        return "server-busy"
    return "connection-dropped"


def _protocol_error(exc: ProtocolError, ctx: _Context) -> str:
    # Garbage in place of a greeting means another service; after it, the retrieval is broken.
    return "not-pop3" if ctx.stage == "greeting" else "retrieval-failed"


_POLICY_CAUSES = {
    "starttls-unavailable": "starttls-unavailable",
    # Our own refusal to send a password in clear text: the setting is the problem.
    "plaintext-refused": "encryption-off",
    "mechanism-unavailable": "auth-mechanism-unsupported",
}


def _policy(exc: PolicyError, ctx: _Context) -> str:
    return _POLICY_CAUSES.get(exc.reason, "auth-mechanism-unsupported")


def _server_error(exc: ServerError, ctx: _Context) -> str:
    return cause_for_server_error(exc)


def _certificate(exc: CertificateProblem, ctx: _Context) -> str:
    return cause_for_certificate(exc)


#: Error code -> cause.  An error's code is looked up first, then its base
#: classes' codes (`Pop3DoctorError.codes`), so a new subclass inherits its
#: parent's cause until it gets a row of its own.
_CAUSES: dict[str, _Rule] = {
    DnsNotFound.code: "host-not-found",
    DnsUnavailable.code: "dns-unavailable",
    ConnectRefused.code: "connection-refused",
    ConnectTimeout.code: "connection-timeout",
    HostUnreachable.code: "host-unreachable",
    CertificateProblem.code: _certificate,
    TlsHandshakeFailed.code: _tls_handshake,
    ReadTimeout.code: _read_timeout,
    ConnectionClosed.code: "connection-dropped",
    NetError.code: "connection-dropped",
    NotPop3Greeting.code: _not_pop3_greeting,
    RemoteClosed.code: _remote_closed,
    # Its own row: the ProtocolError one would call it "not-pop3" or "retrieval-failed".
    StartTlsInjection.code: "starttls-injection",
    ResponseTooLong.code: "response-too-long",
    MessageLargerThanListed.code: "message-larger-than-listed",
    # Our own misuse of the protocol says nothing about the server's service:
    # it must not become "not-pop3" at the greeting like the peer's errors.
    LocalProtocolError.code: "retrieval-failed",
    ProtocolError.code: _protocol_error,
    PolicyError.code: _policy,
    ServerError.code: _server_error,
}

#: The cause of anything the table does not name (Pop3Error itself, an OSError, a bug).
_DEFAULT_CAUSE = "retrieval-failed"


def cause_for_error(exc: BaseException, *, implicit_tls: bool = False, stage: str | None = None) -> str:
    """The cause code for a failure of connect/TLS/greeting/login/mailbox steps.

    ``implicit_tls`` says whether the failing connection expected TLS from the
    first byte; it decides what a TLS "wrong version number" means.  ``stage``
    says where: malformed data in place of a greeting means another service,
    after login it means the retrieval itself is broken.
    """
    if not isinstance(exc, Pop3DoctorError):
        return _DEFAULT_CAUSE
    for code in exc.codes():
        rule = _CAUSES.get(code)
        if rule is not None:
            return rule if isinstance(rule, str) else rule(exc, _Context(implicit_tls, stage))
    return _DEFAULT_CAUSE


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


#: "Encrypted password" login methods (``--auth``).  The server needs a secret of
#: its own for them, and servers that announce them often hold none for the user.
DIGEST_AUTH = {"apop": "APOP", "cram-md5": "CRAM-MD5"}

#: Causes a refusal's wording gives when it says only "no" to the credentials.
_GENERIC_REFUSALS = frozenset({"auth-failed", "user-unknown"})


def cause_for_refused_login(cause: str, auth: str) -> str:
    """``cause`` of a refused login, read with the login method ``auth`` the user chose.

    A bare "no" to APOP or CRAM-MD5 is as likely "no secret for this method
    here" as a wrong password: it is reported as the method not matching the
    server, never as a wrong password without evidence (issue 13 item 1).
    A specific reply (POP disabled, account locked, ...) keeps its own cause.
    """
    if auth in DIGEST_AUTH and cause in _GENERIC_REFUSALS:
        return "auth-mechanism-unsupported"
    return cause
