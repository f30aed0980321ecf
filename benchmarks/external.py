"""Contenders that run as their own programs: mpop, fetchmail, getmail6, ``pop3doctor fetch``.

Each run gets a fresh scratch directory holding its configuration, its
"already seen" state (mpop's UIDL file, fetchmail's id file, getmail's
oldmail file, our SQLite state) and its Maildir, so every run downloads the
whole mailbox.  Time is measured around the whole process: its start-up is
part of what a user waits for.

Passwords never reach argv: mpop reads the 0600 password file through
``passwordeval``, getmail6 through ``password_command``, our CLI from an
environment variable (``--password-env``), and fetchmail, which has no such
hook, from its 0600 rc file.  Tool output is only printed on failure, with the
password masked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.model import Target, Tool, ToolFailed
from benchmarks.testsupport import ensure_mail_account

#: Generous: a healthy run of the largest workload takes seconds.
RUN_TIMEOUT = 600.0

PASSWORD_ENV = "POP3DOCTOR_BENCH_PASSWORD"

MPOP = shutil.which("mpop")
FETCHMAIL = shutil.which("fetchmail")
# getmail6 is a Python package: its script sits next to our interpreter.
GETMAIL = shutil.which("getmail", path=str(Path(sys.executable).parent)) or shutil.which("getmail")


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """A small, fixed environment: HOME in the scratch dir keeps lock and pid files there."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}
    env.update(extra or {})
    return env


