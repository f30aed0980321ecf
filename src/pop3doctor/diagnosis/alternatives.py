"""Probe other port/security combinations in parallel, so a report can say what to change.

Probes stop after the greeting, CAPA and (for STARTTLS) the TLS upgrade: they
never send a password, so they are safe to run against any account.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pop3doctor.client import Pop3Client, probe_capabilities
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.model import Settings, Suggestion
from pop3doctor.diagnosis.state import Run
from pop3doctor.diagnosis.text import SECURITY_LABELS
from pop3doctor.endpoint import DEFAULT_PORTS, Endpoint, Security
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.errors import CertificateProblem
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.racing import race

#: A port and security mode to try.
Combo = tuple[int, Security]

#: What mail programs offer, best first: implicit TLS (RFC 8314 prefers it),
#: then STARTTLS.  Plain text is never suggested when either works.
CANDIDATES: tuple[Combo, ...] = (
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
    #: The mode is there (TLS was spoken) but its certificate failed verification:
    #: no other setting helps, the certificate is the finding (``cause`` says how it failed).
    cert_failed: bool = False
    #: That certificate's facts (issuer, names, dates), when they could be read.
    certificate: dict[str, object] | None = None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "port": self.port,
            "security": self.security.value,
            "ok": self.ok,
            "cause": self.cause,
        }
        if self.cert_failed:
            data["certificate"] = self.certificate
        return data


async def probe(
    settings: Endpoint, port: int, security: Security, *, timeouts: Timeouts, nameservers: list[str] | None
) -> ProbeResult:
    client = Pop3Client.from_endpoint(settings.at(port, security), timeouts=timeouts, nameservers=nameservers)
    outcome = await probe_capabilities(client)
    if isinstance(outcome, CertificateProblem):
        cert = None if outcome.cert is None else outcome.cert.to_dict()
        return ProbeResult(port, security, False, cause_for_error(outcome), cert_failed=True, certificate=cert)
    if isinstance(outcome, Exception):
        return ProbeResult(port, security, False, cause_for_error(outcome, implicit_tls=security is Security.SSL))
    return ProbeResult(port, security, True, None, outcome.stls)


def candidates_for(settings: Settings, extra_ports: tuple[int, ...] = ()) -> list[Combo]:
    current = (settings.port, settings.security)
    combos = list(CANDIDATES)
    # The user's own port with the other TLS mode: "SSL on a plain port" and
    # the reverse are the most common mistakes of all.
    for port in (settings.port, *extra_ports):
        combos += [(port, Security.SSL), (port, Security.STARTTLS)]
    seen: list[Combo] = []
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
    would only delay the verdict, so the remaining probes are cancelled.  So
    are the clear-text probes of a port whose implicit-TLS probe reached TLS
    (even with a certificate that failed): they are reported as
    ``port-expects-tls`` instead of waiting out the greeting timeout.

    ``port_failed`` lets probes start while the user's own connection is
    still pending: when it resolves to a cause code (the user's port could
    not be connected to at all), probes of that same port are doomed too, so
    they are cancelled and reported as failed with that cause.
    """
    # Probes need no long greeting wait: a server that answers at all greets at once.
    timeouts = dataclasses.replace(timeouts, greeting=min(timeouts.greeting, timeouts.connect))
    combos = candidates_for(settings, extra_ports)
    work = {combo: probe(settings, *combo, timeouts=timeouts, nameservers=nameservers) for combo in combos}

    def best_is_in(results: Mapping[Combo, ProbeResult], pending: Collection[Combo]) -> bool:
        ranks = [_rank(settings, r.port, r.security) for r in results.values() if r.ok]
        # A port that spoke implicit TLS never greets in clear text: its
        # clear-text probes would only wait out the greeting timeout.
        live = [combo for combo in pending if not _speaks_tls(results, combo[0]) or combo[1] is Security.SSL]
        if not live:
            return True
        return bool(ranks) and all(_rank(settings, *combo) > min(ranks) for combo in live)

    def same_port(_cause: str) -> list[Combo]:
        return [combo for combo in combos if combo[0] == settings.port]

    out = await race(work, settled=best_is_in, watch=port_failed, on_watch=same_port)
    results = list(out.results.values())
    # Clear-text probes stopped because their port spoke implicit TLS: that is their answer.
    results += [
        ProbeResult(port, sec, False, "port-expects-tls")
        for port, sec in out.unfinished
        if sec is not Security.SSL and _speaks_tls(out.results, port)
    ]
    if out.doomed and port_failed is not None:
        # Cancelled because the user's own port failed: they fail for the same cause.
        results += [ProbeResult(port, sec, False, port_failed.result()) for port, sec in out.doomed]
    return sorted(results, key=lambda r: _rank(settings, r.port, r.security))


