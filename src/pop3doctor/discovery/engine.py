"""Run the four sources in parallel; the highest-priority answer wins.

Priority: bundled knowledge > autoconfig > DNS (SRV, MX) > guessing.  All
start at once.  As soon as some source has answered and every source above
it has finished, the ones below are cancelled (reported as "skipped"): their
answer could not win, and guessing would otherwise knock on the provider's
servers for nothing.  ``exhaustive=True`` waits for all of them instead.

Time bound: every source caps itself at ``timeout`` (the connect timeout),
and this module cancels anything still running shortly after, so the worst
case -- every host silent -- ends within ``timeout`` plus a fraction of a
second.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field

from pop3doctor.discovery import autoconfig, dnsrecords, guess, providers
from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address, parse_address
from pop3doctor.discovery.autoconfig import AutoconfigEndpoints
from pop3doctor.discovery.guess import GuessPorts
from pop3doctor.discovery.model import Candidate, DiscoveryResult, Source, SourceReport, Status, Warning
from pop3doctor.endpoint import Security
from pop3doctor.net.certs import make_tls_context
from pop3doctor.racing import race

#: Slack after ``timeout`` before stragglers are cancelled: sources bound
#: themselves, this only catches one that overruns (e.g. a slow TLS close).
GRACE = 0.3


@dataclass(frozen=True)
class DiscoveryConfig:
    """Every network endpoint discovery uses, injectable for tests.

    ``nameservers`` ("ip[:port]") replace the system resolver for every
    lookup (SRV/MX, autoconfig host names, guessed hosts); ``ca_file`` adds
    trust anchors for HTTPS and POP3 TLS; ``sources`` limits which sources run.
    """

    timeout: float = 8.0
    nameservers: tuple[str, ...] = ()
    ca_file: str | None = None
    autoconfig: AutoconfigEndpoints = field(default_factory=AutoconfigEndpoints)
    guess_ports: GuessPorts = field(default_factory=GuessPorts)
    sources: frozenset[Source] = frozenset(Source)
    exhaustive: bool = False
    stagger: float | None = None


async def _timed(source: Source, work: Awaitable[SourceReport]) -> SourceReport:
    start = time.monotonic()
    report = await work
    report.elapsed_ms = (time.monotonic() - start) * 1000
    return report


async def discover(email: str | Address, config: DiscoveryConfig | None = None) -> DiscoveryResult:
    """Find POP3 settings for ``email``.  Raises `AddressError` for a malformed address only.

    Never sends a password: the only POP3 traffic is greeting, CAPA, STLS and QUIT.
    """
    config = config or DiscoveryConfig()
    address = parse_address(email) if isinstance(email, str) else email
    start = time.monotonic()
    makers = _network_sources(address, config)
    reports: dict[Source, SourceReport] = {
        s: SourceReport(s, status=Status.DISABLED) for s in Source if s not in config.sources
    }
    wanted = [s for s in Source if s in config.sources]
    if Source.PROVIDER in config.sources:
        # Bundled knowledge needs no I/O: ask it first, and when it answers
        # do not even start the network sources (nothing they say could win).
        reports[Source.PROVIDER] = await _timed(Source.PROVIDER, _provider(address))
        wanted.remove(Source.PROVIDER)
        if reports[Source.PROVIDER].answered and not config.exhaustive:
            for s in wanted:
                reports[s] = SourceReport(s, Status.SKIPPED, detail=[m.SOURCE_SKIPPED])
            wanted = []
    reports |= await _race_network({s: makers[s] for s in wanted}, config, reports)
    ordered = [reports[s] for s in Source]
    return _merge(address, ordered, (time.monotonic() - start) * 1000)


def _network_sources(address: Address, config: DiscoveryConfig) -> dict[Source, Callable[[], Awaitable[SourceReport]]]:
    """How to start each network source (the TLS context is made here, whether or not they run)."""
    nameservers = list(config.nameservers) or None
    tls_context = make_tls_context(config.ca_file)
    return {
        Source.AUTOCONFIG: lambda: autoconfig.lookup(
            address,
            endpoints=config.autoconfig,
            timeout=config.timeout,
            nameservers=nameservers,
            tls_context=tls_context,
        ),
        Source.DNS: lambda: dnsrecords.lookup(address, timeout=config.timeout, nameservers=nameservers),
        Source.GUESS: lambda: guess.lookup(
            address,
            timeout=config.timeout,
            tls_context=tls_context,
            nameservers=nameservers,
            ports=config.guess_ports,
            stagger=config.stagger,
        ),
    }


async def _race_network(
    makers: Mapping[Source, Callable[[], Awaitable[SourceReport]]],
    config: DiscoveryConfig,
    known: Mapping[Source, SourceReport],
) -> dict[Source, SourceReport]:
    """Run the sources ``makers`` start; a report for each (SKIPPED / TIMEOUT for the ones stopped)."""
    work = {s: _timed(s, make()) for s, make in makers.items()}
    started = time.monotonic()

    def settled(results: Mapping[Source, SourceReport], pending: Collection[Source]) -> bool:
        # Stop once nothing still running could beat the best answer in hand.
        answered = [s for s, r in (*known.items(), *results.items()) if r.answered]
        if config.exhaustive or not answered:
            return False
        best = min(answered, key=lambda s: s.priority)
        return all(s.priority > best.priority for s in pending)

    raced = await race(work, settled=settled, timeout=config.timeout + GRACE)
    reports = dict(raced.results)
    for source in raced.unfinished:
        if raced.timed_out:
            elapsed_ms = (time.monotonic() - started) * 1000
            reports[source] = SourceReport(source, Status.TIMEOUT, detail=[m.SOURCE_TIMEOUT], elapsed_ms=elapsed_ms)
        else:
            reports[source] = SourceReport(source, Status.SKIPPED, detail=[m.SOURCE_SKIPPED])
    return reports


async def _provider(address: Address) -> SourceReport:
    return providers.lookup(address)


def _merge(address: Address, reports: list[SourceReport], elapsed_ms: float) -> DiscoveryResult:
    winner = next((r for r in reports if r.answered), None)
    ordered: list[Candidate] = []
    index: dict[tuple[str, int, Security], int] = {}
    for report in ([winner] if winner else []) + [r for r in reports if r is not winner]:
        for candidate in report.candidates:
            if candidate.key in index:
                # Same endpoint from another source: keep the better-ranked
                # entry, but remember that a real server answered there.
                i = index[candidate.key]
                if candidate.verified and not ordered[i].verified:
                    ordered[i] = dataclasses.replace(ordered[i], verified=True)
                continue
            index[candidate.key] = len(ordered)
            ordered.append(candidate)
    pop_offered = winner.pop_offered if winner else None
    chosen: Candidate | None = None
    if pop_offered is not False and ordered:
        # RFC 8314: implicit TLS first; never plain text while a TLS option exists.
        mine = [c for c in ordered if c.source is ordered[0].source]
        chosen = next((c for c in mine if c.security is Security.SSL), None)
        chosen = chosen or next((c for c in ordered if c.security is not Security.PLAIN), None)
        chosen = chosen or ordered[0]
    alternatives = [c for c in ordered if c is not chosen]
    warnings: list[Warning] = []
    seen: set[str] = set()
    for report in ([winner] if winner else []) + [r for r in reports if r is not winner]:
        for warning in report.warnings:
            if warning.code not in seen:
                seen.add(warning.code)
                warnings.append(warning)
    return DiscoveryResult(
        email=address.email,
        domain=address.domain,
        chosen=chosen,
        alternatives=alternatives,
        warnings=warnings,
        sources=reports,
        pop_offered=pop_offered,
        elapsed_ms=elapsed_ms,
    )
