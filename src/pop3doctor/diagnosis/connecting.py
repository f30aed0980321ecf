"""The connect step, and its hard part: when TCP to the POP3 port fails, find out why.

Alternatives (other port or security mode) and triangulation (other ports of
the host, a reference endpoint) start once the connection has been pending
for a moment, so the verdict arrives within about one connect timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import ProbeResult, best, probe_alternatives
from pop3doctor.diagnosis.localnet import NetworkFacts
from pop3doctor.diagnosis.model import Finding, Status
from pop3doctor.diagnosis.state import Connected, Run, RunState, evidence_of, need
from pop3doctor.diagnosis.tasks import cancel
from pop3doctor.diagnosis.triangulation import TRIANGULATION_PORTS, Triangulation, connect_verdict, triangulate
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.connection import Connection
from pop3doctor.net.errors import NetError, TlsHandshakeFailed
from pop3doctor.net.probe import PortCheck, tcp_probe


async def connect(state: RunState) -> AsyncIterator[Finding]:
    """TCP to the POP3 port (and, for implicit TLS, the handshake); provides ``client`` and ``connected``."""
    run, addresses = state.run, need(state.addresses)
    client = state.client = run.new_client()
    try:
        opened = await open_with_fallbacks(run, client, need(state.lookup).facts, addresses)
    except TlsHandshakeFailed as exc:
        # TCP worked; the TLS handshake did not (the tls step says why).
        attempts = [a.to_dict() for a in exc.attempts]
        yield run.passed("connect", m.CONNECT_OK, {"attempts": attempts}, address=exc.address or run.settings.host)
        state.connected = Connected(exc.attempts, tls_error=exc)
        return
    if isinstance(opened, Finding):
        yield opened
        return
    attempts = [a.to_dict() for a in opened.attempts]
    yield run.passed("connect", m.CONNECT_OK, {"attempts": attempts}, address=opened.peer[0])
    v4_won = any(a.family == "ipv4" and a.outcome == "ok" for a in opened.attempts)
    ipv6_check: asyncio.Task[PortCheck | None] | None = None
    if v4_won and any(a.family == "ipv6" and a.outcome not in ("ok", "abandoned") for a in opened.attempts):
        yield run.problem("connect", "ipv6-broken", status=Status.WARN, evidence={"attempts": attempts})
    elif v4_won and any(a.family == "ipv6" and a.outcome == "abandoned" for a in opened.attempts):
        # IPv4 won the race before IPv6 answered: that proves nothing
        # about IPv6 yet.  Ask it alone, in the background, so the verdict
        # over IPv4 is not delayed; the answer is read at the end.
        s = run.settings
        ipv6_check = asyncio.ensure_future(_ipv6_only(s.host, s.port, addresses, timeout=run.timeouts.connect))
    state.connected = Connected(opened.attempts, ipv6_check=ipv6_check)


async def _ipv6_only(
    host: str, port: int, addresses: Sequence[tuple[str, str]], *, timeout: float
) -> PortCheck | None:
    """Connect over IPv6 only (the race let IPv4 win before IPv6 finished); None without AAAA."""
    v6 = [(family, ip) for family, ip in addresses if family == "ipv6"]
    if not v6:
        return None
    return await tcp_probe(host, port, v6, timeout=timeout)


def _hedge_delay(run: Run) -> float:
    """How long the connection may take before the fallback probes start anyway.

    A SYN not answered within a second has been lost or dropped (Linux
    retransmits it after 1 s), so from then on the probes that explain a
    timeout run alongside it and the verdict arrives within about one
    connect timeout instead of two.  Healthy servers answer long before,
    and then no probe is sent at all.
    """
    return min(1.0, run.timeouts.connect / 4)


async def _fallbacks(
    run: Run, addresses: Sequence[tuple[str, str]], primary: asyncio.Future[str], started: float
) -> tuple[list[ProbeResult], Triangulation]:
    """Alternatives (other port/security) and triangulation (other ports, reference), in parallel.

    ``started`` is when the user's own connection attempt began: the probes
    get the rest of its connect timeout (at least half of it), so they end
    together with it and the verdict is not pushed past one timeout.
    """
    s = run.settings
    connect = max(run.timeouts.connect - (time.monotonic() - started), run.timeouts.connect / 2)
    ports = [p for p in dict.fromkeys((*TRIANGULATION_PORTS, *run.extra_ports)) if p != s.port]
    alternatives, triangulation = await asyncio.gather(
        probe_alternatives(
            s,
            timeouts=replace(run.timeouts, connect=connect),
            nameservers=run.nameservers,
            extra_ports=run.extra_ports,
            port_failed=primary,
        ),
        triangulate(
            s.host,
            addresses,
            ports,
            reference=run.reference,
            timeout=connect,
            nameservers=run.nameservers,
            primary=primary,
        ),
    )
    return alternatives, triangulation


async def open_with_fallbacks(
    run: Run, client: Pop3Client, facts: NetworkFacts, addresses: Sequence[tuple[str, str]]
) -> Connection | Finding:
    """``client.open()``; when TCP fails, the finding (already recorded) that names the cause.

    `TlsHandshakeFailed` passes through: TCP worked, the caller handles TLS.
    """
    started = time.monotonic()
    opening = asyncio.ensure_future(client.open())
    primary: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fallbacks: asyncio.Task[tuple[list[ProbeResult], Triangulation]] | None = None
    try:
        done, _ = await asyncio.wait([opening], timeout=_hedge_delay(run))
        if not done:
            fallbacks = asyncio.ensure_future(_fallbacks(run, addresses, primary, started))
        try:
            return await opening
        except TlsHandshakeFailed:
            raise
        except NetError as exc:
            cause = cause_for_error(exc)
            primary.set_result(cause)
            if fallbacks is None:
                fallbacks = asyncio.ensure_future(_fallbacks(run, addresses, primary, started))
            alternatives, triangulation = await fallbacks
            fallbacks = None
            return _explained(run, exc, cause, alternatives, triangulation, facts)
    finally:
        await cancel(fallbacks)
        if not opening.done():
            await cancel(opening)


def _explained(
    run: Run,
    exc: NetError,
    cause: str,
    alternatives: list[ProbeResult],
    triangulation: Triangulation,
    facts: NetworkFacts,
) -> Finding:
    run.suggest(best(run.settings, alternatives))
    verdict = connect_verdict(cause, triangulation, facts, run.settings.port)
    evidence = evidence_of(exc)
    evidence["alternatives"] = [r.to_dict() for r in alternatives]
    evidence["triangulation"] = triangulation.to_dict()
    evidence["interpretation"] = verdict.interpretation
    return run.problem("connect", verdict.cause, evidence=evidence, note=verdict.note)
