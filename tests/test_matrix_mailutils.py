"""The server matrix (issue 13) against a real GNU Mailutils 3.15 pop3d (tests/support/mailutils.py).

Each row is the settings a mail program would have and the verdict a user
must get.  Three module-wide servers: ``pop3`` with STLS (``tls-mode
ondemand``) plus ``pop3s`` (implicit TLS); ``pop3`` with ``tls-mode required``
plus ``pop3s``; and a lone ``pop3`` with ``tls-mode no`` (no encryption
anywhere).  The user is the virtual-domain user ``alice@mailutils.test``.

Mailutils replies observed on the wire (Debian 1:3.15-4; patterns.toml "--- GNU Mailutils ---"):

* greeting ``+OK POP3 Ready <pid.time@host>`` (always an APOP timestamp);
* CAPA ``+OK Capability list follows``, then ``TOP UIDL RESP-CODES PIPELINING
  AUTH-RESP-CODE EXPIRENEVER USER STLS`` (no SASL; ``AUTH PLAIN`` gets
  ``-ERR Not implemented``); ``tls-mode no`` drops ``STLS``; ``tls-mode
  required`` before STLS lists ``XTLSREQUIRED`` in place of ``USER``;
* ``USER <name>``: ``+OK`` for any name; right password ``+OK opened mailbox for alice``;
* wrong password, unknown user, and APOP of the right password (no APOP
  secret): all ``-ERR [AUTH] Bad login``, at once;
* ``tls-mode required`` before STLS: ``USER`` and ``APOP`` get ``-ERR Incorrect state``;
* ``STLS``: ``+OK Begin TLS negotiation``; with ``tls-mode no``: ``-ERR Invalid command``;
* a second session while one holds the mailbox: ``-ERR [IN-USE] Mailbox in use``;
* ``login-delay 60``, second login: ``-ERR [LOGIN-DELAY] Attempt to log in within the minimum
  login delay interval``; its CAPA then carries a bare line ``60`` where ``LOGIN-DELAY 60`` belongs
  (pop3d/logindelay.c login_delay_capa prints only the number);
* the pop3s port says nothing to a client that does not start TLS, and closes
  the connection when its TLS handshake timeout ends (default 10 s).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from support.mailutils import NO_TLS, MailutilsServer
from support.matrix import WRONG, Row, check_row, run_row

MESSAGE = b"From: lab@example.test\r\nSubject: matrix\r\n\r\nOne message, so a working login is ok.\r\n"


def entry(*args: Any, xfail: tuple[int, str] | None = None, **kwargs: Any) -> Any:
    """A Row as a pytest parameter; ``xfail=(item, why)`` marks a verdict pop3doctor gets wrong today."""
    r = Row(*args, **kwargs)
    marks = [pytest.mark.xfail(strict=True, reason=f"issue 13 item {xfail[0]}: {xfail[1]}")] if xfail else []
    return pytest.param(r, marks=marks, id=r.id)


ROWS = [
    entry("right password over STLS", "pop3", "starttls", "ok", "ok"),
    entry("right password over implicit TLS", "pop3s", "ssl", "ok", "ok"),
    entry("right password in clear when allowed", "pop3", "plain", "warning", "encryption-off",
          settings={"allow_plaintext": True, "auth": "user"}, suggested=("pop3s", "ssl")),
    # The greeting carries an APOP timestamp, but a mail program's "normal password" is USER/PASS.
    entry("auto login in clear despite the APOP timestamp", "pop3", "plain", "warning", "encryption-off",
          settings={"allow_plaintext": True}, suggested=("pop3s", "ssl")),
    entry("clear setting without permission", "pop3", "plain", "problem", "encryption-off",
          suggested=("pop3s", "ssl")),
    # APOP of the right password: Mailutils has no APOP secret for the user and answers
    # "-ERR [AUTH] Bad login", its words for a wrong password: no evidence against the password.
    entry("APOP over STLS without an APOP secret", "pop3", "starttls", "problem", "auth-mechanism-unsupported",
          settings={"auth": "apop"}),
    entry("APOP in clear without an APOP secret", "pop3", "plain", "problem", "auth-mechanism-unsupported",
          settings={"auth": "apop", "allow_plaintext": True}, suggested=("pop3s", "ssl")),
    entry("wrong password over STLS", "pop3", "starttls", "problem", "auth-failed", password=WRONG),
    entry("wrong password over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", password=WRONG),
    # "-ERR [AUTH] Bad login" for an unknown user too: nothing tells it from a wrong password.
    entry("unknown user over STLS", "pop3", "starttls", "problem", "auth-failed", user="nobody@mailutils.test"),
    # The pop3s port is silent until the TLS handshake (it closes after 10 s; rows wait 3 s).
    entry("STLS on the implicit-TLS port", "pop3s", "starttls", "problem", "port-expects-tls",
          suggested=("pop3s", "ssl")),
    entry("implicit TLS on the STLS port", "pop3", "ssl", "problem", "port-expects-plain", suggested=("pop3s", "ssl")),
]  # fmt: skip

TLS_REQUIRED_ROWS = [
    entry("STLS with tls required", "pop3", "starttls", "ok", "ok"),
    entry("implicit TLS beside tls required", "pop3s", "ssl", "ok", "ok"),
    # CAPA says XTLSREQUIRED and STLS, no USER: the verdict comes before any password is sent.
    entry("auto login in clear refused by tls required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          settings={"allow_plaintext": True}, suggested=("pop3s", "ssl")),
    # USER chosen explicitly is sent, and refused with "-ERR Incorrect state".
    entry("USER in clear refused by tls required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          settings={"allow_plaintext": True, "auth": "user"}, suggested=("pop3s", "ssl")),
    entry("APOP in clear refused by tls required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          settings={"allow_plaintext": True, "auth": "apop"}, suggested=("pop3s", "ssl")),
]  # fmt: skip

NO_TLS_ROWS = [
    entry("right password in clear with no encryption anywhere", "pop3", "plain", "warning", "encryption-off",
          settings={"allow_plaintext": True}),
    # No STLS in CAPA and no implicit-TLS port answers: no encryption exists to switch to.
    entry("STLS where the server has none", "pop3", "starttls", "problem", "no-encryption-offered"),
    entry("implicit TLS where the server has none", "pop3", "ssl", "problem", "port-expects-plain"),
]  # fmt: skip


@pytest.fixture(scope="module")
def with_mail(mailutils: MailutilsServer) -> MailutilsServer:
    """The module's pop3d with one message in the mbox (a working login is "ok", not "mailbox-empty")."""
    mailutils.deliver([MESSAGE])
    return mailutils


