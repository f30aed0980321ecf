"""Exclusive, non-blocking lock files that the kernel releases when the process dies.

Used for "one fetch per account at a time".  ``fcntl.flock`` on POSIX,
``msvcrt.locking`` on Windows: both locks belong to the open file, so a run
killed with SIGKILL (or a power cut) leaves no stale lock behind -- unlike a
lock file whose mere existence is the lock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import TracebackType


class LockBusy(Exception):
    """Another process holds the lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"lock is held: {path}")
        self.path = path


class FileLock:
    """``with FileLock(path): ...`` -- raises `LockBusy` at once when held elsewhere."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            os.close(fd)
            raise LockBusy(self.path) from None
        # The pid is informational (who holds it); the lock is the flock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
