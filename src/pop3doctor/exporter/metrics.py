"""A probe's result as Prometheus metrics, in a registry of its own.

blackbox_exporter's way: each ``/probe`` request gets a fresh
`CollectorRegistry`, so a scrape sees exactly this probe's values -- no series
left over from another target, no state shared between requests.  The names
follow Prometheus's conventions: base units (seconds, bytes), ``_info`` for a
constant 1 that carries labels, ``_timestamp_seconds`` for a point in time.

Both modules write the same names, so one dashboard serves both:

- ``pop3doctor_up`` 1 when a mail program could receive from there now;
- ``pop3doctor_duration_seconds{stage}`` per stage that ran;
- ``pop3doctor_cert_expiry_timestamp_seconds``, ``pop3doctor_cert_trusted``,
  ``pop3doctor_tls_info{version,cipher}`` when TLS was seen;
- ``pop3doctor_messages``, ``pop3doctor_mailbox_bytes`` after a login;
- ``pop3doctor_cause_info{cause}`` the cause code (knowledge/data/causes.toml), "ok" when none;
- ``pop3doctor_probe_duration_seconds`` the whole probe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Gauge

from pop3doctor.diagnosis.model import Report, Status
from pop3doctor.diagnosis.serverinfo import PortReport, ServerInfo
from pop3doctor.i18n import catalog

_t = catalog("exporter")
_HELP = _t.group("HELP")

PREFIX = "pop3doctor"

#: The probe's timing names, as the diagnosis's stage names: one label set for both modules.
_PROBE_STAGES = {
    "resolve": "resolve",
    "connect": "connect",
    "tls": "tls",
    "greeting": "greeting",
    "capa": "capabilities",
    "capa_after_tls": "capabilities_after_tls",
}


def help_text(name: str) -> str:
    """A metric's HELP line: English, then Japanese (the exposition format is UTF-8)."""
    text = _HELP[name]
    return f"{text.en} / {text.ja}"


class ProbeMetrics:
    """The metrics of one probe, registered in a registry of their own (`registry`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.up = self._gauge("up")
        self.duration = self._gauge("duration_seconds", ["stage"])
        self.cause = self._gauge("cause_info", ["cause"])
        self.probe_duration = self._gauge("probe_duration_seconds")
        # Only written when there is something to say: an absent series means
        # "not seen" (no TLS, no login), which a 0 would misstate.
        self._optional: dict[str, Gauge] = {}
        self.is_up = False

    def set_up(self, up: bool) -> None:
        self.is_up = up
        self.up.set(1 if up else 0)

    def _gauge(self, name: str, labels: Iterable[str] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", help_text(name), list(labels), registry=self.registry)

    def optional(self, name: str, labels: Iterable[str] = ()) -> Gauge:
        if name not in self._optional:
            self._optional[name] = self._gauge(name, labels)
        return self._optional[name]

    def set_cause(self, cause: str | None) -> None:
        self.cause.labels(cause=cause or "ok").set(1)

    def set_certificate(self, not_after: str | None, trusted: bool | None) -> None:
        expiry = _timestamp(not_after)
        if expiry is not None:
            self.optional("cert_expiry_timestamp_seconds").set(expiry)
        if trusted is not None:
            self.optional("cert_trusted").set(1 if trusted else 0)

    def set_tls(self, version: str | None, cipher: str | None) -> None:
        if version:
            self.optional("tls_info", ["version", "cipher"]).labels(version=version, cipher=cipher or "").set(1)


def _timestamp(iso: object) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (UTC when it names no zone); None when unreadable."""
    if not isinstance(iso, str):
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# -- module pop3_probe --------------------------------------------------------------


def probe_metrics(info: ServerInfo, seconds: float) -> ProbeMetrics:
    """Metrics of a probe (no login) of one port; ``seconds`` is the probe's wall time."""
    metrics = ProbeMetrics()
    metrics.probe_duration.set(seconds)
    for name, ms in info.timings_ms.items():
        metrics.duration.labels(stage=_PROBE_STAGES.get(name, name)).set(ms / 1000)
    port = info.ports[0] if info.ports else None
    if port is None:  # nothing to connect to: the name did not resolve
        metrics.set_up(False)
        metrics.set_cause(info.cause or "host-not-found")
        return metrics
    for name, ms in port.timings_ms.items():
        metrics.duration.labels(stage=_PROBE_STAGES.get(name, name)).set(ms / 1000)
    cause = _port_cause(port)
    metrics.set_up(cause is None)
    metrics.set_cause(cause)
    metrics.set_tls(port.tls_version, port.cipher)
    if port.cert is not None:
        metrics.set_certificate(port.cert.not_after, port.cert.trusted)
    if port.ok:
        metrics.optional("plaintext_login_offered").set(1 if port.plaintext_login_possible else 0)
    return metrics


def _port_cause(port: PortReport) -> str | None:
    """Why a mail program could not use this port; None when it could.

    A certificate that is not trusted counts even when the probe read the
    greeting (it may have looked past the certificate to describe it): a mail
    program that checks certificates stops there.
    """
    if not port.ok:
        return port.cause or "not-pop3"
    if port.cert is not None and not port.cert.trusted:
        return port.cert.trust_error or "cert-untrusted"
    return None


# -- module account -------------------------------------------------------------------


def report_metrics(report: Report, seconds: float) -> ProbeMetrics:
    """Metrics of an account's diagnosis (`pop3doctor.diagnosis.runner.diagnose`)."""
    metrics = ProbeMetrics()
    metrics.probe_duration.set(seconds)
    metrics.set_up(report.verdict != "problem")
    metrics.set_cause(report.cause)
    longest: dict[str, float] = {}
    for finding in report.findings:
        if finding.stage == "summary" or finding.status is Status.SKIP:
            continue
        # A stage can report twice (mailbox, then its warning): each finding's
        # time runs from the stage's start, so the longest is the stage's.
        longest[finding.stage] = max(longest.get(finding.stage, 0.0), finding.elapsed_ms)
        evidence = finding.evidence
        certificate = evidence.get("certificate")
        if isinstance(certificate, Mapping):
            trusted = _trusted(finding.stage, finding.status, finding.cause)
            metrics.set_certificate(certificate.get("not_after"), trusted)
        if finding.stage == "tls" and finding.status is Status.PASS:
            metrics.set_tls(_str(evidence.get("version")), _str(evidence.get("cipher")))
        if finding.stage == "mailbox" and finding.status is Status.PASS:
            _mailbox(metrics, evidence)
    for stage, ms in longest.items():
        metrics.duration.labels(stage=stage).set(ms / 1000)
    return metrics


def _trusted(stage: str, status: Status, cause: str | None) -> bool | None:
    """Whether the certificate in a finding was trusted: yes when TLS passed, no when a
    certificate cause stopped it; unknown otherwise."""
    if stage == "tls" and status is Status.PASS:
        return True
    if cause is not None and (cause.startswith("cert-") or cause == "tls-intercepted"):
        return False
    return None


def _mailbox(metrics: ProbeMetrics, evidence: Mapping[str, Any]) -> None:
    count, octets = evidence.get("count"), evidence.get("octets")
    if isinstance(count, int):
        metrics.optional("messages").set(count)
    if isinstance(octets, int):
        metrics.optional("mailbox_bytes").set(octets)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
