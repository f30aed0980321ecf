"""What discovery finds: candidate settings, warnings and per-source reports.

Everything here is plain data with a stable JSON form (schema
``pop3doctor.discovery/1``); the texts a user reads are `Msg` pairs so one
result renders in Japanese or English.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from pop3doctor.endpoint import Endpoint, Security
from pop3doctor.i18n import Lang, Msg

SCHEMA = "pop3doctor.discovery/1"


class Source(enum.StrEnum):
    """The four sources, in priority order (a lower index wins)."""

    PROVIDER = "provider"  # bundled knowledge (knowledge/data/providers_pop3.toml)
    AUTOCONFIG = "autoconfig"  # config-v1.1.xml from the domain or the ISPDB
    DNS = "dns"  # RFC 6186 SRV, then MX mapped to a known provider
    GUESS = "guess"  # pop./pop3./mail./<domain> probed with CAPA only

    @property
    def priority(self) -> int:
        return list(Source).index(self)


class Confidence(enum.StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class UsernameForm(enum.StrEnum):
    ADDRESS = "address"  # the whole e-mail address
    LOCAL_PART = "local-part"  # the part before the @
    ACCOUNT_ID = "account-id"  # an ID the provider issued; cannot be derived
    LITERAL = "literal"  # a fixed name given by autoconfig
    UNKNOWN = "unknown"  # nobody said; the address is the common default


@dataclass(frozen=True)
class Candidate:
    """One POP3 setting a source proposes.

    ``origin`` refines ``source`` ("provider", "autoconfig", "ispdb",
    "dns-srv", "dns-mx", "guess"); ``evidence`` says exactly where it came
    from (a URL, a DNS record, a probed endpoint).  ``verified`` is True only
    when a real server answered the greeting and CAPA at this endpoint.
    """

    host: str
    port: int
    security: Security
    username: str
    username_form: UsernameForm
    source: Source
    origin: str
    confidence: Confidence
    evidence: str
    provider: str | None = None
    auth: tuple[str, ...] = ()
    verified: bool = False

    @property
    def key(self) -> tuple[str, int, Security]:
        return (self.host.lower(), self.port, self.security)

    def to_endpoint(self, user: str | None = None) -> Endpoint:
        """These settings as an endpoint to check or fetch from; a non-empty ``user`` replaces the proposed one.

        The proposed user name is "" when only the provider knows it
        (`UsernameForm.ACCOUNT_ID`); callers that need one pass their own.
        """
        return Endpoint(self.host, self.port, self.security, user or self.username)

    def to_dict(self) -> dict[str, object]:
        return {
            "host": self.host,
            "port": self.port,
            "security": self.security.value,
            "username": self.username,
            "username_form": self.username_form.value,
            "source": self.source.value,
            "origin": self.origin,
            "confidence": self.confidence.value,
            "evidence": self.evidence,
            "provider": self.provider,
            "auth": list(self.auth),
            "verified": self.verified,
        }


@dataclass(frozen=True)
class Warning:
    """Something that will bite before the first successful login."""

    code: str
    text: Msg
    source: Source
    url: str | None = None

    def to_dict(self, lang: Lang) -> dict[str, object]:
        return {"code": self.code, "message": self.text(lang), "source": self.source.value, "url": self.url}


class Status(enum.StrEnum):
    ANSWER = "answer"  # settings (or a definite "no POP") found
    NOTHING = "nothing"  # looked, found nothing
    ERROR = "error"  # could not look (details in ``detail``)
    TIMEOUT = "timeout"  # still running at the deadline
    SKIPPED = "skipped"  # a higher-priority source had already answered
    DISABLED = "disabled"  # turned off by the caller


@dataclass
class SourceReport:
    """What one source did; ``detail`` lists attempts and errors (bilingual)."""

    source: Source
    status: Status = Status.NOTHING
    candidates: list[Candidate] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    #: False when the source says definitely "this domain offers no POP".
    pop_offered: bool | None = None
    detail: list[Msg] = field(default_factory=list)
    elapsed_ms: float = 0.0

    @property
    def answered(self) -> bool:
        return bool(self.candidates) or self.pop_offered is False

    def to_dict(self, lang: Lang) -> dict[str, object]:
        return {
            "source": self.source.value,
            "status": self.status.value,
            "candidates": len(self.candidates),
            "pop_offered": self.pop_offered,
            "detail": [d(lang) for d in self.detail],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass
class DiscoveryResult:
    """The answer: ``chosen`` first, then ``alternatives``, with their sources.

    ``pop_offered`` is False when the winning source says the provider has no
    POP; ``chosen`` is then None.
    """

    email: str
    domain: str
    chosen: Candidate | None
    alternatives: list[Candidate]
    warnings: list[Warning]
    sources: list[SourceReport]
    pop_offered: bool | None
    elapsed_ms: float

    def to_dict(self, lang: Lang) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "email": self.email,
            "domain": self.domain,
            "pop_offered": self.pop_offered,
            "chosen": None if self.chosen is None else self.chosen.to_dict(),
            "alternatives": [c.to_dict() for c in self.alternatives],
            "warnings": [w.to_dict(lang) for w in self.warnings],
            "sources": [s.to_dict(lang) for s in self.sources],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }
