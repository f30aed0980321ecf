"""A real Dovecot POP3 server for tests (pytest plugin, loaded by tests/conftest.py).

Each :class:`DovecotServer` is Debian's own ``/usr/sbin/dovecot -F -c <conf>``
with a throwaway configuration in a private temporary directory: its own
``base_dir`` (sockets, pid file), ``state_dir`` and log file, so any number of
instances run side by side and a system Dovecot, if any, is never touched.
Only POP3 is enabled: a plain listener (STLS offered) and an implicit-TLS
listener on free ports of one loopback address.

Facts about Dovecot 2.3 that shape this module (each found by trying):

* **Listen address 127.0.0.2, not 127.0.0.1.**  Dovecot treats a connection
  whose remote IP equals its local IP as "secured" (its log says ``secured``)
  and then allows cleartext USER/PASS even with ``disable_plaintext_auth=yes``.
  A client on this host connecting to 127.0.0.1 always comes *from*
  127.0.0.1, so the refusal could never be seen.  Connecting to 127.0.0.2 the
  kernel still picks source 127.0.0.1, the addresses differ, and Dovecot
  behaves as it does for a remote client.  127.0.0.0/8 is all loopback on
  Linux, so nothing leaves the host.  The certificate covers "localhost",
  "127.0.0.1" and the listen address.
* **Mail is owned by an unprivileged account.**  Dovecot refuses uid 0 for
  mail access (``first_valid_uid``).  We use a dedicated system account,
  ``pop3doctor-test``, created with ``useradd --system`` on first use: a name
  of its own makes stray files obvious and grants nothing (``nobody`` should own
  no files; ``mail`` can write the system spool).  If ``useradd`` is missing
  we fall back to ``mail``.  ``first_valid_uid``/``last_valid_uid`` pin mail
  access to exactly that uid.
* **The temp dir is mode 0711 under /tmp.**  Dovecot's auth process runs as
  the ``dovecot`` user and reads the passwd-file; the mail processes run as the
  mail account; both must traverse the directory.  pytest's own tmp dirs are
  0700 root, and their long paths could exceed the 108-byte UNIX-socket limit
  for ``base_dir`` sockets, hence a short ``mkdtemp`` path of our own.
* **Auth failure delays are off by default.**  Dovecot waits 2 s before every
  failed-login reply (``auth_failure_delay``) and its anvil "auth penalty"
  grows that to 15 s per client IP (measured: 2.0 s, then 6.0 s).  Tests that
  check wrong passwords would crawl, so :class:`DovecotOptions` sets the delay
  to 0 and disables the penalty socket unless asked for
  ``dovecot_defaults=True``; a failed login then still takes ~0.5 s.
* **Dovecot 2.4** renamed many settings; ``_config_24`` follows its
  documentation but is untested (bookworm ships 2.3.19.1).

Skips: without ``/usr/sbin/dovecot`` or without root the fixtures skip with the
reason -- except when the environment variable ``CI`` is ``"true"``, where they
fail, because CI must really run these tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from support.pools import ServerPool, servers_of

DOVECOT = Path("/usr/sbin/dovecot")
DEFAULT_HOST = "127.0.0.2"
MAIL_ACCOUNT = "pop3doctor-test"
FALLBACK_MAIL_ACCOUNT = "mail"

# Users every server has.  "bob@example.test" exists for tests of the
# full-address user-name form; "alice" is only a bare local part and
# "alice@example.test" is an unknown user.
ALICE = "alice"
BOB = "bob@example.test"

# Start-up normally takes well under a second; the deadline only matters
# when something is broken, and then the log is in the failure message.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0
# How long a SIGTERMed Dovecot may take to exit cleanly before SIGKILL
# (normally ~0.1 s; see DovecotServer._terminate).
TERM_GRACE = 1.0


class DovecotUnavailable(Exception):
    """This machine cannot run the Dovecot fixture (binary missing, not root)."""


class DovecotStartError(RuntimeError):
    """Dovecot did not come up; the message carries its log."""


@dataclasses.dataclass(frozen=True)
class DovecotOptions:
    """What a test may change about the server.

    ``disable_plaintext_auth`` mirrors Dovecot's setting (default ``True``, as in
    Dovecot): cleartext USER/PASS and AUTH PLAIN are refused before STLS on the
    plain port.  ``dovecot_defaults=True`` keeps Dovecot's 2 s auth-failure delay
    and auth penalty (slow; for tests that are about them).  ``mail_account``
    names the system account owning the Maildirs (``None`` = the dedicated
    one).  ``extra_config`` is appended verbatim to the generated config.
    """

    disable_plaintext_auth: bool = True
    host: str = DEFAULT_HOST
    dovecot_defaults: bool = False
    mail_account: str | None = None
    extra_config: str = ""


def in_ci() -> bool:
    """True when the environment says we run in CI, where skipping is not allowed."""
    return os.environ.get("CI", "").lower() == "true"


def check_available() -> None:
    """Raise :class:`DovecotUnavailable` with the reason if Dovecot cannot run here."""
    if not DOVECOT.exists():
        raise DovecotUnavailable(f"{DOVECOT} not found (apt-get install dovecot-pop3d)")
    if os.geteuid() != 0:
        raise DovecotUnavailable("the Dovecot fixture needs root (Dovecot switches to the mail user itself)")


def require_dovecot() -> None:
    """Skip the calling test if Dovecot cannot run here -- or fail, in CI."""
    try:
        check_available()
    except DovecotUnavailable as exc:
        if in_ci():
            pytest.fail(f"CI=true but the Dovecot tests cannot run: {exc}")
        pytest.skip(str(exc))


_VERSION_RE = re.compile(r"^(\d+)\.(\d+)")


def dovecot_version() -> tuple[int, int]:
    """(major, minor) of the installed Dovecot, from ``dovecot --version``."""
    out = subprocess.run([str(DOVECOT), "--version"], capture_output=True, text=True, check=True).stdout
    match = _VERSION_RE.match(out.strip())
    if match is None:
        raise DovecotStartError(f"cannot parse `dovecot --version` output: {out!r}")
    return int(match.group(1)), int(match.group(2))


def ensure_mail_account(name: str | None = None) -> pwd.struct_passwd:
    """Return the account that owns test Maildirs, creating the dedicated one if missing."""
    if name is not None:
        return pwd.getpwnam(name)
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(MAIL_ACCOUNT)
    try:
        # Exit status 9 means another test process created it meanwhile: fine.
        result = subprocess.run(
            [
                "useradd", "--system", "--user-group", "--no-create-home",
                "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                "--comment", "pop3doctor test mail owner", MAIL_ACCOUNT,
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    except FileNotFoundError:
        return pwd.getpwnam(FALLBACK_MAIL_ACCOUNT)
    if result.returncode not in (0, 9):
        return pwd.getpwnam(FALLBACK_MAIL_ACCOUNT)
    return pwd.getpwnam(MAIL_ACCOUNT)


def free_port(host: str) -> int:
    """A TCP port on ``host`` that was free a moment ago (start() retries on a clash)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _maildir_host() -> str:
    # Maildir file names end in the host name, with "/" and ":" escaped as
    # the Maildir convention (and Dovecot) do.
    return socket.gethostname().replace("/", r"\057").replace(":", r"\072")


