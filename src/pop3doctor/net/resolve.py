"""Name resolution with typed failures.

Two paths: the system resolver (``loop.getaddrinfo``, so /etc/hosts,
nsswitch and the OS's DNS settings apply, as they do for the user's mail
program), or dnspython pointed *only* at explicit nameservers (tests and
``--dns-server``).  Failures are split into "the name does not exist"
(`DnsNotFound`) and "we could not find out" (`DnsUnavailable`), because the
remedies differ: fix the server name vs. fix this computer's network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time

import dns.asyncresolver
import dns.exception
import dns.message
import dns.nameserver
import dns.rcode
import dns.rdatatype
import dns.resolver

from pop3doctor.net.attempt import Family
from pop3doctor.net.errors import DnsNotFound, DnsUnavailable
from pop3doctor.net.timeouts import within

# getaddrinfo errors, by errno constant (glibc's EAI_* values; checked on
# Linux with a resolver pointed at tests/support/dns_server.py):
#   NXDOMAIN -> EAI_NONAME; name with no A/AAAA -> EAI_NODATA;
#   SERVFAIL and no reply at all -> both EAI_AGAIN (the OS does not say which).
_EAI_NOT_FOUND = {
    code: reason
    for code, reason in (
        (getattr(socket, "EAI_NONAME", None), "nxdomain"),
        (getattr(socket, "EAI_NODATA", None), "no-address"),
        (getattr(socket, "EAI_ADDRFAMILY", None), "no-address"),
    )
    if code is not None
}
_EAI_UNAVAILABLE = {
    code: reason
    for code, reason in (
        (getattr(socket, "EAI_AGAIN", None), "temporary"),
        (getattr(socket, "EAI_FAIL", None), "failure"),
    )
    if code is not None
}


def _family_of(ip: str) -> Family:
    return "ipv6" if ipaddress.ip_address(ip).version == 6 else "ipv4"


def ip_literal(host: str) -> str | None:
    """``host`` as a normalised IP string if it is an IP literal (``[::1]`` too), else None."""
    candidate = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``"127.0.0.1"``, ``"127.0.0.1:5353"``, ``"::1"`` or ``"[::1]:5353"`` -> (ip, port)."""
    if spec.startswith("["):
        ip, _, rest = spec[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 53
    elif spec.count(":") == 1:
        ip, _, port_text = spec.partition(":")
        port = int(port_text)
    else:
        ip, port = spec, 53
    if ip_literal(ip) is None:
        raise ValueError(f"nameserver must be an IP address: {spec!r}")
    if not 0 < port < 65536:
        raise ValueError(f"nameserver port out of range: {spec!r}")
    return ip, port


def _dedupe(pairs: list[tuple[Family, str]]) -> list[tuple[Family, str]]:
    seen: set[str] = set()
    out: list[tuple[Family, str]] = []
    for family, ip in pairs:
        if ip not in seen:
            seen.add(ip)
            out.append((family, ip))
    return out


async def resolve(
    host: str, *, timeout: float, nameservers: list[str] | None = None
) -> list[tuple[str, str]]:
    """Addresses of ``host`` as ``[(family, ip)]`` with family "ipv4"/"ipv6".

    Order is the resolver's (getaddrinfo's RFC 6724 order, or AAAA then A
    for explicit nameservers), without duplicates; never empty.  An IP
    literal is returned as is.  Raises `DnsNotFound` (reason "nxdomain" or
    "no-address") or `DnsUnavailable` (see its ``reason`` list); the whole
    lookup is bounded by ``timeout`` seconds.
    """
    literal = ip_literal(host)
    if literal is not None:
        return [(_family_of(literal), literal)]
    start = time.monotonic()
    if nameservers:
        pairs = await _resolve_with(host, nameservers, timeout, start)
    else:
        pairs = await _resolve_system(host, timeout, start)
    return list(_dedupe(pairs))


def _elapsed_ms(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _not_found(host: str, message: str, reason: str, elapsed_ms: float) -> DnsNotFound:
    return DnsNotFound(message, reason=reason, host=host, port=None, elapsed_ms=elapsed_ms)


def _unavailable(host: str, message: str, reason: str, elapsed_ms: float) -> DnsUnavailable:
    return DnsUnavailable(message, reason=reason, host=host, port=None, elapsed_ms=elapsed_ms)


async def _resolve_system(host: str, timeout: float, start: float) -> list[tuple[Family, str]]:
    loop = asyncio.get_running_loop()
    try:
        infos = await within(
            loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout
        )
    except TimeoutError:
        raise _unavailable(host, f"resolving {host!r} timed out", "timeout", _elapsed_ms(start)) from None
    except socket.gaierror as exc:
        elapsed = _elapsed_ms(start)
        if exc.errno in _EAI_NOT_FOUND:
            reason = _EAI_NOT_FOUND[exc.errno]
            raise _not_found(host, f"{host!r} not found (errno {exc.errno})", reason, elapsed) from exc
        reason = _EAI_UNAVAILABLE.get(exc.errno, "error") if exc.errno is not None else "error"
        raise _unavailable(host, f"resolving {host!r} failed (errno {exc.errno})", reason, elapsed) from exc
    pairs: list[tuple[Family, str]] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family == socket.AF_INET6:
            pairs.append(("ipv6", str(sockaddr[0])))
        elif family == socket.AF_INET:
            pairs.append(("ipv4", str(sockaddr[0])))
    if not pairs:
        raise _not_found(host, f"{host!r} has no address", "no-address", _elapsed_ms(start))
    return pairs


def make_resolver(nameservers: list[str] | None, timeout: float) -> dns.asyncresolver.Resolver:
    """A dnspython resolver asking only ``nameservers``, or the system's configured ones.

    The one place net/ builds a resolver (``resolve`` and ``records`` use it).
    Raises `ValueError` for a malformed nameserver and dnspython's
    ``NoResolverConfiguration`` when the system has none configured.
    """
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(ip, port) for ip, port in map(parse_nameserver, nameservers)
        ]
    else:
        resolver = dns.asyncresolver.Resolver(configure=True)
    resolver.lifetime = timeout
    # Per-try timeout below the lifetime so a lost UDP packet is retried once.
    resolver.timeout = max(timeout / 2, 0.1)
    return resolver


def _unavailable_reason(exc: dns.resolver.NoNameservers) -> str:
    """Read the per-server outcomes dnspython recorded (rcodes, not text)."""
    reasons: set[str] = set()
    for entry in exc.kwargs.get("errors", []):
        # (server, tcp, port, error text or exception, response message or None)
        response = entry[4] if len(entry) > 4 else None
        if isinstance(response, dns.message.Message):
            rcode = response.rcode()
            if rcode == dns.rcode.SERVFAIL:
                reasons.add("servfail")
            elif rcode == dns.rcode.REFUSED:
                reasons.add("refused")
            else:
                reasons.add("error")
        else:
            reasons.add("no-nameservers")
    for reason in ("servfail", "refused", "no-nameservers"):
        if reason in reasons:
            return reason
    return "error"


class _Outcome:
    """What one record type's query produced."""

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.not_found: str | None = None  # "nxdomain" / "no-address"
        self.unavailable: str | None = None


async def _query(
    resolver: dns.asyncresolver.Resolver, host: str, rdtype: dns.rdatatype.RdataType
) -> _Outcome:
    outcome = _Outcome()
    try:
        answer = await resolver.resolve(host, rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        outcome.not_found = "nxdomain"
    except dns.resolver.NoAnswer:
        outcome.not_found = "no-address"
    except dns.resolver.NoNameservers as exc:
        outcome.unavailable = _unavailable_reason(exc)
    except dns.exception.Timeout:
        outcome.unavailable = "timeout"
    except dns.exception.DNSException:
        outcome.unavailable = "error"
    else:
        outcome.addresses = [rdata.to_text() for rdata in answer]
    return outcome


async def _resolve_with(
    host: str, nameservers: list[str], timeout: float, start: float
) -> list[tuple[Family, str]]:
    resolver = make_resolver(nameservers, timeout)
    # Both types at once: total time is the slower one, not the sum.  The
    # resolver's lifetime is checked between tries only, so `within` makes
    # ``timeout`` a hard bound.
    async def both() -> tuple[_Outcome, _Outcome]:
        # Awaited inside a task so that, when the caller is cancelled, the
        # gather's outcome is always retrieved (a bare gather under a timeout
        # logs "_GatheringFuture exception was never retrieved").
        return await asyncio.gather(
            _query(resolver, host, dns.rdatatype.AAAA),
            _query(resolver, host, dns.rdatatype.A),
        )

    try:
        aaaa, a = await within(asyncio.ensure_future(both()), timeout)
    except TimeoutError:
        raise _unavailable(host, f"resolving {host!r} timed out", "timeout", _elapsed_ms(start)) from None
    pairs: list[tuple[Family, str]] = [("ipv6", ip) for ip in aaaa.addresses]
    pairs += [("ipv4", ip) for ip in a.addresses]
    if pairs:
        # One family answering is enough; the other's failure is not fatal.
        return pairs
    elapsed = _elapsed_ms(start)
    if "nxdomain" in (a.not_found, aaaa.not_found):
        raise _not_found(host, f"{host!r} does not exist (NXDOMAIN)", "nxdomain", elapsed)
    if a.not_found and aaaa.not_found:
        raise _not_found(host, f"{host!r} has no A or AAAA record", "no-address", elapsed)
    reason = a.unavailable or aaaa.unavailable or "error"
    raise _unavailable(host, f"could not resolve {host!r} ({reason})", reason, elapsed)
