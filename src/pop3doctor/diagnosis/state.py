"""The state of one diagnosis run and the builders of its findings.

`Run` holds what the stages share (settings, timeouts, the redacted
transcript, the report being filled, values for the remedy placeholders);
`passed`/`problem`/`skipped` turn a stage's outcome into a `Finding` with
the cause catalogue's texts in both languages.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Mapping
from typing import Any

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis import network as nw
from pop3doctor.diagnosis.model import Finding, Report, Settings, Status, Suggestion
from pop3doctor.diagnosis.text import SECURITY_LABELS
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import interception_product
from pop3doctor.knowledge.placeholders import fill
from pop3doctor.knowledge.providers import provider_notes
from pop3doctor.net.errors import NetError
from pop3doctor.net.probe import PortCheck
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.transcript import Transcript


def filled(msg: Msg, values: Mapping[str, object]) -> Msg:
    return Msg(fill(msg.ja, values, "ja"), fill(msg.en, values, "en"))


class Run:
    """State of one diagnosis run; `diagnose` drives it."""

    def __init__(
        self,
        settings: Settings,
        nameservers: list[str] | None,
        extra_ports: tuple[int, ...] = (),
        reference: str | None = None,
    ) -> None:
        self.settings = settings
        self.nameservers = nameservers
        self.extra_ports = extra_ports
        self.reference = reference
        self.facts: nw.NetworkFacts | None = None
        self.addresses: list[tuple[str, str]] = []
        #: The IPv6-only connection check started when IPv4 won the race
        #: before IPv6 finished; read at the end of the run.
        self.ipv6_task: asyncio.Task[PortCheck | None] | None = None
        self.timeouts = Timeouts.from_total(settings.timeout)
        self.transcript = Transcript()
        self.values: dict[str, object] = dict(settings.public())
        self.report = Report(settings)
        self.started = time.monotonic()
        self._stage_start = self.started

    def begin(self) -> None:
        self._stage_start = time.monotonic()

    def elapsed(self) -> float:
        return (time.monotonic() - self._stage_start) * 1000

    def passed(self, stage: str, title: Msg, evidence: dict[str, Any] | None = None, **values: object) -> Finding:
        finding = Finding(
            stage,
            Status.PASS,
            filled(title, {**self.values, **values}),
            evidence=evidence or {},
            elapsed_ms=self.elapsed(),
        )
        self.report.findings.append(finding)
        return finding

    def problem(
        self,
        stage: str,
        cause: str,
        *,
        status: Status | None = None,
        evidence: dict[str, Any] | None = None,
        extra_remedy: list[Msg] | None = None,
        note: Msg | None = None,
    ) -> Finding:
        """Record a failure (or, with ``status=WARN``, a warning) of ``stage``.

        ``note`` is a sentence of this run's evidence added to the cause's
        general explanation ("other ports of the same server answered").
        """
        info = get_cause(cause)
        values = dict(self.values)
        explanation = filled(info.explanation, values)
        if note is not None:
            explanation = Msg(f"{explanation.ja} {note.ja}", f"{explanation.en} {note.en}")
        finding = Finding(
            stage,
            # A stage that stops the run is a failure whatever the cause's usual
            # severity: mail cannot be received now.  Callers pass WARN for the
            # findings that let the run go on.
            status or Status.FAIL,
            filled(info.title, values),
            cause=cause,
            explanation=explanation,
            evidence=evidence or {},
            transcript=self.transcript.tail(),
            remedy=[filled(step, values) for step in info.remedy] + (extra_remedy or []),
            elapsed_ms=self.elapsed(),
        )
        for pnote in provider_notes(self.settings.host, cause):
            finding.remedy.append(
                Msg(
                    m.PROVIDER_NOTE.ja.format(provider=pnote.provider, text=pnote.text.ja),
                    m.PROVIDER_NOTE.en.format(provider=pnote.provider, text=pnote.text.en),
                )
            )
            if pnote.url:
                finding.evidence.setdefault("provider_help", []).append(pnote.url)
        self.report.findings.append(finding)
        return finding

    def skipped(self, stage: str, title: Msg) -> Finding:
        finding = Finding(stage, Status.SKIP, filled(title, self.values))
        self.report.findings.append(finding)
        return finding

    def suggest(self, suggestion: Suggestion | None) -> None:
        if suggestion is None:
            return
        self.report.suggested = suggestion
        self.values["suggested_port"] = suggestion.port
        self.values["suggested_security"] = SECURITY_LABELS[suggestion.security].en
        self.values["suggested_host"] = suggestion.host
        self.values["suggested_user"] = suggestion.user


def evidence_of(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, NetError):
        data = exc.evidence()
        cert = getattr(exc, "cert", None)
        if cert is not None:
            data["certificate"] = cert.to_dict()
            product = interception_product(cert)
            if product:
                data["intercepted_by"] = product
        return data
    status = getattr(exc, "status", None)
    if status is not None:
        return {"error": type(exc).__name__, "server_said": str(status)}
    return {"error": type(exc).__name__, "detail": str(exc)[:300]}


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
