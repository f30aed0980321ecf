"""Source 1: bundled provider knowledge (``knowledge/data/providers_pop3.toml``).

Also used by the DNS source: an MX host under a provider's ``mx`` suffix
means the domain's mail is hosted there (a custom domain at Google, Microsoft
365, ...), so that provider's settings apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.discovery.address import Address
from pop3doctor.discovery.messages import PLAINTEXT_ONLY, PROVIDER_MATCH
from pop3doctor.discovery.model import Candidate, Confidence, Source, SourceReport, Status, UsernameForm, Warning
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Msg
from pop3doctor.knowledge._data import load

DATA_FILE = "providers_pop3.toml"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    security: Security
    source: str


@dataclass(frozen=True)
class ProviderWarning:
    code: str
    text: Msg
    source: str


@dataclass(frozen=True)
class Provider:
    """One row of the table; ``servers`` is empty when ``pop`` is False."""

    id: str
    name: str
    domains: tuple[str, ...]
    mx: tuple[str, ...]
    pop: bool
    pop_source: str | None
    username: UsernameForm
    username_source: str | None
    servers: tuple[Server, ...]
    warnings: tuple[ProviderWarning, ...]


def parse_provider(raw: dict[str, Any]) -> Provider:
    """One ``[[provider]]`` table; raises KeyError/ValueError when malformed."""
    return Provider(
        id=str(raw["id"]),
        name=str(raw["name"]),
        domains=tuple(str(d).lower() for d in raw["domains"]),
        mx=tuple(str(m).lower() for m in raw.get("mx", ())),
        pop=bool(raw.get("pop", True)),
        pop_source=raw.get("pop_source"),
        username=UsernameForm(raw.get("username", "address")),
        username_source=raw.get("username_source"),
        servers=tuple(
            Server(str(s["host"]), int(s["port"]), Security(s["security"]), str(s["source"]))
            for s in raw.get("server", ())
        ),
        warnings=tuple(
            ProviderWarning(str(w["code"]), Msg(ja=str(w["ja"]), en=str(w["en"])), str(w["source"]))
            for w in raw.get("warning", ())
        ),
    )


@cache
def providers() -> tuple[Provider, ...]:
    return tuple(parse_provider(p) for p in load(DATA_FILE)["provider"])


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def provider_for_domain(domain: str) -> Provider | None:
    """The provider serving addresses at ``domain`` (exact or sub-domain match)."""
    domain = domain.lower().rstrip(".")
    for provider in providers():
        if any(_under(domain, d) for d in provider.domains):
            return provider
    return None


def provider_for_mx(mx_host: str) -> Provider | None:
    """The provider whose mail hosts include ``mx_host``; the longest suffix wins.

    Longest, because one operator's MX zone can host two providers (Yahoo's
    am0.yahoodns.net and AOL's gm0.yahoodns.net).
    """
    mx_host = mx_host.lower().rstrip(".")
    best: tuple[int, Provider] | None = None
    for provider in providers():
        for suffix in provider.mx:
            if _under(mx_host, suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), provider)
    return None if best is None else best[1]


def candidates_from(
    provider: Provider, address: Address, *, source: Source, origin: str, confidence: Confidence, evidence: str
) -> list[Candidate]:
    return [
        Candidate(
            host=server.host,
            port=server.port,
            security=server.security,
            username=address.username(provider.username),
            username_form=provider.username,
            source=source,
            origin=origin,
            confidence=confidence,
            evidence=f"{evidence} ({server.source})",
            provider=provider.name,
        )
        for server in provider.servers
    ]


def warnings_from(provider: Provider, source: Source) -> list[Warning]:
    found = [Warning(w.code, w.text, source, w.source) for w in provider.warnings]
    if provider.servers and all(s.security is Security.PLAIN for s in provider.servers):
        found.append(Warning("plaintext-only", PLAINTEXT_ONLY, source, provider.servers[0].source))
    return found


def lookup(address: Address) -> SourceReport:
    """Source 1; instantaneous (no I/O beyond the packaged data file)."""
    report = SourceReport(Source.PROVIDER)
    provider = provider_for_domain(address.domain)
    if provider is None:
        return report
    report.status = Status.ANSWER
    report.detail.append(PROVIDER_MATCH.format(name=provider.name))
    report.warnings = warnings_from(provider, Source.PROVIDER)
    if not provider.pop:
        report.pop_offered = False
        return report
    report.pop_offered = True
    report.candidates = candidates_from(
        provider,
        address,
        source=Source.PROVIDER,
        origin="provider",
        confidence=Confidence.HIGH,
        evidence=f"providers_pop3.toml: {provider.id}",
    )
    return report
