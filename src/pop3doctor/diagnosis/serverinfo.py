"""Server info without credentials: every POP3 port of a host, as a help desk needs to see it.

`probe_server` is the counterpart of mpop's ``--serverinfo`` for every port at
once: per port the greeting, CAPA before and after STLS, the TLS version and
cipher, the certificate (names, issuer, days left, trusted or why not),
whether a password could cross the wire in clear, and whether RFC 2449
response codes are offered.  It is built on `Pop3Client`'s own steps (open,
greeting, CAPA, STLS), so it sees a server exactly as a diagnosis does.

Safety, by construction: the only commands it sends are CAPA, STLS and QUIT.
It never sends USER, PASS, APOP or AUTH -- `Pop3Client.login` is never called
and there is no password anywhere in this module.

A certificate that fails verification is the finding, not the end of the
look: the port is then reached once more with verification off (to read the
TLS version, cipher, greeting and CAPA behind it; nothing secret is sent on
it), and the report says ``ok`` False with the certificate's cause.

With ``tls_versions``, every port that spoke TLS is also asked, one
connection per version, which of TLS 1.0 to 1.3 it accepts (a server still
taking TLS 1.0 is a finding for its admin; one without 1.2 fails modern
clients).  Those connections, too, send only STLS and QUIT.

Ports are probed concurrently.  On one port, a clear-text probe is stopped as
soon as the implicit-TLS probe of the same port spoke TLS: such a port stays
silent to clear text until the greeting timeout, which would only delay the
answer (its report then says ``port-expects-tls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ssl
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pop3doctor.base_error import Pop3DoctorError
from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis.state import evidence_of
from pop3doctor.endpoint import DEFAULT_PORTS, Security
from pop3doctor.errors import PolicyError
from pop3doctor.knowledge.evidence import cause_for_certificate, cause_for_error, interception_product
from pop3doctor.net.certs import CertFacts, make_tls_context, shared_tls_context
from pop3doctor.net.errors import CertificateProblem, NetError, TlsHandshakeFailed
from pop3doctor.net.resolve import resolve
from pop3doctor.net.timeouts import Timeouts, within
from pop3doctor.protocol.capabilities import Capabilities
from pop3doctor.protocol.errors import NotPop3Greeting

#: The JSON schema name of `ServerInfo.to_dict` (bumped only for incompatible changes).
SCHEMA = "pop3doctor.probe/1"

#: What is probed when no target is named: implicit TLS on 995 (RFC 8314) and
#: STARTTLS on 110 (RFC 2595), whose CAPA before STLS is the clear-text view of 110.
DEFAULT_TARGETS: tuple[tuple[int, Security], ...] = (
    (DEFAULT_PORTS[Security.SSL], Security.SSL),
    (DEFAULT_PORTS[Security.STARTTLS], Security.STARTTLS),
)

#: SASL mechanisms that carry the password itself (base64 is not encryption).
_CLEAR_SASL = frozenset({"PLAIN", "LOGIN"})

_SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class CertReport:
    """The server certificate as seen on one port.

    ``subject_names`` are the subjectAltName entries (the subject CN when there
    are none); ``issuer`` is the issuer's CN (else its organisation, else its
    RFC 4514 name); ``not_after`` is ISO 8601 UTC (``not_after_timestamp`` the
    same as Unix seconds, for metrics); ``days_left`` is negative once expired.
    ``trusted`` covers the chain *and* the host name, as a mail program checks
    them; ``trust_error`` is then the cause code saying why not
    (cert-expired, cert-untrusted, cert-hostname-mismatch, cert-not-yet-valid,
    tls-intercepted).
    """

    subject_names: list[str]
    issuer: str
    not_after: str
    days_left: float
    trusted: bool
    trust_error: str | None
    # Added beyond the shared contract: the rest of what a help desk asks about.
    not_after_timestamp: float = 0.0
    subject: str = ""
    issuer_dn: str = ""
    not_before: str = ""
    self_signed: bool = False
    sha256: str = ""
    #: The security product whose CA issued it, when its issuer names one.
    intercepted_by: str | None = None

    @classmethod
    def from_facts(cls, facts: CertFacts, *, trust_error: str | None, now: dt.datetime | None = None) -> CertReport:
        now = now or dt.datetime.now(dt.UTC)
        names = list(facts.sans) or ([facts.subject_cn] if facts.subject_cn else [])
        return cls(
            subject_names=names,
            issuer=facts.issuer_cn or facts.issuer_org or facts.issuer,
            not_after=_iso(facts.not_after),
            days_left=(facts.not_after - now).total_seconds() / _SECONDS_PER_DAY,
            trusted=trust_error is None,
            trust_error=trust_error,
            not_after_timestamp=facts.not_after.timestamp(),
            subject=facts.subject,
            issuer_dn=facts.issuer,
            not_before=_iso(facts.not_before),
            self_signed=facts.self_signed,
            sha256=facts.sha256,
            intercepted_by=interception_product(facts),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "subject_names": list(self.subject_names),
            "issuer": self.issuer,
            "not_after": self.not_after,
            "days_left": round(self.days_left, 2),
            "trusted": self.trusted,
            "trust_error": self.trust_error,
            "not_after_timestamp": self.not_after_timestamp,
            "subject": self.subject,
            "issuer_dn": self.issuer_dn,
            "not_before": self.not_before,
            "self_signed": self.self_signed,
            "sha256": self.sha256,
            "intercepted_by": self.intercepted_by,
        }


@dataclass(frozen=True)
class PortReport:
    """What one port and security mode showed, without a login.

    ``ok``: a POP3 ``+OK`` greeting was read, and TLS worked (with a trusted
    certificate) where the mode asks for it -- for STARTTLS that includes STLS
    being offered and the upgrade succeeding.  ``cause`` is the cause code
    (knowledge/data/causes.toml) when not ok.  The other fields hold what was
    seen even when not ok (a greeting before a failed STLS, a certificate that
    failed verification).

    ``capa`` is CAPA on the connection as first reached (in clear text for
    STARTTLS and plain, inside TLS for implicit TLS), ``capa_after_tls`` CAPA
    after a successful STLS; each is the CAPA lines as sent, None when CAPA
    was refused or never reached.  ``plaintext_login_possible``: on a
    connection without TLS the server announced USER or SASL PLAIN/LOGIN (or
    no CAPA at all, where a mail program falls back to USER/PASS) -- what
    it *announces*, since finding out more would need a login.
    ``response_codes``: RESP-CODES announced (RFC 2449), before or after TLS.
    ``timings_ms`` has "connect", "tls", "greeting", "capa", "capa_after_tls"
    as far as they were measured ("tls" is the handshake alone).
    """

    port: int
    security: Security
    ok: bool
    cause: str | None
    greeting: str | None
    capa: list[str] | None
    capa_after_tls: list[str] | None
    tls_version: str | None
    cipher: str | None
    cert: CertReport | None
    plaintext_login_possible: bool
    response_codes: bool
    timings_ms: dict[str, float]
    # Added beyond the shared contract.
    #: The IP address that answered (None when no connection was made).
    address: str | None = None
    #: STLS announced in the clear-text CAPA (None when that CAPA was not read).
    stls_offered: bool | None = None
    #: The greeting carries an APOP timestamp (RFC 1939 s7).
    apop_offered: bool = False
    #: The failure's technical facts (error code, library reason, server text), when not ok.
    error: dict[str, Any] | None = None
    #: With ``tls_versions``: "TLSv1" .. "TLSv1.3" -> accepted (None: could not tell); else None.
    tls_versions: dict[str, bool | None] | None = None

    @property
    def spoke_tls(self) -> bool:
        """TLS was negotiated on this port (with or without a trusted certificate)."""
        return self.tls_version is not None or self.cert is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "port": self.port,
            "security": self.security.value,
            "ok": self.ok,
            "cause": self.cause,
            "address": self.address,
            "greeting": self.greeting,
            "apop_offered": self.apop_offered,
            "capa": None if self.capa is None else list(self.capa),
            "stls_offered": self.stls_offered,
            "capa_after_tls": None if self.capa_after_tls is None else list(self.capa_after_tls),
            "tls_version": self.tls_version,
            "cipher": self.cipher,
            "cert": None if self.cert is None else self.cert.to_dict(),
            "plaintext_login_possible": self.plaintext_login_possible,
            "response_codes": self.response_codes,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "error": self.error,
            "tls_versions": None if self.tls_versions is None else dict(self.tls_versions),
        }


@dataclass(frozen=True)
class ServerInfo:
    """Every port probed on ``host``; ``cause`` is set when none could be (host-not-found ...)."""

    host: str
    addresses: list[str]
    ports: list[PortReport]
    cause: str | None
    # Added beyond the shared contract.
    #: When the probe started (ISO 8601 UTC).
    checked_at: str = ""
    #: "resolve": the name lookup.
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: The lookup failure's technical facts, when ``cause`` is set.
    error: dict[str, Any] | None = None

    @property
    def all_ok(self) -> bool:
        return bool(self.ports) and all(p.ok for p in self.ports)

    @property
    def any_ok(self) -> bool:
        return any(p.ok for p in self.ports)

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "host": self.host,
            "addresses": list(self.addresses),
            "checked_at": self.checked_at,
            "cause": self.cause,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "error": self.error,
            "ports": [p.to_dict() for p in self.ports],
        }


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _capa_lines(caps: Capabilities) -> list[str] | None:
    if not caps.known:
        return None
    return [" ".join((name, *args)) for name, args in caps.items.items()]


def _clear_login_offered(caps: Capabilities) -> bool:
    # No CAPA (an RFC 1939-only server): mail programs then try USER/PASS.
    if not caps.known:
        return True
    return "USER" in caps or bool(_CLEAR_SASL & set(caps.sasl))


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


@dataclass
class _Seen:
    """What one connection showed so far; filled step by step, so a failure keeps what came before."""

    address: str | None = None
    greeting: str | None = None
    greeting_ok: bool = False
    apop: bool = False
    caps: Capabilities | None = None
    caps_after_tls: Capabilities | None = None
    tls_version: str | None = None
    cipher: str | None = None
    cert: CertFacts | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None


async def _look(
    host: str,
    port: int,
    security: Security,
    *,
    context: ssl.SSLContext,
    timeouts: Timeouts,
    nameservers: list[str] | None,
) -> _Seen:
    """One connection: open (and TLS), greeting, CAPA, STLS and CAPA again; QUIT.  Never raises for the server.

    The only commands sent are CAPA, STLS and QUIT.
    """
    seen = _Seen()
    client = Pop3Client(
        host, port, security=security, timeouts=timeouts, tls_context=context, nameservers=nameservers
    )
    healthy = False
    try:
        start = time.monotonic()
        conn = await client.open()
        seen.address = conn.peer[0]
        won = [a for a in conn.attempts if a.outcome == "ok"]
        seen.timings["connect"] = won[-1].elapsed_ms if won else _ms_since(start)
        _note_tls(seen, client)
        start = time.monotonic()
        try:
            greeting = await client.read_greeting()
        finally:
            if client.greeting is not None:
                seen.greeting = client.greeting.raw.decode("utf-8", "replace").rstrip("\r\n")
                seen.apop = client.greeting.apop_timestamp is not None
        seen.timings["greeting"] = _ms_since(start)
        seen.greeting_ok = greeting.status.ok
        start = time.monotonic()
        seen.caps = await client.capa()
        seen.timings["capa"] = _ms_since(start)
        if security is Security.STARTTLS:
            await client.starttls()  # STLS, the handshake, then CAPA again
            _note_tls(seen, client)
            seen.caps_after_tls = client.capabilities
        healthy = True
    except Pop3DoctorError as exc:
        seen.error = exc
        # We stopped ourselves (no STLS offered): the session itself is sound, so it still ends with QUIT.
        healthy = isinstance(exc, PolicyError)
        if isinstance(exc, CertificateProblem) and exc.cert is not None:
            seen.cert = exc.cert
        if isinstance(exc, NotPop3Greeting) and seen.greeting is None:
            # What answered instead ("* OK IMAP4 ready", "220 smtp ...") tells the help desk which service it is.
            seen.greeting = exc.line.decode("utf-8", "replace").rstrip("\r\n")
    finally:
        if healthy:
            # A courtesy, bounded: the answer is already in.
            with contextlib.suppress(Exception):
                await within(client.quit(), timeouts.command)
        await client.aclose()
    return seen


def _note_tls(seen: _Seen, client: Pop3Client) -> None:
    tls = client.connection.tls if client.encrypted else None
    if tls is None:
        return
    seen.tls_version, seen.cipher = tls.version, tls.cipher
    if tls.cert is not None:
        seen.cert = tls.cert
    if tls.handshake_ms is not None:
        seen.timings["tls"] = tls.handshake_ms


async def probe_target(
    host: str,
    port: int,
    security: Security,
    *,
    context: ssl.SSLContext,
    timeouts: Timeouts,
    nameservers: list[str] | None = None,
) -> PortReport:
    """Probe one port in one security mode (see the module docstring); never raises for the server."""
    seen = await _look(host, port, security, context=context, timeouts=timeouts, nameservers=nameservers)
    trust_error: str | None = None
    if isinstance(seen.error, CertificateProblem):
        # The certificate is the finding; look behind it once, unverified, for the rest.
        trust_error = cause_for_certificate(seen.error)
        again = await _look(
            host, port, security, context=make_tls_context(verify=False), timeouts=timeouts, nameservers=nameservers
        )
        _merge(seen, again)
    return _report(port, security, seen, trust_error)


def _merge(seen: _Seen, again: _Seen) -> None:
    """Fill what the first (verifying) look could not see from the second (unverified) one."""
    for name in ("address", "greeting", "caps", "caps_after_tls", "tls_version", "cipher", "cert"):
        if getattr(seen, name) is None:
            setattr(seen, name, getattr(again, name))
    seen.greeting_ok = seen.greeting_ok or again.greeting_ok
    seen.apop = seen.apop or again.apop
    for key, value in again.timings.items():
        seen.timings.setdefault(key, value)


def _report(port: int, security: Security, seen: _Seen, trust_error: str | None) -> PortReport:
    error = seen.error
    cause: str | None = None
    if trust_error is not None:
        cause = trust_error
    elif error is not None:
        stage = "greeting" if not seen.greeting_ok and seen.address is not None else None
        cause = cause_for_error(error, implicit_tls=security is Security.SSL, stage=stage)
    clear_caps = seen.caps if security is not Security.SSL else None
    offered = [c for c in (seen.caps, seen.caps_after_tls) if c is not None]
    return PortReport(
        port=port,
        security=security,
        ok=error is None and seen.greeting_ok,
        cause=cause,
        greeting=seen.greeting,
        capa=None if seen.caps is None else _capa_lines(seen.caps),
        capa_after_tls=None if seen.caps_after_tls is None else _capa_lines(seen.caps_after_tls),
        tls_version=seen.tls_version,
        cipher=seen.cipher,
        cert=None if seen.cert is None else CertReport.from_facts(seen.cert, trust_error=trust_error),
        plaintext_login_possible=clear_caps is not None and _clear_login_offered(clear_caps),
        response_codes=any("RESP-CODES" in c for c in offered),
        timings_ms=dict(seen.timings),
        address=seen.address,
        stls_offered=None if clear_caps is None or not clear_caps.known else clear_caps.stls,
        apop_offered=seen.apop,
        error=None if error is None else evidence_of(error),
    )


def _stopped(port: int, security: Security) -> PortReport:
    """A clear-text probe stopped because its port spoke implicit TLS."""
    return PortReport(
        port=port, security=security, ok=False, cause="port-expects-tls", greeting=None, capa=None,
        capa_after_tls=None, tls_version=None, cipher=None, cert=None, plaintext_login_possible=False,
        response_codes=False, timings_ms={},
    )


async def _probe_port(
    host: str,
    port: int,
    modes: Sequence[Security],
    *,
    auto: bool,
    context: ssl.SSLContext,
    timeouts: Timeouts,
    nameservers: list[str] | None,
) -> list[PortReport]:
    """The modes of one port, concurrently; with ``auto``, only the mode the port speaks."""
    tasks = {
        mode: asyncio.ensure_future(
            probe_target(host, port, mode, context=context, timeouts=timeouts, nameservers=nameservers)
        )
        for mode in modes
    }
    reports: dict[Security, PortReport] = {}
    try:
        if Security.SSL in tasks and len(tasks) > 1:
            reports[Security.SSL] = await tasks[Security.SSL]
            if reports[Security.SSL].spoke_tls:
                for mode, task in tasks.items():
                    if mode is not Security.SSL and not task.done():
                        task.cancel()
                        reports[mode] = _stopped(port, mode)
        for mode, task in tasks.items():
            if mode not in reports:
                reports[mode] = await task
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    if auto:
        return [_pick(reports)]
    return [reports[mode] for mode in modes]


def _pick(reports: dict[Security, PortReport]) -> PortReport:
    """The one report of an auto port: what works, else what the port speaks, else implicit TLS's failure."""
    ssl_report, stls_report = reports.get(Security.SSL), reports.get(Security.STARTTLS)
    for report in (ssl_report, stls_report):
        if report is not None and report.ok:
            return report
    if ssl_report is not None and ssl_report.spoke_tls:
        return ssl_report
    if stls_report is not None and stls_report.greeting is not None:
        return stls_report
    return ssl_report or stls_report or next(iter(reports.values()))


