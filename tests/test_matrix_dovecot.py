"""The server matrix (issue 13) against real Dovecot 2.3 in several configurations.

Each row is the settings a mail program would have and the verdict a user
must get (tests/support/matrix.py).  The servers are Debian's Dovecot
(tests/support/dovecot.py, on 127.0.0.2), one per configuration and module.

Dovecot 2.3.19.1 replies observed (patterns.toml "Dovecot"):

* wrong password and unknown user alike: ``-ERR [AUTH] Authentication failed.``;
* ``disable_plaintext_auth = yes`` or ``ssl = required``, before STLS: CAPA lists
  ``USER`` but no SASL mechanism, and PASS in clear gets
  ``-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.``;
* ``mail_max_userip_connections = 1`` with one session open: ``-ERR [IN-USE] Maximum
  number of connections from user+IP exceeded (mail_max_userip_connections=1)`` --
  [IN-USE], yet a connection limit, not a lock: the wording refines the code;
* ``pop3_lock_session = yes`` with one session open: Dovecot waits about 10 s for the
  lock, then ``-ERR [IN-USE] Mailbox is locked by another POP3 session.``;
* the pop3s port says nothing to a client that does not start TLS.

Not a row: a login delay.  Dovecot has no POP3 minimum poll interval (no
``LOGIN-DELAY`` capability): Cyrus's ``popminpoll`` covers that case.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from support.dovecot import DovecotOptions, DovecotPool, DovecotServer, require_dovecot
from support.matrix import WRONG, Row, check_row
from support.messages import make_message, message_id

MESSAGE = b"From: lab@example.test\r\nSubject: matrix\r\n\r\nOne message, so a working login is ok.\r\n"


def entry(*args: Any, **kwargs: Any) -> Any:
    r = Row(*args, **kwargs)
    return pytest.param(r, id=r.id)


@pytest.fixture(scope="module")
def pool(trustme_ca: trustme.CA) -> Iterator[DovecotPool]:
    require_dovecot()
    p = DovecotPool(trustme_ca)
    try:
        yield p
    finally:
        p.close()


def _with_mail(server: DovecotServer) -> DovecotServer:
    server.deliver([MESSAGE])
    return server


@pytest.fixture(scope="module")
def default(pool: DovecotPool) -> DovecotServer:
    """Dovecot's defaults: ``disable_plaintext_auth = yes``."""
    return _with_mail(pool.start(DovecotOptions(disable_plaintext_auth=True)))


@pytest.fixture(scope="module")
def plaintext_ok(pool: DovecotPool) -> DovecotServer:
    return _with_mail(pool.start(DovecotOptions(disable_plaintext_auth=False)))


@pytest.fixture(scope="module")
def ssl_required(pool: DovecotPool) -> DovecotServer:
    """``ssl = required``: no password without TLS, even with ``disable_plaintext_auth = no``."""
    return _with_mail(pool.start(DovecotOptions(disable_plaintext_auth=False, extra_config="ssl = required\n")))


DEFAULT_ROWS = [
    entry("right password over STLS", "pop3", "starttls", "ok", "ok"),
    entry("right password over implicit TLS", "pop3s", "ssl", "ok", "ok"),
    entry("right password with AUTH PLAIN over STLS", "pop3", "starttls", "ok", "ok", settings={"auth": "plain"}),
    entry("wrong password over STLS", "pop3", "starttls", "problem", "auth-failed", password=WRONG),
    entry("wrong password over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", password=WRONG),
    # Dovecot answers an unknown user exactly as a wrong password: a failed login is the verdict.
    entry("unknown user over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", user="nobody-here"),
    entry("USER in clear refused by disable_plaintext_auth", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings={"allow_plaintext": True, "auth": "user"}),
    entry("auto login in clear refused by disable_plaintext_auth", "pop3", "plain", "problem",
          "plaintext-auth-disallowed", suggested=("pop3s", "ssl"), settings={"allow_plaintext": True}),
    entry("clear setting without permission", "pop3", "plain", "problem", "encryption-off",
          suggested=("pop3s", "ssl")),
    entry("STLS on the implicit-TLS port", "pop3s", "starttls", "problem", "port-expects-tls",
          suggested=("pop3s", "ssl")),
    entry("implicit TLS on the STLS port", "pop3", "ssl", "problem", "port-expects-plain", suggested=("pop3s", "ssl")),
]  # fmt: skip

PLAINTEXT_OK_ROWS = [
    entry("right password in clear when allowed", "pop3", "plain", "warning", "encryption-off",
          settings={"allow_plaintext": True, "auth": "user"}, suggested=("pop3s", "ssl")),
    entry("wrong password in clear when allowed", "pop3", "plain", "problem", "auth-failed", password=WRONG,
          settings={"allow_plaintext": True, "auth": "user"}),
]  # fmt: skip

