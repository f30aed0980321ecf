"""What a benchmark run is made of: the mailbox it reads and the tools that read it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Protocol


class ToolFailed(Exception):
    """A tool did not fetch the whole mailbox; the message is safe to print (no password)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """One mailbox on the benchmark's Dovecot, reached over implicit TLS (POP3S).

    ``password`` never leaves the process except through ``password_file``
    (mode 0600) or a child's environment; it is kept out of ``repr``.
    """

    workload: str
    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    password_file: Path
    ca_file: Path
    messages: int
    octets: int  # sum of the stored message sizes

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the password masked (for tool output we print)."""
        return text.replace(self.password, "********") if self.password else text


class Run(Protocol):
    """One prepared run of one tool: ``go`` is timed, nothing else is."""

    def go(self) -> None:
        """Fetch the whole mailbox.  Raises `ToolFailed` when the tool reports an error."""

    def check(self) -> int:
        """After ``go``: how many messages really arrived (compared with the mailbox)."""

    def cleanup(self) -> None:
        """Remove whatever the run left behind (Maildirs, state files)."""


@dataclasses.dataclass(frozen=True)
class Tool:
    """A contender.  ``prepare(target, scratch)`` builds fresh state in the empty
    directory ``scratch`` (untimed) and returns the run to time.
    ``missing`` says why the tool cannot run here (then it is listed, not run)."""

    name: str
    delivery: str
    prepare: Callable[[Target, Path], Run]
    missing: str | None = None
    note: str = ""
