"""Tunable values of the lab server, each with the reason for its default.

`LabServer` takes these as keyword options (``LabServer(..., idle_timeout=5)``);
an unknown name is a `TypeError`, so a typo in a test fails loudly.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

NotPop3Banner = Literal["imap", "smtp", "http"]


@dataclass(frozen=True, slots=True)
class LabOptions:
    #: slow-greeting: seconds before the greeting; ``math.inf`` = never greet.
    #: Default never, so any client timeout fires, however long it is.
    greeting_delay: float = math.inf
    #: not-pop3: which other protocol answers on the POP3 port.
    not_pop3_banner: NotPop3Banner = "imap"
    #: large-message: octets of the large message.  30 MiB is above the
    #: 20-25 MB attachment limits of common providers and mail clients.
    large_size: int = 30 * 1024 * 1024
    #: huge-line: octets of the oversized status line (no CRLF until the end).
    #: 1 MiB is 2048 x RFC 2449's 512-octet response limit.
    huge_line_size: int = 1024 * 1024
    #: drop-mid-retr: fraction of the (stuffed) message sent before closing.
    drop_fraction: float = 0.5
    #: login-delay: the LOGIN-DELAY value (seconds) advertised in CAPA and
    #: enforced by the scenario.  900 s = 15 minutes, a common ISP minimum poll.
    login_delay: int = 900
    #: Concurrent connections (both ports) before new ones get -ERR [SYS/TEMP].
    max_connections: int = 64
    #: RFC 1939 section 3: an autologout timer "MUST be of at least 10 minutes".
    idle_timeout: float = 600.0
    #: Unknown/malformed commands tolerated before the lab hangs up.  Dovecot's
    #: pop3 process also disconnects after 20 bad commands.
    max_bad_commands: int = 20
    #: Longest line read from a client.  RFC 2449 s4 caps commands at 255
    #: octets, but RFC 5034 SASL responses (XOAUTH2 tokens) are longer.
    max_line: int = 8192
    #: Seconds allowed for a TLS handshake before the connection is dropped.
    tls_handshake_timeout: float = 30.0

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> LabOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown lab option(s): {', '.join(sorted(unknown))}")
        return cls(**options)
