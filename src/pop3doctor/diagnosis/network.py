"""The network side of a diagnosis: this computer, DNS, and whose fault a dead port is.

Three questions, each answered with evidence rather than a guess:

1. Before touching the server: does this computer have a route anywhere, is
   a resolver configured and answering?  (`local_facts`, `probe_resolvers`,
   `network_failure`.)
2. When the name does not exist: which real names are close?  (`did_you_mean`.)
3. When the POP3 port times out or is refused: is it this network, the server,
   or no internet at all?  Other ports of the same host and a reference
   endpoint are probed in parallel (`triangulate`) and read by
   `connect_verdict`:

   ======================================  =================  =================
   what answered                           POP3 timed out     POP3 refused
   ======================================  =================  =================
   another port of the host                port blocked here  port closed
   nothing on the host, reference answers  server down        server down
   nothing, reference silent too           no network         (refused: host up)
   nothing, no reference given             undetermined       port closed
   ======================================  =================  =================

   "Answered" means the host itself replied: it accepted, or refused with a
   TCP reset.  A reset proves the host is up as well as an accept does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pop3doctor.i18n import Msg
from pop3doctor.knowledge.hostnames import close_known_hostnames, domain_candidates, rank_by_closeness
from pop3doctor.net.attempt import Family
from pop3doctor.net.errors import DnsUnavailable, NetError
from pop3doctor.net.probe import (
    PortCheck,
    ResolverCheck,
    Route,
    default_routes,
    lookup_targets,
    resolver_answers,
    route_to,
    system_nameservers,
    tcp_probe,
)
from pop3doctor.net.resolve import ip_literal, parse_nameserver, resolve

#: Other ports a mail host usually serves, probed to tell "this port is
#: blocked" from "the host is gone": POP3S, POP3, IMAPS, IMAP, submission
#: (TLS and STARTTLS), SMTP, and HTTPS (webmail; rarely filtered anywhere).
TRIANGULATION_PORTS = (995, 110, 993, 143, 465, 587, 25, 443)

#: Seconds the resolver check runs before the name lookup starts: enough
#: for an ICMP "port unreachable" from a resolver that is not there.
RESOLVER_HEAD_START = 0.2

#: How many "did you mean" names to show at most.
MAX_SUGGESTIONS = 3


# -- messages --------------------------------------------------------------------------

NETWORK_OK = Msg(
    "インターネットへの経路: {routes}。DNS サーバー: {resolvers}",
    "Route to the internet: {routes}. DNS server: {resolvers}",
)
NO_DEFAULT_ROUTE = Msg("なし（ローカルネットワークのみ）", "none (local network only)")
NO_RESOLVER = Msg("設定されていません", "none configured")
RESOLVER_SILENT = Msg(
    "DNS サーバー {resolvers} はまったく応答しません。",
    "The DNS server {resolvers} does not answer at all.",
)
RESOLVER_NO_ROUTE = Msg(
    "DNS サーバー {resolvers} への経路がありません。",
    "There is no route to the DNS server {resolvers}.",
)
NAME_UNAVAILABLE = Msg(
    "DNS サーバーは応答していますが、{host} については答えが得られません（{reason}）。"
    "メール事業者側の DNS の障害の可能性があります。",
    "The DNS server answers, but gives no answer for {host} ({reason}): "
    "the mail provider's own DNS may be failing.",
)
DID_YOU_MEAN = Msg("もしかして: {names}", "Did you mean: {names}?")
VERIFIED_NAME = Msg(
    "{name} は存在し、ポート {port} で POP3 サーバーが応答しました。サーバー名を {name} に直してください。",
    "{name} exists and a POP3 server answered on port {port}: change the server name to {name}.",
)
NOTE_BLOCKED = Msg(
    "同じサーバーの他のポート（{ports}）は応答しました。サーバーは動いており、"
    "このネットワークかこのコンピューター（ファイアウォールやセキュリティソフト）が"
    "ポート {port} への接続を止めています。",
    "Other ports of the same server answered ({ports}): the server is up, and this network or this "
    "computer (a firewall or security software) stops connections to port {port}.",
)
NOTE_CLOSED = Msg(
    "サーバー自体は応答しましたが、ポート {port} では受け付けていません。",
    "The server itself answered, but accepts nothing on port {port}.",
)
NOTE_CLOSED_OTHERS = Msg(
    "接続を受け付けたポート: {ports}。",
    "Ports that did accept a connection: {ports}.",
)
NOTE_SERVER_DOWN = Msg(
    "サーバーのどのポートも接続を受け付けませんが、比較用の接続先 {reference} には接続できました。",
    "No port of the server accepted a connection, while the reference {reference} did.",
)
NOTE_NO_NETWORK = Msg(
    "サーバーも比較用の接続先 {reference} も応答しません。",
    "Neither the server nor the reference {reference} answered.",
)
NOTE_NO_ROUTE = Msg(
    "このコンピューターにはインターネットへの経路（デフォルトルート）がありません。",
    "This computer has no route to the internet (no default route).",
)
NOTE_UNDETERMINED = Msg(
    "サーバーのどのポートも応答しませんでした。比較用の接続先がないため、サーバーの障害か"
    "こちらのネットワークがすべて止めているのかは区別できません（--reference ホスト:ポート で指定できます）。",
    "No port of the server answered. Without a reference endpoint a server outage cannot be told "
    "from a network that blocks everything (give one with --reference HOST:PORT).",
)


def _join(msgs: Sequence[Msg]) -> Msg:
    return Msg(" ".join(x.ja for x in msgs), " ".join(x.en for x in msgs))


def fmt(msg: Msg, **values: object) -> Msg:
    """``msg`` with ``values`` filled in; a `Msg` value is filled in its own language in each text."""
    ja = {k: v.ja if isinstance(v, Msg) else v for k, v in values.items()}
    en = {k: v.en if isinstance(v, Msg) else v for k, v in values.items()}
    return Msg(msg.ja.format(**ja), msg.en.format(**en))


# -- this computer -----------------------------------------------------------------------


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
            return NO_DEFAULT_ROUTE
        text = ", ".join(shown)
        return Msg(text, text)

    def resolvers_text(self) -> Msg:
        if not self.nameservers:
            return NO_RESOLVER
        text = ", ".join(self.nameservers)
        return Msg(text, text)

    def summary(self) -> Msg:
        routes, resolvers = self.routes_text(), self.resolvers_text()
        return Msg(
            NETWORK_OK.ja.format(routes=routes.ja, resolvers=resolvers.ja),
            NETWORK_OK.en.format(routes=routes.en, resolvers=resolvers),
        )

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
        return ("no-network", NOTE_NO_ROUTE) if not facts.has_default_route else None
    if not isinstance(resolve_error, DnsUnavailable):
        return None
    resolvers = facts.resolvers_text()
    if not facts.has_default_route and not facts.reaches_a_nameserver:
        return "no-network", _join([NOTE_NO_ROUTE, fmt(RESOLVER_NO_ROUTE, resolvers=resolvers)])
    if not facts.nameservers:
        return "dns-unavailable", Msg(
            "DNS サーバーが設定されていません。", "No DNS server is configured on this computer."
        )
    if not facts.reaches_a_nameserver:
        return "dns-unavailable", fmt(RESOLVER_NO_ROUTE, resolvers=resolvers)
    if facts.resolver_answers is False:
        note = fmt(RESOLVER_SILENT, resolvers=resolvers)
        if not facts.has_default_route:
            return "no-network", _join([NOTE_NO_ROUTE, note])
        return "dns-unavailable", note
    return None


def name_unavailable_note(host: str, error: DnsUnavailable) -> Msg:
    return fmt(NAME_UNAVAILABLE, host=host, reason=error.reason)


# -- "did you mean" ---------------------------------------------------------------------


@dataclass(frozen=True)
class HostSuggestion:
    """A name close to the one that does not exist.

    ``source`` is "provider" (a known provider name, not looked up), or
    "domain", "mx", "srv" (built from the e-mail domain and looked up:
    ``addresses`` is non-empty).
    """

    name: str
    source: str
    addresses: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "source": self.source, "addresses": list(self.addresses)}


async def did_you_mean(
    host: str, email_domain: str | None, *, nameservers: list[str] | None, timeout: float
) -> list[HostSuggestion]:
    """Names to suggest for ``host`` (which does not exist), best first, at most `MAX_SUGGESTIONS`.

    Names built from the e-mail domain are suggested only when they resolve;
    provider names only when within a couple of typos of ``host``.
    """
    known = [HostSuggestion(name, "provider") for name in close_known_hostnames(host)]
    built: list[HostSuggestion] = []
    if email_domain:
        srv_lists = await asyncio.gather(
            *(
                lookup_targets(f"{svc}.{email_domain}", "SRV", timeout=timeout, nameservers=nameservers)
                for svc in ("_pop3s._tcp", "_pop3._tcp")
            ),
            lookup_targets(email_domain, "MX", timeout=timeout, nameservers=nameservers),
        )
        srv = [t for targets in srv_lists[:2] for t in targets]
        mx = srv_lists[2]
        names = domain_candidates(email_domain, mx_hosts=mx, srv_targets=srv)
        origin = {name: "domain" for name in names}
        origin.update({name: "mx" for name in mx})
        origin.update({name: "srv" for name in srv})

        async def lookup(name: str) -> HostSuggestion | None:
            try:
                found = await resolve(name, timeout=timeout, nameservers=nameservers)
            except NetError:
                return None
            return HostSuggestion(name, origin[name], tuple(ip for _, ip in found))

        looked_up = await asyncio.gather(*(lookup(n) for n in rank_by_closeness(host, names)))
        built = [s for s in looked_up if s is not None]
    out: list[HostSuggestion] = []
    for suggestion in [*known, *built]:
        if suggestion.name not in {s.name for s in out} and suggestion.name != host.lower():
            out.append(suggestion)
    return out[:MAX_SUGGESTIONS]


def email_domain_of(user: str, given: str | None) -> str | None:
    if given:
        return given.split("@")[-1].strip().lower() or None
    if "@" in user:
        return user.rsplit("@", 1)[1].strip().lower() or None
    return None


# -- whose fault is a dead port ---------------------------------------------------------


def parse_reference(spec: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host, port); ValueError otherwise."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = spec.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"reference must be HOST:PORT, got {spec!r}")
    return host, int(port_text)


@dataclass
class Triangulation:
    """What the host's other ports and the reference endpoint did."""

    ports: list[PortCheck] = field(default_factory=list)
    reference: PortCheck | None = None
    reference_spec: str | None = None
    reference_error: str | None = None
    #: Probes cancelled because the answer was already clear.
    stopped_early: list[int] = field(default_factory=list)

    @property
    def answered(self) -> list[PortCheck]:
        return [p for p in self.ports if p.answered]

    @property
    def accepted(self) -> list[PortCheck]:
        return [p for p in self.ports if p.outcome == "ok"]

    @property
    def reference_ok(self) -> bool | None:
        if self.reference_spec is None:
            return None
        return self.reference is not None and self.reference.outcome == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ports": [p.to_dict() for p in self.ports],
            "reference": self.reference.to_dict() if self.reference else None,
            "reference_spec": self.reference_spec,
            "reference_error": self.reference_error,
            "stopped_early": self.stopped_early,
        }