def _version_names() -> dict[str, ssl.TLSVersion]:
    """The versions to try, by the name `ssl.SSLSocket.version` gives them, oldest first."""
    with warnings.catch_warnings():
        # TLSv1 and TLSv1_1 are deprecated *as client choices*; naming them to test a server is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        return {
            "TLSv1": ssl.TLSVersion.TLSv1,
            "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2,
            "TLSv1.3": ssl.TLSVersion.TLSv1_3,
        }


def _pinned_context(version: ssl.TLSVersion) -> ssl.SSLContext:
    """An unverifying context that speaks exactly ``version`` (the certificate was judged already)."""
    context = make_tls_context(verify=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = version
        context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3's default security level refuses TLS 1.0/1.1 on our side before
        # the server is asked; level 0 lets the question reach the server.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


async def _accepts(
    host: str, port: int, security: Security, version: ssl.TLSVersion, *, timeouts: Timeouts,
    nameservers: list[str] | None,
) -> bool | None:
    """Whether ``port`` completes a handshake pinned to ``version``; None when something else failed first."""
    try:
        context = _pinned_context(version)
    except (ValueError, ssl.SSLError):
        return None  # this computer's OpenSSL cannot speak it at all
    client = Pop3Client(
        host, port, security=security, timeouts=timeouts, tls_context=context, nameservers=nameservers
    )
    done = False
    try:
        await client.open()
        if security is Security.STARTTLS:
            await client.read_greeting()
            await client.starttls()  # STLS without CAPA first: the main probe saw it offered
        else:
            await client.read_greeting()
        done = True
        return client.encrypted
    except TlsHandshakeFailed:
        return False
    except Pop3DoctorError:
        return None
    finally:
        if done:
            with contextlib.suppress(Exception):
                await within(client.quit(), timeouts.command)
        await client.aclose()


async def _with_versions(
    report: PortReport, host: str, *, timeouts: Timeouts, nameservers: list[str] | None
) -> PortReport:
    """``report`` with `PortReport.tls_versions` filled in, when its port spoke TLS."""
    if not report.spoke_tls or report.security is Security.PLAIN:
        return report
    names = _version_names()
    answers = await asyncio.gather(
        *(
            _accepts(host, report.port, report.security, version, timeouts=timeouts, nameservers=nameservers)
            for version in names.values()
        )
    )
    return dataclasses.replace(report, tls_versions=dict(zip(names, answers, strict=True)))


def probe_timeouts(timeout: float) -> Timeouts:
    """``--timeout S`` for a probe: S for lookup, connect and TLS, 2*S for the greeting and each command.

    A probe sends only short commands (CAPA, STLS, QUIT), so the diagnosis's
    30 s floor for commands (meant for RETR) would only make a hung server slow to report.
    """
    return Timeouts(resolve=timeout, connect=timeout, tls=timeout, greeting=timeout * 2, command=timeout * 2)


async def probe_server(
    host: str,
    targets: list[tuple[int, Security]] | None = None,
    *,
    timeout: float = 8.0,
    ca_file: str | None = None,
    nameservers: list[str] | None = None,
    auto_ports: Sequence[int] = (),
    tls_versions: bool = False,
) -> ServerInfo:
    """Probe ``targets`` (default: 995 implicit TLS and 110 STARTTLS) on ``host``, concurrently; never logs in.

    ``auto_ports`` (an addition to the shared contract) are ports whose mode
    is not known: each is probed with implicit TLS and STARTTLS and reported
    once, in the mode it speaks.  ``tls_versions`` also asks each TLS port
    which TLS versions it accepts (`PortReport.tls_versions`).  The name is looked up first: when that
    fails, ``cause`` says why and ``ports`` is empty.  Never raises for a
    failure of the network or the server.
    """
    checked_at = _iso(dt.datetime.now(dt.UTC))
    timeouts = probe_timeouts(timeout)
    context = shared_tls_context(ca_file)  # verified ports only; never changed, so shared (issue 19: ~16 ms per probe)
    start = time.monotonic()
    try:
        found = await resolve(host, timeout=timeouts.resolve, nameservers=nameservers)
    except NetError as exc:
        return ServerInfo(
            host, [], [], cause_for_error(exc), checked_at=checked_at,
            timings_ms={"resolve": _ms_since(start)}, error=evidence_of(exc),
        )
    timings = {"resolve": _ms_since(start)}
    wanted = list(DEFAULT_TARGETS) if targets is None else list(targets)
    by_port: dict[int, list[Security]] = {}
    for port, security in wanted:
        modes = by_port.setdefault(port, [])
        if Security(security) not in modes:
            modes.append(Security(security))
    groups = [(port, modes, False) for port, modes in by_port.items()]
    both = [Security.SSL, Security.STARTTLS]
    groups += [(port, both, True) for port in dict.fromkeys(auto_ports) if port not in by_port]
    answers = await asyncio.gather(
        *(
            _probe_port(host, port, modes, auto=auto, context=context, timeouts=timeouts, nameservers=nameservers)
            for port, modes, auto in groups
        )
    )
    ports = [report for group in answers for report in group]
    if tls_versions:
        ports = list(
            await asyncio.gather(
                *(_with_versions(r, host, timeouts=timeouts, nameservers=nameservers) for r in ports)
            )
        )
    return ServerInfo(host, [ip for _, ip in found], ports, None, checked_at=checked_at, timings_ms=timings)
