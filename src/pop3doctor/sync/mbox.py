"""mbox delivery in the mboxrd variant, locked with fcntl and a dot-lock.

Format: each message is ``From MAILER-DAEMON <asctime>\\n``, the message with
LF line ends and every ``^>*From `` line quoted with one more ``>``, then an
empty line.  (mboxrd is the variant that can be unquoted exactly.)

Locking, as mutt and procmail interoperate: first the dot-lock ``FILE.lock``
(created with O_EXCL; treated as stale when its holder is a dead process on
this host, or it is older than `DOTLOCK_STALE_SECONDS`), then ``fcntl``
``lockf`` on the mbox itself.  The lock is held only while a batch is
appended, so mail readers are not shut out for a whole run.  Before it
connects, a fetch asks `MboxStore.probe_lock` whether both locks could be
taken now, so a mailbox a mail reader holds is reported (`MboxLocked`, exit
2) before any server work, not after a download.

Each message is first streamed into a hidden temporary file beside the mbox
(so its final length and SHA-256 are known), then the batch is recorded as
pending with targets ``OFFSET:LENGTH:SHA256`` and appended.  An append that
fails midway is truncated back to the mbox's previous size.  A run killed
mid-append leaves a pending row; `MboxStore.reconcile` then compares the
bytes at OFFSET with the recorded hash: equal means delivered; a partial tail
(file ends inside the region) is truncated back; anything else means the
message is not there and it will be fetched again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from pop3doctor.sync.errors import MboxLocked
from pop3doctor.sync.fsutil import fsync_dir, make_dirs_durable
from pop3doctor.sync.lines import LineConverter
from pop3doctor.sync.staging import WRITE_BUFFER, StagingWriter
from pop3doctor.sync.state import Pending
from pop3doctor.sync.store import RecordPending, Staged

#: procmail's default lock timeout is 1024 s; mutt gives up sooner.  A dot-lock
#: untouched for 5 minutes while we append for milliseconds is abandoned.
DOTLOCK_STALE_SECONDS = 300
#: How long we wait for another program's lock before giving up (``--lock-wait``).
LOCK_WAIT_SECONDS = 30.0
_POLL = 0.05
_TMP_PREFIX = ".pop3doctor-"


def from_line(now: float | None = None) -> bytes:
    return f"From MAILER-DAEMON {time.asctime(time.localtime(now))}\n".encode("ascii")


class MboxWriter(StagingWriter):
    """Streams one message, mboxrd-quoted with its From_ line, into a temp file."""

    def __init__(self, directory: Path, uid: str, size: int | None) -> None:
        fd, name = tempfile.mkstemp(dir=directory, prefix=_TMP_PREFIX)
        super().__init__(uid, size, Path(name), fd, LineConverter(mboxrd=True), hashed=True)
        self._put(from_line())

    def _ending(self) -> bytes:
        # The last line gets its newline, then the empty line that ends an mbox message.
        return self._conv.finish(ensure_newline=True) + b"\n"

    def _finish(self, file: BinaryIO, sha256: str | None) -> Staged:
        # No fsync: this file is only a staging copy; the mbox append is what
        # is made durable, and a lost staging file means a fetch again.
        file.close()
        return Staged(self.uid, self.path, self._length, sha256, self.size)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _dotlock(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Take ``path.lock`` the NFS-safe way: write our PID to a private file, then
    ``link()`` it to the lock name.  The lock therefore never exists without its
    owner's PID in it: a process killed between creating and filling the lock
    (possible with O_CREAT|O_EXCL, and seen in the SIGKILL test) would leave an
    empty lock that nobody could prove stale."""
    lock = path.with_name(path.name + ".lock")
    own = path.with_name(f"{lock.name}.{os.getpid()}.{socket.gethostname()}")
    deadline = time.monotonic() + wait
    held = False
    mine: Path | None = own
    try:
        own.write_text(f"{os.getpid()} {socket.gethostname()}\n")
    except PermissionError:
        # No write permission on the directory (e.g. /var/mail without
        # setgid mail): dot-locking is impossible; fcntl still protects.
        mine = None
    try:
        while mine is not None:
            try:
                os.link(mine, lock)
                held = True
                _remove_dead_peers(lock)
                break
            except FileExistsError:
                if _dotlock_stale(lock):
                    with contextlib.suppress(FileNotFoundError):
                        lock.unlink()
                    continue
                if time.monotonic() >= deadline:
                    raise MboxLocked(path, wait, "dotlock", _dotlock_holder(lock)) from None
                time.sleep(_POLL)
        yield
    finally:
        if held:
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
        if mine is not None:
            with contextlib.suppress(FileNotFoundError):
                mine.unlink()


