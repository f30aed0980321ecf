"""Cheap network facts for the diagnosis: routes, resolver liveness, one TCP port.

Everything here answers "is this path usable?" without speaking POP3:

- `route_to` asks the kernel which local address it would use to reach an
  IP, by ``connect()`` on a UDP socket.  A UDP connect sends no packet: it is
  a routing-table lookup, so checking the route to a public address contacts
  nobody.
- `default_routes` does that for one documentation address per family
  (RFC 5737 TEST-NET-2, RFC 3849): only a default route leads there.
- `resolver_answers` sends one query to a nameserver and reports whether any
  reply came back (an NXDOMAIN reply is still a working resolver).
- `tcp_probe` connects to one port (Happy Eyeballs over given addresses),
  closes at once and reports the outcome.
"""

from __future__ import annotations

import asyncio
import errno as errno_mod
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver

from pop3doctor.net.attempt import Attempt, Family
from pop3doctor.net.errors import ConnectError, ConnectRefused, ConnectTimeout, HostUnreachable
from pop3doctor.net.happy_eyeballs import race
from pop3doctor.net.records import DnsQueryFailed, query_mx, query_srv
from pop3doctor.net.resolve import ip_literal, parse_nameserver
from pop3doctor.net.timeouts import within

#: Addresses no network uses (RFC 5737, RFC 3849): reachable only through a
#: default route.  Never contacted: `route_to` sends nothing.
PUBLIC_PROBE: dict[Family, str] = {"ipv4": "198.51.100.1", "ipv6": "2001:db8::1"}


@dataclass(frozen=True)
class Route:
    """The kernel's answer for ``destination``: the local ``source`` address, or ``error``."""

    destination: str
    source: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.source is not None

    def to_dict(self) -> dict[str, object]:
        return {"destination": self.destination, "source": self.source, "error": self.error}


def route_to(ip: str, port: int = 53) -> Route:
    """Which local address the kernel would use to send to ``ip``; sends no packet.

    ``error`` is the errno name: ENETUNREACH (no route), EADDRNOTAVAIL (no
    usable local address of that family, e.g. loopback down for ``::1``).
    """
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((ip, port))
            return Route(ip, str(sock.getsockname()[0]))
    except OSError as exc:
        name = errno_mod.errorcode.get(exc.errno) if exc.errno is not None else None
        return Route(ip, None, name or type(exc).__name__)


def default_routes() -> dict[Family, Route]:
    """The route to the wider internet per family (see `PUBLIC_PROBE`)."""
    return {family: route_to(ip) for family, ip in PUBLIC_PROBE.items()}


def system_nameservers() -> list[str]:
    """The resolvers this computer is configured with (resolv.conf or the OS's settings)."""
    try:
        resolver = dns.resolver.Resolver(configure=True)
    except (dns.resolver.NoResolverConfiguration, OSError):
        return []
    return [str(ns) for ns in resolver.nameservers]


ResolverOutcome = Literal["answered", "timeout", "refused", "error"]


@dataclass(frozen=True)
class ResolverCheck:
    """One nameserver's reply to a probe query.

    ``outcome`` is "answered" (any reply, whatever its rcode: the resolver
    works), "timeout" (nothing came back), "refused" (ICMP port unreachable:
    nothing listens there) or "error" (``detail`` says what).
    """

    nameserver: str
    outcome: ResolverOutcome
    elapsed_ms: float
    rcode: str | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "answered"

    def to_dict(self) -> dict[str, object]:
        return {
            "nameserver": self.nameserver,
            "outcome": self.outcome,
            "rcode": self.rcode,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "detail": self.detail,
        }


