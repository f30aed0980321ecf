"""The connect stage's hard part: when TCP to the POP3 port fails, find out why.

Alternatives (other port or security mode) and triangulation (other ports of
the host, a reference endpoint) start once the connection has been pending
for a moment, so the verdict arrives within about one connect timeout.  Also
the name-lookup failure ("did you mean", verified close names).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import network as nw
from pop3doctor.diagnosis.alternatives import ProbeResult, best, probe, probe_alternatives
from pop3doctor.diagnosis.model import Finding, Suggestion
from pop3doctor.diagnosis.state import Run, evidence_of
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.errors import (
    DnsNotFound,
    DnsUnavailable,
    NetError,
    TlsHandshakeFailed,
)


class ConnectFailed(Exception):
    """The POP3 port could not be connected to; ``finding`` says why (already recorded)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.cause)
        self.finding = finding


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
    run: Run, primary: asyncio.Future[str], started: float
) -> tuple[list[ProbeResult], nw.Triangulation]:
    """Alternatives (other port/security) and triangulation (other ports, reference), in parallel.

    ``started`` is when the user's own connection attempt began: the probes
    get the rest of its connect timeout (at least half of it), so they end
    together with it and the verdict is not pushed past one timeout.
    """
    s = run.settings
    connect = max(run.timeouts.connect - (time.monotonic() - started), run.timeouts.connect / 2)
    ports = [p for p in dict.fromkeys((*nw.TRIANGULATION_PORTS, *run.extra_ports)) if p != s.port]
    alternatives, triangulation = await asyncio.gather(
        probe_alternatives(
            s,
            timeouts=replace(run.timeouts, connect=connect),
            nameservers=run.nameservers,
            extra_ports=run.extra_ports,
            port_failed=primary,
        ),
        nw.triangulate(
            s.host,
            run.addresses,
            ports,
            reference=run.reference,
            timeout=connect,
            nameservers=run.nameservers,
            primary=primary,
        ),
    )
    return alternatives, triangulation


async def open_with_fallbacks(run: Run, client: Pop3Client) -> Any:
    """``client.open()``; when TCP fails, a `ConnectFailed` whose finding names the cause.

    `TlsHandshakeFailed` passes through: TCP worked, the caller handles TLS.
    """
    started = time.monotonic()
    opening = asyncio.ensure_future(client.open())
    primary: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    fallbacks: asyncio.Task[tuple[list[ProbeResult], nw.Triangulation]] | None = None
    try:
        done, _ = await asyncio.wait([opening], timeout=_hedge_delay(run))
        if not done:
            fallbacks = asyncio.ensure_future(_fallbacks(run, primary, started))
        try:
            return await opening
        except TlsHandshakeFailed:
            raise
        except NetError as exc:
            cause = cause_for_error(exc)
            primary.set_result(cause)
            if fallbacks is None:
                fallbacks = asyncio.ensure_future(_fallbacks(run, primary, started))
            alternatives, triangulation = await fallbacks
            fallbacks = None
            run.suggest(best(run.settings, alternatives))
            verdict = nw.connect_verdict(cause, triangulation, run.facts, run.settings.port)
            evidence = evidence_of(exc)
            evidence["alternatives"] = [r.to_dict() for r in alternatives]
            evidence["triangulation"] = triangulation.to_dict()
            evidence["interpretation"] = verdict.interpretation
            raise ConnectFailed(run.problem("connect", verdict.cause, evidence=evidence, note=verdict.note)) from exc
    finally:
        await nw.cancel(fallbacks)
        if not opening.done():
            await nw.cancel(opening)


async def resolve_problem(run: Run, exc: NetError, email_domain: str | None) -> Finding:
    """The name lookup failed: say whether the name is wrong (with close names) or DNS is."""
    s = run.settings
    evidence = evidence_of(exc)
    cause = cause_for_error(exc)
    note: Msg | None = None
    extra: list[Msg] = []
    if isinstance(exc, DnsUnavailable):
        note = nw.name_unavailable_note(s.host, exc)
    elif isinstance(exc, DnsNotFound):
        domain = nw.email_domain_of(s.user, email_domain)
        suggestions = await nw.did_you_mean(s.host, domain, nameservers=run.nameservers, timeout=run.timeouts.resolve)
        evidence["did_you_mean"] = [x.to_dict() for x in suggestions]
        if suggestions:
            names = ", ".join(x.name for x in suggestions)
            extra.append(nw.fmt(nw.DID_YOU_MEAN, names=names))
            verified = await _verify_names(run, [x.name for x in suggestions if x.addresses])
            if verified:
                run.suggest(Suggestion(verified, s.port, s.security, s.user))
                evidence["verified_host"] = verified
                extra.insert(0, nw.fmt(nw.VERIFIED_NAME, name=verified, port=s.port))
    return run.problem("resolve", cause, evidence=evidence, extra_remedy=extra, note=note)


async def _verify_names(run: Run, names: list[str]) -> str | None:
    """The first of ``names`` (in order) where a POP3 server answers with the user's port and security."""
    if not names:
        return None
    s = run.settings
    results = await asyncio.gather(
        *(
            probe(
                replace(s, host=name), s.port, s.security, timeouts=run.timeouts, nameservers=run.nameservers
            )
            for name in names
        )
    )
    for name, result in zip(names, results, strict=True):
        if result.ok:
            return name
    return None