def _run(name: str, argv: Sequence[str], env: dict[str, str], target: Target, ok: Sequence[int] = (0,)) -> str:
    """Run a tool to completion; `ToolFailed` with its (redacted) output unless its exit status is in ``ok``."""
    try:
        proc = subprocess.run(
            list(argv),
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{name}: no result after {RUN_TIMEOUT:.0f} s") from None
    out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    if proc.returncode not in ok:
        raise ToolFailed(target.redact(f"{name} exited with status {proc.returncode}:\n{out[-2000:]}"))
    return out


def make_maildir(path: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    return path


def count_maildir(path: Path) -> int:
    return sum(1 for sub in ("new", "cur") for _ in (path / sub).iterdir())


def _private(path: Path, text: str) -> Path:
    """Write a file only its owner can read (rc files may name the password file or hold it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path


class _ProcessRun:
    """A prepared external run: ``argv`` under ``env``; ``counter`` reads the result."""

    def __init__(
        self,
        name: str,
        target: Target,
        scratch: Path,
        argv: list[str],
        env: dict[str, str],
        counter: Callable[[str], int],
        ok: Sequence[int] = (0,),
    ) -> None:
        self.name = name
        self.target = target
        self.scratch = scratch
        self.argv = argv
        self.env = env
        self.counter = counter
        self.ok = ok
        self.output = ""

    def go(self) -> None:
        self.output = _run(self.name, self.argv, self.env, self.target, self.ok)

    def check(self) -> int:
        return self.counter(self.output)

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


# ---- mpop -------------------------------------------------------------------


def _mpop_prepare(target: Target, scratch: Path, delivery: str) -> _ProcessRun:
    assert MPOP is not None
    if delivery == "maildir":
        maildir = make_maildir(scratch / "Maildir")
        deliver = f"delivery maildir {maildir}"
    else:
        deliver = 'delivery mda "cat >/dev/null"'
    lines = [
        "defaults",
        "tls on",
        "tls_starttls off",
        f"tls_trust_file {target.ca_file}",
        "timeout 60",
        "account bench",
        f"host {target.host}",
        f"port {target.port}",
        f"user {target.user}",
        "auth user",
        f"passwordeval cat {target.password_file}",
        deliver,
        f"uidls_file {scratch / 'uidls'}",
        "keep on",
        "only_new on",
    ]
    rc = _private(scratch / "mpoprc", "\n".join(lines) + "\n")

    def counter(_output: str) -> int:
        if delivery == "maildir":
            return count_maildir(scratch / "Maildir")
        # With keep on, mpop records the UID of every message it delivered.
        return _mpop_uids(scratch / "uidls")

    return _ProcessRun("mpop", target, scratch, [MPOP, "-C", str(rc), "bench"], _env(scratch), counter)


def _mpop_uids(path: Path) -> int:
    """UIDs in an mpop 1.4 UIDL file.

    "#" lines are comments; a line starting with a space heads one list
    (" count host user"); every other non-empty line is one UID.
    """
    return sum(1 for line in path.read_text().splitlines() if line and line[0] not in "# ")


def mpop(delivery: str) -> Tool:
    """mpop 1.4 (C, GnuTLS), keep on, a fresh UIDL file per run; ``delivery`` is "maildir" or "null"."""
    label = "Maildir" if delivery == "maildir" else 'mda "cat >/dev/null"'
    return Tool(
        "mpop",
        label,
        lambda target, scratch: _mpop_prepare(target, scratch, delivery),
        missing=None if MPOP else "mpop not installed (Debian package mpop)",
        note="keep on, fresh uidls_file each run",
    )


# ---- fetchmail --------------------------------------------------------------

# fetchmail delivers through an MDA, one process per message; procmail is not
# here, so a tiny shell MDA writes tmp/<pid> and renames it into new/ (the
# Maildir rule).  The shell's pid is unique among running processes and the
# Maildir is fresh for every run.
_MAILDIR_MDA = '#!/bin/sh\nf={tmp}/fm.$$\ncat > "$f" && exec mv "$f" {new}/\n'


def _fetchmail_prepare(target: Target, scratch: Path) -> _ProcessRun:
    assert FETCHMAIL is not None
    maildir = make_maildir(scratch / "Maildir")
    mda = scratch / "mda.sh"
    mda.write_text(_MAILDIR_MDA.format(tmp=maildir / "tmp", new=maildir / "new"))
    mda.chmod(0o700)
    # fetchmail has no password command: the password sits in this 0600 file,
    # as fetchmail's documentation recommends.
    rc = _private(
        scratch / "fetchmailrc",
        "set no syslog\n"
        f"poll {target.host} with proto POP3 port {target.port} uidl timeout 60\n"
        f'  user "{target.user}" there with password "{target.password}" is root here\n'
        # fetchmail matches the certificate's names against the polled name
        # as a DNS name, never as an IP address: name "localhost" (in the cert).
        f"  ssl sslcertck sslcertfile {target.ca_file} sslcommonname localhost\n"
        "  keep fetchall no rewrite\n"
        f'  mda "{mda}"\n',
    )
    argv = [FETCHMAIL, "-f", str(rc), "-i", str(scratch / "fetchids"), "--nodetach"]
    return _ProcessRun("fetchmail", target, scratch, argv, _env(scratch), lambda _out: count_maildir(maildir))


def fetchmail() -> Tool:
    return Tool(
        "fetchmail",
        "Maildir via sh MDA",
        _fetchmail_prepare,
        missing=None if FETCHMAIL else "fetchmail not installed (Debian package fetchmail)",
        note="keep fetchall, fresh id file each run, one MDA process per message",
    )


# ---- getmail6 ---------------------------------------------------------------


def _getmail_prepare(target: Target, scratch: Path) -> _ProcessRun:
    assert GETMAIL is not None
    maildir = make_maildir(scratch / "Maildir")
    state = scratch / "getmail"
    state.mkdir()
    # getmail refuses to deliver as root ("refuse to deliver mail as root"):
    # run as root, its delivery child switches to the ``user`` named in the
    # destination, so that account owns the Maildir.  (Running all of getmail
    # as that account is not possible here: the interpreter lives under /root.)
    account = ensure_mail_account() if os.geteuid() == 0 else None
    if account is not None:
        scratch.chmod(0o711)
        for path in [maildir, *maildir.iterdir()]:
            os.chown(path, account.pw_uid, account.pw_gid)
    rc = _private(
        scratch / "getmailrc",
        "[retriever]\n"
        "type = SimplePOP3SSLRetriever\n"
        f"server = {target.host}\n"
        f"port = {target.port}\n"
        f"username = {target.user}\n"
        f'password_command = ("/bin/cat", "{target.password_file}")\n'
        f"ca_certs = {target.ca_file}\n"
        f"ssl_cert_hostname = {target.host}\n"
        "timeout = 60\n"
        "\n[destination]\n"
        "type = Maildir\n"
        f"path = {maildir}/\n" + (f"user = {account.pw_name}\n" if account is not None else "") + "\n[options]\n"
        "read_all = true\n"
        "delete = false\n"
        "verbose = 0\n"
        "message_log_syslog = false\n",
    )
    argv = [GETMAIL, f"--rcfile={rc}", f"--getmaildir={state}"]
    return _ProcessRun("getmail6", target, scratch, argv, _env(scratch), lambda _out: count_maildir(maildir))


def getmail6() -> Tool:
    return Tool(
        "getmail6",
        "Maildir",
        _getmail_prepare,
        missing=None if GETMAIL else "getmail6 not installed (pip install getmail6)",
        note="read_all, delete off, fresh getmaildir each run",
    )


# ---- pop3doctor fetch -------------------------------------------------------


def ours_cli_missing() -> str | None:
    """Why ``pop3doctor fetch`` cannot be benchmarked here (None when it can)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "fetch", "--help"], capture_output=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        return "`pop3doctor fetch` is not available yet (python -m pop3doctor fetch --help failed)"
    help_text = proc.stdout.decode("utf-8", "replace")
    needed = ["--maildir", "--keep", "--state", "--json", "--password-env", "--ca-file"]
    absent = [opt for opt in needed if opt not in help_text]
    return f"`pop3doctor fetch` lacks {', '.join(absent)}" if absent else None


def _ours_cli_prepare(target: Target, scratch: Path) -> _ProcessRun:
    maildir = scratch / "Maildir"
    argv = [
        sys.executable, "-m", "pop3doctor", "fetch",
        "--host", target.host, "--port", str(target.port), "--security", "ssl",
        "--user", target.user, "--password-env", PASSWORD_ENV, "--ca-file", str(target.ca_file),
        "--maildir", str(maildir), "--keep", "--state", str(scratch / "state"), "--json", "--lang", "en",
    ]  # fmt: skip

    def counter(output: str) -> int:
        # stdout holds the JSON summary; stderr (appended after it) is empty on success.
        report = json.loads(output[output.index("{") : output.rindex("}") + 1])
        if report.get("error"):
            raise ToolFailed(f"pop3doctor fetch reported {report['error']}")
        files = count_maildir(maildir)
        return files if files == report.get("fetched") else -1

    env = _env(scratch, {PASSWORD_ENV: target.password})
    return _ProcessRun("pop3doctor fetch", target, scratch, argv, env, counter)


def ours_cli(missing: str | None) -> Tool:
    return Tool(
        "pop3doctor fetch",
        "Maildir",
        _ours_cli_prepare,
        missing=missing,
        note="CLI process, --keep, fresh --state dir each run",
    )


# ---- versions ---------------------------------------------------------------


def version_of(argv: Sequence[str], pick: Callable[[str], bool] = lambda line: True) -> str:
    """The first output line of ``argv`` that ``pick`` accepts, or why there is none."""
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return "not installed"
    try:
        proc = subprocess.run(list(argv), capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc.__class__.__name__})"
    for line in (proc.stdout + proc.stderr).decode("utf-8", "replace").splitlines():
        if line.strip() and pick(line):
            return line.strip()
    return "unknown"


def tool_versions() -> dict[str, str]:
    return {
        "mpop": version_of([MPOP or "mpop", "--version"]),
        "fetchmail": version_of([FETCHMAIL or "fetchmail", "--version"], lambda line: "release" in line),
        "getmail6": version_of([GETMAIL or "getmail", "--version"]),
        "dovecot": version_of(["/usr/sbin/dovecot", "--version"]),
    }
