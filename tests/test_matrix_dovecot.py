"""The server matrix (issue 13) against real Dovecot 2.3 in several configurations.

Each row is the settings a mail program would have and the verdict a user
must get (tests/support/matrix.py).  The servers are Debian's Dovecot
(tests/support/dovecot.py, on 127.0.0.2), one per configuration and module.
Rows of the three login configurations run through `ClearWitness`, a relay
that keeps every byte the client sent: where the verdict comes from a refusal
in clear, the password must never have crossed the wire unencrypted.

Dovecot 2.3.19.1 (9b53102964) replies observed on the wire (patterns.toml "Dovecot"):

* greeting ``+OK Dovecot (Debian) ready.`` (no APOP timestamp);
* ``disable_plaintext_auth = yes``, CAPA before STLS: ``TOP UIDL RESP-CODES
  PIPELINING AUTH-RESP-CODE STLS SASL`` -- no ``USER``, ``SASL`` with no
  mechanism; after STLS: ``... USER``, ``SASL PLAIN``.  USER (and PASS) in clear:
  ``-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS)
  connections.``; AUTH PLAIN in clear: ``-ERR [AUTH] Plaintext authentication disabled.``;
* ``ssl = required`` (with ``disable_plaintext_auth = no``), CAPA before STLS:
  ``... STLS USER SASL`` -- USER listed, no SASL mechanism; USER in clear gets the
  "disallowed" line above, so the password is never needed to learn it;
* wrong password and unknown user alike: ``-ERR [AUTH] Authentication failed.``
  (after ~0.5 s with ``auth_failure_delay = 0``);
* ``mail_max_userip_connections = 1`` with one session open: ``-ERR [IN-USE] Maximum
  number of connections from user+IP exceeded (mail_max_userip_connections=1)`` --
  [IN-USE], yet a connection limit, not a lock: the wording refines the code;
* ``pop3_lock_session = yes`` with one session open: Dovecot waits about 10 s for the
  lock (``session_dotlock_set.timeout = 10`` in src/pop3/pop3-client.c), then
  ``-ERR [IN-USE] Mailbox is locked by another POP3 session.`` in answer to PASS;
* ``pop3_uidl_format = %m`` on Maildir: STAT and LIST work, UIDL gets ``+OK`` and then
  the connection closes (Dovecot logs ``UIDL: Header MD5 not found
  (pop3_uidl_format=%m not supported by storage?)``); ``%g`` on Maildir gives the
  file name's base, like ``%f``;
* the pop3s port says nothing to a client that does not start TLS (still silent
  after 12 s); a TLS ClientHello on the plain port gets the plain greeting back.

Not a row: a login delay.  Dovecot has no POP3 minimum poll interval (no
``LOGIN-DELAY`` capability): Cyrus's ``popminpoll`` covers that case.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.diagnosis.model import Report
from support.dovecot import DovecotOptions, DovecotPool, DovecotServer
from support.matrix import RIGHT, WRONG, Row, check_row
from support.messages import make_message

MESSAGE = b"From: lab@example.test\r\nSubject: matrix\r\n\r\nOne message, so a working login is ok.\r\n"


def entry(*args: Any, in_clear: bool = False, xfail: str | None = None, **kwargs: Any) -> Any:
    """A Row as a pytest parameter.

    ``in_clear``: the row's password is sent unencrypted (the user allowed it and the
    server takes it); every other row must never put it on the wire in clear.
    ``xfail``: a verdict pop3doctor gets wrong today (strict: the row must fail).
    """
    r = Row(*args, **kwargs)
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    return pytest.param(r, in_clear, marks=marks, id=r.id)


class ClearWitness:
    """A loopback relay in front of one port that keeps every byte a client sent through it.

    Listens on the server's host (127.0.0.2, a free port); Dovecot still sees the
    connection come from 127.0.0.1, so nothing it decides changes.  What the relay
    keeps is what crossed the wire: a password found in it went unencrypted
    (after STLS or on the implicit-TLS port it is inside TLS records).
    """

    def __init__(self, host: str, target: int) -> None:
        self._target = (host, target)
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._sent = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def sent(self) -> bytes:
        with self._lock:
            return bytes(self._sent)

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            for src, dst, keep in ((client, upstream, True), (upstream, client, False)):
                t = threading.Thread(target=self._pump, args=(src, dst, keep), daemon=True)
                self._threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, keep: bool) -> None:
        try:
            while data := src.recv(65536):
                if keep:
                    with self._lock:
                        self._sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):  # either side closing ends the connection, as without a relay
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for t in self._threads:
            t.join(timeout=2)


@dataclass
class Witnessed:
    """A Dovecot reached through a `ClearWitness` on each port (a `MatrixServer`)."""

    server: DovecotServer
    relays: dict[str, ClearWitness]
    name: str = "dovecot"

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def user(self) -> str:
        return self.server.user

    @property
    def password(self) -> str:
        return self.server.password

    @property
    def ca_file(self) -> Path:
        return self.server.ca_file

    @property
    def ports(self) -> dict[str, int]:
        return {name: relay.port for name, relay in self.relays.items()}

    def sent(self) -> bytes:
        return b"".join(relay.sent() for relay in self.relays.values())

    def reset(self) -> None:
        for relay in self.relays.values():
            relay.reset()

    def close(self) -> None:
        for relay in self.relays.values():
            relay.close()


def secret_forms(user: str, password: str) -> list[bytes]:
    """``password`` as USER/PASS, AUTH LOGIN and AUTH PLAIN (with and without authzid) put it on the wire."""
    raw = password.encode()
    forms = [raw, base64.b64encode(raw).rstrip(b"=")]
    for authzid in (b"", user.encode()):
        forms.append(base64.b64encode(authzid + b"\0" + user.encode() + b"\0" + raw).rstrip(b"="))
    return forms


async def check_witnessed(server: Witnessed, row: Row, in_clear: bool) -> None:
    """`check_row`, then: the password went unencrypted exactly when the row says so."""
    server.reset()
    report = await check_row(server, row)
    if report.suggested is not None:
        # A suggestion is something that was tried and worked, not a guess.
        s = report.suggested
        assert (s.port, s.security.value) in _probed_ok(report), (row.case, s, _probed_ok(report))
    password = {RIGHT: server.password, WRONG: "wrong-" + server.password}.get(row.password or "", row.password)
    assert password
    sent = server.sent()
    seen = [form for form in secret_forms(row.user or server.user, password) if form in sent]
    if in_clear:
        assert seen, "the witness saw no password although the row sends it in clear (is the relay in the path?)"
    else:
        assert not seen, f"{row.case}: the password crossed the wire unencrypted"


def _with_mail(server: DovecotServer) -> DovecotServer:
    server.deliver([MESSAGE])
    return server


def _witnessed(server: DovecotServer) -> Iterator[Witnessed]:
    w = Witnessed(server, {name: ClearWitness(server.host, port) for name, port in server.ports.items()})
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="module")
def default(dovecot_pool: DovecotPool) -> Iterator[Witnessed]:
    """Dovecot's defaults: ``disable_plaintext_auth = yes``."""
    yield from _witnessed(_with_mail(dovecot_pool.start(DovecotOptions(disable_plaintext_auth=True))))