def _virtual_size_delta(data: bytes, prev_cr: bool) -> tuple[int, bool]:
    """Count bare LFs (which Dovecot counts as CRLF in W=) across chunk borders."""
    bare = data.count(b"\n") - data.count(b"\r\n")
    if data.startswith(b"\n") and prev_cr:
        bare -= 1
    return bare, data.endswith(b"\r")


def _probe(host: str, port: int, tls: ssl.SSLContext | None) -> None:
    """Connect (with TLS if given), wait for the +OK greeting and say QUIT.

    Dovecot's login process greets only once it can reach the auth process,
    so a greeting means logins will work, not just that the port is bound.
    Finishing the session properly also matters for a fast stop: a login
    process still starting up when SIGTERM comes can hang for seconds.
    Each probe leaves one "Aborted login by logging out" line in the log.
    """
    with socket.create_connection((host, port), timeout=2.0) as raw:
        sock = tls.wrap_socket(raw, server_hostname=host) if tls else raw
        with sock:
            line = sock.makefile("rb").readline(512)
            if not line.startswith(b"+OK"):
                raise OSError(f"unexpected greeting {line!r}")
            sock.sendall(b"QUIT\r\n")
            sock.makefile("rb").readline(512)  # +OK Logging out


def _writer(data: bytes) -> Callable[[Any], object]:
    return lambda fh: fh.write(data)


