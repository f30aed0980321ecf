"""A real GNU Mailutils pop3d for tests (pytest plugin, loaded by tests/conftest.py).

``./dev`` installs Debian's ``mailutils-pop3d`` (``/usr/sbin/pop3d``; it pulls
no MTA) and stops the system ``mailutils-pop3d.service`` it enables.  Each
:class:`MailutilsServer` is ``pop3d --foreground --daemon
--config-file=<private pop3d.conf>`` with everything in a private temporary
directory: the configuration, a virtual-domain password file, the mbox
spool, the login statistics file, a trustme certificate and the log.

Facts about Mailutils 3.15 (Debian bookworm, 1:3.15-4) that shape this
module, each found by trying:

* **Listen address 127.0.0.3**, free ports found by binding port 0; one
  ``server`` block per listener, each with its own ``tls-mode``: ``ondemand``
  (STLS offered), ``required`` (STLS before login), ``no`` (no STLS at all) or
  ``connection`` (implicit TLS).  Which listeners a server has is an option,
  because the diagnosis probes every port of the server: a "no encryption
  anywhere" server must not have an implicit-TLS port.
* **The user is a virtual-domain user** ``alice@mailutils.test``
  (``authorization virtdomain``, ``authentication generic``): pop3d strips
  the domain and reads ``passwd/mailutils.test``, a passwd(5)-format file
  with a SHA-512 crypt(3) hash, so no system account is read or changed.
  Its uid/gid fields are those of the Dovecot fixture's dedicated account
  ``pop3doctor-test``, which owns the spool directory, but pop3d 3.15 serves a
  virtual-domain session as root (group ``mail``): an INBOX it creates itself
  is ``root:mail``.  The home field is the user's spool directory, and the
  mbox is ``<home>/INBOX``.
* **pop3d sets its own umask 007**, so the login-delay statistics db is
  created group-readable and then fails Mailutils's own safety check
  (logged as an error; the delay is then not enforced): ``stat-file`` carries
  ``;-grdfil``.
* **APOP**: pop3d always puts an APOP timestamp in its greeting, but the
  user has no APOP secret (``apop-database-file`` names a file that does not
  exist, so the system's ``/etc/apop.db`` is never read): every APOP is
  answered ``-ERR [AUTH] Bad login``, exactly like a wrong password.
* **Failed logins are answered at once** (no pause to wait for).
* **The implicit-TLS port says nothing** to a client that does not start
  TLS, and closes after the TLS handshake timeout (default 10 s; the
  ``handshake_timeout`` option sets it).
* **The log goes to stderr** (``logging { syslog no; }``), which the fixture
  writes to ``pop3d.log``; a failed test gets it in its report.

Skips: without ``/usr/sbin/pop3d`` or without root the fixtures skip with the
reason -- except when ``CI`` is ``"true"``, where they fail.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import dataclasses
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme

from support.dovecot import ensure_mail_account, free_port, in_ci
from support.pools import ServerPool, servers_of

POP3D = Path(os.environ.get("P3D_MAILUTILS_POP3D", "/usr/sbin/pop3d"))
DEFAULT_HOST = "127.0.0.3"
DOMAIN = "mailutils.test"
ALICE = "alice"
START_TIMEOUT = 15.0
TERM_GRACE = 1.0

#: Listener name (a key of ``ports``) -> Mailutils ``tls-mode``.
STANDARD = (("pop3", "ondemand"), ("pop3s", "connection"))
TLS_REQUIRED = (("pop3", "required"), ("pop3s", "connection"))
NO_TLS = (("pop3", "no"),)


class MailutilsUnavailable(Exception):
    """This machine cannot run the Mailutils fixture."""


class MailutilsStartError(RuntimeError):
    """pop3d did not come up; the message carries its log."""


def check_available() -> None:
    """Raise :class:`MailutilsUnavailable` with the reason if pop3d cannot run here."""
    if not POP3D.exists():
        raise MailutilsUnavailable(f"{POP3D} not found (apt-get install mailutils-pop3d; ./dev test does)")
    if os.geteuid() != 0:
        raise MailutilsUnavailable("the Mailutils fixture needs root (pop3d switches to the mail user itself)")


def require_mailutils() -> None:
    """Skip the calling test if pop3d cannot run here -- or fail, in CI."""
    try:
        check_available()
    except MailutilsUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true but the Mailutils tests cannot run: {exc}")
        pytest.skip(str(exc))


def sha512_crypt(password: str) -> str:
    """crypt(3) with a SHA-512 salt, from libcrypt (the ``crypt`` module is gone in Python 3.13)."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    salt = "$6$" + os.urandom(8).hex()
    hashed = lib.crypt(password.encode(), salt.encode())
    if not hashed or not hashed.startswith(b"$6$"):
        raise MailutilsStartError(f"libcrypt cannot make a SHA-512 hash: {hashed!r}")
    return str(hashed.decode())


