"""A POP3 server endpoint as every layer names it: where, how encrypted, as whom.

`Endpoint` is the one value the diagnosis checks, the fetch engine fetches
from, discovery proposes and the front ends show; `Pop3Client.from_endpoint`
connects to one.  It never holds a password, so it can be logged, shown and
written into reports as it is (`public`).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import KW_ONLY, dataclass
from typing import Any, Self


class Security(enum.StrEnum):
    SSL = "ssl"  # implicit TLS (RFC 8314), port 995
    STARTTLS = "starttls"  # STLS upgrade (RFC 2595), port 110
    PLAIN = "plain"  # no encryption, port 110


#: The standard ports (RFC 8314 s7: POP3S; RFC 1939 s3: POP3): what mail
#: programs use unless told otherwise.
DEFAULT_PORTS = {Security.SSL: 995, Security.STARTTLS: 110, Security.PLAIN: 110}


@dataclass(frozen=True)
class Endpoint:
    """One POP3 account's connection settings (never the password).

    ``security`` is always a `Security` (a string such as ``"ssl"`` is
    converted, and a wrong one raises ``ValueError``).  ``auth`` is the login
    method the mail program is set to: "auto" (the client chooses), "user"
    (USER/PASS, "normal password"), "plain", "login", "cram-md5", "apop".
    """

    host: str
    port: int
    security: Security
    user: str
    _: KW_ONLY
    auth: str = "auto"
    ca_file: str | None = None
    allow_plaintext: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "security", Security(self.security))

    def public(self) -> dict[str, Any]:
        """What reports show (schema ``pop3doctor.report/1`` "settings"): no CA path, no options."""
        return {"host": self.host, "port": self.port, "security": self.security.value, "user": self.user}

    def at(self, port: int, security: Security) -> Self:
        """The same account on another port and security mode (what alternative probes try)."""
        return dataclasses.replace(self, port=port, security=security)


def default_port(security: Security | str, port: int | None = None) -> int:
    """``port``, or the standard port of ``security`` when it is None."""
    return port if port is not None else DEFAULT_PORTS[Security(security)]