class DovecotServer:
    """One running Dovecot with POP3 (``pop3_port``, STLS) and POP3S (``pop3s_port``).

    Attributes for tests: ``host``, ``pop3_port``, ``pop3s_port``, ``ca_file``
    (PEM of the CA that signed the server certificate), ``user``/``password``
    (alice), ``users`` (name -> password for every account), ``options``,
    ``version`` and ``directory`` (the temp dir, removed on :meth:`stop`).

    Use as a context manager or call :meth:`start` / :meth:`stop`; the
    pytest fixtures below do this for you.
    """

    #: The server matrix's name for it (tests/support/matrix.py `MatrixServer`).
    name = "dovecot"

    def __init__(self, ca: trustme.CA, options: DovecotOptions | None = None) -> None:
        check_available()
        self.options = options or DovecotOptions()
        self.host = self.options.host
        self.version = dovecot_version()
        self.account = ensure_mail_account(self.options.mail_account)
        # Fresh random passwords per server: nothing secret is ever a constant,
        # and a password seen in a log would point straight at the leak.
        self.users: dict[str, str] = {ALICE: secrets.token_urlsafe(12), BOB: secrets.token_urlsafe(12)}
        self.user = ALICE
        self.password = self.users[ALICE]
        self.pop3_port = 0
        self.pop3s_port = 0
        self.directory = Path(tempfile.mkdtemp(prefix="p3dc-"))
        self.directory.chmod(0o711)
        self.conf_path = self.directory / "dovecot.conf"
        self.log_path = self.directory / "dovecot.log"
        self._stderr_path = self.directory / "stderr.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._final_logs: str | None = None
        self._seq = 0
        self._stamp = 0  # last Maildir time stamp used, in microseconds
        try:
            (self.directory / "home").mkdir(mode=0o711)
            self._write_tls(ca)
            self._write_users()
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    # -- lifecycle -------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> DovecotServer:
        """Start Dovecot and return once both ports accept connections.

        Picks free ports; if Dovecot loses a port race it is restarted on new
        ones (up to 3 times).  Raises :class:`DovecotStartError` with the log.
        """
        last_error: DovecotStartError | None = None
        for _attempt in range(3):
            self.pop3_port = free_port(self.host)
            self.pop3s_port = free_port(self.host)
            self.conf_path.write_text(self._config())
            try:
                self._launch(timeout)
                return self
            except DovecotStartError as exc:
                last_error = exc
                self._terminate()
                if "Address already in use" not in str(exc):
                    break
        assert last_error is not None
        raise last_error

    def _launch(self, timeout: float) -> None:
        # A new session puts Dovecot and all its children in one process
        # group of their own, so a last-resort SIGKILL reaches every one of
        # them and nothing of ours is hit by it.
        with self._stderr_path.open("ab") as stderr:
            self._process = subprocess.Popen(
                [str(DOVECOT), "-F", "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        self._probe_tls = ssl.create_default_context(cafile=str(self.ca_file))
        pending = [self.pop3_port, self.pop3s_port]
        while pending:
            if self._process.poll() is not None:
                raise DovecotStartError(f"dovecot exited with status {self._process.returncode}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise DovecotStartError(f"dovecot ports not accepting after {timeout:.0f}s\n{self.logs()}")
            try:
                _probe(self.host, pending[0], None if pending[0] == self.pop3_port else self._probe_tls)
                pending.pop(0)
            except OSError:
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM to its process group, SIGKILL after 1 s) and remove the temp dir.

        The log is kept in memory, so :meth:`logs` still works afterwards.
        """
        self._terminate()
        if self.directory.exists():
            self._final_logs = self.logs()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _terminate(self) -> None:
        proc = self._process
        if proc is None:
            return
        self._process = None
        if proc.poll() is None:
            # SIGTERM is Dovecot's clean shutdown (children stop, master.pid is
            # removed).  It goes to the whole group: sent to the master alone,
            # the master waits ~1 s for its log child.  The group is Dovecot's
            # own (start_new_session), so nothing else is hit.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(TERM_GRACE)
        # Whatever is left gets SIGKILL.  This matters: a login process that
        # was still starting when SIGTERM came can sit in a blocking read for
        # 5 s and hold the master with it; the server's files are thrown
        # away, so there is nothing a clean exit would save.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(STOP_TIMEOUT)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the Dovecot master process is alive."""
        return self._process is not None and self._process.poll() is None

    # -- mailboxes -------------------------------------------------------------

    @property
    def ports(self) -> dict[str, int]:
        """Port name -> port, for the server matrix: "pop3" (STLS offered) and "pop3s"."""
        return {"pop3": self.pop3_port, "pop3s": self.pop3s_port}

    def maildir(self, user: str | None = None) -> Path:
        """The Maildir of ``user`` (default alice)."""
        name = user or self.user
        if name not in self.users:
            raise KeyError(f"no such test user: {name}")
        return self.directory / "home" / name.replace("@", "_at_") / "Maildir"

    def deliver(self, messages: Iterable[bytes], user: str | None = None) -> list[str]:
        """Put ``messages`` into ``user``'s Maildir/new, in order; return their file names.

        Files are written to tmp/ and renamed into new/ (the Maildir delivery
        rule), owned by the mail account, named ``<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<vsize>``
        so Dovecot needs no stat or read to learn the sizes.  POP3 order
        follows Dovecot's UIDs, which it assigns in file-name order; the
        sequence number keeps that equal to delivery order.
        """
        names = []
        for msg in messages:
            vsize_extra, _ = _virtual_size_delta(msg, prev_cr=False)
            names.append(self._store(user, _writer(msg), len(msg), len(msg) + vsize_extra))
        return names

    def deliver_file(self, path: str | os.PathLike[str], user: str | None = None) -> str:
        """Copy the message file at ``path`` into the Maildir (streamed; for huge messages)."""
        size = 0
        extra = 0
        prev_cr = False
        with open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                delta, prev_cr = _virtual_size_delta(chunk, prev_cr)
                extra += delta
                size += len(chunk)

        def copy(fh: Any) -> None:
            with open(path, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 20)

        return self._store(user, copy, size, size + extra)

    def _store(self, user: str | None, write: Callable[[Any], object], size: int, vsize: int) -> str:
        box = self._ensure_maildir(user)
        # Dovecot gives new files UIDs in the order of the time stamp in
        # their names; keep stamps strictly increasing so that order is
        # delivery order even for deliveries within one microsecond.
        self._seq += 1
        self._stamp = max(time.time_ns() // 1000, self._stamp + 1)
        sec, usec = divmod(self._stamp, 1_000_000)
        name = f"{sec}.M{usec:06d}P{os.getpid()}Q{self._seq}.{_maildir_host()},S={size},W={vsize}"
        tmp = box / "tmp" / name
        with tmp.open("wb") as fh:
            write(fh)
        os.chown(tmp, self.account.pw_uid, self.account.pw_gid)
        tmp.chmod(0o600)
        os.rename(tmp, box / "new" / name)
        return name

    def _ensure_maildir(self, user: str | None) -> Path:
        box = self.maildir(user)
        if not (box / "new").is_dir():
            for path in (box.parent, box, box / "new", box / "cur", box / "tmp"):
                path.mkdir(mode=0o700, exist_ok=True)
                os.chown(path, self.account.pw_uid, self.account.pw_gid)
        return box

    def clear(self, user: str | None = None) -> None:
        """Delete every message of ``user``.

        Dovecot's uidlist and indexes stay, so messages delivered afterwards
        get new, higher UIDs -- as on a real server.
        """
        box = self.maildir(user)
        for sub in ("new", "cur", "tmp"):
            folder = box / sub
            if folder.is_dir():
                for entry in folder.iterdir():
                    entry.unlink(missing_ok=True)

    def maildir_count(self, user: str | None = None) -> int:
        """How many messages ``user`` still has on the server (new/ + cur/)."""
        box = self.maildir(user)
        return sum(1 for sub in ("new", "cur") if (box / sub).is_dir() for _ in (box / sub).iterdir())

    # -- diagnostics -----------------------------------------------------------

    def logs(self) -> str:
        """Dovecot's log plus anything it wrote to stderr (config errors go there)."""
        if self._final_logs is not None:
            return self._final_logs
        parts = []
        for path in (self._stderr_path, self.log_path):
            with contextlib.suppress(FileNotFoundError):
                text = path.read_text(errors="replace")
                if text:
                    parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts) or "(dovecot wrote no log)"

    def __repr__(self) -> str:
        return f"<DovecotServer {self.host} pop3={self.pop3_port} pop3s={self.pop3s_port} dir={self.directory}>"

    # -- files -----------------------------------------------------------------

    def _write_tls(self, ca: trustme.CA) -> None:
        identities = dict.fromkeys(["localhost", "127.0.0.1", self.host])
        cert = ca.issue_cert(*identities)
        self.ca_file = self.directory / "ca.pem"
        self.cert_file = self.directory / "cert.pem"
        self.key_file = self.directory / "key.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.cert_chain_pems[0].write_to_path(str(self.cert_file))
        # Dovecot's config process reads the key as root ("<file" syntax),
        # so it stays 0600 root.
        cert.private_key_pem.write_to_path(str(self.key_file))
        self.key_file.chmod(0o600)

    def _write_users(self) -> None:
        uid, gid = self.account.pw_uid, self.account.pw_gid
        lines = []
        for name, password in self.users.items():
            # user:password:uid:gid:gecos:home:shell:extra
            home = self.maildir(name).parent
            lines.append(f"{name}:{{PLAIN}}{password}:{uid}:{gid}::{home}::\n")
        self.users_file = self.directory / "users"
        self.users_file.write_text("".join(lines))
        # The auth process runs as "dovecot"; nobody else may read passwords.
        os.chown(self.users_file, 0, _dovecot_gid())
        self.users_file.chmod(0o640)
        for name in self.users:
            self._ensure_maildir(name)

    def _config(self) -> str:
        render = _config_24 if self.version >= (2, 4) else _config_23
        return render(self) + self.options.extra_config


def _dovecot_gid() -> int:
    try:
        return pwd.getpwnam("dovecot").pw_gid
    except KeyError:  # not a Debian package install; fall back to world-readable
        return 0


def _quiet_failures(server: DovecotServer) -> str:
    if server.options.dovecot_defaults:
        return ""
    return (
        "# Tests check wrong passwords often: no 2 s reply delay, no anvil penalty.\n"
        "auth_failure_delay = 0\n"
        "service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
    )


def _config_23(s: DovecotServer) -> str:
    d = s.directory
    acc = s.account
    return f"""\
# Generated by tests/support/dovecot.py for one throwaway test server (Dovecot 2.3).
protocols = pop3
listen = {s.host}
base_dir = {d}/run
state_dir = {d}/state
log_path = {s.log_path}
auth_verbose = yes
# No stats: a process stopped while greeting the stats service waits 5 s
# for its handshake, which made teardown slow and racy.
stats_writer_socket_path =
first_valid_uid = {acc.pw_uid}
last_valid_uid = {acc.pw_uid}
first_valid_gid = {acc.pw_gid}
last_valid_gid = {acc.pw_gid}
mail_location = maildir:~/Maildir
ssl = yes
ssl_cert = <{s.cert_file}
ssl_key = <{s.key_file}
disable_plaintext_auth = {"yes" if s.options.disable_plaintext_auth else "no"}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {s.users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {s.users_file}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {s.host}
    port = {s.pop3_port}
  }}
  inet_listener pop3s {{
    address = {s.host}
    port = {s.pop3s_port}
    ssl = yes
  }}
}}
{_quiet_failures(s)}"""


def _config_24(s: DovecotServer) -> str:
    # UNTESTED: written from Dovecot 2.4's documentation (Debian bookworm has
    # 2.3).  2.4 renamed disable_plaintext_auth to auth_allow_cleartext (with
    # the opposite sense), mail_location to mail_driver/mail_path and ssl_cert
    # to ssl_server_cert_file; passdb/userdb blocks take a driver name.
    d = s.directory
    acc = s.account
    return f"""\
dovecot_config_version = 2.4.0
dovecot_storage_version = 2.4.0
# Generated by tests/support/dovecot.py for one throwaway test server (Dovecot 2.4).
protocols = pop3
listen = {s.host}
base_dir = {d}/run
state_dir = {d}/state
log_path = {s.log_path}
auth_verbose = yes
first_valid_uid = {acc.pw_uid}
last_valid_uid = {acc.pw_uid}
first_valid_gid = {acc.pw_gid}
last_valid_gid = {acc.pw_gid}
mail_driver = maildir
mail_path = ~/Maildir
ssl = yes
ssl_server_cert_file = {s.cert_file}
ssl_server_key_file = {s.key_file}
auth_allow_cleartext = {"no" if s.options.disable_plaintext_auth else "yes"}
passdb passwd-file {{
  passwd_file_path = {s.users_file}
  default_password_scheme = PLAIN
}}
userdb passwd-file {{
  passwd_file_path = {s.users_file}
}}
service pop3-login {{
  inet_listener pop3 {{
    listen = {s.host}
    port = {s.pop3_port}
  }}
  inet_listener pop3s {{
    listen = {s.host}
    port = {s.pop3s_port}
    ssl = yes
  }}
}}
{_quiet_failures(s)}"""


class DovecotPool(ServerPool[DovecotServer]):
    """Starts Dovecots on demand and stops them all at :meth:`close` (backs the fixtures)."""

    def __init__(self, ca: trustme.CA) -> None:
        super().__init__(lambda options=None, **kw: DovecotServer(ca, options or DovecotOptions(**kw)))


@contextlib.contextmanager
def _pool(ca: trustme.CA) -> Iterator[DovecotPool]:
    require_dovecot()
    pool = DovecotPool(ca)
    try:
        yield pool
    finally:
        pool.close()


# -- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="session")
def trustme_ca() -> trustme.CA:
    """One test CA for the whole session; servers get leaf certs from it."""
    return trustme.CA(organization_name="pop3doctor test CA")


@pytest.fixture(scope="module")
def dovecot(trustme_ca: trustme.CA) -> Iterator[DovecotServer]:
    """Module-wide Dovecot with its default ``disable_plaintext_auth=yes``.

    Shared by the tests of a module: a test that cares about the mailbox
    calls ``clear()`` then ``deliver()`` first.
    """
    with _pool(trustme_ca) as pool:
        yield pool.start(disable_plaintext_auth=True)


@pytest.fixture(scope="module")
def dovecot_plain_ok(trustme_ca: trustme.CA) -> Iterator[DovecotServer]:
    """Module-wide Dovecot that accepts cleartext USER/PASS without TLS."""
    with _pool(trustme_ca) as pool:
        yield pool.start(disable_plaintext_auth=False)


@pytest.fixture(scope="module")
def dovecot_pool(trustme_ca: trustme.CA) -> Iterator[DovecotPool]:
    """A module-wide pool: ``dovecot_pool.start(options)`` for servers shared by a module's tests."""
    with _pool(trustme_ca) as pool:
        yield pool


@pytest.fixture
def dovecot_factory(trustme_ca: trustme.CA) -> Iterator[Callable[..., DovecotServer]]:
    """``dovecot_factory(**DovecotOptions fields)`` starts a server stopped after the test."""
    with _pool(trustme_ca) as pool:
        yield pool.start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Attach the Dovecot log of every server a failed test used to its report."""
    report = yield
    if report.failed and call.when == "call":
        for name, server in servers_of(item, DovecotServer).items():
            report.sections.append((f"dovecot log ({name})", server.logs()))
    return report
