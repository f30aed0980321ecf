"""Splitting an e-mail address into the parts discovery needs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pop3doctor.discovery.model import UsernameForm

#: A DNS host name in ASCII (after IDNA): labels of letters, digits and
#: hyphens.  Names from the network (autoconfig XML, SRV targets) must match
#: it before we connect anywhere, so hostile input cannot smuggle in URLs,
#: spaces or control characters.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


class AddressError(ValueError):
    """The text is not an e-mail address we can look up."""


@dataclass(frozen=True)
class Address:
    """``local@domain`` with the domain lower-cased and in IDNA (ASCII) form."""

    local: str
    domain: str

    @property
    def email(self) -> str:
        return f"{self.local}@{self.domain}"

    def username(self, form: UsernameForm) -> str:
        """The user name to type for ``form`` ("" when only the provider knows it)."""
        if form is UsernameForm.LOCAL_PART:
            return self.local
        if form is UsernameForm.ACCOUNT_ID:
            return ""
        return self.email


def is_hostname(name: str) -> bool:
    return bool(HOSTNAME_RE.match(name.lower()))


def parse_address(text: str) -> Address:
    """Parse ``text``; raises `AddressError` when it is not ``local@domain``."""
    text = text.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        raise AddressError(f"not an e-mail address: {text!r}")
    domain = domain.rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise AddressError(f"invalid domain: {domain!r}") from exc
    if not is_hostname(ascii_domain) or "." not in ascii_domain:
        raise AddressError(f"invalid domain: {domain!r}")
    return Address(local, ascii_domain)
