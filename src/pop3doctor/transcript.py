"""A redacted record of a POP3 conversation, for diagnosis evidence and support reports.

What is recorded is already safe: commands come in through
`Command.redacted()`, SASL client responses are never recorded, and bodies
are summarised by size.  A server may still *echo* a secret back
(``-ERR invalid password: <what you sent>``): the client registers every
secret it sends (`Transcript.add_secret`, in each form it took on the wire)
and `Transcript.redact` hides it in every server text -- the client applies it
to each status line as it arrives, before any error, finding or report sees it.

A bounded number of lines is kept (the first ones matter most for a
diagnosis) so a long fetch cannot grow it without limit.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

#: What a secret echoed by the server is replaced with.
REDACTED = "********"


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
    #: Every form of every secret sent in this session, longest first.
    _secrets: list[bytes] = field(default_factory=list, repr=False)

    def add_secret(self, secret: str | bytes) -> None:
        """Hide ``secret`` from now on: as sent, and in base64 (how SASL carries it)."""
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            return
        for form in (raw, base64.b64encode(raw), base64.b64encode(raw).rstrip(b"=")):
            if form and form not in self._secrets:
                self._secrets.append(form)
        self._secrets.sort(key=len, reverse=True)

    @property
    def has_secrets(self) -> bool:
        return bool(self._secrets)

    def redact_bytes(self, data: bytes) -> bytes:
        for form in self._secrets:
            data = data.replace(form, REDACTED.encode())
        return data

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by `REDACTED`."""
        for form in self._secrets:
            text = text.replace(form.decode("utf-8", "replace"), REDACTED)
        return text

    def _add(self, direction: str, text: str) -> None:
        if len(self.lines) >= self.max_lines:
            self.dropped += 1
            return
        # Kept as the server sent it (cut to a readable length): each output makes it
        # safe in its own way (`pop3doctor.escaping`), and --json stays faithful.
        text = self.redact(text)[:500]
        self.lines.append(TranscriptLine(direction, text, (time.monotonic() - self._start) * 1000))

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
