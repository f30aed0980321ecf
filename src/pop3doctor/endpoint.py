"""A POP3 server endpoint as every layer names it: where, how encrypted, as whom.

`Endpoint` is the one value the diagnosis checks, the fetch engine fetches
from, discovery proposes and the front ends show; `Pop3Client.from_endpoint`
connects to one.  It never holds a password, so it can be logged, shown and
written into reports as it is (`public`).
"""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
import re
from dataclasses import KW_ONLY, dataclass
from typing import Any, Self

from pop3doctor.i18n import Msg, catalog

_t = catalog("cli")


class Security(enum.StrEnum):
    SSL = "ssl"  # implicit TLS (RFC 8314), port 995
    STARTTLS = "starttls"  # STLS upgrade (RFC 2595), port 110
    PLAIN = "plain"  # no encryption, port 110


#: The standard ports (RFC 8314 s7: POP3S; RFC 1939 s3: POP3): what mail
#: programs use unless told otherwise.
DEFAULT_PORTS = {Security.SSL: 995, Security.STARTTLS: 110, Security.PLAIN: 110}

#: The login methods a mail program can be set to (``Endpoint.auth``, ``--auth``,
#: ``auth`` in accounts.toml): "auto" is the normal password.
AUTH_METHODS = ("auto", "user", "plain", "login", "cram-md5", "apop")


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


#: The dots IDNA separates labels with (RFC 3490 s3.1): full stop, ideographic
#: full stop, full-width full stop, half-width ideographic full stop.
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
#: One label after IDNA: letters, digits, hyphens; underscores too, which
#: resolvers accept and some internal names use.
_ASCII_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
_SHOWN_MAX = 80


def host_problem(host: str) -> Msg | None:
    """Why ``host`` cannot be a server name (None when it can), before any lookup.

    An IP literal, or a DNS name whose every label has 1-63 octets after IDNA
    (253 in all).  Python's IDNA codec (used by ``getaddrinfo``) raises
    ``UnicodeError`` for an empty or long label: this is the one check every
    front end runs first, so such a name is a clear error, never a traceback.
    """
    why = _host_problem_code(host)
    if why is None:
        return None
    return Msg(
        _t.HOST_INVALID("ja", host=_shown(host), why=_t.group("HOST_PROBLEMS")[why]("ja")),
        _t.HOST_INVALID("en", host=_shown(host), why=_t.group("HOST_PROBLEMS")[why]("en")),
    )


def _host_problem_code(host: str) -> str | None:
    if not host:
        return "empty"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    name = host[:-1] if _DOTS.fullmatch(host[-1]) else host
    total = 0
    for label in _DOTS.split(name):
        if not label:
            return "empty-label"
        if any(not c.isprintable() or c.isspace() for c in label):
            return "bad-character"
        try:
            encoded = label.encode("idna")
        except UnicodeError:
            return "long-label" if len(label) > 63 else "bad-character"
        if len(encoded) > 63:
            return "long-label"
        if not _ASCII_LABEL.match(encoded.decode("ascii")):
            return "bad-character"
        total += len(encoded) + 1
    return "long-name" if total - 1 > 253 else None


def _shown(host: str) -> str:
    """``host`` safe to print: control characters escaped, cut to a readable length."""
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in host)
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"