def _speaks_tls(results: Mapping[Combo, ProbeResult], port: int) -> bool:
    """Whether the implicit-TLS probe of ``port`` reached TLS (it worked, or only its certificate failed)."""
    answer = results.get((port, Security.SSL))
    return answer is not None and (answer.ok or answer.cert_failed)


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


def certificate_failure(settings: Settings, results: list[ProbeResult]) -> ProbeResult | None:
    """The best-ranked encrypted mode that is offered but whose certificate failed, if any.

    When no mode works, this is the finding: the server offers encryption
    (its STLS reply or its TLS handshake proved it), and the certificate is
    what stops it -- not a missing STARTTLS (issue 13 item 5).
    """
    failed = [r for r in results if r.cert_failed]
    return min(failed, key=lambda r: _rank(settings, r.port, r.security)) if failed else None


async def alternatives_evidence(run: Run) -> dict[str, Any]:
    """Probe the alternatives for ``run``; suggest the best that works; the probes as evidence.

    With none working, an encrypted mode refused only for its certificate is
    added as ``certificate_failure`` (its cause and the certificate's facts);
    `no_mode_cause` reads it.
    """
    results = await probe_alternatives(
        run.settings, timeouts=run.timeouts, nameservers=run.nameservers, extra_ports=run.extra_ports
    )
    suggestion = best(run.settings, results)
    run.suggest(suggestion)
    evidence: dict[str, Any] = {"alternatives": [r.to_dict() for r in results]}
    failure = certificate_failure(run.settings, results) if suggestion is None else None
    if failure is not None:
        evidence["certificate_failure"] = failure.to_dict()
    return evidence


def certificate_remedy(evidence: Mapping[str, Any]) -> Msg | None:
    """For a clear-text login: the sentence saying encryption is offered but its certificate failed, if so."""
    failure = evidence.get("certificate_failure")
    if failure is None:
        return None
    security = Security(failure["security"])
    return m.fmt(
        m.LOGIN_PLAINTEXT_CERT,
        port=failure["port"],
        security=SECURITY_LABELS[security],
        problem=get_cause(str(failure["cause"])).title,
    )


def no_mode_cause(evidence: Mapping[str, Any]) -> str | None:
    """The cause to report when no alternative worked: the certificate's failure, if that was all."""
    failure = evidence.get("certificate_failure")
    return None if failure is None else str(failure["cause"])


# "No STARTTLS here" becomes "no encryption anywhere" (cause ``no-encryption-offered``)
# only when every encrypted setting probed failed in a way that means "not offered":
# refused or silent ports, a plain greeting where TLS was tried, no STLS.  A certificate
# or handshake problem means the server does speak TLS (badly): never "none".

#: Probe failures that say "this encrypted setting does not exist here".
NOT_OFFERED = frozenset(
    {
        "connection-refused",
        "connection-timeout",
        "host-unreachable",
        "server-down",
        "greeting-timeout",
        "not-pop3",
        "starttls-unavailable",
        "port-expects-plain",
    }
)


def no_encryption_found(alternatives: Iterable[Mapping[str, Any]]) -> bool:
    """True when encrypted settings were probed and every one failed as "not offered"."""
    encrypted = [a for a in alternatives if a.get("security") in ("ssl", "starttls")]
    return bool(encrypted) and all(not a.get("ok") and a.get("cause") in NOT_OFFERED for a in encrypted)
