"""What a local mail store (Maildir, mbox) offers the fetch engine.

The engine never touches files itself; it drives a `Store` in three steps per
batch so that the crash-safety argument (see `pop3doctor.sync`) holds for any
store:

1. `Store.open_writer` -> a `MessageWriter`: the message streams into a
   temporary file; `MessageWriter.close` makes that file complete (and, where
   the store needs it, durable) and yields a `Staged` message.
2. `Store.place` (batch): calls ``record_pending`` with the final targets,
   *then* moves the staged messages into the mailbox and makes that durable.
   When it returns, every message of the batch is durably in the mailbox.
3. `Store.reconcile` (next run): for pending rows left by a killed run, says
   which targets really are in the mailbox, cleaning up half-done work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pop3doctor.sync.errors import MboxLocked
from pop3doctor.sync.state import Pending


@dataclass(frozen=True, slots=True)
class Staged:
    """A complete message in a temporary file, not yet in the mailbox."""

    uid: str
    path: Path
    length: int  # octets in the file (after conversion)
    #: Of the file's content, for stores that must recognise their own write
    #: after a crash (mbox: the appended region); None where the file name
    #: already proves it (Maildir), so no hashing pass is spent there.
    sha256: str | None
    size: int | None  # the server's LIST size, when known
    #: Set while the file's fsync runs in the background; `durable` waits for it.
    syncing: Future[None] | None = None

    def durable(self) -> None:
        """Block until the file is on stable storage (re-raises the fsync's error)."""
        if self.syncing is not None:
            self.syncing.result()


class MessageWriter(Protocol):
    """A `pop3doctor.client.MessageSink` that ends in a `Staged` message."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """The whole message arrived; after this, `staged` is set."""

    def abort(self) -> None:
        """The message did not arrive completely: remove the temporary file."""

    @property
    def staged(self) -> Staged | None: ...


RecordPending = Callable[[list[Pending]], None]


class Store(Protocol):
    kind: str  # "maildir" | "mbox"
    location: Path

    def prepare(self) -> None:
        """Create the mailbox if missing and remove stale temporary files."""

    def open_writer(self, uid: str, size: int | None) -> MessageWriter: ...

    def place(self, batch: Sequence[Staged], record_pending: RecordPending) -> None:
        """Record the batch as pending (via the callback), then put it durably in place.

        On an exception nothing of the batch counts as delivered; whatever was
        half-written is undone where possible, or left for `reconcile`.
        """

    def discard(self, batch: Sequence[Staged]) -> None:
        """Remove staged files that will not be placed."""

    def reconcile(self, pending: Sequence[Pending]) -> set[str]:
        """The uids among ``pending`` whose message is really in the mailbox."""

    def has_mail(self) -> bool:
        """Whether the mailbox already holds messages (without changing it)."""

    def probe_lock(self) -> MboxLocked | None:
        """None when the store's lock could be taken now; else who holds it (never waits)."""
