"""One TCP connection attempt to one address, as evidence.

Kept in its own module because both the connection code (which makes
attempts) and the error classes (which carry them) need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Family = Literal["ipv4", "ipv6"]

#: "ok", "refused", "timeout", "unreachable", "error", or "abandoned" (still
#: pending when another address won the Happy Eyeballs race, so we stopped it).
Outcome = Literal["ok", "refused", "timeout", "unreachable", "error", "abandoned"]


@dataclass(frozen=True)
class Attempt:
    """What happened when we tried ``address``.

    ``elapsed_ms`` runs from the start of this attempt to its outcome
    (``time.monotonic``).  ``detail`` holds the errno name (e.g. "ECONNREFUSED")
    when the kernel gave one, else None.
    """

    address: str
    family: Family
    outcome: Outcome
    elapsed_ms: float
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "address": self.address,
            "family": self.family,
            "outcome": self.outcome,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "detail": self.detail,
        }
