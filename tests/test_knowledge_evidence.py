"""Typed error -> cause code: every error class x implicit_tls x stage that matters.

The expectations were written from the isinstance ladder that
`cause_for_error` used to be, before it became a table keyed by error code,
so this test is the proof that the table says the same thing.  The fetch
wrapper (`sync.causes.cause_for`) is pinned here too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from pop3doctor.errors import AuthError, PolicyError, Pop3Error, ServerError
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.certs import CertFacts
from pop3doctor.net.errors import (
    CertificateProblem,
    CertKind,
    ConnectError,
    ConnectFailed,
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
from pop3doctor.protocol.codes import parse_status_line
from pop3doctor.protocol.errors import (
    LineTooLong,
    LocalProtocolError,
    NotPop3Greeting,
    ProtocolError,
    RemoteClosed,
)
from pop3doctor.sync.causes import cause_for

WHERE = {"host": "pop.example.test", "port": 995, "elapsed_ms": 1.0}


def _cert(issuer_cn: str) -> CertFacts:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    return CertFacts(
        subject="CN=pop.example.test",
        issuer=f"CN={issuer_cn}",
        subject_cn="pop.example.test",
        issuer_cn=issuer_cn,
        issuer_org=None,
        sans=("pop.example.test",),
        not_before=when,
        not_after=when,
        self_signed=False,
        sha256="00" * 32,
    )


def cert_problem(kind: CertKind, issuer: str | None = None) -> CertificateProblem:
    cert = None if issuer is None else _cert(issuer)
    return CertificateProblem("bad cert", kind=kind, verify_code=None, cert=cert, **WHERE)


def tls(reason: str) -> TlsHandshakeFailed:
    return TlsHandshakeFailed("tls", reason=reason, **WHERE)


def server(stage: str, line: str, cls: type[ServerError] = ServerError) -> ServerError:
    status = parse_status_line(line)
    assert status is not None
    return cls(stage, None, status)


INTERCEPTOR = "Kaspersky Anti-Virus Personal Root Certificate"

#: (label, the error, cause for: implicit_tls False / True at stage None, and at stage "greeting").
#: Each row is checked for both values of implicit_tls at both stages unless it
#: gives them separately as a dict keyed by (implicit_tls, stage).
Expect = str | dict[tuple[bool, str | None], str]
CASES: list[tuple[str, Callable[[], BaseException], Expect]] = [
    # net/: one cause per class, whatever the stage
    ("dns-not-found", lambda: DnsNotFound("x", reason="nxdomain", **WHERE), "host-not-found"),
    ("dns-unavailable", lambda: DnsUnavailable("x", reason="timeout", **WHERE), "dns-unavailable"),
    ("connect-refused", lambda: ConnectRefused("x", **WHERE), "connection-refused"),
    ("connect-timeout", lambda: ConnectTimeout("x", **WHERE), "connection-timeout"),
    ("host-unreachable", lambda: HostUnreachable("x", errno=113, **WHERE), "host-unreachable"),
    ("connect-failed", lambda: ConnectFailed("x", errno=99, **WHERE), "connection-dropped"),
    ("connect-error", lambda: ConnectError("x", **WHERE), "connection-dropped"),
    ("net-error", lambda: NetError("x", **WHERE), "connection-dropped"),
    ("write-timeout", lambda: WriteTimeout("x", phase="write", **WHERE), "connection-dropped"),
    ("closed-greeting", lambda: ConnectionClosed("x", phase="greeting", **WHERE), "connection-dropped"),
    ("closed-reset", lambda: ConnectionClosed("x", phase="command", reset=True, **WHERE), "connection-dropped"),
    # read timeouts: the phase decides
    ("read-timeout-greeting", lambda: ReadTimeout("x", phase="greeting", **WHERE), "greeting-timeout"),
    ("read-timeout-command", lambda: ReadTimeout("x", phase="command", **WHERE), "server-busy"),
    # certificates: the kind decides, an interceptor's issuer wins for untrusted/self-signed
    ("cert-expired", lambda: cert_problem("expired"), "cert-expired"),
    ("cert-not-yet-valid", lambda: cert_problem("not-yet-valid"), "cert-not-yet-valid"),
    ("cert-hostname", lambda: cert_problem("hostname-mismatch"), "cert-hostname-mismatch"),
    ("cert-untrusted", lambda: cert_problem("untrusted"), "cert-untrusted"),
    ("cert-self-signed", lambda: cert_problem("self-signed"), "cert-untrusted"),
    ("cert-untrusted-other-ca", lambda: cert_problem("untrusted", "Some Private CA"), "cert-untrusted"),
    ("cert-untrusted-interceptor", lambda: cert_problem("untrusted", INTERCEPTOR), "tls-intercepted"),
    ("cert-self-signed-interceptor", lambda: cert_problem("self-signed", INTERCEPTOR), "tls-intercepted"),
    ("cert-expired-interceptor", lambda: cert_problem("expired", INTERCEPTOR), "cert-expired"),
    ("cert-hostname-interceptor", lambda: cert_problem("hostname-mismatch", INTERCEPTOR), "cert-hostname-mismatch"),
    # TLS: "not TLS at all" means a plain port only when we expected TLS from the first byte
    *(
        (
            f"tls-{reason}",
            (lambda reason=reason: tls(reason)),
            {
                (False, None): "tls-handshake-failed",
                (False, "greeting"): "tls-handshake-failed",
                (True, None): "port-expects-plain",
                (True, "greeting"): "port-expects-plain",
            },
        )
        for reason in ("wrong-version-number", "not-tls")
    ),
    *((f"tls-{reason}", (lambda reason=reason: tls(reason)), "tls-handshake-failed") for reason in (
        "protocol-version", "handshake-timeout", "eof", "alert-handshake-failure", "other",
    )),
    # protocol/: what answered instead of a greeting, where the connection ended
    ("imap-banner", lambda: NotPop3Greeting("x", line=b"* OK [CAPABILITY IMAP4rev1] ready\r\n"), "not-pop3"),
    ("tls-record", lambda: NotPop3Greeting("x", line=b"\x16\x03\x01\x00\xa5\x01"), "port-expects-tls"),
    ("garbage", lambda: NotPop3Greeting("x", line=b"hello\r\n"), "not-pop3"),
    ("empty-line", lambda: NotPop3Greeting("x", line=b""), "not-pop3"),
    ("closed-before-greeting", lambda: RemoteClosed("x", during="greeting", in_body=False), "server-busy"),
    ("closed-in-greeting-body", lambda: RemoteClosed("x", during="greeting", in_body=True), "connection-dropped"),
    ("closed-before-retr", lambda: RemoteClosed("x", during="RETR", in_body=False), "connection-dropped"),
    ("closed-in-retr-body", lambda: RemoteClosed("x", during="RETR", in_body=True), "connection-dropped"),
    # other peer protocol errors: garbage in place of a greeting is another service
    *(
        (
            label,
            make,
            {
                (False, None): "retrieval-failed",
                (True, None): "retrieval-failed",
                (False, "greeting"): "not-pop3",
                (True, "greeting"): "not-pop3",
            },
        )
        for label, make in (
            ("protocol-error", lambda: ProtocolError("x")),
            ("line-too-long", lambda: LineTooLong("x")),
        )
    ),
    # our own misuse of the protocol is never a verdict about the server's service
    ("local-protocol-error", lambda: LocalProtocolError("x"), "retrieval-failed"),
    # our refusals
    ("policy-starttls", lambda: PolicyError("starttls-unavailable"), "starttls-unavailable"),
    ("policy-plaintext", lambda: PolicyError("plaintext-refused", "no TLS"), "encryption-off"),
    ("policy-mechanism", lambda: PolicyError("mechanism-unavailable"), "auth-mechanism-unsupported"),
    ("policy-unknown", lambda: PolicyError("something-new"), "auth-mechanism-unsupported"),
    # what the server said: code, then wording, then the stage's default
    ("greeting-wording", lambda: server("greeting", "-ERR [SYS/TEMP] maximum number of connections"), "server-busy"),
    ("greeting-code", lambda: server("greeting", "-ERR [SYS/TEMP] go away"), "server-temporary-error"),
    ("greeting-bare", lambda: server("greeting", "-ERR"), "server-busy"),
    ("stls-bare", lambda: server("stls", "-ERR no"), "starttls-unavailable"),
    ("user-bare", lambda: server("user", "-ERR no"), "auth-failed"),
    ("user-unknown", lambda: server("user", "-ERR no such user"), "user-unknown"),
    ("stat-in-use", lambda: server("stat", "-ERR [IN-USE] busy"), "mailbox-in-use"),
    ("retr-bare", lambda: server("retr", "-ERR no"), "server-permanent-error"),
    ("retr-inactivity", lambda: server("retr", "-ERR disconnected for inactivity"), "connection-dropped"),
    ("auth-bare", lambda: server("pass", "-ERR no", AuthError), "auth-failed"),
    ("auth-code", lambda: server("pass", "-ERR [AUTH] nope", AuthError), "auth-failed"),
    ("auth-temp", lambda: server("auth", "-ERR [SYS/TEMP] later", AuthError), "server-temporary-error"),
    ("auth-app-password", lambda: server("pass", "-ERR [AUTH] Application-specific password required", AuthError),
     "app-password-required"),
    ("auth-state", lambda: server("pass", "-ERR Command is not valid in this state.", AuthError),
     "plaintext-auth-disallowed"),
    ("retr-state", lambda: server("retr", "-ERR Command is not valid in this state."), "server-permanent-error"),
    # everything else
    ("pop3-error", lambda: Pop3Error("x"), "retrieval-failed"),
    ("os-error", lambda: OSError("x"), "retrieval-failed"),
    ("value-error", lambda: ValueError("x"), "retrieval-failed"),
]


def _expected(expect: Expect, implicit_tls: bool, stage: str | None) -> str:
    if isinstance(expect, str):
        return expect
    return expect.get((implicit_tls, stage), expect.get((implicit_tls, None), ""))


@pytest.mark.parametrize("stage", [None, "greeting", "login"])
@pytest.mark.parametrize("implicit_tls", [False, True])
@pytest.mark.parametrize(("label", "make", "expect"), CASES, ids=[case[0] for case in CASES])
def test_cause_for_error(
    label: str, make: Callable[[], BaseException], expect: Expect, implicit_tls: bool, stage: str | None
) -> None:
    assert cause_for_error(make(), implicit_tls=implicit_tls, stage=stage) == _expected(expect, implicit_tls, stage)


def test_cause_for_error_defaults_are_no_tls_and_no_stage() -> None:
    assert cause_for_error(tls("wrong-version-number")) == "tls-handshake-failed"
    assert cause_for_error(ProtocolError("x")) == "retrieval-failed"


@pytest.mark.parametrize(
    ("exc", "stage", "cause"),
    [
        # after login any lost or silent connection is a dropped download
        (ReadTimeout("x", phase="command", **WHERE), "retrieve", "connection-dropped"),
        (ConnectRefused("x", **WHERE), "list", "connection-dropped"),
        (RemoteClosed("x", during="greeting", in_body=False), "quit", "connection-dropped"),
        (RemoteClosed("x", during="DELE", in_body=False), "delete", "connection-dropped"),
        # before it, the diagnosis's mapping; "connect" covers the greeting
        (ReadTimeout("x", phase="command", **WHERE), "login", "server-busy"),
        (RemoteClosed("x", during="greeting", in_body=False), "connect", "server-busy"),
        (ProtocolError("x"), "connect", "not-pop3"),
        (ProtocolError("x"), "retrieve", "retrieval-failed"),
        (LocalProtocolError("x"), "connect", "retrieval-failed"),
        (server("retr", "-ERR no"), "retrieve", "server-permanent-error"),
        (server("pass", "-ERR no", AuthError), "login", "auth-failed"),
        (PolicyError("plaintext-refused"), "login", "encryption-off"),
    ],
)
def test_fetch_cause_for(exc: BaseException, stage: str, cause: str) -> None:
    assert cause_for(exc, stage) == cause