@dataclasses.dataclass(frozen=True)
class MailutilsOptions:
    """What a test may change: the listeners (name -> tls-mode), ``login_delay``
    (seconds between two logins of a user; 0: none), the TLS ``handshake_timeout``
    (seconds; ``None``: Mailutils's 10 s)."""

    listeners: tuple[tuple[str, str], ...] = STANDARD
    login_delay: int = 0
    handshake_timeout: int | None = None
    host: str = DEFAULT_HOST
    extra_config: str = ""


class MailutilsServer:
    """One running Mailutils pop3d with the option's listeners; the MatrixServer protocol."""

    name = "mailutils"

    def __init__(self, ca: trustme.CA, options: MailutilsOptions | None = None) -> None:
        self.options = options or MailutilsOptions()
        self.host = self.options.host
        self.user = f"{ALICE}@{DOMAIN}"
        self.password = "alice-" + os.urandom(6).hex()
        self.account = ensure_mail_account()
        self.directory = Path(tempfile.mkdtemp(prefix="p3d-mailutils-"))
        self.directory.chmod(0o711)
        self._ca = ca
        self._process: subprocess.Popen[bytes] | None = None
        self._ports: dict[str, int] = {}
        self.ca_file = self.directory / "ca.pem"
        self.log_path = self.directory / "pop3d.log"
        self.home = self.directory / "spool" / ALICE
        self.mbox = self.home / "INBOX"
        self._log_kept = ""

    @property
    def ports(self) -> Mapping[str, int]:
        return dict(self._ports)

    # -- files -----------------------------------------------------------------

    def _write_files(self) -> None:
        d = self.directory
        for sub in ("passwd", "spool", "state"):
            (d / sub).mkdir(exist_ok=True)
        self.home.mkdir(exist_ok=True)
        cert = self._ca.issue_cert("localhost", "127.0.0.1", self.host)
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
        cert.private_key_pem.write_to_path(str(d / "key.pem"))
        (d / "key.pem").chmod(0o600)
        a = self.account
        (d / "passwd" / DOMAIN).write_text(
            f"{ALICE}:{sha512_crypt(self.password)}:{a.pw_uid}:{a.pw_gid}:Alice:{self.home}:/dev/null\n"
        )
        o = self.options
        handshake = f"handshake-timeout {o.handshake_timeout};" if o.handshake_timeout is not None else ""
        servers = "\n".join(
            f"server {self.host}:{self._ports[name]} {{ tls-mode {mode}; }};" for name, mode in o.listeners
        )
        login_delay = f"login-delay {o.login_delay};\n" if o.login_delay else ""
        (d / "pop3d.conf").write_text(
            f"""\
# Generated by tests/support/mailutils.py for one throwaway test server.
logging {{ syslog no; print-severity yes; }};
auth {{ authentication generic; authorization virtdomain; }};
virtdomain {{ passwd-dir "{d}/passwd"; }};
apop-database-file "{d}/state/apop.db";
tls {{ ssl-certificate-file "{d}/cert.pem"; ssl-key-file "{d}/key.pem"; {handshake} }};
tls-file-checks {{ key-file none; cert-file none; ca-file none; }};
tcp-wrappers {{ enable no; }};
pidfile "{d}/pop3d.pid";
stat-file "{d}/state/login.stat;-grdfil";
{login_delay}{servers}
{o.extra_config}
"""
        )
        for path in (self.home, d / "state", d / "spool"):
            os.chown(path, a.pw_uid, a.pw_gid)

    # -- life ------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> MailutilsServer:
        for attempt in range(3):
            self._ports = {name: free_port(self.host) for name, _mode in self.options.listeners}
            self._write_files()
            self._process = subprocess.Popen(
                [str(POP3D), "--foreground", "--daemon", f"--config-file={self.directory / 'pop3d.conf'}"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log_path.open("ab"),
                start_new_session=True,
            )  # fmt: skip
            try:
                self._wait_ready(timeout)
                return self
            except MailutilsStartError:
                self._terminate()
                if attempt == 2:
                    raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        tls = ssl.create_default_context(cafile=str(self.ca_file))
        modes = dict(self.options.listeners)
        pending = [(port, tls if modes[name] == "connection" else None) for name, port in self._ports.items()]
        while pending:
            assert self._process is not None
            if self._process.poll() is not None:
                raise MailutilsStartError(f"pop3d exited with status {self._process.returncode}: {self.logs()}")
            if time.monotonic() > deadline:
                raise MailutilsStartError(f"pop3d ports not answering after {timeout:.0f}s: {self.logs()}")
            port, ctx = pending[0]
            try:
                with socket.create_connection((self.host, port), timeout=2.0) as raw:
                    sock = ctx.wrap_socket(raw, server_hostname=self.host) if ctx else raw
                    with sock:
                        reader = sock.makefile("rb")
                        line = reader.readline(512)
                        if not line.startswith(b"+OK"):
                            raise OSError(f"unexpected greeting {line!r}")
                        sock.sendall(b"QUIT\r\n")
                        reader.readline(512)
                pending.pop(0)
            except OSError:
                time.sleep(0.05)

    def logs(self) -> str:
        with contextlib.suppress(OSError):
            self._log_kept = self.log_path.read_text(errors="replace")
        return self._log_kept or "(pop3d wrote no log)"

    def _terminate(self) -> None:
        proc, self._process = self._process, None
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(TERM_GRACE)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5.0)

    def stop(self) -> None:
        self._terminate()
        self.logs()  # kept in memory for a failure report after the directory is gone
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> MailutilsServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- mail ------------------------------------------------------------------

    def deliver(self, messages: Iterable[bytes]) -> None:
        """Append each message to the user's mbox, as an MTA's local delivery would.

        Line ends become LF (pop3d sends CRLF), lines starting with ``From ``
        (after any ``>``) get one more ``>``, and a blank line ends each message.
        """
        date = time.asctime(time.gmtime())  # mbox "From " lines carry an asctime(3) date
        chunks = []
        for msg in messages:
            body = msg.replace(b"\r\n", b"\n")
            body = re.sub(rb"(?m)^(>*From )", rb">\1", body)
            if not body.endswith(b"\n"):
                body += b"\n"
            chunks.append(f"From lab@example.test {date}\n".encode() + body + b"\n")
        with self.mbox.open("ab") as f:
            f.write(b"".join(chunks))
        os.chown(self.mbox, self.account.pw_uid, self.account.pw_gid)
        self.mbox.chmod(0o600)

    def __repr__(self) -> str:
        return f"<MailutilsServer {self.host} {self._ports} dir={self.directory}>"


