"""Source 3: DNS.  RFC 6186 SRV records, then the MX host mapped to a provider.

RFC 6186 section 3.2: ``_pop3s._tcp.<domain>`` is POP3 over implicit TLS,
``_pop3._tcp.<domain>`` POP3 with STARTTLS (or plain); RFC 8314 section 5.1
says to prefer the implicit-TLS record.  A single record whose target is "."
means the service is decidedly not offered (RFC 2782).  DNS answers are not
authenticated here, so a target outside the domain lowers the confidence
and is flagged (RFC 6186 section 6 asks clients to check with the user).

Thunderbird does not query SRV at all; this is where pop3doctor can find
settings Thunderbird cannot.

The queries themselves are `pop3doctor.net.records` (the nameservers given
by tests or ``--dns-server``, else the system's resolver configuration, each
query hard-bounded by ``timeout``); this module only interprets the answers.
"""

from __future__ import annotations

import asyncio

from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address, is_hostname
from pop3doctor.discovery.model import Candidate, Confidence, Source, SourceReport, Status, UsernameForm, Warning
from pop3doctor.discovery.providers import candidates_from, provider_for_mx, warnings_from
from pop3doctor.endpoint import Security
from pop3doctor.net.records import DnsQueryFailed, MxRecord, SrvRecord, query_mx, query_srv

SRV_SERVICES: tuple[tuple[str, Security], ...] = (
    ("_pop3s._tcp", Security.SSL),
    ("_pop3._tcp", Security.STARTTLS),
)


def _in_domain(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


async def lookup(address: Address, *, timeout: float, nameservers: list[str] | None) -> SourceReport:
    """Source 3: SRV first (the domain's own statement), then MX -> known provider."""
    report = SourceReport(Source.DNS)
    domain = address.domain

    async def srv(service: str) -> list[SrvRecord] | DnsQueryFailed:
        try:
            return await query_srv(f"{service}.{domain}", timeout=timeout, nameservers=nameservers)
        except DnsQueryFailed as exc:
            return exc

    async def mx() -> list[MxRecord] | DnsQueryFailed:
        try:
            return await query_mx(domain, timeout=timeout, nameservers=nameservers)
        except DnsQueryFailed as exc:
            return exc

    srv_answers, mx_answer = await asyncio.gather(asyncio.gather(*(srv(s) for s, _ in SRV_SERVICES)), mx())
    failures = 0
    not_offered = 0
    for (service, security), answer in zip(SRV_SERVICES, srv_answers, strict=True):
        name = f"{service}.{domain}"
        if isinstance(answer, DnsQueryFailed):
            failures += 1
            report.detail.append(m.DNS_FAILED.format(name=name, rdtype="SRV", reason=answer.reason))
            continue
        if len(answer) == 1 and answer[0].target in ("", "."):
            not_offered += 1
            report.detail.append(m.SRV_NOT_OFFERED.format(name=name))
            continue
        for record in answer:
            target = record.target.lower()
            if not is_hostname(target) or not 0 < record.port < 65536:
                continue
            inside = _in_domain(target, domain)
            report.detail.append(m.SRV_FOUND.format(name=name, target=target, port=record.port))
            if not inside:
                report.detail.append(m.SRV_OUTSIDE.format(target=target, domain=domain))
            report.candidates.append(
                Candidate(
                    host=target,
                    port=record.port,
                    security=security,
                    username=address.email,
                    username_form=UsernameForm.UNKNOWN,
                    source=Source.DNS,
                    origin="dns-srv",
                    confidence=Confidence.MEDIUM if inside else Confidence.LOW,
                    evidence=f"{name} SRV {record.priority} {record.weight} {record.port} {target}.",
                )
            )
    # RFC 8314: implicit TLS first; the sort is stable, so SRV priority order holds within a mode.
    report.candidates.sort(key=lambda c: c.security is not Security.SSL)
    if isinstance(mx_answer, DnsQueryFailed):
        failures += 1
        report.detail.append(m.DNS_FAILED.format(name=domain, rdtype="MX", reason=mx_answer.reason))
    elif not report.candidates:
        _from_mx(report, address, mx_answer)
    if report.candidates:
        report.status = Status.ANSWER
        report.pop_offered = True
    elif report.pop_offered is False:  # the MX belongs to a provider without POP
        report.status = Status.ANSWER
    elif not_offered == len(SRV_SERVICES):
        report.status = Status.ANSWER
        report.pop_offered = False
        report.warnings.append(Warning("no-pop", m.SRV_NO_POP, Source.DNS, None))
    elif failures == len(SRV_SERVICES) + 1:
        report.status = Status.ERROR
    return report


def _from_mx(report: SourceReport, address: Address, records: list[MxRecord]) -> None:
    for record in records:
        exchange = record.exchange.lower()
        provider = provider_for_mx(exchange)
        if provider is None:
            report.detail.append(m.MX_UNKNOWN.format(mx=exchange))
            continue
        report.detail.append(m.MX_FOUND.format(mx=exchange, name=provider.name))
        report.warnings += warnings_from(provider, Source.DNS)
        if not provider.pop:
            report.pop_offered = False
            return
        report.candidates = candidates_from(
            provider,
            address,
            source=Source.DNS,
            origin="dns-mx",
            confidence=Confidence.MEDIUM,
            evidence=f"MX {record.preference} {exchange}. -> {provider.id}",
        )
        return

