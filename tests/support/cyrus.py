"""A real Cyrus IMAP pop3d for tests (pytest plugin, loaded by tests/conftest.py).

Debian's ``cyrus-common`` depends on a mail transport agent (exim4 by
default) and its maintainer scripts create and start a system Cyrus.  We want
neither, so ``./dev`` does not install it: it runs ``apt-get download
cyrus-common cyrus-pop3d sasl2-bin`` and unpacks the .debs with ``dpkg -x``
into :data:`CYRUS_ROOT` (``/opt/pop3doctor-cyrus``, override with the
environment variable ``P3D_CYRUS_ROOT``), and installs only the shared
libraries those packages depend on.  The programs then run from there with
``LD_LIBRARY_PATH`` pointing at the unpacked ``libcyrus*.so``.

Each :class:`CyrusServer` is Cyrus's own ``master -C <imapd.conf> -M
<cyrus.conf> -D`` with a throwaway configuration in a private temporary
directory (configdirectory, partition, sockets, sasldb): ``pop3`` (STLS
offered), ``pop3s`` (implicit TLS) and an ``lmtpunix`` socket for delivery.

Facts about Cyrus 3.6.1 (Debian bookworm, 3.6.1-4+deb12u5) that shape this
module, each found by trying:

* **Listen address 127.0.0.4**, free ports found by binding port 0.
* **The Cyrus user** is the ``cyrus_user`` setting of imapd.conf: master
  starts as root and drops to it.  We reuse the Dovecot fixture's dedicated
  account ``pop3doctor-test`` (the unpacked .debs never created ``cyrus``).
  The temp dir and everything in it belong to that account.
* **Passwords are checked against a sasldb** (``sasl_pwcheck_method:
  auxprop``, ``sasl_auxprop_plugin: sasldb``, written with ``saslpasswd2 -f``
  in the realm ``servername``), so a wrong password is really refused.
* **The INBOX is created on first login or first delivery**
  (``autocreate_quota: 0``, ``autocreate_post: yes``); messages are delivered
  with Cyrus's ``deliver`` through the lmtp socket, as an MTA would.
* **Failed logins are answered after ``failedloginpause``** (default 3 s:
  pop3d sleeps before ``-ERR [AUTH] Invalid login``).  Tests check wrong
  passwords often, so :class:`CyrusOptions` sets it to 0 unless asked for
  ``failedloginpause=3``.
* **Cyrus logs only to syslog**, and there is no ``/dev/log`` here, so the
  fixture has no server log to show; its replies on the wire are what the
  tests check.

Skips: without the unpacked programs or without root the fixtures skip with
the reason -- except when ``CI`` is ``"true"``, where they fail.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from support.dovecot import ensure_mail_account, free_port, in_ci
from support.pools import ServerPool

CYRUS_ROOT = Path(os.environ.get("P3D_CYRUS_ROOT", "/opt/pop3doctor-cyrus"))
DEFAULT_HOST = "127.0.0.4"
SERVERNAME = "cyrus.test"
ALICE = "alice"
START_TIMEOUT = 15.0
TERM_GRACE = 1.0


def _bin(name: str) -> Path:
    return CYRUS_ROOT / "usr" / "lib" / "cyrus" / "bin" / name


def _libdir() -> Path:
    return CYRUS_ROOT / "usr" / "lib" / "x86_64-linux-gnu"


def _saslpasswd2() -> Path:
    return CYRUS_ROOT / "usr" / "sbin" / "saslpasswd2"


class CyrusUnavailable(Exception):
    """This machine cannot run the Cyrus fixture."""


class CyrusStartError(RuntimeError):
    """Cyrus did not come up."""


def check_available() -> None:
    """Raise :class:`CyrusUnavailable` with the reason if Cyrus cannot run here."""
    for path in (_bin("master"), _bin("pop3d"), _bin("deliver"), _saslpasswd2()):
        if not path.exists():
            raise CyrusUnavailable(f"{path} not found (./dev test unpacks cyrus-common, cyrus-pop3d, sasl2-bin there)")
    if os.geteuid() != 0:
        raise CyrusUnavailable("the Cyrus fixture needs root (master switches to the Cyrus user itself)")


def require_cyrus() -> None:
    """Skip the calling test if Cyrus cannot run here -- or fail, in CI."""
    try:
        check_available()
    except CyrusUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true but the Cyrus tests cannot run: {exc}")
        pytest.skip(str(exc))


@dataclasses.dataclass(frozen=True)
class CyrusOptions:
    """What a test may change, as in imapd.conf: ``allowplaintext``, ``popminpoll`` (minutes),
    ``failedloginpause`` (seconds; Cyrus's default is 3), ``maxlogins_per_user`` (0: no limit)."""

    allowplaintext: bool = True
    popminpoll: int = 0
    failedloginpause: int = 0
    maxlogins_per_user: int = 0
    host: str = DEFAULT_HOST
    extra_config: str = ""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = str(_libdir())
    return env


class CyrusServer:
    """One running Cyrus master with pop3 (STLS), pop3s and lmtp; the MatrixServer protocol."""

    name = "cyrus"

    def __init__(self, ca: trustme.CA, options: CyrusOptions | None = None) -> None:
        self.options = options or CyrusOptions()
        self.host = self.options.host
        self.user = ALICE
        self.password = "alice-" + os.urandom(6).hex()
        self.account = ensure_mail_account()
        self.directory = Path(tempfile.mkdtemp(prefix="p3d-cyrus-"))
        self.directory.chmod(0o711)
        self._ca = ca
        self._process: subprocess.Popen[bytes] | None = None
        self.pop3_port = 0
        self.pop3s_port = 0
        self.ca_file = self.directory / "ca.pem"

    @property
    def ports(self) -> dict[str, int]:
        return {"pop3": self.pop3_port, "pop3s": self.pop3s_port}

    # -- files -----------------------------------------------------------------

    def _write_files(self) -> None:
        d = self.directory
        for sub in ("conf", "spool", "run"):
            (d / sub).mkdir(exist_ok=True)
        cert = self._ca.issue_cert("localhost", "127.0.0.1", self.host)
        self._ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(d / "cert.pem"))
        cert.private_key_pem.write_to_path(str(d / "key.pem"))
        o = self.options
        (d / "imapd.conf").write_text(
            f"""\
# Generated by tests/support/cyrus.py for one throwaway test server.
configdirectory: {d}/conf
partition-default: {d}/spool
defaultpartition: default
servername: {SERVERNAME}
cyrus_user: {self.account.pw_name}
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {d}/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: {"yes" if o.allowplaintext else "no"}
popminpoll: {o.popminpoll}
failedloginpause: {o.failedloginpause}
maxlogins_per_user: {o.maxlogins_per_user}
tls_server_cert: {d}/cert.pem
tls_server_key: {d}/key.pem
autocreate_quota: 0
autocreate_post: yes
lmtpsocket: {d}/run/lmtp
idlesocket: {d}/run/idle
notifysocket: {d}/run/notify
mboxname_lockpath: {d}/run/lock
proc_path: {d}/run/proc
statuscache: no
{o.extra_config}"""
        )
        conf = f"-C {d}/imapd.conf"
        (d / "cyrus.conf").write_text(
            f"""\
START {{
}}
SERVICES {{
  pop3 cmd="{_bin("pop3d")} {conf}" listen="{self.host}:{self.pop3_port}" prefork=0
  pop3s cmd="{_bin("pop3d")} -s {conf}" listen="{self.host}:{self.pop3s_port}" prefork=0
  lmtpunix cmd="{_bin("lmtpd")} {conf}" listen="{d}/run/lmtp" prefork=0
}}
EVENTS {{
}}
"""
        )
        subprocess.run(
            [str(_saslpasswd2()), "-p", "-c", "-f", str(d / "sasldb2"), "-u", SERVERNAME, self.user],
            input=self.password.encode(), check=True, env=_env(), capture_output=True,
        )  # fmt: skip
        for path in [d, *d.rglob("*")]:
            os.chown(path, self.account.pw_uid, self.account.pw_gid)
        (d / "key.pem").chmod(0o600)

    # -- life ------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> CyrusServer:
        for _attempt in range(3):
            self.pop3_port = free_port(self.host)
            self.pop3s_port = free_port(self.host)
            self._write_files()
            self._process = subprocess.Popen(
                [str(_bin("master")), "-C", str(self.directory / "imapd.conf"),
                 "-M", str(self.directory / "cyrus.conf"), "-D", "-p", str(self.directory / "run" / "master.pid")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=(self.directory / "master.stderr").open("wb"),
                env=_env(), start_new_session=True,
            )  # fmt: skip
            try:
                self._wait_ready(timeout)
                return self
            except CyrusStartError:
                self._terminate()
                if _attempt == 2:
                    raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        tls = ssl.create_default_context(cafile=str(self.ca_file))
        pending = [(self.pop3_port, None), (self.pop3s_port, tls)]
        while pending:
            assert self._process is not None
            if self._process.poll() is not None:
                raise CyrusStartError(f"cyrus master exited with status {self._process.returncode}: {self.stderr()}")
            if time.monotonic() > deadline:
                raise CyrusStartError(f"cyrus ports not answering after {timeout:.0f}s: {self.stderr()}")
            port, ctx = pending[0]
            try:
                with socket.create_connection((self.host, port), timeout=2.0) as raw:
                    sock = ctx.wrap_socket(raw, server_hostname=self.host) if ctx else raw
                    with sock:
                        line = sock.makefile("rb").readline(512)
                        if not line.startswith(b"+OK"):
                            raise OSError(f"unexpected greeting {line!r}")
                        sock.sendall(b"QUIT\r\n")
                pending.pop(0)
            except OSError:
                time.sleep(0.05)

    def stderr(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "master.stderr").read_text(errors="replace") or "(no stderr; Cyrus logs to syslog)"
        return "(no stderr)"

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
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> CyrusServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- mail ------------------------------------------------------------------

    def deliver(self, messages: Iterable[bytes], user: str | None = None) -> None:
        """Deliver each message to ``user``'s INBOX with Cyrus ``deliver`` (LMTP), in order."""
        for msg in messages:
            result = subprocess.run(
                [str(_bin("deliver")), "-C", str(self.directory / "imapd.conf"), user or self.user],
                input=msg, env=_env(), capture_output=True, check=False, timeout=30,
            )  # fmt: skip
            if result.returncode != 0:
                raise RuntimeError(f"cyrus deliver failed ({result.returncode}): {result.stderr!r}")

    def __repr__(self) -> str:
        return f"<CyrusServer {self.host} pop3={self.pop3_port} pop3s={self.pop3s_port} dir={self.directory}>"


class CyrusPool(ServerPool[CyrusServer]):
    """Starts Cyrus servers on demand and stops them all at :meth:`close`."""

    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(lambda options=None, **kw: CyrusServer(ca, options or CyrusOptions(**kw)))


@contextlib.contextmanager
def _pool(ca: trustme.CA) -> Iterator[CyrusPool]:
    require_cyrus()
    pool = CyrusPool(ca)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def cyrus(trustme_ca: trustme.CA) -> Iterator[CyrusServer]:
    """Module-wide Cyrus accepting plaintext USER/PASS (``allowplaintext: yes``), no login delay."""
    with _pool(trustme_ca) as pool:
        yield pool.start()


@pytest.fixture(scope="module")
def cyrus_no_plaintext(trustme_ca: trustme.CA) -> Iterator[CyrusServer]:
    """Module-wide Cyrus with ``allowplaintext: no``: login in clear refused before STLS."""
    with _pool(trustme_ca) as pool:
        yield pool.start(allowplaintext=False)


@pytest.fixture
def cyrus_factory(trustme_ca: trustme.CA) -> Iterator[Any]:
    """``cyrus_factory(**CyrusOptions fields)`` starts a server stopped after the test."""
    with _pool(trustme_ca) as pool:
        yield pool.start