@pytest.fixture(scope="module")
def tls_required_with_mail(mailutils_tls_required: MailutilsServer) -> MailutilsServer:
    mailutils_tls_required.deliver([MESSAGE])
    return mailutils_tls_required


@pytest.fixture(scope="module")
def no_tls_with_mail(mailutils_no_tls: MailutilsServer) -> MailutilsServer:
    mailutils_no_tls.deliver([MESSAGE])
    return mailutils_no_tls


@pytest.mark.parametrize("row", ROWS)
async def test_mailutils(with_mail: MailutilsServer, row: Row) -> None:
    await check_row(with_mail, row)


@pytest.mark.parametrize("row", TLS_REQUIRED_ROWS)
async def test_mailutils_tls_required(tls_required_with_mail: MailutilsServer, row: Row) -> None:
    await check_row(tls_required_with_mail, row)


@pytest.mark.parametrize("row", NO_TLS_ROWS)
async def test_mailutils_no_tls(no_tls_with_mail: MailutilsServer, row: Row) -> None:
    await check_row(no_tls_with_mail, row)


def _findings(report: Any, stage: str) -> list[Any]:
    return [f for f in report.findings if f.stage == stage]


async def test_mailutils_auto_logs_in_with_user_not_apop(with_mail: MailutilsServer) -> None:
    # Issue 13 item 1: "auto" is the normal password (USER/PASS here), never APOP by itself.
    row = Row("auto login over STLS uses USER", "pop3", "starttls", "ok", "ok")
    report = await check_row(with_mail, row)
    assert [f.evidence.get("mechanism") for f in _findings(report, "login")] == ["USER"]


async def test_mailutils_clear_login_says_no_encryption_exists(no_tls_with_mail: MailutilsServer) -> None:
    # Issue 13 item 4: no STLS and no implicit-TLS port: say that the password can only travel in clear.
    report, _seconds = await run_row(no_tls_with_mail, NO_TLS_ROWS[0].values[0])
    warning = [f for f in _findings(report, "login") if f.cause == "encryption-off"]
    assert len(warning) == 1 and report.suggested is None
    assert any("neither STARTTLS nor SSL/TLS" in step.en for step in warning[0].remedy), warning[0].remedy


