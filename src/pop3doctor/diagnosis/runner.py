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

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis import network as nw
from pop3doctor.diagnosis.alternatives import best, probe, probe_alternatives
from pop3doctor.diagnosis.connecting import ConnectFailed, open_with_fallbacks, resolve_problem
from pop3doctor.diagnosis.model import Finding, Report, Settings, Status, Suggestion
from pop3doctor.diagnosis.state import Run, evidence_of, filled, is_ip
from pop3doctor.endpoint import Security
from pop3doctor.errors import AuthError, PolicyError
from pop3doctor.i18n import Msg
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.net.errors import (
    CertificateProblem,
    DnsUnavailable,
    NetError,
    ReadTimeout,
    TlsHandshakeFailed,
)
from pop3doctor.net.resolve import resolve
from pop3doctor.protocol.errors import LocalProtocolError, ProtocolError
from pop3doctor.units import human_size

#: A message larger than this gets a warning: many mail programs and
#: providers time out or refuse messages of this size (Gmail's own limit is 25 MB).
LARGE_MESSAGE = 25 * 1024 * 1024

#: SASL mechanisms that take a bearer token, not a password.
_OAUTH = frozenset({"XOAUTH2", "OAUTHBEARER"})


def _full_address(settings: Settings, domain: str | None) -> str | None:
    """The user name as a full address, when the user gave only the local part."""
    if "@" in settings.user:
        return None
    if domain is None:
        labels = settings.host.split(".")
        if is_ip(settings.host) or len(labels) < 2:
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
    reference: str | None = None,
) -> AsyncIterator[Finding]:
    """Yield one `Finding` per stage as it completes; the last has stage "summary".

    ``extra_ports`` are probed as alternatives besides 995 and 110 (the lab and
    tests serve on unprivileged ports), and as other ports of the same host
    when the POP3 port does not connect.  ``reference`` (``"host:port"``) is
    an endpoint expected to accept TCP connections from anywhere: when
    nothing on the server answers, it tells "the server is down" from "no
    internet at all".  Pass a `Report` to have it filled as well (front ends
    render it at the end).
    """
    run = Run(settings, nameservers, extra_ports, reference)
    if report is not None:
        run.report = report
    try:
        async for finding in _stages(run, password, try_username_forms, email_domain):
            yield finding
        late = await _ipv6_verdict(run)
        if late is not None:
            yield late
    finally:
        await nw.cancel(run.ipv6_task)
    yield _summary(run)


async def _ipv6_verdict(run: Run) -> Finding | None:
    """The IPv6-only check's result, as an ipv6-broken warning placed with the connect findings."""
    if run.ipv6_task is None:
        return None
    check = await run.ipv6_task
    if check is None or check.outcome == "ok":
        return None
    if any(f.cause == "ipv6-broken" for f in run.report.findings):
        return None
    finding = run.problem("connect", "ipv6-broken", status=Status.WARN, evidence={"ipv6_check": check.to_dict()})
    # Findings are listed in stage order: move it right after the last connect finding.
    findings = run.report.findings
    findings.remove(finding)
    last_connect = max((i for i, f in enumerate(findings) if f.stage == "connect"), default=len(findings) - 1)
    findings.insert(last_connect + 1, finding)
    return finding


def _summary(run: Run) -> Finding:
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


async def _alternatives(run: Run) -> dict[str, Any]:
    results = await probe_alternatives(
        run.settings, timeouts=run.timeouts, nameservers=run.nameservers, extra_ports=run.extra_ports
    )
    run.suggest(best(run.settings, results))
    return {"alternatives": [r.to_dict() for r in results]}


