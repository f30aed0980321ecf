"""The half both mail stores share: stream one message into its own temporary file.

`StagingWriter` is a `pop3doctor.sync.store.MessageWriter`: ``write`` converts
line ends (`LineConverter`) and appends to the file; ``close`` adds the
store's ending and hands the file to the store's `_finish`, which makes it
complete (Maildir: flush now, fsync in the background; mbox: close, no fsync)
and returns the `Staged` message; ``abort`` closes and removes the file.  What
"durable" means for each store stays in that store's module.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
from pathlib import Path
from typing import BinaryIO

from pop3doctor.sync.lines import LineConverter
from pop3doctor.sync.store import Staged

#: Write buffer per message file: big enough to make few syscalls.
WRITE_BUFFER = 256 * 1024


class StagingWriter(abc.ABC):
    """One message streaming into ``path`` (already created and open as ``fd``)."""

    def __init__(
        self,
        uid: str,
        size: int | None,
        path: Path,
        fd: int,
        converter: LineConverter,
        *,
        hashed: bool = False,
    ) -> None:
        self.uid = uid
        self.size = size
        self.path = path
        self._file: BinaryIO | None = open(fd, "wb", buffering=WRITE_BUFFER)
        self._conv = converter
        #: Only where the store needs it (mbox): hashing costs a pass over every byte.
        self._hash = hashlib.sha256() if hashed else None
        self._length = 0
        self._staged: Staged | None = None

    @property
    def staged(self) -> Staged | None:
        return self._staged

    def _put(self, data: bytes) -> None:
        if data and self._file is not None:
            self._file.write(data)
            if self._hash is not None:
                self._hash.update(data)
            self._length += len(data)

    def write(self, data: bytes) -> None:
        self._put(self._conv.feed(data))

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._put(self._ending())
        except BaseException:
            self.abort()
            raise
        file, self._file = self._file, None
        try:
            self._staged = self._finish(file, None if self._hash is None else self._hash.hexdigest())
        except BaseException:
            self._remove(file)
            raise

    def abort(self) -> None:
        file, self._file = self._file, None
        self._remove(file)

    def _remove(self, file: BinaryIO | None) -> None:
        """Close ``file`` and unlink it, whatever closing says.

        Closing flushes the write buffer, which fails again on a full disk
        (ENOSPC) or a file-size limit: that error must not keep the partial
        file in place.
        """
        try:
            if file is not None:
                with contextlib.suppress(OSError):
                    file.close()
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _ending(self) -> bytes:
        """The converter's last bytes plus whatever the format puts after a message."""
        return self._conv.finish()

    @abc.abstractmethod
    def _finish(self, file: BinaryIO, sha256: str | None) -> Staged:
        """Complete ``file`` (now out of our hands: close it, or have it closed) and describe it."""