class MailutilsPool(ServerPool[MailutilsServer]):
    """Starts pop3d servers on demand and stops them all at :meth:`close`."""

    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(lambda options=None, **kw: MailutilsServer(ca, options or MailutilsOptions(**kw)))


@contextlib.contextmanager
def _pool(ca: trustme.CA) -> Iterator[MailutilsPool]:
    require_mailutils()
    pool = MailutilsPool(ca)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def mailutils(trustme_ca: trustme.CA) -> Iterator[MailutilsServer]:
    """Module-wide pop3d: ``pop3`` offers STLS (``tls-mode ondemand``), ``pop3s`` is implicit TLS."""
    with _pool(trustme_ca) as pool:
        yield pool.start(listeners=STANDARD)


@pytest.fixture(scope="module")
def mailutils_tls_required(trustme_ca: trustme.CA) -> Iterator[MailutilsServer]:
    """Module-wide pop3d whose ``pop3`` port has ``tls-mode required``; ``pop3s`` is implicit TLS."""
    with _pool(trustme_ca) as pool:
        yield pool.start(listeners=TLS_REQUIRED)


@pytest.fixture(scope="module")
def mailutils_no_tls(trustme_ca: trustme.CA) -> Iterator[MailutilsServer]:
    """Module-wide pop3d with one ``pop3`` port, ``tls-mode no``: no STLS, no implicit TLS anywhere."""
    with _pool(trustme_ca) as pool:
        yield pool.start(listeners=NO_TLS)


@pytest.fixture
def mailutils_factory(trustme_ca: trustme.CA) -> Iterator[Any]:
    """``mailutils_factory(**MailutilsOptions fields)`` starts a server stopped after the test."""
    with _pool(trustme_ca) as pool:
        yield pool.start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the pop3d log of every Mailutils server a failed test used to its report."""
    report = yield
    if report.failed and call.when == "call":
        for name, server in servers_of(item, MailutilsServer).items():
            report.sections.append((f"mailutils pop3d log ({name})", server.logs()))
    return report
