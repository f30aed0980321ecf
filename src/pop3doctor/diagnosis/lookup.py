"""The network and resolve steps: this computer's network, then the server's name.

Both are looked at together (the network step): the resolvers are asked
directly only when that helps tell a dead resolver from a missing name.  The
resolve step reports the lookup, or explains its failure: a wrong name (with
close real names, verified to serve POP3 where possible) or broken DNS.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import probe
from pop3doctor.diagnosis.localnet import (
    RESOLVER_HEAD_START,
    NetworkFacts,
    local_facts,
    name_unavailable_note,
    network_failure,
    probe_resolvers,
    resolvers_dead,
)
from pop3doctor.diagnosis.model import Finding, Suggestion
from pop3doctor.diagnosis.names import did_you_mean, email_domain_of
from pop3doctor.diagnosis.state import Lookup, Run, RunState, evidence_of, is_ip, need
from pop3doctor.diagnosis.tasks import cancel
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.errors import DnsNotFound, DnsUnavailable, NetError
from pop3doctor.net.resolve import resolve

Addresses = list[tuple[str, str]]


async def network(state: RunState) -> AsyncIterator[Finding]:
    """Routes and resolvers of this computer, and the name lookup; provides ``lookup``."""
    run = state.run
    facts = local_facts(run.settings.host, run.nameservers)
    addresses, error = await _look_up(run, facts)
    failure = network_failure(facts, error)
    if failure is not None:
        cause, note = failure
        evidence: dict[str, Any] = {"network": facts.to_dict()}
        if error is not None:
            evidence["resolve"] = evidence_of(error)
        yield run.problem("network", cause, evidence=evidence, note=note)
        return
    yield run.passed("network", facts.summary(), {"network": facts.to_dict()})
    state.lookup = Lookup(facts, addresses, error)


async def _look_up(run: Run, facts: NetworkFacts) -> tuple[Addresses, NetError | None]:
    host = run.settings.host
    if is_ip(host):
        return [("ipv6" if ":" in host else "ipv4", host)], None
    if facts.explicit_nameservers:
        return await _look_up_named(run, facts)
    # The system's resolvers are asked directly only when the lookup
    # failed, to tell a dead resolver from a missing name: a working
    # lookup (often answered from /etc/hosts or a cache) sends nothing
    # beyond what getaddrinfo sends.
    try:
        return await resolve(host, timeout=run.timeouts.resolve, nameservers=None), None
    except NetError as exc:
        await probe_resolvers(facts, timeout=run.timeouts.resolve)
        return [], exc


async def _look_up_named(run: Run, facts: NetworkFacts) -> tuple[Addresses, NetError | None]:
    """The lookup with named resolvers (--dns-server), raced against a check of those resolvers.

    The resolvers get a short head start: one that is not there at all is
    refused (ICMP) within a round trip, and then the lookup, which could
    only time out, is not started.  Otherwise both run together, so a
    silent resolver costs one timeout, not two.
    """
    host = run.settings.host
    resolver_check = asyncio.ensure_future(probe_resolvers(facts, timeout=run.timeouts.resolve))
    error: NetError | None = None
    addresses: Addresses = []
    try:
        await asyncio.wait([resolver_check], timeout=RESOLVER_HEAD_START)
        if resolver_check.done() and resolvers_dead(facts):
            error = DnsUnavailable(
                f"no DNS server answers for {host!r}",
                reason="no-nameservers",
                host=host,
                port=None,
                elapsed_ms=run.elapsed(),
            )
        else:
            try:
                addresses = await resolve(host, timeout=run.timeouts.resolve, nameservers=run.nameservers)
            except NetError as exc:
                error = exc
    finally:
        if error is None:
            await cancel(resolver_check)  # the lookup worked: that is proof enough
        else:
            await resolver_check
    return addresses, error


async def resolve_step(state: RunState) -> AsyncIterator[Finding]:
    """Report the name lookup, or explain why it failed; provides ``addresses``."""
    run, lookup = state.run, need(state.lookup)
    if lookup.error is not None:
        yield await _resolve_problem(run, lookup.error, state.options.email_domain)
        return
    if is_ip(run.settings.host):
        yield run.passed("resolve", m.RESOLVE_LITERAL)
    else:
        shown = ", ".join(ip for _, ip in lookup.addresses[:4])
        evidence = {"addresses": [ip for _, ip in lookup.addresses]}
        yield run.passed("resolve", m.RESOLVE_OK, evidence, addresses=shown)
    state.addresses = lookup.addresses


async def _resolve_problem(run: Run, exc: NetError, email_domain: str | None) -> Finding:
    """The name lookup failed: say whether the name is wrong (with close names) or DNS is."""
    s = run.settings
    evidence = evidence_of(exc)
    cause = cause_for_error(exc)
    note: Msg | None = None
    extra: list[Msg] = []
    if isinstance(exc, DnsUnavailable):
        note = name_unavailable_note(s.host, exc)
    elif isinstance(exc, DnsNotFound):
        domain = email_domain_of(s.user, email_domain)
        suggestions = await did_you_mean(s.host, domain, nameservers=run.nameservers, timeout=run.timeouts.resolve)
        evidence["did_you_mean"] = [x.to_dict() for x in suggestions]
        if suggestions:
            names = ", ".join(x.name for x in suggestions)
            extra.append(m.fmt(m.DID_YOU_MEAN, names=names))
            verified = await _verify_names(run, [x.name for x in suggestions if x.addresses])
            if verified:
                run.suggest(Suggestion(verified, s.port, s.security, s.user))
                evidence["verified_host"] = verified
                extra.insert(0, m.fmt(m.VERIFIED_NAME, name=verified, port=s.port))
    return run.problem("resolve", cause, evidence=evidence, extra_remedy=extra, note=note)


async def _verify_names(run: Run, names: list[str]) -> str | None:
    """The first of ``names`` (in order) where a POP3 server answers with the user's port and security."""
    if not names:
        return None
    s = run.settings
    results = await asyncio.gather(
        *(probe(replace(s, host=name), s.port, run.security, timeouts=run.timeouts, nameservers=run.nameservers)
          for name in names)
    )
    for name, result in zip(names, results, strict=True):
        if result.ok:
            return name
    return None
