"""Probe other port/security combinations in parallel, so a report can say what to change.

Probes stop after the greeting, CAPA and (for STARTTLS) the TLS upgrade: they
never send a password, so they are safe to run against any account.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

from pop3doctor.client import Pop3Client, probe_capabilities
from pop3doctor.diagnosis.model import Settings, Suggestion
from pop3doctor.endpoint import DEFAULT_PORTS, Endpoint, Security
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.timeouts import Timeouts

#: What mail programs offer, best first: implicit TLS (RFC 8314 prefers it),
#: then STARTTLS.  Plain text is never suggested when either works.
CANDIDATES: tuple[tuple[int, Security], ...] = (
    (DEFAULT_PORTS[Security.SSL], Security.SSL),
    (DEFAULT_PORTS[Security.STARTTLS], Security.STARTTLS),
)


@dataclass(frozen=True)
class ProbeResult:
    port: int
    security: Security
    ok: bool
    cause: str | None
    stls_offered: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "port": self.port,
            "security": self.security.value,
            "ok": self.ok,
            "cause": self.cause,
        }


async def probe(
    settings: Endpoint, port: int, security: Security, *, timeouts: Timeouts, nameservers: list[str] | None
) -> ProbeResult:
    client = Pop3Client.from_endpoint(settings.at(port, security), timeouts=timeouts, nameservers=nameservers)
    outcome = await probe_capabilities(client)
    if isinstance(outcome, Exception):
        return ProbeResult(port, security, False, cause_for_error(outcome, implicit_tls=security is Security.SSL))
    return ProbeResult(port, security, True, None, outcome.stls)


def candidates_for(settings: Settings, extra_ports: tuple[int, ...] = ()) -> list[tuple[int, Security]]:
    current = (settings.port, settings.security)
    combos = list(CANDIDATES)
    # The user's own port with the other TLS mode: "SSL on a plain port" and
    # the reverse are the most common mistakes of all.
    for port in (settings.port, *extra_ports):
        combos += [(port, Security.SSL), (port, Security.STARTTLS)]
    seen: list[tuple[int, Security]] = []
    for combo in combos:
        if combo != current and combo not in seen:
            seen.append(combo)
    return seen


async def probe_alternatives(
    settings: Settings,
    *,
    timeouts: Timeouts,
    nameservers: list[str] | None = None,
    extra_ports: tuple[int, ...] = (),
    port_failed: asyncio.Future[str] | None = None,
) -> list[ProbeResult]:
    """Probe the candidates in parallel; stop as soon as the best possible answer is in.

    A probe of a TLS-only port in plain text hears nothing until the greeting
    timeout; once a better-ranked combination has worked, waiting for it
    would only delay the verdict, so the remaining probes are cancelled.

    ``port_failed`` lets probes start while the user's own connection is
    still pending: when it resolves to a cause code (the user's port could
    not be connected to at all), probes of that same port are doomed too, so
    they are cancelled and reported as failed with that cause.
    """
    # Probes need no long greeting wait: a server that answers at all greets at once.
    timeouts = dataclasses.replace(timeouts, greeting=min(timeouts.greeting, timeouts.connect))
    combos = candidates_for(settings, extra_ports)
    tasks = {
        asyncio.ensure_future(probe(settings, port, sec, timeouts=timeouts, nameservers=nameservers)): (port, sec)
        for port, sec in combos
    }
    done_results: list[ProbeResult] = []
    pending = set(tasks)
    watch: set[asyncio.Future[Any]] = {port_failed} if port_failed is not None else set()
    cancelled: set[asyncio.Task[ProbeResult]] = set()
    try:
        while pending:
            finished, _ = await asyncio.wait({*pending, *watch}, return_when=asyncio.FIRST_COMPLETED)
            done_results += [t.result() for t in pending if t in finished]
            pending -= finished
            if port_failed is not None and port_failed.done():
                watch.clear()
                doomed = {t for t in pending if tasks[t][0] == settings.port}
                for task in doomed:
                    task.cancel()
                    port, sec = tasks[task]
                    done_results.append(ProbeResult(port, sec, False, port_failed.result()))
                pending -= doomed
                cancelled |= doomed
            winners = [r for r in done_results if r.ok]
            if winners:
                top = min(_rank(settings, r.port, r.security) for r in winners)
                if all(_rank(settings, *tasks[t]) > top for t in pending):
                    break
    finally:
        for task in pending:
            task.cancel()
        if pending or cancelled:
            await asyncio.wait(pending | cancelled)
    return sorted(done_results, key=lambda r: _rank(settings, r.port, r.security))


def _rank(settings: Settings, port: int, security: Security) -> tuple[int, bool, bool]:
    """Lower is better: implicit TLS first, then standard ports, then the user's own port."""
    order = {Security.SSL: 0, Security.STARTTLS: 1, Security.PLAIN: 2}
    return (order[security], port not in DEFAULT_PORTS.values(), port != settings.port)


def best(settings: Settings, results: list[ProbeResult]) -> Suggestion | None:
    """The working combination to suggest: implicit TLS first, then STARTTLS, never plain."""
    working = [r for r in results if r.ok and r.security is not Security.PLAIN]
    if not working:
        return None
    choice = min(working, key=lambda r: _rank(settings, r.port, r.security))
    return Suggestion(settings.host, choice.port, choice.security, settings.user)
