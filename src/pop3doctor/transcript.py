"""A redacted record of a POP3 conversation, for diagnosis evidence and support reports.

What is recorded is already safe: commands come in through
`Command.redacted()`, SASL client responses are never recorded, and bodies
are summarised by size.  A bounded number of lines is kept (the first ones
matter most for a diagnosis) so a long fetch cannot grow it without limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    direction: str  # "C" client, "S" server, "*" a note (TLS started, connection closed, ...)
    text: str
    at_ms: float


@dataclass
class Transcript:
    max_lines: int = 400
    lines: list[TranscriptLine] = field(default_factory=list)
    dropped: int = 0
    _start: float = field(default_factory=time.monotonic)

    def _add(self, direction: str, text: str) -> None:
        if len(self.lines) >= self.max_lines:
            self.dropped += 1
            return
        # Control characters from a hostile server must not reach a terminal.
        clean = "".join(ch if ch.isprintable() else "�" for ch in text[:500])
        self.lines.append(TranscriptLine(direction, clean, (time.monotonic() - self._start) * 1000))

    def client(self, text: str) -> None:
        self._add("C", text)

    def server(self, text: str) -> None:
        self._add("S", text)

    def note(self, text: str) -> None:
        self._add("*", text)

    def render(self) -> str:
        out = [f"{line.direction}: {line.text}" for line in self.lines]
        if self.dropped:
            out.append(f"*: ({self.dropped} more lines not kept)")
        return "\n".join(out)

    def tail(self, n: int = 12) -> list[str]:
        return [f"{line.direction}: {line.text}" for line in self.lines[-n:]]
