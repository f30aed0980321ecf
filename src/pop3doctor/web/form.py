"""The check form: what the user typed, validated into a `CheckRequest` (never the password).

Validation only rejects what cannot be a setting at all (an empty server,
a port of 0, a host name with spaces): judging whether settings *work* is
the diagnosis's job.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from pop3doctor.endpoint import Security
from pop3doctor.i18n import Msg
from pop3doctor.web import text as t

SECURITY_CHOICES = tuple(mode.value for mode in Security)

#: A host name or IP literal: letters, digits, dots, hyphens, colons (IPv6),
#: brackets; non-ASCII letters too (internationalised names are resolved as IDNA).
_HOST = re.compile(r"^[\w.\-:\[\]]{1,253}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")
#: "Other ports to try" accepts at most this many: each is probed in parallel.
MAX_EXTRA_PORTS = 4


@dataclass(frozen=True)
class CheckRequest:
    """The settings to check.  ``host`` None means "look them up from the address"."""

    email: str
    host: str | None
    port: int | None
    security: Security
    user: str
    extra_ports: tuple[int, ...] = ()

    @property
    def domain(self) -> str | None:
        return self.email.rsplit("@", 1)[1] if "@" in self.email else None


class FormError(ValueError):
    """A field the user must correct; ``message`` is shown in the page."""

    def __init__(self, field: str, message: Msg) -> None:
        super().__init__(field)
        self.field = field
        self.message = message


def valid_host(host: str) -> bool:
    """True when ``host`` could be typed into the server field (a name a pasted message quoted)."""
    return bool(_HOST.match(host))


def _port(value: str, field: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise FormError(field, t.BAD_PORT)
    return int(value)


def parse_check_form(form: Mapping[str, str]) -> CheckRequest:
    """Validate the form fields (the password is not among them: the caller takes it separately).

    Without a server name the settings are looked up from the address.
    """
    email = form.get("email", "").strip()
    host = form.get("host", "").strip().rstrip(".") or None
    port_text = form.get("port", "").strip()
    security = form.get("security", "ssl").strip() or "ssl"
    user = form.get("user", "").strip()
    extra_text = form.get("extra_ports", "").strip()

    if email and not _EMAIL.match(email):
        raise FormError("email", t.BAD_EMAIL)
    if not email and not user:
        raise FormError("email", t.NEED_EMAIL_OR_USER)
    if host is not None and not _HOST.match(host):
        raise FormError("host", t.BAD_HOST)
    if security not in SECURITY_CHOICES:
        raise FormError("security", t.BAD_SECURITY)
    port = _port(port_text, "port") if port_text else None
    extra = tuple(_port(p.strip(), "extra_ports") for p in re.split(r"[,\s、，]+", extra_text) if p.strip())
    return CheckRequest(
        email=email,
        host=host,
        port=port,
        security=Security(security),
        user=user or email,
        extra_ports=tuple(dict.fromkeys(extra))[:MAX_EXTRA_PORTS],
    )
