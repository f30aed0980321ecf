"""The server matrix (issue 13) against a real Cyrus IMAP 3.6.1 pop3d (tests/support/cyrus.py).

Each row is the settings a mail program would have and the verdict a user
must get.  The fixture turns Cyrus's 3 s ``failedloginpause`` off.

Cyrus replies observed (Debian 3.6.1-4+deb12u5; patterns.toml "--- Cyrus ---"):

* greeting ``+OK cyrus.test Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5 server ready <stamp@cyrus.test>``
  (an APOP timestamp: the sasldb holds the secrets in the clear, so APOP works);
* wrong password and unknown user alike: ``-ERR [AUTH] Invalid login``; AUTH PLAIN:
  ``-ERR [AUTH] authenticating: authentication failure``;
* ``allowplaintext: no`` before STLS: CAPA lists neither USER nor SASL, and
  ``-ERR [AUTH] USER command only available under a layer``; AUTH PLAIN:
  ``-ERR [AUTH] authenticating: encryption needed to use mechanism``;
* ``popminpoll: 1``: CAPA ``LOGIN-DELAY 60``, then ``-ERR [LOGIN-DELAY] Logins must be at least 1 minute apart``;
* ``maxlogins_per_user: 2`` with one session open: ``-ERR Too many open connections (2 of 2 for alice)``;
* the pop3s port says nothing to a client that does not start TLS (still silent after 12 s).

Not a row: a locked mailbox.  Cyrus 3.6 unlocks the mailbox index after
reading it at login: a second POP3 session logs in (``+OK Mailbox locked and
ready``) while the first is still open, so "[IN-USE]" cannot be produced.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from support.cyrus import CyrusServer
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
    entry("right password with AUTH PLAIN over STLS", "pop3", "starttls", "ok", "ok", settings={"auth": "plain"}),
    # Cyrus keeps sasldb secrets in the clear, so it can check APOP digests too.
    entry("right password with APOP in clear", "pop3", "plain", "warning", "encryption-off",
        settings={"auth": "apop", "allow_plaintext": True}, suggested=("pop3s", "ssl")),
    entry("right password in clear when allowed", "pop3", "plain", "warning", "encryption-off",
        settings={"allow_plaintext": True, "auth": "user"}, suggested=("pop3s", "ssl")),
    entry("wrong password over STLS", "pop3", "starttls", "problem", "auth-failed", password=WRONG),
    entry("wrong password with AUTH PLAIN over STLS", "pop3", "starttls", "problem", "auth-failed", password=WRONG,
          settings={"auth": "plain"}),
    entry("wrong password over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", password=WRONG),
    # Cyrus answers an unknown user exactly as a wrong password ("-ERR [AUTH] Invalid
    # login"), so nothing tells the two apart: the right verdict is a failed login.
    entry("unknown user over STLS", "pop3", "starttls", "problem", "auth-failed", user="nobody-here"),
    # Cyrus's pop3s port says nothing until the TLS handshake (it waited > 12 s): once the
    # greeting is late, a TLS handshake on the same port answers (tests/test_diagnose_wrong_mode.py).
    entry("STLS on the implicit-TLS port", "pop3s", "starttls", "problem", "port-expects-tls",
        suggested=("pop3s", "ssl")),
    entry("clear text on the implicit-TLS port", "pop3s", "plain", "problem", "port-expects-tls",
        suggested=("pop3s", "ssl")),
    entry("implicit TLS on the STLS port", "pop3", "ssl", "problem", "port-expects-plain", suggested=("pop3s", "ssl")),
]  # fmt: skip

NO_PLAINTEXT_ROWS = [
    entry("STLS with allowplaintext no", "pop3", "starttls", "ok", "ok"),
    entry("implicit TLS with allowplaintext no", "pop3s", "ssl", "ok", "ok"),
    # "Normal password" in clear: CAPA lists neither USER nor SASL before STLS.
    entry("USER in clear refused by allowplaintext no", "pop3", "plain", "problem", "plaintext-auth-disallowed",
        suggested=("pop3s", "ssl"), settings={"allow_plaintext": True, "auth": "user"}),
    # With --auth auto a mail program uses USER/PASS, which Cyrus refuses here; pop3doctor
    # once logged in with APOP by itself (the greeting has a timestamp) and said it works.
    # CAPA lists no USER but STLS: the verdict comes before any password is sent.
    entry("auto login in clear refused by allowplaintext no", "pop3", "plain", "problem", "plaintext-auth-disallowed",
        suggested=("pop3s", "ssl"), settings={"allow_plaintext": True}),
    entry("clear setting without permission on allowplaintext no", "pop3", "plain", "problem", "encryption-off",
        suggested=("pop3s", "ssl")),
]  # fmt: skip


@pytest.fixture(scope="module")
def with_mail(cyrus: CyrusServer) -> CyrusServer:
    """The module's Cyrus with one message in the INBOX (a working login is "ok", not "mailbox-empty")."""
    cyrus.deliver([MESSAGE])
    return cyrus