async def _probe_reference(spec: str, *, timeout: float, nameservers: list[str] | None) -> PortCheck:
    host, port = parse_reference(spec)
    addresses = await resolve(host, timeout=timeout, nameservers=nameservers)
    return await tcp_probe(host, port, addresses, timeout=timeout)


async def triangulate(
    host: str,
    addresses: Sequence[tuple[str, str]],
    ports: Sequence[int],
    *,
    reference: str | None,
    timeout: float,
    nameservers: list[str] | None,
    primary: asyncio.Future[str],
) -> Triangulation:
    """Probe ``ports`` of ``host`` and the ``reference`` in parallel; stop once the answer is clear.

    ``primary`` resolves to the cause code of the POP3 port's own failure (it
    may still be pending when this starts).  The answer is clear when a port
    accepted (the host is up and serving), or when the POP3 port did not get
    a reset and another port answered at all.
    """
    result = Triangulation(reference_spec=reference)
    tasks: dict[asyncio.Future[Any], str | int] = {
        asyncio.ensure_future(tcp_probe(host, p, addresses, timeout=timeout)): p for p in ports
    }
    if reference:
        tasks[asyncio.ensure_future(_probe_reference(reference, timeout=timeout, nameservers=nameservers))] = "ref"
    pending: set[asyncio.Future[Any]] = set(tasks)
    watch: set[asyncio.Future[Any]] = {primary} if not primary.done() else set()
    try:
        while pending:
            done, _ = await asyncio.wait(pending | watch, return_when=asyncio.FIRST_COMPLETED)
            watch -= done
            for task in done & pending:
                pending.discard(task)
                if tasks[task] == "ref":
                    try:
                        result.reference = task.result()
                    except NetError as exc:
                        result.reference_error = exc.code
                else:
                    result.ports.append(task.result())
            primary_cause = primary.result() if primary.done() else None
            clear = bool(result.accepted) or (
                primary_cause not in (None, "connection-refused") and bool(result.answered)
            )
            if clear:
                break
    finally:
        for task in pending:
            task.cancel()
            label = tasks[task]
            if isinstance(label, int):
                result.stopped_early.append(label)
        if pending:
            await asyncio.wait(pending)
    result.ports.sort(key=lambda p: p.port)
    return result


