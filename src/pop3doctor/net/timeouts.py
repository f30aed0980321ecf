"""Per-phase time limits for network work.

Each phase gets its own limit because each fails for a different reason: a
slow resolver, a firewall that drops SYNs, a TLS peer that never answers, a
server that accepts but never greets, a command that is slow on a big mailbox.
One global timeout would hide which of these happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed for each phase; every value is > 0."""

    resolve: float = 8.0
    connect: float = 8.0
    tls: float = 8.0
    greeting: float = 15.0
    command: float = 30.0

    def __post_init__(self) -> None:
        for name in ("resolve", "connect", "tls", "greeting", "command"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"timeout {name} must be > 0, got {value!r}")

    def scaled(self, factor: float) -> Timeouts:
        """Every phase multiplied by ``factor`` (> 0); for slow links or quick probes."""
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor!r}")
        return Timeouts(
            resolve=self.resolve * factor,
            connect=self.connect * factor,
            tls=self.tls * factor,
            greeting=self.greeting * factor,
            command=self.command * factor,
        )

    @classmethod
    def from_total(cls, seconds: float) -> Timeouts:
        """The ``--timeout S`` mapping.

        resolve, connect and tls get S; the greeting gets 2*S because some
        servers do a reverse-DNS or RBL lookup before greeting; commands get
        max(4*S, 30) because RETR of a large message legitimately takes long.
        """
        if not seconds > 0:
            raise ValueError(f"timeout must be > 0, got {seconds!r}")
        return cls(
            resolve=seconds,
            connect=seconds,
            tls=seconds,
            greeting=seconds * 2,
            command=max(seconds * 4, 30.0),
        )


#: Octets per second an answer must keep up once its first window has passed.
#: A 1 byte/s drip never trips a per-read timeout, so without a floor a greeting,
#: TOP or RETR could take hours (issue 12).  10 KiB/s is slower than any mobile
#: link that still carries mail: a 10 MB message gets ~17 minutes beyond its window.
MIN_THROUGHPUT = 10 * 1024


class Deadline:
    """When one answer (a greeting, a status line and its body) must be complete.

    The first ``window`` seconds are free; after that the answer may run on
    only while its data has averaged at least ``floor`` octets per second:
    the end is ``start + window + received / floor``.  A stalled peer still
    ends at the per-read timeout; a dripping one ends soon after ``window``.
    """

    __slots__ = ("floor", "received", "start", "window")

    def __init__(self, window: float, floor: float = MIN_THROUGHPUT) -> None:
        self.start = time.monotonic()
        self.window = window
        self.floor = floor
        self.received = 0

    def add(self, octets: int) -> None:
        self.received += octets

    def remaining(self) -> float:
        """Seconds left (<= 0: passed), by `time.monotonic`."""
        return self.start + self.window + self.received / self.floor - time.monotonic()


async def within(work: Awaitable[_T], seconds: float) -> _T:
    """``await work``, raising `TimeoutError` after ``seconds``.

    Use this, never `asyncio.wait_for`: on Python 3.11 wait_for drops a
    cancellation (Ctrl-C) that arrives in the step its awaitable completes
    (CPython gh-86296), so a busy transfer never stops.  `asyncio.timeout`
    runs ``work`` in the calling task and lets every cancellation through.
    """
    async with asyncio.timeout(seconds):
        return await work