def _remove_dead_peers(lock: Path) -> None:
    """Private lock files of killed runs on this host (``NAME.lock.PID.HOST``)."""
    host = socket.gethostname()
    for leftover in lock.parent.glob(f"{lock.name}.*.{host}"):
        pid = leftover.name[len(lock.name) + 1 :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _dotlock_holder(lock: Path) -> str | None:
    """What the dot-lock says about its owner ("PID HOST"), for the message."""
    try:
        text = lock.read_text(errors="replace").split()
    except OSError:
        return None
    return " ".join(text[:2])[:80] or None


def _dotlock_stale(lock: Path) -> bool:
    try:
        text = lock.read_text(errors="replace").split()
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if age > DOTLOCK_STALE_SECONDS:
        return True
    if len(text) >= 2 and text[0].isdigit() and text[1] == socket.gethostname():
        return not _pid_alive(int(text[0]))
    return False


@contextlib.contextmanager
def locked_mbox(path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[int]:
    """Open ``path`` read-write (created 0600 if missing) under both locks; yields the fd.

    Raises `MboxLocked` when either lock is still held by another program after ``wait`` seconds.
    """
    import fcntl  # POSIX only: mbox delivery is a Unix convention

    started = time.monotonic()
    with _dotlock(path, wait):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = started + wait
            while True:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() >= deadline:
                        raise MboxLocked(path, wait, "fcntl") from exc
                    time.sleep(_POLL)
            yield fd
        finally:
            os.close(fd)  # also releases the fcntl lock


def _region_sha256(fd: int, offset: int, length: int) -> str:
    digest = hashlib.sha256()
    remaining = length
    while remaining:
        block = os.pread(fd, min(remaining, 1 << 20), offset)
        if not block:
            break
        digest.update(block)
        offset += len(block)
        remaining -= len(block)
    return digest.hexdigest()


def _parse_target(target: str) -> tuple[int, int, str] | None:
    parts = target.split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    return int(parts[0]), int(parts[1]), parts[2]


class MboxStore:
    kind = "mbox"

    def __init__(self, location: Path, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        self.location = location
        #: Seconds to wait for another program's lock at each append.
        self.lock_wait = lock_wait

    @property
    def directory(self) -> Path:
        return self.location.parent

    def probe_lock(self) -> MboxLocked | None:
        """Take both locks and let go at once: None if that worked, else who holds them.

        Never waits (the engine polls, so Ctrl-C is honoured meanwhile); a
        missing mbox is not created here.
        """
        if not self.location.exists():
            return None
        try:
            with locked_mbox(self.location, wait=0.0):
                return None
        except MboxLocked as locked:
            return locked

    def has_mail(self) -> bool:
        try:
            return self.location.stat().st_size > 0
        except OSError:
            return False

    def prepare(self) -> None:
        make_dirs_durable(self.directory)
        # Staging files of a killed run: they were never appended, or the
        # pending row says where; either way the file itself is garbage.
        for stale in self.directory.glob(_TMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def open_writer(self, uid: str, size: int | None) -> MboxWriter:
        return MboxWriter(self.directory, uid, size)

    def place(self, batch: Sequence[Staged], record_pending: RecordPending) -> None:
        if not batch:
            return
        created = not self.location.exists()
        with locked_mbox(self.location, self.lock_wait) as fd:
            start = os.fstat(fd).st_size
            separator = b""
            if start:
                tail = os.pread(fd, 2, max(start - 2, 0))
                # mboxrd needs an empty line before each From_ line.
                separator = b"" if tail.endswith(b"\n\n") else (b"\n" if tail.endswith(b"\n") else b"\n\n")
            offset = start + len(separator)
            targets = []
            for staged in batch:
                targets.append(Pending(staged.uid, f"{offset}:{staged.length}:{staged.sha256}", staged.size))
                offset += staged.length
            record_pending(targets)
            try:
                with open(fd, "ab", buffering=WRITE_BUFFER, closefd=False) as out:
                    out.write(separator)
                    for staged in batch:
                        with open(staged.path, "rb") as source:
                            shutil.copyfileobj(source, out, WRITE_BUFFER)
                    out.flush()
                    os.fsync(fd)
            except BaseException:
                # Leave the mbox exactly as it was (the invariant "an append
                # that fails midway is truncated back").
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
                    os.fsync(fd)
                raise
        if created:
            fsync_dir(self.directory)
        self.discard(batch)

    def discard(self, batch: Sequence[Staged]) -> None:
        for staged in batch:
            with contextlib.suppress(FileNotFoundError):
                staged.path.unlink()

    def reconcile(self, pending: Sequence[Pending]) -> set[str]:
        present: set[str] = set()
        if not pending or not self.location.exists():
            return present
        parsed = sorted(
            ((t, p.uid) for p in pending if (t := _parse_target(p.target)) is not None), key=lambda x: x[0][0]
        )
        with locked_mbox(self.location, self.lock_wait) as fd:
            for (offset, length, sha), uid in parsed:
                size = os.fstat(fd).st_size
                if size >= offset + length and _region_sha256(fd, offset, length) == sha:
                    present.add(uid)
                elif offset < size < offset + length:
                    # The file ends inside this message: our own interrupted
                    # append is the tail.  Cut it off.
                    os.ftruncate(fd, offset)
                    os.fsync(fd)
        return present
