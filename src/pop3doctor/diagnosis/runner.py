"""Run every stage against the real server, as an async generator of findings.

    async for finding in diagnose(settings, password):
        show(finding)            # each stage as it completes

The order follows the path a mail program takes: resolve, connect, TLS,
greeting, capabilities, login, mailbox, a retrieval test (TOP of the newest
message: never RETR of everything, never DELE).  The first failing stage ends
the run; when it is a connection or TLS failure, the alternatives (other port,
other security mode) are probed in parallel so the report can name the
setting to change.  The password is used for at most one login attempt per
run by default: accounts lock after a few failures.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from pop3doctor.client import Pop3Client, Security
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import best, probe, probe_alternatives
from pop3doctor.diagnosis.model import Finding, Report, Settings, Status, Suggestion
from pop3doctor.diagnosis.text import SECURITY_LABELS
from pop3doctor.errors import AuthError, PolicyError
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import cause_for_error, interception_product
from pop3doctor.knowledge.placeholders import fill
from pop3doctor.knowledge.providers import provider_notes
from pop3doctor.net.errors import CertificateProblem, NetError, ReadTimeout, TlsHandshakeFailed
from pop3doctor.net.resolve import resolve
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import ProtocolError
from pop3doctor.transcript import Transcript

#: A message larger than this gets a warning: many mail programs and
#: providers time out or refuse messages of this size (Gmail's own limit is 25 MB).
LARGE_MESSAGE = 25 * 1024 * 1024

#: SASL mechanisms that take a bearer token, not a password.
_OAUTH = frozenset({"XOAUTH2", "OAUTHBEARER"})


def filled(msg: Msg, values: Mapping[str, object]) -> Msg:
    return Msg(fill(msg.ja, values, "ja"), fill(msg.en, values, "en"))


class _Run:
    """State of one diagnosis run; `diagnose` drives it."""

    def __init__(self, settings: Settings, nameservers: list[str] | None, extra_ports: tuple[int, ...] = ()) -> None:
        self.settings = settings
        self.nameservers = nameservers
        self.extra_ports = extra_ports
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
    ) -> Finding:
        info = get_cause(cause)
        values = dict(self.values)
        finding = Finding(
            stage,
            # A stage that stops the run is a failure whatever the cause's usual
            # severity: mail cannot be received now.  Callers pass WARN for the
            # findings that let the run go on.
            status or Status.FAIL,
            filled(info.title, values),
            cause=cause,
            explanation=filled(info.explanation, values),
            evidence=evidence or {},
            transcript=self.transcript.tail(),
            remedy=[filled(step, values) for step in info.remedy] + (extra_remedy or []),
            elapsed_ms=self.elapsed(),
        )
        for note in provider_notes(self.settings.host, cause):
            finding.remedy.append(
                Msg(
                    m.PROVIDER_NOTE.ja.format(provider=note.provider, text=note.text.ja),
                    m.PROVIDER_NOTE.en.format(provider=note.provider, text=note.text.en),
                )
            )
            if note.url:
                finding.evidence.setdefault("provider_help", []).append(note.url)
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


def _evidence(exc: BaseException) -> dict[str, Any]:
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


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _full_address(settings: Settings, domain: str | None) -> str | None:
    """The user name as a full address, when the user gave only the local part."""
    if "@" in settings.user:
        return None
    if domain is None:
        labels = settings.host.split(".")
        if _is_ip(settings.host) or len(labels) < 2:
            return None
        drop = labels[0].lower() in ("pop", "pop3", "mail", "pop-mail", "mx", "in", "incoming")
        domain = ".".join(labels[1:] if drop and len(labels) > 2 else labels)
    return f"{settings.user}@{domain}"


async def diagnose(
    settings: Settings,
    password: str | None,
    *,
    nameservers: list[str] | None = None,
    try_username_forms: bool = False,
    email_domain: str | None = None,
    extra_ports: tuple[int, ...] = (),
    report: Report | None = None,
) -> AsyncIterator[Finding]:
    """Yield one `Finding` per stage as it completes; the last has stage "summary".

    ``extra_ports`` are probed as alternatives besides 995 and 110 (the lab and
    tests serve on unprivileged ports).  Pass a `Report` to have it filled as
    well (front ends render it at the end).
    """
    run = _Run(settings, nameservers, extra_ports)
    if report is not None:
        run.report = report
    async for finding in _stages(run, password, try_username_forms, email_domain):
        yield finding
    yield _summary(run)


def _summary(run: _Run) -> Finding:
    report = run.report
    primary = report.primary
    if primary is None:
        finding = Finding("summary", Status.PASS, m.SUMMARY_OK, cause="ok")
    else:
        finding = Finding(
            "summary",
            primary.status,
            primary.title,
            cause=primary.cause,
            explanation=primary.explanation,
            remedy=primary.remedy,
        )
    finding.suggestion = report.suggested
    finding.elapsed_ms = (time.monotonic() - run.started) * 1000
    report.findings.append(finding)
    return finding


async def _alternatives(run: _Run) -> dict[str, Any]:
    results = await probe_alternatives(
        run.settings, timeouts=run.timeouts, nameservers=run.nameservers, extra_ports=run.extra_ports
    )
    run.suggest(best(run.settings, results))
    return {"alternatives": [r.to_dict() for r in results]}


async def _stages(
    run: _Run, password: str | None, try_username_forms: bool, email_domain: str | None
) -> AsyncIterator[Finding]:
    s = run.settings
    security = Security(s.security)

    # -- resolve ----------------------------------------------------------------------
    run.begin()
    if _is_ip(s.host):
        yield run.passed("resolve", m.RESOLVE_LITERAL)
    else:
        try:
            addresses = await resolve(s.host, timeout=run.timeouts.resolve, nameservers=run.nameservers)
        except NetError as exc:
            yield run.problem("resolve", cause_for_error(exc), evidence=_evidence(exc))
            return
        shown = ", ".join(ip for _, ip in addresses[:4])
        yield run.passed("resolve", m.RESOLVE_OK, {"addresses": [ip for _, ip in addresses]}, addresses=shown)

    # -- connect (and, for implicit TLS, the handshake) --------------------------------
    client = Pop3Client(
        s.host,
        s.port,
        security=security,
        timeouts=run.timeouts,
        ca_file=s.ca_file,
        allow_plaintext=s.allow_plaintext,
        nameservers=run.nameservers,
        transcript=run.transcript,
    )
    try:
        run.begin()
        try:
            conn = await client.open()
        except TlsHandshakeFailed as exc:
            # TCP worked; the TLS handshake did not.
            yield run.passed(
                "connect",
                m.CONNECT_OK,
                {"attempts": [a.to_dict() for a in exc.attempts]},
                address=exc.address or s.host,
            )
            run.begin()
            evidence = _evidence(exc)
            if not isinstance(exc, CertificateProblem):
                # A certificate problem is the same on every port of the host;
                # another port or mode helps only when TLS itself did not start.
                evidence.update(await _alternatives(run))
            yield run.problem("tls", cause_for_error(exc, implicit_tls=True), evidence=evidence)
            return
        except NetError as exc:
            evidence = _evidence(exc)
            evidence.update(await _alternatives(run))
            yield run.problem("connect", cause_for_error(exc), evidence=evidence)
            return
        attempts = [a.to_dict() for a in conn.attempts]
        yield run.passed("connect", m.CONNECT_OK, {"attempts": attempts}, address=conn.peer[0])
        if any(a.family == "ipv6" and a.outcome not in ("ok", "abandoned") for a in conn.attempts) and any(
            a.family == "ipv4" and a.outcome == "ok" for a in conn.attempts
        ):
            yield run.problem("connect", "ipv6-broken", status=Status.WARN, evidence={"attempts": attempts})
        if security is Security.SSL:
            yield _tls_passed(run, client)

        # -- greeting ---------------------------------------------------------------------
        run.begin()
        try:
            greeting = await client.read_greeting()
        except ReadTimeout as exc:
            cause = "greeting-timeout"
            evidence = _evidence(exc)
            if security is not Security.SSL:
                # Silence on a plain connection is what a TLS-only port does:
                # it waits for our TLS hello.  Prove it before saying so.
                tls_probe = await probe(s, s.port, Security.SSL, timeouts=run.timeouts, nameservers=run.nameservers)
                evidence["tls_on_same_port"] = tls_probe.to_dict()
                if tls_probe.ok:
                    cause = "port-expects-tls"
                    run.suggest(Suggestion(s.host, s.port, "ssl", s.user))
            yield run.problem("greeting", cause, evidence=evidence)
            return
        except (NetError, ProtocolError, PolicyError, AuthError, Exception) as exc:
            evidence = _evidence(exc)
            cause = cause_for_error(exc, implicit_tls=security is Security.SSL, stage="greeting")
            if cause in ("not-pop3", "port-expects-tls", "port-expects-plain"):
                evidence.update(await _alternatives(run))
            yield run.problem("greeting", cause, evidence=evidence)
            return
        yield run.passed(
            "greeting",
            m.GREETING_OK,
            {"greeting": greeting.raw.decode("utf-8", "replace")},
            greeting=greeting.status.text[:80],
        )

        # -- capabilities, and STARTTLS ------------------------------------------------------
        run.begin()
        try:
            caps = await client.capa()
        except (NetError, ProtocolError) as exc:
            yield run.problem("capabilities", cause_for_error(exc), evidence=_evidence(exc))
            return
        if security is Security.STARTTLS:
            try:
                await client.starttls()
            except PolicyError as exc:
                evidence = _evidence(exc) | {"capabilities": caps.to_dict()}
                evidence.update(await _alternatives(run))
                yield run.problem("tls", "starttls-unavailable", evidence=evidence)
                return
            except TlsHandshakeFailed as exc:
                evidence = _evidence(exc)
                yield run.problem("tls", cause_for_error(exc), evidence=evidence)
                return
            yield _tls_passed(run, client)
            caps = client.capabilities
        elif security is Security.PLAIN:
            run.skipped("tls", m.TLS_OFF)
            yield run.report.findings[-1]
        if caps.known:
            shown = " ".join(sorted(caps.items))
            yield run.passed("capabilities", m.CAPA_OK, {"capabilities": caps.to_dict()}, capabilities=shown)
        else:
            yield run.passed("capabilities", m.CAPA_NONE)

        # -- login ----------------------------------------------------------------------------
        run.begin()
        if security is Security.PLAIN and not s.allow_plaintext:
            # We never send a password in clear text unless told to.  Say what
            # to change instead: STARTTLS on this port, or SSL/TLS on 995.
            evidence = {"stls_offered": caps.stls, "capabilities": caps.to_dict()}
            evidence.update(await _alternatives(run))
            cause = "encryption-off" if run.report.suggested else "starttls-unavailable"
            yield run.problem("login", cause, evidence=evidence)
            return
        if password is None:
            yield run.skipped("login", m.LOGIN_NO_PASSWORD)
            return
        sasl = set(caps.sasl)
        try:
            mechanism = client.choose_mechanism() if s.auth == "auto" else s.auth.upper()
            await client.login(s.user, password, mechanism=mechanism)
        except PolicyError as exc:
            cause = cause_for_error(exc)
            if exc.reason == "mechanism-unavailable" and sasl and sasl <= _OAUTH:
                cause = "oauth-required"
            yield run.problem("login", cause, evidence=_evidence(exc) | {"sasl": sorted(sasl)})
            return
        except AuthError as exc:
            cause = cause_for_error(exc)
            evidence = _evidence(exc)
            if sasl and not (sasl - _OAUTH) and cause == "auth-failed":
                cause = "oauth-required"
            extra: list[Msg] = []
            full = _full_address(s, email_domain)
            if cause in ("auth-failed", "user-unknown") and full:
                if try_username_forms:
                    worked = await _try_user(run, full, password)
                    evidence["tried_username"] = {"user": full, "ok": worked}
                    if worked:
                        cause = "username-format"
                        run.suggest(Suggestion(s.host, s.port, s.security, full))
                else:
                    extra.append(filled(m.USERNAME_HINT, {"full": full}))
            if cause in ("plaintext-auth-disallowed", "auth-mechanism-unsupported"):
                # The server wants encryption first: find the mode that gives it.
                evidence.update(await _alternatives(run))
            yield run.problem("login", cause, evidence=evidence, extra_remedy=extra)
            return
        except (NetError, ProtocolError) as exc:
            yield run.problem("login", cause_for_error(exc), evidence=_evidence(exc))
            return
        yield run.passed("login", m.LOGIN_OK, {"mechanism": mechanism}, mechanism=mechanism)
        if not client.encrypted:
            run.report.findings.append(Finding("login", Status.WARN, m.LOGIN_PLAINTEXT_WARNING, cause="encryption-off"))
            yield run.report.findings[-1]

        # -- mailbox ---------------------------------------------------------------------------
        run.begin()
        try:
            count, size = await client.stat()
            sizes = await client.list() if count else {}
            uids = await client.uidl() if count else {}
        except Exception as exc:
            yield run.problem("mailbox", cause_for_error(exc), evidence=_evidence(exc))
            return
        evidence = {"count": count, "octets": size, "uidl": uids is not None, "expire": caps.expire}
        yield run.passed("mailbox", m.MAILBOX_OK, evidence, count=count, size=_human(size))
        if count == 0:
            yield run.problem("mailbox", "mailbox-empty", status=Status.WARN, evidence=evidence)
        else:
            largest = max(sizes.items(), key=lambda kv: kv[1])
            if largest[1] > LARGE_MESSAGE:
                run.values.update(msgnum=largest[0], size=_human(largest[1]))
                yield run.problem(
                    "mailbox",
                    "message-too-large",
                    status=Status.WARN,
                    evidence={"msgnum": largest[0], "octets": largest[1], "limit": LARGE_MESSAGE},
                )

        # -- retrieval test: the newest message's header, never the whole mailbox --------------
        run.begin()
        if count == 0:
            yield run.skipped("retrieval", m.NOT_REACHED)
        else:
            try:
                header = await client.top(count, 0)
            except Exception as exc:
                yield run.problem("retrieval", cause_for_error(exc), evidence=_evidence(exc))
                return
            yield run.passed(
                "retrieval", m.RETRIEVAL_OK, {"msgnum": count, "bytes": len(header)}, msgnum=count, bytes=len(header)
            )
        try:
            await client.quit()
        except Exception:  # noqa: S110 -- the diagnosis is complete; a failing QUIT changes nothing
            pass
    finally:
        await client.aclose()


def _tls_passed(run: _Run, client: Pop3Client) -> Finding:
    tls = client.connection.tls
    cert = tls.cert if tls else None
    evidence: dict[str, Any] = {}
    if tls is not None:
        evidence = {"version": tls.version, "cipher": tls.cipher}
        if cert is not None:
            evidence["certificate"] = cert.to_dict()
    not_after = cert.not_after.date().isoformat() if cert else "?"
    return run.passed("tls", m.TLS_OK, evidence, version=tls.version if tls else "?", not_after=not_after)


async def _try_user(run: _Run, user: str, password: str) -> bool:
    """One more login with another user-name form (only with --try-username-forms)."""
    s = run.settings
    client = Pop3Client(
        s.host,
        s.port,
        security=s.security,
        timeouts=run.timeouts,
        ca_file=s.ca_file,
        allow_plaintext=s.allow_plaintext,
        nameservers=run.nameservers,
        transcript=run.transcript,
    )
    try:
        await client.connect()
        await client.login(user, password)
        await client.quit()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


def _human(octets: int) -> str:
    size = float(octets)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{octets} B"
