"""Whether the alternatives probe proved that a server has no encryption at all.

"No STARTTLS here" becomes "no encryption anywhere" (cause
``no-encryption-offered``) only when every encrypted setting that was probed
failed in a way that means "not offered": refused or silent ports, a plain
greeting where TLS was tried, no STLS.  A certificate or handshake problem
means the server does speak TLS (badly), so it never counts as "none".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Probe failures that say "this encrypted setting does not exist here".
NOT_OFFERED = frozenset(
    {
        "connection-refused",
        "connection-timeout",
        "host-unreachable",
        "server-down",
        "greeting-timeout",
        "not-pop3",
        "starttls-unavailable",
        "port-expects-plain",
    }
)


def no_encryption_found(alternatives: Iterable[Mapping[str, Any]]) -> bool:
    """True when encrypted settings were probed and every one failed as "not offered"."""
    encrypted = [a for a in alternatives if a.get("security") in ("ssl", "starttls")]
    return bool(encrypted) and all(not a.get("ok") and a.get("cause") in NOT_OFFERED for a in encrypted)