class _OneReply(asyncio.DatagramProtocol):
    """Waits for the first datagram, or the ICMP error a connected UDP socket reports."""

    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def resolver_answers(nameserver: str, *, timeout: float, qname: str = ".") -> ResolverCheck:
    """Ask ``nameserver`` (``"ip"``/``"ip:port"``) for ``qname`` NS over UDP; never raises.

    The root's NS set is in every recursive resolver's cache, so a working
    resolver answers at once without going out to the internet.  The socket
    is connected, so an ICMP port-unreachable ("nothing listens there")
    arrives as "refused" at once instead of waiting for the timeout (an
    unconnected UDP socket never hears it).
    """
    start = time.monotonic()
    ip, port = parse_nameserver(nameserver)
    query = dns.message.make_query(qname, dns.rdatatype.NS)

    def done(outcome: ResolverOutcome, rcode: str | None = None, detail: str | None = None) -> ResolverCheck:
        return ResolverCheck(nameserver, outcome, (time.monotonic() - start) * 1000.0, rcode, detail)

    loop = asyncio.get_running_loop()
    transport: asyncio.DatagramTransport | None = None
    try:
        transport, protocol = await loop.create_datagram_endpoint(_OneReply, remote_addr=(ip, port))
        transport.sendto(query.to_wire())
        while True:
            wire = await within(asyncio.shield(protocol.reply), timeout - (time.monotonic() - start))
            reply = dns.message.from_wire(wire)
            if reply.id == query.id:
                return done("answered", rcode=dns.rcode.to_text(reply.rcode()))
            protocol.reply = loop.create_future()  # a stray datagram: keep waiting
    except TimeoutError:
        return done("timeout")
    except ConnectionRefusedError:
        return done("refused", detail="ECONNREFUSED")
    except OSError as exc:
        name = errno_mod.errorcode.get(exc.errno) if exc.errno is not None else None
        return done("error", detail=name or type(exc).__name__)
    except dns.exception.DNSException as exc:
        return done("error", detail=type(exc).__name__)
    finally:
        if transport is not None:
            transport.close()


PortOutcome = Literal["ok", "refused", "timeout", "unreachable", "error"]


@dataclass(frozen=True)
class PortCheck:
    """Whether ``host``:``port`` accepted a TCP connection, with every attempt made."""

    host: str
    port: int
    outcome: PortOutcome
    elapsed_ms: float
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """True when the host itself answered: it accepted, or refused with a reset."""
        return self.outcome in ("ok", "refused")

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "outcome": self.outcome,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "attempts": [a.to_dict() for a in self.attempts],
        }


async def tcp_probe(
    host: str,
    port: int,
    addresses: Sequence[tuple[str, str]],
    *,
    timeout: float,
    delay: float = 0.25,
) -> PortCheck:
    """Connect to ``port`` on the first of ``addresses`` that answers, then close; never raises.

    ``addresses`` are ``(family, ip)`` pairs as `resolve` returns them (an
    IP-literal ``host`` may pass ``[]`` to use itself).
    """
    start = time.monotonic()
    if not addresses:
        literal = ip_literal(host)
        if literal is None:
            raise ValueError(f"tcp_probe needs addresses for a host name: {host!r}")
        addresses = [("ipv6" if ":" in literal else "ipv4", literal)]
    try:
        sock, attempts = await race(host, port, addresses, timeout=timeout, delay=delay)
    except ConnectError as exc:
        outcome: PortOutcome = "error"
        if isinstance(exc, ConnectRefused):
            outcome = "refused"
        elif isinstance(exc, ConnectTimeout):
            outcome = "timeout"
        elif isinstance(exc, HostUnreachable):
            outcome = "unreachable"
        return PortCheck(host, port, outcome, (time.monotonic() - start) * 1000.0, exc.attempts)
    sock.close()
    return PortCheck(host, port, "ok", (time.monotonic() - start) * 1000.0, attempts)


async def lookup_targets(
    name: str, rdtype: Literal["MX", "SRV"], *, timeout: float, nameservers: list[str] | None = None
) -> list[str]:
    """Host names an MX or SRV record set of ``name`` points to; ``[]`` on any failure.

    Best effort by contract: it feeds "did you mean" suggestions, where no
    answer is simply no suggestion.  MX targets come in preference order,
    SRV targets in priority order; the root target "." (RFC 2782: "no
    service here", RFC 7505 null MX) is dropped.  Queries are
    `pop3doctor.net.records`; ties in order are broken by name.
    """
    try:
        if rdtype == "MX":
            found = [(r.preference, r.exchange) for r in await query_mx(name, timeout=timeout, nameservers=nameservers)]
        else:
            found = [(r.priority, r.target) for r in await query_srv(name, timeout=timeout, nameservers=nameservers)]
    except DnsQueryFailed:
        return []
    return [host for _, host in sorted(found) if host]
