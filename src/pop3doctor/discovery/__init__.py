"""Discover POP3 settings from an e-mail address (``pop3doctor discover``).

Four sources, in priority order, run in parallel (`engine`): bundled provider
knowledge (`providers`), autoconfig XML (`autoconfig`), DNS SRV/MX
(`dnsrecords`) and CAPA-only probing of guessed hosts (`guess`).  Discovery
never sends a password.
"""

from pop3doctor.discovery.address import Address, AddressError, parse_address
from pop3doctor.discovery.autoconfig import AutoconfigEndpoints
from pop3doctor.discovery.engine import DiscoveryConfig, discover
from pop3doctor.discovery.guess import GuessPorts
from pop3doctor.discovery.model import (
    SCHEMA,
    Candidate,
    Confidence,
    DiscoveryResult,
    Source,
    SourceReport,
    Status,
    UsernameForm,
    Warning,
)

__all__ = [
    "SCHEMA",
    "Address",
    "AddressError",
    "AutoconfigEndpoints",
    "Candidate",
    "Confidence",
    "DiscoveryConfig",
    "DiscoveryResult",
    "GuessPorts",
    "Source",
    "SourceReport",
    "Status",
    "UsernameForm",
    "Warning",
    "discover",
    "parse_address",
]
