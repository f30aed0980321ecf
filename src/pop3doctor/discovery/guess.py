"""Source 4: guess host names and probe them with CAPA only (never a password).

Candidates, best first: ``pop.<d>``, ``pop3.<d>``, ``mail.<d>``, ``<d>``, each
on the implicit-TLS port (995) and then the STARTTLS port (110) -- RFC 8314
prefers implicit TLS.  Plain text is never probed as a proposal: a server
without STLS on 110 is noted, not suggested.

Probes start staggered (a short delay apart, best first) so a good early
answer can stop the rest before they load anyone's server, and the whole
guess is capped at ``timeout`` (one connect timeout): silent hosts cost no
more than that however many there are.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Collection, Mapping

from pop3doctor.client import Pop3Client, probe_capabilities
from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address
from pop3doctor.discovery.model import Candidate, Confidence, Source, SourceReport, Status, UsernameForm, Warning
from pop3doctor.endpoint import DEFAULT_PORTS, Endpoint, Security
from pop3doctor.errors import PolicyError
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.knowledge.hostnames import mail_host_prefixes
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.racing import race

#: SASL mechanisms that take a bearer token, not a password.
_TOKEN_ONLY = {"XOAUTH2", "OAUTHBEARER"}


@dataclasses.dataclass(frozen=True)
class GuessPorts:
    """The two ports probed (995/110 normally; lab ports in tests)."""

    ssl: int = DEFAULT_PORTS[Security.SSL]
    starttls: int = DEFAULT_PORTS[Security.STARTTLS]


@dataclasses.dataclass(frozen=True)
class ProbeOutcome:
    host: str
    port: int
    security: Security
    ok: bool
    cause: str | None = None
    user_offered: bool = True
    sasl: tuple[str, ...] = ()


def candidates_for(address: Address, ports: GuessPorts) -> list[tuple[str, int, Security]]:
    hosts = [f"{prefix}.{address.domain}" for prefix in mail_host_prefixes()] + [address.domain]
    return [(h, p, s) for h in hosts for p, s in ((ports.ssl, Security.SSL), (ports.starttls, Security.STARTTLS))]


async def probe(
    host: str,
    port: int,
    security: Security,
    *,
    timeouts: Timeouts,
    tls_context: ssl.SSLContext,
    nameservers: list[str] | None,
) -> ProbeOutcome:
    """Greeting + CAPA (+ STLS for STARTTLS), then QUIT.  Never logs in; never raises."""
    # No user name: a probe never logs in.
    endpoint = Endpoint(host, port, security, "")
    client = Pop3Client.from_endpoint(endpoint, timeouts=timeouts, tls_context=tls_context, nameservers=nameservers)
    outcome = await probe_capabilities(client)
    if isinstance(outcome, PolicyError):
        return ProbeOutcome(host, port, security, False, outcome.reason)
    if isinstance(outcome, Exception):
        cause = cause_for_error(outcome, implicit_tls=security is Security.SSL)
        return ProbeOutcome(host, port, security, False, cause)
    user = "USER" in outcome or not outcome.known
    return ProbeOutcome(host, port, security, True, None, user, tuple(sorted(outcome.sasl)))


async def lookup(
    address: Address,
    *,
    timeout: float,
    tls_context: ssl.SSLContext,
    nameservers: list[str] | None,
    ports: GuessPorts = GuessPorts(),
    stagger: float | None = None,
) -> SourceReport:
    """Source 4.  Returns within about ``timeout`` seconds whatever the hosts do."""
    combos = candidates_for(address, ports)
    # The overall cap below is what bounds the guess.  Name lookups get half of
    # it so that they end by themselves rather than being cancelled mid-query.
    timeouts = Timeouts(resolve=timeout / 2, connect=timeout, tls=timeout, greeting=timeout, command=timeout)
    delay = min(0.1, timeout / 20) if stagger is None else stagger

    async def staggered(index: int, combo: tuple[str, int, Security]) -> ProbeOutcome:
        await asyncio.sleep(index * delay)
        return await probe(*combo, timeouts=timeouts, tls_context=tls_context, nameservers=nameservers)

    raced = await race({i: staggered(i, c) for i, c in enumerate(combos)}, settled=_best_in_hand, timeout=timeout)
    return _report(address, raced.results, silent=len(combos) - len(raced.results))


def _best_in_hand(outcomes: Mapping[int, ProbeOutcome], pending: Collection[int]) -> bool:
    """Nothing still running could beat the best answer in hand (lower index = better candidate)."""
    winners = [i for i, o in outcomes.items() if o.ok]
    return bool(winners) and all(i > min(winners) for i in pending)


def _report(address: Address, outcomes: Mapping[int, ProbeOutcome], *, silent: int) -> SourceReport:
    report = SourceReport(Source.GUESS)
    for index in sorted(outcomes):
        o = outcomes[index]
        label = m.SECURITY_NAMES[o.security.value].en
        if o.ok:
            report.detail.append(m.GUESS_OK.format(host=o.host, port=o.port, security=label))
            report.candidates.append(_candidate(address, o))
            if not o.user_offered and o.sasl and set(o.sasl) <= _TOKEN_ONLY:
                report.warnings.append(Warning("oauth-required", m.OAUTH_ONLY, Source.GUESS, None))
        else:
            report.detail.append(m.GUESS_FAILED.format(host=o.host, port=o.port, security=label, cause=o.cause))
            if o.cause == "starttls-unavailable":
                report.warnings.append(
                    Warning("no-tls", m.NO_TLS_ONLY_PLAIN.format(host=o.host, port=o.port), Source.GUESS, None)
                )
    if silent:
        report.detail.append(m.GUESS_SILENT.format(count=silent))
    if report.candidates:
        report.status = Status.ANSWER
        report.pop_offered = True
    return report


def _candidate(address: Address, outcome: ProbeOutcome) -> Candidate:
    return Candidate(
        host=outcome.host,
        port=outcome.port,
        security=outcome.security,
        username=address.email,
        username_form=UsernameForm.UNKNOWN,
        source=Source.GUESS,
        origin="guess",
        confidence=Confidence.MEDIUM,
        evidence=f"greeting and CAPA from {outcome.host}:{outcome.port}",
        auth=outcome.sasl,
        verified=True,
    )