@pytest.fixture(scope="module")
def plaintext_ok(dovecot_pool: DovecotPool) -> Iterator[Witnessed]:
    yield from _witnessed(_with_mail(dovecot_pool.start(DovecotOptions(disable_plaintext_auth=False))))


@pytest.fixture(scope="module")
def ssl_required(dovecot_pool: DovecotPool) -> Iterator[Witnessed]:
    """``ssl = required``: no password without TLS, even with ``disable_plaintext_auth = no``."""
    yield from _witnessed(_with_mail(dovecot_pool.start(DovecotOptions(disable_plaintext_auth=False,
                                                               extra_config="ssl = required\n"))))  # fmt: skip


CLEAR = {"allow_plaintext": True}

DEFAULT_ROWS = [
    entry("right password over STLS", "pop3", "starttls", "ok", "ok"),
    entry("right password over implicit TLS", "pop3s", "ssl", "ok", "ok"),
    entry("right password with AUTH PLAIN over STLS", "pop3", "starttls", "ok", "ok", settings={"auth": "plain"}),
    entry("wrong password over STLS", "pop3", "starttls", "problem", "auth-failed", password=WRONG),
    entry("wrong password over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", password=WRONG),
    # Dovecot answers an unknown user exactly as a wrong password: a failed login is the verdict.
    entry("unknown user over STLS", "pop3", "starttls", "problem", "auth-failed", user="nobody-here"),
    entry("unknown user over implicit TLS", "pop3s", "ssl", "problem", "auth-failed", user="nobody-here"),
    # CAPA before STLS lists no USER and an empty SASL: refused before the password is sent.
    entry("USER in clear refused by disable_plaintext_auth", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings={**CLEAR, "auth": "user"}),
    entry("AUTH PLAIN in clear refused by disable_plaintext_auth", "pop3", "plain", "problem",
          "plaintext-auth-disallowed", suggested=("pop3s", "ssl"), settings={**CLEAR, "auth": "plain"}),
    entry("auto login in clear refused by disable_plaintext_auth", "pop3", "plain", "problem",
          "plaintext-auth-disallowed", suggested=("pop3s", "ssl"), settings=CLEAR),
    entry("clear setting without permission", "pop3", "plain", "problem", "encryption-off",
          suggested=("pop3s", "ssl")),
    # "Encrypted password" (APOP) asked for: Dovecot's greeting has no timestamp.
    entry("APOP asked where none is offered", "pop3s", "ssl", "problem", "auth-mechanism-unsupported",
          settings={"auth": "apop"}),
    entry("STLS on the implicit-TLS port", "pop3s", "starttls", "problem", "port-expects-tls",
          suggested=("pop3s", "ssl")),
    entry("implicit TLS on the STLS port", "pop3", "ssl", "problem", "port-expects-plain", suggested=("pop3s", "ssl")),
    # No encryption set on the implicit-TLS port (with permission): Dovecot stays silent.
    entry("clear text on the implicit-TLS port", "pop3s", "plain", "problem", "port-expects-tls",
          suggested=("pop3s", "ssl"), settings=CLEAR),
]  # fmt: skip

