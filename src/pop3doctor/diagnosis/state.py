"""The state of one diagnosis run: the report being written, and what the steps hand down.

`Run` holds what every step shares and nobody replaces (settings, timeouts,
the redacted transcript, the report being filled, values for the remedy
placeholders); `passed`/`problem`/`skipped` turn a step's outcome into a
`Finding` with the cause catalogue's texts in both languages.

`RunState` carries what one step provides to the later ones (the addresses,
the connected client, the capabilities, ...); which step writes which field
is declared in the step table (`pipeline.py`), which checks it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.localnet import NetworkFacts
from pop3doctor.diagnosis.model import Finding, Report, Settings, Status, Suggestion
from pop3doctor.diagnosis.text import SECURITY_LABELS
from pop3doctor.endpoint import Security
from pop3doctor.errors import Pop3DoctorError
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import interception_product
from pop3doctor.knowledge.placeholders import fill
from pop3doctor.knowledge.providers import STATUS_PAGE_CAUSES, provider_notes, status_page_for
from pop3doctor.net.attempt import Attempt
from pop3doctor.net.errors import NetError, TlsHandshakeFailed
from pop3doctor.net.probe import PortCheck
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.capabilities import Capabilities
from pop3doctor.protocol.events import Greeting
from pop3doctor.transcript import Transcript

T = TypeVar("T")

#: What a failing server or network raises: the errors a diagnosis turns into
#: findings (`pipeline.run_steps` is where).  Anything else is a bug and propagates.
#: `LocalProtocolError` is one too, but it is our own misuse of the protocol: the
#: places that catch `DIAGNOSABLE` let it through first.
DIAGNOSABLE = (Pop3DoctorError,)
Diagnosable = Pop3DoctorError


def filled(msg: Msg, values: Mapping[str, object]) -> Msg:
    return Msg(fill(msg.ja, values, "ja"), fill(msg.en, values, "en"))


class Run:
    """The report being written and what every step shares (read-only but for the report and ``values``)."""

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
        self.timeouts = Timeouts.from_total(settings.timeout)
        self.transcript = Transcript()
        self.values: dict[str, object] = dict(settings.public())
        self.report = Report(settings)
        self.started = time.monotonic()
        self._stage_start = self.started
        #: The step under way and its report stage (set by `pipeline.run_steps`),
        #: for a finding about the run itself, such as its deadline passing.
        self.step = "network"
        self.stage = "network"

    @property
    def security(self) -> Security:
        return self.settings.security

    def new_client(self) -> Pop3Client:
        """A client for the settings under test (not connected yet): the one place the run builds one."""
        return Pop3Client.from_endpoint(
            self.settings, timeouts=self.timeouts, nameservers=self.nameservers, transcript=self.transcript
        )

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
        page = status_page_for(self.settings.host) if cause in STATUS_PAGE_CAUSES else None
        if page is not None:
            finding.remedy.append(m.PROVIDER_STATUS_PAGE.format(provider=page.provider, url=page.url))
            finding.evidence["status_page"] = page.url
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


# -- what the steps hand down ----------------------------------------------------------


@dataclass(frozen=True)
class Options:
    """What the caller asked for besides the settings (read-only for every step)."""

    password: str | None
    try_username_forms: bool = False
    email_domain: str | None = None


@dataclass(frozen=True)
class Lookup:
    """This computer's network and the name lookup, done together by the network step."""

    facts: NetworkFacts
    addresses: list[tuple[str, str]]
    #: Why the lookup failed (the resolve step explains it), or None.
    error: NetError | None = None


@dataclass(frozen=True)
class Connected:
    """TCP to the POP3 port worked."""

    attempts: list[Attempt]
    #: The implicit-TLS handshake failed after TCP worked (the tls step reports it).
    tls_error: TlsHandshakeFailed | None = None
    #: The IPv6-only connection check started when IPv4 won the race before
    #: IPv6 finished; read at the end of the run.
    ipv6_check: asyncio.Task[PortCheck | None] | None = None


@dataclass(frozen=True)
class Mailbox:
    count: int
    octets: int


@dataclass
class RunState:
    """Passed down the steps.  Each field below ``options`` is written by one step only
    (the table in `pipeline.py` declares which, and checks it); None until then.
    """

    run: Run
    options: Options
    lookup: Lookup | None = None
    addresses: list[tuple[str, str]] | None = None
    #: Created by the connect step before it connects; closed by the pipeline.
    client: Pop3Client | None = None
    connected: Connected | None = None
    #: The server's greeting (the greeting step stops the run without it).
    greeting: Greeting | None = None
    #: The capabilities login and the mailbox check go by (after STARTTLS, if any).
    caps: Capabilities | None = None
    #: The login method that worked.
    mechanism: str | None = None
    mailbox: Mailbox | None = None

    def provided(self) -> dict[str, object]:
        """The fields steps provide, with their current values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("run", "options")}


def need(value: T | None) -> T:
    """A step's input; None means the step table lets a step run before its provider (a bug)."""
    if value is None:
        raise RuntimeError("a diagnosis step ran before the step that provides its input")
    return value
