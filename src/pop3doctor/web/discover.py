"""The page's bridge to `pop3doctor.discovery`: settings from an e-mail address, with their source.

Nothing is decided here: the chosen candidate is discovery's own choice;
this module only words where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from pop3doctor.discovery.engine import DiscoveryConfig, discover
from pop3doctor.endpoint import Endpoint
from pop3doctor.i18n import Msg, catalog

_t = catalog("web")

#: ``Candidate.origin`` values, worded for people.
_ORIGINS = _t.group("ORIGINS")


@dataclass(frozen=True)
class Discovery:
    """The settings to check and where they came from (typed in, or which discovery source)."""

    endpoint: Endpoint
    source: Msg
    #: Discovery's warnings for this account ("POP must be enabled first", ...).
    notes: tuple[Msg, ...] = ()


class NoPop(Exception):
    """Discovery says this provider offers no POP3 at all."""


def source_text(origin: str, evidence: str, provider: str | None) -> Msg:
    """Where a discovered setting came from ("the domain's MX record: mx.example.jp")."""
    base = _ORIGINS.get(origin, Msg(origin, origin))
    detail = ", ".join(x for x in (provider, evidence) if x)
    return Msg(f"{base.ja}: {detail}", f"{base.en}: {detail}") if detail else base


async def discover_settings(
    email: str,
    *,
    user: str | None = None,
    timeout: float,
    nameservers: tuple[str, ...] = (),
    ca_file: str | None = None,
) -> Discovery | None:
    """Discovery's chosen settings for ``email``; None when it is no address or nothing was found.

    ``user``, when given, replaces discovery's guess of the user name.
    Raises `NoPop` when discovery says the provider offers no POP3.
    """
    if "@" not in email:
        return None
    result = await discover(email, DiscoveryConfig(timeout=timeout, nameservers=nameservers, ca_file=ca_file))
    chosen = result.chosen
    if result.pop_offered is False:
        raise NoPop(email)
    if chosen is None:
        return None
    return Discovery(
        endpoint=chosen.to_endpoint(user),
        source=source_text(chosen.origin, chosen.evidence, chosen.provider),
        notes=tuple(w.text for w in result.warnings),
    )