@pytest.fixture(scope="module")
def no_plaintext_with_mail(cyrus_no_plaintext: CyrusServer) -> CyrusServer:
    cyrus_no_plaintext.deliver([MESSAGE])
    return cyrus_no_plaintext


@pytest.mark.parametrize("row", ROWS)
async def test_cyrus(with_mail: CyrusServer, row: Row) -> None:
    await check_row(with_mail, row)


@pytest.mark.parametrize("row", NO_PLAINTEXT_ROWS)
async def test_cyrus_no_plaintext(no_plaintext_with_mail: CyrusServer, row: Row) -> None:
    await check_row(no_plaintext_with_mail, row)


def _login(server: CyrusServer) -> bytes:
    """One POP3 login in clear on the STLS port (allowed there); returns Cyrus's PASS reply."""
    with socket.create_connection((server.host, server.pop3_port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"+OK")
        sock.sendall(f"USER {server.user}\r\n".encode())
        assert reader.readline().startswith(b"+OK")
        sock.sendall(f"PASS {server.password}\r\n".encode())
        reply = reader.readline()
        sock.sendall(b"QUIT\r\n")
        reader.readline()
        return reply


POPMINPOLL_ROW = Row("second login within popminpoll", "pop3", "starttls", "problem", "login-delay")


async def test_cyrus_popminpoll_second_login(cyrus_factory: object) -> None:
    server: CyrusServer = cyrus_factory(popminpoll=1)  # type: ignore[operator]
    assert _login(server).startswith(b"+OK"), "the first login must work"
    await check_row(server, POPMINPOLL_ROW)


async def test_cyrus_popminpoll_remedy_uses_advertised_delay(cyrus_factory: object) -> None:
    # popminpoll: 1 (minute); Cyrus's CAPA says "LOGIN-DELAY 60" (seconds).
    server: CyrusServer = cyrus_factory(popminpoll=1)  # type: ignore[operator]
    assert _login(server).startswith(b"+OK")
    report, _seconds = await run_row(server, POPMINPOLL_ROW)
    assert report.cause == "login-delay"
    remedy = " ".join(m.en for f in report.findings if f.cause == "login-delay" for m in f.remedy)
    assert "15 minutes" not in remedy and ("1 minute" in remedy or "60 seconds" in remedy), remedy


# USER/PASS: Cyrus 3.6 let a second session in by AUTH PLAIN (observed), so the
# row names the login method.
BUSY_ROW = Row(
    "second session over maxlogins_per_user", "pop3", "starttls", "problem", "server-busy", settings={"auth": "user"}
)


async def test_cyrus_maxlogins_per_user_second_session(cyrus_factory: object) -> None:
    # Another mail program of the same user is connected and logged in.  Cyrus 3.6
    # counts the new session too ("1 of 1" refuses the first login), so 2 allows
    # one; and it counts a session only once it has run a command after login.
    server: CyrusServer = cyrus_factory(maxlogins_per_user=2)  # type: ignore[operator]
    with socket.create_connection((server.host, server.pop3_port), timeout=5) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(f"USER {server.user}\r\nPASS {server.password}\r\nSTAT\r\n".encode())
        reader.readline()
        assert reader.readline().startswith(b"+OK Mailbox locked and ready")
        assert reader.readline().startswith(b"+OK ")
        await check_row(server, BUSY_ROW)


async def test_cyrus_deliver_then_stat(cyrus_factory: object) -> None:
    """The fixture's delivery lands in the INBOX that POP3 shows (the mail rows rely on it)."""
    server: CyrusServer = cyrus_factory()  # type: ignore[operator]
    server.deliver([b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\nsecond\r\n"])
    with socket.create_connection((server.host, server.pop3_port), timeout=5) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(f"USER {server.user}\r\nPASS {server.password}\r\nSTAT\r\nQUIT\r\n".encode())
        replies = [reader.readline() for _ in range(4)]
    assert replies[1].startswith(b"+OK Mailbox locked and ready")
    assert replies[2].startswith(b"+OK 2 ")


# Cyrus's own default: every failed login is answered after 3 s.  The per-read
# timeout must outlast it, as a mail program's does (they wait 30 s or more).
DEFAULT_PAUSE_ROW = Row(
    "wrong password with Cyrus's 3 s failedloginpause", "pop3", "starttls", "problem", "auth-failed",
    password=WRONG, timeout=10.0,
)  # fmt: skip


async def test_cyrus_wrong_password_with_default_pause(cyrus_factory: object) -> None:
    server: CyrusServer = cyrus_factory(failedloginpause=3)  # type: ignore[operator]
    await check_row(server, DEFAULT_PAUSE_ROW)
