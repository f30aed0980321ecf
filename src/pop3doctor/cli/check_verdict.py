"""What ``pop3doctor check`` reads from a diagnosis (or a login-free probe): a state per cause, and the figures.

Pure functions over finished results: `read_report` for a diagnosis,
`read_server_info` for ``--no-login``.  Each gives a `Reading`: the problems
found, each with its monitoring state and its text, and the measurements that
become perfdata.  Thresholds are applied later, by the command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pop3doctor.cli.plugin_format import State, worst
from pop3doctor.diagnosis.model import Finding, Report, Status
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause

#: The causes whose monitoring state differs from what the finding's status
#: says (FAIL -> CRITICAL: mail cannot be received now; WARN -> WARNING: it
#: works, with a problem to look at).  Every other cause follows its finding.
CAUSE_STATES: dict[str, State] = {
    "ok": State.OK,
    # A mailbox kept for monitoring is normally empty: for a beginner "no mail"
    # is a clue (another device took it); for a monitor it is the healthy case.
    "mailbox-empty": State.OK,
    # The whole check did not finish within -t/--timeout: the guidelines ask
    # for UNKNOWN there, with the step it was in (the text names it).
    "diagnosis-deadline": State.UNKNOWN,
    # The monitoring host itself has no network, or its own DNS server does
    # not answer: nothing was learnt about the mail server, which is what
    # UNKNOWN means ("could not determine the state", the guidelines' example
    # being "no available network connection").  A name that does not exist
    # (host-not-found) is the server's problem, and stays CRITICAL.
    "no-network": State.UNKNOWN,
    "dns-unavailable": State.UNKNOWN,
}

_STATUS_STATES = {Status.FAIL: State.CRITICAL, Status.WARN: State.WARNING}


def state_for(cause: str | None, status: Status = Status.FAIL) -> State:
    """The monitoring state of a finding with ``cause`` and ``status``."""
    if cause in CAUSE_STATES:
        return CAUSE_STATES[cause]
    return _STATUS_STATES.get(status, State.OK)


@dataclass(frozen=True)
class Problem:
    """One thing found: its state, cause code and ja/en text."""

    state: State
    cause: str
    text: Msg


@dataclass
class Reading:
    """What one check saw.  Times are seconds; None where that step was not reached."""

    problems: list[Problem] = field(default_factory=list)
    connect_s: float | None = None
    tls_s: float | None = None
    login_s: float | None = None
    retrieval_s: float | None = None
    total_s: float | None = None
    messages: int | None = None
    octets: int | None = None
    cert_not_after: dt.datetime | None = None
    #: The step a deadline stopped (for the UNKNOWN text).
    deadline_stage: str | None = None

    @property
    def state(self) -> State:
        return worst(*(p.state for p in self.problems))

    def cert_days_left(self, now: dt.datetime | None = None) -> float | None:
        if self.cert_not_after is None:
            return None
        now = now or dt.datetime.now(dt.UTC)
        return (self.cert_not_after - now).total_seconds() / 86400


# --- a diagnosis ----------------------------------------------------------------


def read_report(report: Report) -> Reading:
    """The problems and figures of a finished diagnosis."""
    reading = Reading()
    by_stage: dict[str, Finding] = {}
    for finding in report.findings:
        if finding.stage == "summary":
            reading.total_s = finding.elapsed_ms / 1000
            continue
        if finding.status is Status.PASS:
            by_stage.setdefault(finding.stage, finding)
        elif finding.status in _STATUS_STATES and finding.cause:
            reading.problems.append(Problem(state_for(finding.cause, finding.status), finding.cause, finding.title))
            if finding.cause == "diagnosis-deadline":
                reading.deadline_stage = finding.stage
        _read_certificate(reading, finding)
        if finding.stage == "mailbox" and "count" in finding.evidence:
            reading.messages = int(finding.evidence["count"])
            reading.octets = int(finding.evidence.get("octets", 0))
    _read_times(reading, by_stage, report.settings.security)
    return reading


def _read_times(reading: Reading, passed: dict[str, Finding], security: Security) -> None:
    """Stage times from the passing findings.

    The TCP connect is the winning connection attempt's own time.  The TLS
    time is the handshake's own (``handshake_ms`` in the tls finding's
    evidence) where the net layer measured it; otherwise the step table
    (`pop3doctor.diagnosis.pipeline`) decides what the findings' clocks hold:
    with SSL/TLS the handshake happens while connecting, so the connect and
    tls findings share one clock, and the TLS time is what follows the TCP
    connect; with STARTTLS the tls finding's clock starts at the CAPA asked
    just before STLS.  Either way that fallback also holds building the TLS
    context (loading the CA certificates), some milliseconds.
    """
    connect = passed.get("connect")
    if connect is not None:
        tcp_ms = _winning_attempt_ms(connect.evidence) or connect.elapsed_ms
        reading.connect_s = tcp_ms / 1000
        tls = passed.get("tls")
        handshake = tls.evidence.get("handshake_ms") if tls is not None else None
        if isinstance(handshake, int | float):
            reading.tls_s = handshake / 1000
        elif tls is not None:
            tls_ms = tls.elapsed_ms - tcp_ms if security is Security.SSL else tls.elapsed_ms
            reading.tls_s = max(tls_ms, 0.0) / 1000
    for stage, name in (("login", "login_s"), ("retrieval", "retrieval_s")):
        if stage in passed:
            setattr(reading, name, passed[stage].elapsed_ms / 1000)


def _winning_attempt_ms(evidence: dict[str, Any]) -> float | None:
    for attempt in evidence.get("attempts", ()):
        if isinstance(attempt, dict) and attempt.get("outcome") == "ok":
            return float(attempt["elapsed_ms"])
    return None


def _read_certificate(reading: Reading, finding: Finding) -> None:
    # A passing TLS step files the certificate as "certificate"; a failing one
    # (expired, wrong host ...) as "cert" beside the error's facts.
    cert = finding.evidence.get("certificate") or finding.evidence.get("cert")
    if finding.stage == "tls" and isinstance(cert, dict) and cert.get("not_after"):
        reading.cert_not_after = dt.datetime.fromisoformat(str(cert["not_after"]))


# --- a probe without login (--no-login) -------------------------------------------


class _Cert(Protocol):
    @property
    def not_after(self) -> str: ...


class _Port(Protocol):
    @property
    def ok(self) -> bool: ...
    @property
    def cause(self) -> str | None: ...
    @property
    def timings_ms(self) -> dict[str, float]: ...
    @property
    def cert(self) -> _Cert | None: ...


class ServerInfoLike(Protocol):
    """The part of `pop3doctor.diagnosis.serverinfo.ServerInfo` read here (issue 19's probe contract)."""

    @property
    def cause(self) -> str | None: ...
    @property
    def ports(self) -> Sequence[_Port]: ...


def read_server_info(info: ServerInfoLike) -> Reading:
    """The problems and figures of `probe_server` on the one endpoint ``check`` watches."""
    reading = Reading()
    if info.cause is not None:
        reading.problems.append(Problem(state_for(info.cause), info.cause, get_cause(info.cause).title))
    for port in info.ports:
        if not port.ok:
            cause = port.cause or "not-pop3"
            reading.problems.append(Problem(state_for(cause), cause, get_cause(cause).title))
        timings = port.timings_ms
        if "connect" in timings:
            reading.connect_s = timings["connect"] / 1000
        if "tls" in timings:
            reading.tls_s = timings["tls"] / 1000
        if port.cert is not None:
            reading.cert_not_after = dt.datetime.fromisoformat(port.cert.not_after.replace("Z", "+00:00"))
    return reading
