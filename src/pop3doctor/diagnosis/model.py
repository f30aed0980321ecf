"""What a diagnosis produces: findings per stage, and the report around them.

These objects are what every front end renders (terminal, JSON, Markdown,
web).  They hold no secrets: settings are stored without the password, and
transcripts are already redacted by the client.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any

from pop3doctor.endpoint import Endpoint
from pop3doctor.i18n import Lang, Msg
from pop3doctor.knowledge.causes import get_cause

SCHEMA = "pop3doctor.report/1"


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 -- a status, not a password
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


#: Stages in the order they run (the JSON ``stage`` values).
STAGES = (
    "network",
    "resolve",
    "connect",
    "tls",
    "greeting",
    "capabilities",
    "login",
    "mailbox",
    "retrieval",
    "summary",
)


#: The connect timeout a diagnosis uses unless told otherwise (seconds).
DEFAULT_TIMEOUT = 8.0


@dataclass(frozen=True)
class Settings(Endpoint):
    """The POP3 settings under test (never the password): an endpoint and the run's timeout."""

    timeout: float = field(default=DEFAULT_TIMEOUT, kw_only=True)

    @classmethod
    def of(cls, endpoint: Endpoint, *, timeout: float = DEFAULT_TIMEOUT) -> Settings:
        """``endpoint`` under test with ``timeout``."""
        return cls(**{f.name: getattr(endpoint, f.name) for f in fields(Endpoint)}, timeout=timeout)


#: Settings that were proven to work (or to get further) by a probe; reports
#: show its `Endpoint.public` part as "suggested_settings".
Suggestion = Endpoint


@dataclass
class Finding:
    stage: str
    status: Status
    title: Msg
    cause: str | None = None
    explanation: Msg | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    transcript: list[str] = field(default_factory=list)
    remedy: list[Msg] = field(default_factory=list)
    elapsed_ms: float = 0.0
    suggestion: Suggestion | None = None

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "status": self.status.value,
            "cause": self.cause,
            "title": self.title(lang),
            "explanation": self.explanation(lang) if self.explanation else None,
            "evidence": self.evidence,
            "transcript": self.transcript,
            "remedy": [step(lang) for step in self.remedy],
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass
class Report:
    settings: Settings
    findings: list[Finding] = field(default_factory=list)
    suggested: Suggestion | None = None

    @property
    def verdict(self) -> str:
        statuses = {f.status for f in self.findings}
        if Status.FAIL in statuses:
            return "problem"
        if Status.WARN in statuses:
            return "warning"
        return "ok"

    @property
    def primary(self) -> Finding | None:
        """The finding that explains the verdict: the first failure, else the first warning."""
        for wanted in (Status.FAIL, Status.WARN):
            for finding in self.findings:
                if finding.status is wanted and finding.cause:
                    return finding
        return None

    @property
    def cause(self) -> str | None:
        primary = self.primary
        if primary is not None:
            return primary.cause
        return "ok" if self.findings and self.verdict == "ok" else None

    @property
    def exit_code(self) -> int:
        return {"ok": 0, "warning": 1, "problem": 2}[self.verdict]

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        cause = self.cause
        info = get_cause(cause) if cause else None
        return {
            "schema": SCHEMA,
            "verdict": self.verdict,
            "cause": cause,
            "title": info.title(lang) if info else None,
            "settings": self.settings.public(),
            "suggested_settings": self.suggested.public() if self.suggested else None,
            "findings": [f.to_dict(lang) for f in self.findings if f.stage != "summary"],
        }