async def _stages(
    run: Run, password: str | None, try_username_forms: bool, email_domain: str | None
) -> AsyncIterator[Finding]:
    s = run.settings
    security = s.security

    # -- this computer's network, and the name lookup (run together) ----------------------
    run.begin()
    facts = nw.local_facts(s.host, run.nameservers)
    run.facts = facts
    resolve_error: NetError | None = None
    if is_ip(s.host):
        run.addresses = [("ipv6" if ":" in s.host else "ipv4", s.host)]
    elif not facts.explicit_nameservers:
        # The system's resolvers are asked directly only when the lookup
        # failed, to tell a dead resolver from a missing name: a working
        # lookup (often answered from /etc/hosts or a cache) sends nothing
        # beyond what getaddrinfo sends.
        try:
            run.addresses = await resolve(s.host, timeout=run.timeouts.resolve, nameservers=None)
        except NetError as exc:
            resolve_error = exc
            await nw.probe_resolvers(facts, timeout=run.timeouts.resolve)
    else:
        # Named resolvers (--dns-server) get a short head start: one that is
        # not there at all is refused (ICMP) within a round trip, and then the
        # lookup, which could only time out, is not started.  Otherwise both
        # run together, so a silent resolver costs one timeout, not two.
        resolver_check = asyncio.ensure_future(nw.probe_resolvers(facts, timeout=run.timeouts.resolve))
        try:
            await asyncio.wait([resolver_check], timeout=nw.RESOLVER_HEAD_START)
            if resolver_check.done() and nw.resolvers_dead(facts):
                resolve_error = DnsUnavailable(
                    f"no DNS server answers for {s.host!r}",
                    reason="no-nameservers",
                    host=s.host,
                    port=None,
                    elapsed_ms=run.elapsed(),
                )
            else:
                try:
                    run.addresses = await resolve(s.host, timeout=run.timeouts.resolve, nameservers=run.nameservers)
                except NetError as exc:
                    resolve_error = exc
        finally:
            if resolve_error is None:
                await nw.cancel(resolver_check)  # the lookup worked: that is proof enough
            else:
                await resolver_check
    failure = nw.network_failure(facts, resolve_error)
    if failure is not None:
        cause, note = failure
        net_evidence: dict[str, Any] = {"network": facts.to_dict()}
        if resolve_error is not None:
            net_evidence["resolve"] = evidence_of(resolve_error)
        yield run.problem("network", cause, evidence=net_evidence, note=note)
        return
    yield run.passed("network", facts.summary(), {"network": facts.to_dict()})

    run.begin()
    if resolve_error is not None:
        yield await resolve_problem(run, resolve_error, email_domain)
        return
    if is_ip(s.host):
        yield run.passed("resolve", m.RESOLVE_LITERAL)
    else:
        shown = ", ".join(ip for _, ip in run.addresses[:4])
        yield run.passed("resolve", m.RESOLVE_OK, {"addresses": [ip for _, ip in run.addresses]}, addresses=shown)

    # -- connect (and, for implicit TLS, the handshake) --------------------------------
    client = Pop3Client.from_endpoint(s, timeouts=run.timeouts, nameservers=run.nameservers, transcript=run.transcript)
    try:
        run.begin()
        try:
            conn = await open_with_fallbacks(run, client)
        except TlsHandshakeFailed as exc:
            # TCP worked; the TLS handshake did not.
            yield run.passed(
                "connect",
                m.CONNECT_OK,
                {"attempts": [a.to_dict() for a in exc.attempts]},
                address=exc.address or s.host,
            )
            run.begin()
            evidence = evidence_of(exc)
            if not isinstance(exc, CertificateProblem):
                # A certificate problem is the same on every port of the host;
                # another port or mode helps only when TLS itself did not start.
                evidence.update(await _alternatives(run))
            yield run.problem("tls", cause_for_error(exc, implicit_tls=True), evidence=evidence)
            return
        except ConnectFailed as failed:
            yield failed.finding
            return
        attempts = [a.to_dict() for a in conn.attempts]
        yield run.passed("connect", m.CONNECT_OK, {"attempts": attempts}, address=conn.peer[0])
        v4_won = any(a.family == "ipv4" and a.outcome == "ok" for a in conn.attempts)
        if v4_won and any(a.family == "ipv6" and a.outcome not in ("ok", "abandoned") for a in conn.attempts):
            yield run.problem("connect", "ipv6-broken", status=Status.WARN, evidence={"attempts": attempts})
        elif v4_won and any(a.family == "ipv6" and a.outcome == "abandoned" for a in conn.attempts):
            # IPv4 won the race before IPv6 answered: that proves nothing
            # about IPv6 yet.  Ask it alone, in the background, so the verdict
            # over IPv4 is not delayed; the answer is read at the end.
            run.ipv6_task = asyncio.ensure_future(
                nw.ipv6_check(s.host, s.port, run.addresses, timeout=run.timeouts.connect)
            )
        if security is Security.SSL:
            yield _tls_passed(run, client)

        # -- greeting ---------------------------------------------------------------------
        run.begin()
        try:
            greeting = await client.read_greeting()
        except ReadTimeout as exc:
            cause = "greeting-timeout"
            evidence = evidence_of(exc)
            if security is not Security.SSL:
                # Silence on a plain connection is what a TLS-only port does:
                # it waits for our TLS hello.  Prove it before saying so.
                tls_probe = await probe(s, s.port, Security.SSL, timeouts=run.timeouts, nameservers=run.nameservers)
                evidence["tls_on_same_port"] = tls_probe.to_dict()
                if tls_probe.ok:
                    cause = "port-expects-tls"
                    run.suggest(Suggestion(s.host, s.port, Security.SSL, s.user))
            yield run.problem("greeting", cause, evidence=evidence)
            return
        except Exception as exc:  # any failure here is the greeting's finding
            evidence = evidence_of(exc)
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
        except LocalProtocolError:
            raise  # our own bug, not a finding about the server
        except (NetError, ProtocolError) as exc:
            yield run.problem("capabilities", cause_for_error(exc), evidence=evidence_of(exc))
            return
        if security is Security.STARTTLS:
            try:
                await client.starttls()
            except PolicyError as exc:
                evidence = evidence_of(exc) | {"capabilities": caps.to_dict()}
                evidence.update(await _alternatives(run))
                yield run.problem("tls", "starttls-unavailable", evidence=evidence)
                return
            except TlsHandshakeFailed as exc:
                evidence = evidence_of(exc)
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
            yield run.problem("login", cause, evidence=evidence_of(exc) | {"sasl": sorted(sasl)})
            return
        except AuthError as exc:
            cause = cause_for_error(exc)
            evidence = evidence_of(exc)
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
        except LocalProtocolError:
            raise  # our own bug, not a finding about the server
        except (NetError, ProtocolError) as exc:
            yield run.problem("login", cause_for_error(exc), evidence=evidence_of(exc))
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
            yield run.problem("mailbox", cause_for_error(exc), evidence=evidence_of(exc))
            return
        evidence = {"count": count, "octets": size, "uidl": uids is not None, "expire": caps.expire}
        yield run.passed("mailbox", m.MAILBOX_OK, evidence, count=count, size=human_size(size))
        if count == 0:
            yield run.problem("mailbox", "mailbox-empty", status=Status.WARN, evidence=evidence)
        else:
            largest = max(sizes.items(), key=lambda kv: kv[1])
            if largest[1] > LARGE_MESSAGE:
                run.values.update(msgnum=largest[0], size=human_size(largest[1]))
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
                yield run.problem("retrieval", cause_for_error(exc), evidence=evidence_of(exc))
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


def _tls_passed(run: Run, client: Pop3Client) -> Finding:
    tls = client.connection.tls
    cert = tls.cert if tls else None
    evidence: dict[str, Any] = {}
    if tls is not None:
        evidence = {"version": tls.version, "cipher": tls.cipher}
        if cert is not None:
            evidence["certificate"] = cert.to_dict()
    not_after = cert.not_after.date().isoformat() if cert else "?"
    return run.passed("tls", m.TLS_OK, evidence, version=tls.version if tls else "?", not_after=not_after)


async def _try_user(run: Run, user: str, password: str) -> bool:
    """One more login with another user-name form (only with --try-username-forms)."""
    s = run.settings
    client = Pop3Client.from_endpoint(s, timeouts=run.timeouts, nameservers=run.nameservers, transcript=run.transcript)
    try:
        await client.connect()
        await client.login(user, password)
        await client.quit()
        return True
    except Exception:
        return False
    finally:
        await client.aclose()