@dataclass(frozen=True)
class ConnectVerdict:
    """The cause to report, the sentence that says why, and a stable label for JSON."""

    cause: str
    note: Msg | None
    interpretation: str


def connect_verdict(primary_cause: str, tri: Triangulation, facts: NetworkFacts | None, port: int) -> ConnectVerdict:
    """Read a failed POP3 connection together with its triangulation (see the module table)."""
    ref = tri.reference_spec or "-"
    ports_answered = ", ".join(str(p.port) for p in tri.answered)
    ports_accepted = ", ".join(str(p.port) for p in tri.accepted)
    no_route = facts is not None and not facts.has_default_route
    if primary_cause == "connection-refused":
        if tri.accepted:
            return ConnectVerdict(
                primary_cause, _join([fmt(NOTE_CLOSED, port=port), fmt(NOTE_CLOSED_OTHERS, ports=ports_accepted)]),
                "port-closed",
            )
        if tri.reference_ok:
            return ConnectVerdict("server-down", fmt(NOTE_SERVER_DOWN, reference=ref), "server-down")
        return ConnectVerdict(primary_cause, fmt(NOTE_CLOSED, port=port), "port-closed")
    if tri.answered:
        if primary_cause == "connection-timeout":
            return ConnectVerdict(primary_cause, fmt(NOTE_BLOCKED, ports=ports_answered, port=port), "port-blocked")
        return ConnectVerdict(primary_cause, None, "port-unreachable")
    if tri.reference_ok:
        return ConnectVerdict("server-down", fmt(NOTE_SERVER_DOWN, reference=ref), "server-down")
    if tri.reference_spec is not None:
        note = fmt(NOTE_NO_NETWORK, reference=ref)
        return ConnectVerdict("no-network", _join([NOTE_NO_ROUTE, note]) if no_route else note, "no-network")
    if no_route:
        return ConnectVerdict("no-network", NOTE_NO_ROUTE, "no-network")
    return ConnectVerdict(primary_cause, NOTE_UNDETERMINED, "undetermined")


async def ipv6_check(
    host: str, port: int, addresses: Sequence[tuple[str, str]], *, timeout: float
) -> PortCheck | None:
    """Connect over IPv6 only (the race let IPv4 win before IPv6 finished); None without AAAA."""
    v6 = [(family, ip) for family, ip in addresses if family == "ipv6"]
    if not v6:
        return None
    return await tcp_probe(host, port, v6, timeout=timeout)


async def cancel(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait for it to finish; never raises."""
    if task is None:
        return
    task.cancel()
    # wait() never raises, so our own cancellation still propagates.
    await asyncio.wait([task])