PLAINTEXT_OK_ROWS = [
    # The witness's own check: these two do send the password in clear, and it sees it.
    entry("right password in clear when allowed", "pop3", "plain", "warning", "encryption-off",
          settings={**CLEAR, "auth": "user"}, suggested=("pop3s", "ssl"), in_clear=True),
    entry("wrong password in clear when allowed", "pop3", "plain", "problem", "auth-failed", password=WRONG,
          settings={**CLEAR, "auth": "user"}, in_clear=True),
]  # fmt: skip

SSL_REQUIRED_ROWS = [
    entry("STLS with ssl required", "pop3", "starttls", "ok", "ok"),
    entry("implicit TLS with ssl required", "pop3s", "ssl", "ok", "ok"),
    # CAPA lists USER here; Dovecot refuses the USER command itself, before PASS.
    entry("USER in clear refused by ssl required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings={**CLEAR, "auth": "user"}),
    entry("auto login in clear refused by ssl required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings=CLEAR),
    entry("AUTH PLAIN in clear refused by ssl required", "pop3", "plain", "problem", "plaintext-auth-disallowed",
          suggested=("pop3s", "ssl"), settings={**CLEAR, "auth": "plain"}),
]  # fmt: skip


@pytest.mark.parametrize(("row", "in_clear"), DEFAULT_ROWS)
async def test_dovecot(default: Witnessed, row: Row, in_clear: bool) -> None:
    await check_witnessed(default, row, in_clear)


@pytest.mark.parametrize(("row", "in_clear"), PLAINTEXT_OK_ROWS)
async def test_dovecot_plaintext_ok(plaintext_ok: Witnessed, row: Row, in_clear: bool) -> None:
    await check_witnessed(plaintext_ok, row, in_clear)


@pytest.mark.parametrize(("row", "in_clear"), SSL_REQUIRED_ROWS)
async def test_dovecot_ssl_required(ssl_required: Witnessed, row: Row, in_clear: bool) -> None:
    await check_witnessed(ssl_required, row, in_clear)


def _probed_ok(report: Report) -> set[tuple[int, str]]:
    """(port, security) of every alternative the diagnosis probed and found working."""
    probes = [a for f in report.findings
              for a in [*f.evidence.get("alternatives", ()), f.evidence.get("tls_on_same_port") or {}]]  # fmt: skip
    return {(a["port"], a["security"]) for a in probes if a.get("ok")}


def _server_words(report: Report) -> str:
    """What the server said in the findings that decided the verdict (transcripts and evidence)."""
    return "\n".join(line for f in report.findings if f.cause == report.cause
                      for line in [*f.transcript, json.dumps(f.evidence)])  # fmt: skip


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


async def test_dovecot_mail_max_userip_connections(dovecot_pool: DovecotPool) -> None:
    server = _with_mail(dovecot_pool.start(DovecotOptions(disable_plaintext_auth=False,
                                                  extra_config="mail_max_userip_connections = 1\n")))  # fmt: skip
    first = _Session(server)
    try:
        assert first.replies[1].startswith(b"+OK") and first.replies[2].startswith(b"+OK"), first.replies
        report = await check_row(server, Row("second session over mail_max_userip_connections", "pop3s", "ssl",
                                             "problem", "server-busy"))  # fmt: skip
        assert "[IN-USE] Maximum number of connections from user+IP exceeded" in _server_words(report)
    finally:
        first.close()


async def test_dovecot_locked_mailbox(dovecot_pool: DovecotPool) -> None:
    server = _with_mail(dovecot_pool.start(DovecotOptions(disable_plaintext_auth=False,
                                                  extra_config="pop3_lock_session = yes\n")))  # fmt: skip
    first = _Session(server)
    try:
        assert first.replies[2].startswith(b"+OK"), first.replies
        report = await check_row(server, Row("mailbox locked by another POP3 session", "pop3s", "ssl", "problem",
                                             "mailbox-in-use"))  # fmt: skip
        assert "[IN-USE] Mailbox is locked by another POP3 session." in _server_words(report)
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


def _stored(tmp_path: Path) -> list[bytes]:
    """Every message file in the client's Maildir, sorted (a duplicate would show twice)."""
    return sorted(p.read_bytes() for sub in ("new", "cur") for p in (tmp_path / "Maildir" / sub).iterdir())


@pytest.mark.parametrize("uidl_format", UIDL_FORMATS)
async def test_dovecot_uidl_format(dovecot_pool: DovecotPool, tmp_path: Path, uidl_format: str) -> None:
    server = dovecot_pool.start(DovecotOptions(extra_config=f"pop3_uidl_format = {uidl_format}\n"))
    first = [make_message(i, 3000 + 100 * i) for i in range(3)]
    server.deliver(first)
    await check_row(server, Row(f"right password with pop3_uidl_format {uidl_format}", "pop3s", "ssl", "ok", "ok"))
    summary = _fetch(server, tmp_path)
    assert (summary["fetched"], summary["uid_source"]) == (3, "uidl")  # the UIDs are Dovecot's, in this format
    assert _fetch(server, tmp_path)["fetched"] == 0  # keep again: nothing stored twice
    later = [make_message(i, 2000) for i in range(3, 5)]
    server.deliver(later)
    assert _fetch(server, tmp_path)["fetched"] == 2  # only the new ones
    deleted = _fetch(server, tmp_path, "--delete")
    assert (deleted["fetched"], deleted["deleted"]) == (0, 5)
    # Each exactly once, and its bytes (line ends are LF on disk, see test_fetch_dovecot).
    assert _stored(tmp_path) == sorted(m.replace(b"\r\n", b"\n") for m in first + later)
    assert server.maildir_count() == 0


@pytest.fixture(scope="module")
def uidl_md5(dovecot_pool: DovecotPool) -> DovecotServer:
    """``pop3_uidl_format = %m`` (header MD5) on Maildir, a storage that has no header MD5."""
    return _with_mail(dovecot_pool.start(DovecotOptions(extra_config="pop3_uidl_format = %m\n")))


def test_dovecot_uidl_md5_on_maildir_breaks_off_uidl(uidl_md5: DovecotServer) -> None:
    """What the row below meets, seen on the wire: login, STAT and LIST work; UIDL gets "+OK", then EOF."""
    tls = ssl.create_default_context(cafile=str(uidl_md5.ca_file))
    with socket.create_connection((uidl_md5.host, uidl_md5.pop3s_port), timeout=5) as raw:
        with tls.wrap_socket(raw, server_hostname=uidl_md5.host) as sock:
            reader = sock.makefile("rb")
            assert reader.readline().startswith(b"+OK")
            replies = []
            for command in (f"USER {uidl_md5.user}", f"PASS {uidl_md5.password}", "STAT", "UIDL"):
                sock.sendall(command.encode() + b"\r\n")
                replies.append(reader.readline())
            replies.append(reader.readline())
    assert replies[1:] == [b"+OK Logged in.\r\n", b"+OK 1 " + str(len(MESSAGE)).encode() + b"\r\n", b"+OK\r\n", b""]
    # Dovecot's pop3 process writes its log line as it ends, a moment after the close: wait for it.
    wanted = "UIDL: Header MD5 not found (pop3_uidl_format=%m not supported by storage?)"
    for _attempt in range(100):
        if wanted in uidl_md5.logs():
            break
        time.sleep(0.05)
    assert wanted in uidl_md5.logs()


async def test_dovecot_uidl_md5_on_maildir(uidl_md5: DovecotServer) -> None:
    # Closed at UIDL every time: the server fails there, not the network.  The diagnosis
    # asks once more on a new connection (the password has just worked) to tell the two apart.
    report = await check_row(uidl_md5, Row("pop3_uidl_format %m on Maildir (UIDL breaks off)", "pop3s", "ssl",
                                           "problem", "retrieval-failed"))  # fmt: skip
    failed = next(f for f in report.findings if f.stage == "mailbox" and f.cause)
    assert failed.evidence["asked_again"] == {"command": "UIDL", "closed_again": True}
    assert "UIDL" in failed.explanation.en and "UIDL" in failed.explanation.ja
