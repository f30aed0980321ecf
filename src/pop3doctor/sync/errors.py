"""Named local failures of a fetch: the state database and the mbox lock.

Each is a `Pop3DoctorError` with its own ``code``; the engine turns them into
a report stop of the same name (`report.STOP_CODES`), so a front end shows a
clear ja/en line and exit 2 instead of a traceback::

    Pop3DoctorError
    ├── StateDamaged [state-damaged]        the state file is not a usable database
    ├── StateUnwritable [state-unwritable]  the state directory is read-only or full
    └── MboxLocked [mbox-locked]            another program holds the mbox's lock
"""

from __future__ import annotations

from pathlib import Path

from pop3doctor.base_error import Pop3DoctorError


class _StateFileError(Pop3DoctorError):
    """A failure of the state file at ``path``; ``why`` is a short English developer
    reason (shown as the detail line)."""

    problem = ""  # what is wrong with the file, for the English message

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"state database {path} {self.problem}: {why}")
        self.path = path
        self.why = why


class StateDamaged(_StateFileError):
    """The state file exists but cannot be trusted: not SQLite, truncated, failing
    ``PRAGMA quick_check``, or empty beside a destination that already holds mail
    (fetching on with it would store every message a second time).
    """

    code = "state-damaged"
    problem = "is damaged"


class StateUnwritable(_StateFileError):
    """A state change could not be made durable (read-only directory, disk full, I/O error).

    The run stops at once: mail already placed stays placed, and no DELE is
    sent for a message whose ``delivered`` row did not reach the disk.
    """

    code = "state-unwritable"
    problem = "cannot be written"


class MboxLocked(Pop3DoctorError):
    """Another program (a mail reader, procmail, another fetch) holds the mbox's lock.

    ``kind`` is "dotlock" (``FILE.lock`` exists) or "fcntl" (a ``lockf`` lock on
    the file); ``holder`` is what the dot-lock says about its owner, if anything.
    """

    code = "mbox-locked"

    def __init__(self, path: Path, waited: float, kind: str, holder: str | None = None) -> None:
        super().__init__(f"could not lock {path} within {waited:g} s ({kind}{': ' + holder if holder else ''})")
        self.path = path
        self.waited = waited
        self.kind = kind
        self.holder = holder