SSL_REQUIRED_ROWS = [
    entry("STLS with ssl required", "pop3", "starttls", "ok", "ok"),
    entry("USER in clear refused by ssl required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings={"allow_plaintext": True, "auth": "user"}),
]  # fmt: skip


@pytest.mark.parametrize("row", DEFAULT_ROWS)
async def test_dovecot(default: DovecotServer, row: Row) -> None:
    await check_row(default, row)


@pytest.mark.parametrize("row", PLAINTEXT_OK_ROWS)
async def test_dovecot_plaintext_ok(plaintext_ok: DovecotServer, row: Row) -> None:
    await check_row(plaintext_ok, row)


@pytest.mark.parametrize("row", SSL_REQUIRED_ROWS)
async def test_dovecot_ssl_required(ssl_required: DovecotServer, row: Row) -> None:
    await check_row(ssl_required, row)


class _Session:
    """Another mail program of the same user, logged in on the plain port (allowed there) and kept open."""

    def __init__(self, server: DovecotServer) -> None:
        self.sock = socket.create_connection((server.host, server.pop3_port), timeout=5)
        self.reader = self.sock.makefile("rb")
        assert self.reader.readline().startswith(b"+OK")
        self.sock.sendall(f"USER {server.user}\r\nPASS {server.password}\r\nSTAT\r\n".encode())
        self.replies = [self.reader.readline() for _ in range(3)]

    def close(self) -> None:
        self.sock.close()


async def test_dovecot_mail_max_userip_connections(pool: DovecotPool) -> None:
    server = _with_mail(pool.start(DovecotOptions(disable_plaintext_auth=False,
                                                  extra_config="mail_max_userip_connections = 1\n")))  # fmt: skip
    first = _Session(server)
    try:
        assert first.replies[1].startswith(b"+OK") and first.replies[2].startswith(b"+OK"), first.replies
        await check_row(server, Row("second session over mail_max_userip_connections", "pop3s", "ssl", "problem",
                                    "server-busy"))  # fmt: skip
    finally:
        first.close()


async def test_dovecot_locked_mailbox(pool: DovecotPool) -> None:
    server = _with_mail(pool.start(DovecotOptions(disable_plaintext_auth=False,
                                                  extra_config="pop3_lock_session = yes\n")))  # fmt: skip
    first = _Session(server)
    try:
        assert first.replies[2].startswith(b"+OK"), first.replies
        await check_row(server, Row("mailbox locked by another POP3 session", "pop3s", "ssl", "problem",
                                    "mailbox-in-use"))  # fmt: skip
    finally:
        first.close()


# pop3_uidl_format variants (Dovecot 2.3 doc "pop3_uidl_format"): the default, the
# UW/Courier-like orders, the Maildir file name, Dovecot's GUID.  Each must give a
# keep / keep / new / delete sequence in which every message is stored exactly once.
UIDL_FORMATS = ["%08Xu%08Xv", "%v.%u", "%f", "%g"]


def _fetch(server: DovecotServer, tmp_path: Path, *extra: str) -> dict[str, Any]:
    args = [sys.executable, "-m", "pop3doctor", "fetch", "--json", "--lang", "en",
            "--host", server.host, "--port", str(server.pop3s_port), "--security", "ssl",
            "--ca-file", str(server.ca_file), "--user", server.user, "--password-env", "P3D_PW",
            "--maildir", str(tmp_path / "Maildir"), "--state", str(tmp_path / "state"), *extra]  # fmt: skip
    done = subprocess.run(args, env={**os.environ, "P3D_PW": server.password}, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


def _stored_ids(tmp_path: Path) -> list[str]:
    return sorted(message_id(p.read_bytes()) for sub in ("new", "cur") for p in (tmp_path / "Maildir" / sub).iterdir())


@pytest.mark.parametrize("uidl_format", UIDL_FORMATS)
async def test_dovecot_uidl_format(pool: DovecotPool, tmp_path: Path, uidl_format: str) -> None:
    server = pool.start(DovecotOptions(extra_config=f"pop3_uidl_format = {uidl_format}\n"))
    first = [make_message(i, 3000 + 100 * i) for i in range(3)]
    server.deliver(first)
    await check_row(server, Row(f"right password with pop3_uidl_format {uidl_format}", "pop3s", "ssl", "ok", "ok"))
    assert _fetch(server, tmp_path)["fetched"] == 3
    assert _fetch(server, tmp_path)["fetched"] == 0  # keep again: nothing stored twice
    later = [make_message(i, 2000) for i in range(3, 5)]
    server.deliver(later)
    assert _fetch(server, tmp_path)["fetched"] == 2  # only the new ones
    deleted = _fetch(server, tmp_path, "--delete")
    assert (deleted["fetched"], deleted["deleted"]) == (0, 5)
    assert _stored_ids(tmp_path) == sorted(message_id(m) for m in first + later)  # each exactly once
    assert server.maildir_count() == 0
