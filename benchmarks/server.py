"""The benchmark's own Dovecot: started on loopback, filled, warmed, stopped.

It is the test suite's `DovecotServer` (real Debian Dovecot, throwaway
config, 127.0.0.2, a CA made here for this run).  Each workload gets its own
user, so one server holds the 2,000 x 10 KB and the 20 x 5 MB mailboxes at
once and every contender reads the same files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import trustme

from benchmarks.inprocess import raw
from benchmarks.model import Target
from benchmarks.testsupport import DovecotOptions, DovecotServer, make_message


@dataclasses.dataclass(frozen=True)
class Workload:
    """``messages`` messages of exactly ``size`` octets each."""

    name: str
    messages: int
    size: int

    @property
    def octets(self) -> int:
        return self.messages * self.size

    def describe(self) -> str:
        return f"{self.messages} x {_human(self.size)} = {_human(self.octets)}"


def _human(octets: int) -> str:
    if octets >= 1_000_000:
        return f"{octets / 1_000_000:.1f} MB"
    if octets >= 1_000:
        return f"{octets / 1_000:.1f} KB"
    return f"{octets} B"


class BenchServer:
    """A running Dovecot plus a private work directory (removed on exit)."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.ca = trustme.CA(organization_name="pop3doctor benchmark CA")
        # 127.0.0.1, not the fixture's 127.0.0.2: mpop looks up the server
        # address's name (PTR) for its Received header, and only 127.0.0.1 is
        # in /etc/hosts -- for 127.0.0.2 the query went to the system resolver
        # (seen with tcpdump), and benchmarks send nothing beyond loopback.
        self.dovecot = DovecotServer(self.ca, DovecotOptions(host="127.0.0.1"))
        self._reissue_with_common_name()
        # Root-only (0700): it holds the password file and the rc files.
        self.workdir = Path(tempfile.mkdtemp(prefix="p3bench-", dir=workdir))
        self._free_users = list(self.dovecot.users)

    def _reissue_with_common_name(self) -> None:
        """Replace the fixture's leaf certificate with one that also has a subject CN.

        fetchmail 6.4 refuses a certificate without a subject CN ("Server
        name not specified in certificate!") even when a DNS subjectAltName
        matches (tried here), and the fixture's certificate has none.  Same
        CA, same names, plus CN=localhost; written before Dovecot reads it.
        """
        server = self.dovecot
        leaf = self.ca.issue_cert("localhost", "127.0.0.1", server.host, common_name="localhost")
        leaf.cert_chain_pems[0].write_to_path(str(server.cert_file))
        leaf.private_key_pem.write_to_path(str(server.key_file))
        server.key_file.chmod(0o600)

    def start(self) -> BenchServer:
        self.dovecot.start()
        return self

    def stop(self) -> None:
        self.dovecot.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def mailbox(self, workload: Workload) -> Target:
        """Give ``workload`` a user of its own, deliver its messages, warm the server up."""
        user = self._free_users.pop(0)
        self.dovecot.deliver((make_message(i, workload.size) for i in range(workload.messages)), user=user)
        password = self.dovecot.users[user]
        password_file = self.workdir / f"password-{workload.name}"
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password)
        target = Target(
            workload=workload.name,
            host=self.dovecot.host,
            port=self.dovecot.pop3s_port,
            user=user,
            password=password,
            password_file=password_file,
            ca_file=self.dovecot.ca_file,
            messages=workload.messages,
            octets=workload.octets,
        )
        self._warm_up(target)
        return target

    def _warm_up(self, target: Target) -> None:
        """One untimed read of everything before any timed run.

        The first POP3 session of a fresh Maildir builds Dovecot's index and
        UID list and moves new/ to cur/; that work must not be charged to
        whichever contender happens to run first.
        """
        scratch = Path(tempfile.mkdtemp(dir=self.workdir))
        run = raw().prepare(target, scratch)
        try:
            run.go()
            if run.check() != target.messages:
                raise RuntimeError(f"warm-up read {run.check()} of {target.messages} messages")
        finally:
            run.cleanup()
            shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def bench_server(workdir: Path | None = None) -> Iterator[BenchServer]:
    server = BenchServer(workdir)
    try:
        yield server.start()
    finally:
        server.stop()
