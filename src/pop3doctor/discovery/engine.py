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

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pop3doctor.discovery import autoconfig, dnsrecords, guess, providers
from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address, parse_address
from pop3doctor.discovery.autoconfig import AutoconfigEndpoints
from pop3doctor.discovery.guess import GuessPorts
from pop3doctor.discovery.model import (
    Candidate,
    DiscoveryResult,
    Source,
    SourceReport,
    Status,
    Warning,
)
from pop3doctor.endpoint import Security
from pop3doctor.net.certs import make_tls_context

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
    nameservers = list(config.nameservers) or None
    tls_context = make_tls_context(config.ca_file)

    makers: dict[Source, Callable[[], Awaitable[SourceReport]]] = {
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
    tasks = {asyncio.ensure_future(_timed(s, makers[s]())): s for s in wanted}
    started: dict[Source, float] = {s: time.monotonic() for s in tasks.values()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + config.timeout + GRACE
    pending = set(tasks)
    try:
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                reports[tasks[task]] = _result_of(task, tasks[task])
            if config.exhaustive:
                continue
            answered = [s for s, r in reports.items() if r.answered]
            if answered:
                best = min(answered, key=lambda s: s.priority)
                if all(tasks[t].priority > best.priority for t in pending):
                    for task in pending:
                        reports[tasks[task]] = SourceReport(tasks[task], Status.SKIPPED, detail=[m.SOURCE_SKIPPED])
                    break
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    for source in tasks.values():
        if source not in reports:
            reports[source] = SourceReport(
                source,
                Status.TIMEOUT,
                detail=[m.SOURCE_TIMEOUT],
                elapsed_ms=(time.monotonic() - started[source]) * 1000,
            )
    ordered = [reports[s] for s in Source]
    return _merge(address, ordered, (time.monotonic() - start) * 1000)


async def _provider(address: Address) -> SourceReport:
    return providers.lookup(address)


def _result_of(task: asyncio.Future[SourceReport], source: Source) -> SourceReport:
    try:
        return task.result()
    except asyncio.CancelledError:
        return SourceReport(source, Status.SKIPPED, detail=[m.SOURCE_SKIPPED])


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
