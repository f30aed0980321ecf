"""SRV and MX record queries with typed results and one typed failure.

The one place that builds a dnspython resolver for record lookups: the
nameservers given (tests, ``--dns-server``; ``"ip"``/``"ip:port"`` as
`pop3doctor.net.resolve.parse_nameserver` reads them) or, without them, the
system's resolver configuration.  Like `pop3doctor.net.resolve`, every query
is hard-bounded by ``timeout`` seconds.

What the records *mean* (RFC 6186 ordering of services, a "." target, which
provider an MX host belongs to) is for the layers above; here names are
returned as the DNS gave them, without the trailing dot and without case
folding.
"""

from __future__ import annotations

import errno as errno_mod
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.nameserver
import dns.resolver

from pop3doctor.base_error import Pop3DoctorError
from pop3doctor.net.resolve import make_resolver
from pop3doctor.net.timeouts import within


@dataclass(frozen=True)
class SrvRecord:
    """One SRV record (RFC 2782); ``target`` "" is the root "." ("no service here")."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class MxRecord:
    """One MX record; ``exchange`` "" is the root "." (RFC 7505 null MX)."""

    preference: int
    exchange: str


class DnsQueryFailed(Pop3DoctorError):
    """No usable answer; ``reason`` is a short code, never the exception text.

    Reasons: "timeout" (nothing within ``timeout``), "servfail" (every
    nameserver failed: SERVFAIL, REFUSED or unreachable, dnspython does not
    tell them apart here), an errno name for a local socket error, or the
    dnspython exception's class name for anything else (for example
    "NoResolverConfiguration" when the system has no resolver configured).
    """

    code = "dns-query-failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _query(name: str, rdtype: str, *, timeout: float, nameservers: list[str] | None) -> list[object]:
    """The answer's rdata, [] for NXDOMAIN/NODATA; raises `DnsQueryFailed`."""
    try:
        resolver = make_resolver(nameservers, timeout)
        # The resolver's lifetime is checked between tries only: `within` makes ``timeout`` a hard bound.
        answer = await within(resolver.resolve(name, rdtype, search=False), timeout)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (TimeoutError, dns.exception.Timeout):
        raise DnsQueryFailed("timeout") from None
    except dns.resolver.NoNameservers:
        raise DnsQueryFailed("servfail") from None
    except dns.exception.DNSException as exc:
        raise DnsQueryFailed(type(exc).__name__) from None
    except OSError as exc:
        name_of_errno = errno_mod.errorcode.get(exc.errno) if exc.errno is not None else None
        raise DnsQueryFailed(name_of_errno or type(exc).__name__) from None
    return list(answer)


async def query_srv(name: str, *, timeout: float, nameservers: list[str] | None = None) -> list[SrvRecord]:
    """SRV records at ``name``, by priority then weight (heaviest first); [] if none.

    Raises `DnsQueryFailed` when no usable answer came back.
    """
    records = [
        SrvRecord(int(r.priority), int(r.weight), int(r.port), r.target.to_text().rstrip("."))  # type: ignore[attr-defined]
        for r in await _query(name, "SRV", timeout=timeout, nameservers=nameservers)
    ]
    return sorted(records, key=lambda r: (r.priority, -r.weight))


async def query_mx(domain: str, *, timeout: float, nameservers: list[str] | None = None) -> list[MxRecord]:
    """MX records of ``domain`` by preference (ties in answer order); [] if none.

    Raises `DnsQueryFailed` when no usable answer came back.
    """
    records = [
        MxRecord(int(r.preference), r.exchange.to_text().rstrip("."))  # type: ignore[attr-defined]
        for r in await _query(domain, "MX", timeout=timeout, nameservers=nameservers)
    ]
    return sorted(records, key=lambda r: r.preference)
