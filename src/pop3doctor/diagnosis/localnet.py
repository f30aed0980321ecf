"""This computer's network, read before the server is contacted: routes and resolvers.

Does this computer have a route anywhere, is a resolver configured and
answering?  `local_facts` (instant and silent: route lookups send no packet),
`probe_resolvers` (one root query per resolver) and `network_failure` (the
verdict of the network stage) answer with evidence rather than a guess.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pop3doctor.diagnosis import messages as m
from pop3doctor.i18n import Msg
from pop3doctor.net.attempt import Family
from pop3doctor.net.errors import DnsUnavailable, NetError
from pop3doctor.net.probe import (
    ResolverCheck,
    Route,
    default_routes,
    resolver_answers,
    route_to,
    system_nameservers,
)
from pop3doctor.net.resolve import ip_literal, parse_nameserver

#: Seconds the resolver check runs before the name lookup starts: enough
#: for an ICMP "port unreachable" from a resolver that is not there.
RESOLVER_HEAD_START = 0.2


@dataclass
class NetworkFacts:
    """Routes and resolvers of this computer, as seen before contacting the server.

    ``target_route`` is the route to the server itself when it was given as
    an IP address (then DNS does not matter).
    """

    default_routes: dict[Family, Route]
    nameservers: list[str]
    explicit_nameservers: bool
    nameserver_routes: list[Route]
    target_route: Route | None = None
    resolvers: list[ResolverCheck] = field(default_factory=list)

    @property
    def has_default_route(self) -> bool:
        return any(r.ok for r in self.default_routes.values())

    @property
    def reaches_a_nameserver(self) -> bool:
        return any(r.ok for r in self.nameserver_routes)

    @property
    def resolver_answers(self) -> bool | None:
        """True/False once probed; None when not probed."""
        if not self.resolvers:
            return None
        return any(r.ok for r in self.resolvers)

    def routes_text(self) -> Msg:
        shown = [f"{family.replace('ipv', 'IPv')} {r.source}" for family, r in self.default_routes.items() if r.ok]
        if not shown:
            return m.NO_DEFAULT_ROUTE
        text = ", ".join(shown)
        return Msg(text, text)

    def resolvers_text(self) -> Msg:
        if not self.nameservers:
            return m.NO_RESOLVER
        text = ", ".join(self.nameservers)
        return Msg(text, text)

    def summary(self) -> Msg:
        return m.fmt(m.NETWORK_OK, routes=self.routes_text(), resolvers=self.resolvers_text())

    def to_dict(self) -> dict[str, Any]:
        return {
            "default_routes": {family: r.to_dict() for family, r in self.default_routes.items()},
            "nameservers": self.nameservers,
            "explicit_nameservers": self.explicit_nameservers,
            "nameserver_routes": [r.to_dict() for r in self.nameserver_routes],
            "target_route": self.target_route.to_dict() if self.target_route else None,
            "resolvers": [r.to_dict() for r in self.resolvers],
        }


def local_facts(host: str, nameservers: list[str] | None) -> NetworkFacts:
    """Routes to the internet, to each resolver and (for an IP literal) to the server.

    Instant and silent: route lookups send no packet.
    """
    servers = list(nameservers) if nameservers else system_nameservers()
    literal = ip_literal(host)
    return NetworkFacts(
        default_routes=default_routes(),
        nameservers=servers,
        explicit_nameservers=bool(nameservers),
        nameserver_routes=[route_to(parse_nameserver(ns)[0]) for ns in servers],
        target_route=route_to(literal) if literal else None,
    )


async def probe_resolvers(facts: NetworkFacts, *, timeout: float) -> list[ResolverCheck]:
    """Ask every routable resolver one root query, in parallel; also stored in ``facts``."""
    routable = [ns for ns, route in zip(facts.nameservers, facts.nameserver_routes, strict=True) if route.ok]
    facts.resolvers = list(await asyncio.gather(*(resolver_answers(ns, timeout=timeout) for ns in routable)))
    return facts.resolvers


def resolvers_dead(facts: NetworkFacts) -> bool:
    """True when resolvers were probed and each one refused or failed outright (not a mere timeout)."""
    return bool(facts.resolvers) and all(r.outcome in ("refused", "error") for r in facts.resolvers)


def network_failure(facts: NetworkFacts, resolve_error: NetError | None) -> tuple[str, Msg] | None:
    """The cause that stops the run at the network stage, with a note; None to go on.

    Only a real failure counts: a missing default route or a silent resolver
    is reported only when the server's name or address is out of reach too
    (a mail server on the local network needs neither).
    """
    if facts.target_route is not None:
        if facts.target_route.ok:
            return None
        return ("no-network", m.NOTE_NO_ROUTE) if not facts.has_default_route else None
    if not isinstance(resolve_error, DnsUnavailable):
        return None
    resolvers = facts.resolvers_text()
    if not facts.has_default_route and not facts.reaches_a_nameserver:
        return "no-network", m.join([m.NOTE_NO_ROUTE, m.fmt(m.RESOLVER_NO_ROUTE, resolvers=resolvers)])
    if not facts.nameservers:
        return "dns-unavailable", m.RESOLVER_NONE
    if not facts.reaches_a_nameserver:
        return "dns-unavailable", m.fmt(m.RESOLVER_NO_ROUTE, resolvers=resolvers)
    if facts.resolver_answers is False:
        note = m.fmt(m.RESOLVER_SILENT, resolvers=resolvers)
        if not facts.has_default_route:
            return "no-network", m.join([m.NOTE_NO_ROUTE, note])
        return "dns-unavailable", note
    return None


def name_unavailable_note(host: str, error: DnsUnavailable) -> Msg:
    return m.fmt(m.NAME_UNAVAILABLE, host=host, reason=error.reason)