async def test_mailutils_stls_where_none_says_no_encryption_exists(no_tls_with_mail: MailutilsServer) -> None:
    # Issue 13 item 4: STARTTLS set, no STLS and no implicit-TLS port: say so, not "use 995 with SSL/TLS".
    report, _seconds = await run_row(no_tls_with_mail, NO_TLS_ROWS[1].values[0])
    tls = [f for f in report.findings if f.stage == "tls" and f.cause == "no-encryption-offered"]
    assert len(tls) == 1 and report.suggested is None
    assert not any(a.get("ok") for a in tls[0].evidence["alternatives"]), tls[0].evidence
    assert "neither STARTTLS nor SSL/TLS" in tls[0].title.en
    assert "usually 995" not in " ".join(step.en for step in tls[0].remedy), tls[0].remedy


# -- servers of their own (login delay, a locked mailbox, a short TLS handshake timeout) ---------------


def _session(server: MailutilsServer) -> tuple[socket.socket, Any]:
    sock = socket.create_connection((server.host, server.ports["pop3"]), timeout=5)
    reader = sock.makefile("rb")
    assert reader.readline().startswith(b"+OK POP3 Ready <")
    return sock, reader


def _login(sock: socket.socket, reader: Any, server: MailutilsServer) -> bytes:
    """USER/PASS in clear on the STLS port (allowed there); returns the PASS reply."""
    sock.sendall(f"USER {server.user}\r\nPASS {server.password}\r\n".encode())
    assert reader.readline() == b"+OK\r\n"
    return bytes(reader.readline())


@pytest.fixture
def logged_in(mailutils_factory: Any) -> Iterator[MailutilsServer]:
    """A fresh pop3d with one message whose mailbox another session holds (logged in, not quit)."""
    server: MailutilsServer = mailutils_factory()
    server.deliver([MESSAGE])
    sock, reader = _session(server)
    with sock:
        assert _login(sock, reader, server) == b"+OK opened mailbox for alice\r\n"
        yield server


async def test_mailutils_mailbox_locked_by_another_session(logged_in: MailutilsServer) -> None:
    await check_row(logged_in, Row("mailbox held by another session", "pop3", "starttls", "problem", "mailbox-in-use"))


async def test_mailutils_second_login_within_login_delay(mailutils_factory: Any) -> None:
    server: MailutilsServer = mailutils_factory(login_delay=60)
    server.deliver([MESSAGE])
    sock, reader = _session(server)
    with sock:
        assert _login(sock, reader, server) == b"+OK opened mailbox for alice\r\n"
        sock.sendall(b"QUIT\r\n")
        assert reader.readline() == b"+OK\r\n"
    await check_row(server, Row("second login within login-delay", "pop3", "starttls", "problem", "login-delay"))


# Mailutils closes a connection that never starts TLS when its handshake timeout
# ends; with "handshake-timeout 1" that is before the row's 3 s greeting timeout.
CLOSING_ROW = entry(
    "STLS on an implicit-TLS port that closes after 1 s", "pop3s", "starttls", "problem", "port-expects-tls",
    suggested=("pop3s", "ssl"),
)  # fmt: skip


@pytest.mark.parametrize("row", [CLOSING_ROW])
async def test_mailutils_tls_port_closing_before_greeting(mailutils_factory: Any, row: Row) -> None:
    server: MailutilsServer = mailutils_factory(handshake_timeout=1)
    await check_row(server, row)


async def test_mailutils_deliver_then_retr(mailutils_factory: Any) -> None:
    """The fixture's mbox delivery is what POP3 serves, byte for byte (``From `` lines escaped and restored)."""
    server: MailutilsServer = mailutils_factory(listeners=NO_TLS)
    first = b"Subject: one\r\n\r\nfirst\r\nFrom the start of a line\r\n"
    second = b"Subject: two\r\n\r\nsecond\r\n"
    server.deliver([first, second])
    sock, reader = _session(server)
    with sock:
        assert _login(sock, reader, server) == b"+OK opened mailbox for alice\r\n"
        sock.sendall(b"STAT\r\nRETR 1\r\n")
        assert reader.readline().startswith(b"+OK 2 ")
        assert reader.readline().startswith(b"+OK")
        body = b""
        while (line := reader.readline()) != b".\r\n":
            body += line
        sock.sendall(b"QUIT\r\n")
    assert body == first
