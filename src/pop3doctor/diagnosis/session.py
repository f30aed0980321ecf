"""The steps between connecting and login: encryption, the greeting, the capabilities.

With SSL/TLS the handshake happened on connecting, so encryption is reported
first; with STARTTLS the greeting and CAPA come first and the upgrade after
(the step table in `pipeline.py` orders them).  CAPA is asked before STARTTLS
and reported after it, since the capabilities may change with TLS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import alternatives_evidence, probe
from pop3doctor.diagnosis.encryption import no_encryption_found
from pop3doctor.diagnosis.model import Finding, Suggestion
from pop3doctor.diagnosis.state import Diagnosable, Run, RunState, evidence_of, need
from pop3doctor.endpoint import Security
from pop3doctor.errors import PolicyError
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.knowledge.placeholders import login_delay_phrase
from pop3doctor.net.errors import ReadTimeout


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


async def implicit_tls(state: RunState) -> AsyncIterator[Finding]:
    """SSL/TLS: report the handshake the connect step did."""
    error = need(state.connected).tls_error
    if error is not None:
        raise error  # reported by `tls_failed`, the one place TLS failures are read
    yield _tls_passed(state.run, need(state.client))


async def starttls(state: RunState) -> AsyncIterator[Finding]:
    """STARTTLS: upgrade the connection (CAPA was asked just before)."""
    client = need(state.client)
    await client.starttls()
    yield _tls_passed(state.run, client)


async def no_tls(state: RunState) -> AsyncIterator[Finding]:
    """Encryption "none": nothing to check."""
    yield state.run.skipped("tls", m.TLS_OFF)


async def tls_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    run = state.run
    implicit = run.security is Security.SSL
    if implicit:
        run.begin()  # the handshake's time is in the connect finding; this one times the probing
    evidence = evidence_of(exc)
    if isinstance(exc, PolicyError):  # no STLS: the capabilities show it
        evidence["capabilities"] = need(state.client).capabilities.to_dict()
    cause = cause_for_error(exc, implicit_tls=implicit)
    if get_cause(cause).probes_alternatives("implicit-tls" if implicit else "starttls"):
        evidence.update(await alternatives_evidence(run))
        if cause == "starttls-unavailable" and no_encryption_found(evidence["alternatives"]):
            cause = "no-encryption-offered"  # we probed: not "set STARTTLS" (issue 13 item 4)
    yield run.problem("tls", cause, evidence=evidence)


async def greeting(state: RunState) -> AsyncIterator[Finding]:
    """The server's first line must be a POP3 +OK."""
    line = await need(state.client).read_greeting()
    evidence = {"greeting": line.raw.decode("utf-8", "replace")}
    yield state.run.passed("greeting", m.GREETING_OK, evidence, greeting=line.status.text[:80])


async def greeting_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    run, s = state.run, state.run.settings
    evidence = evidence_of(exc)
    if isinstance(exc, ReadTimeout) and exc.limit == "idle":
        cause = "greeting-timeout"
        if run.security is not Security.SSL:
            # Silence on a plain connection is what a TLS-only port does:
            # it waits for our TLS hello.  Prove it before saying so.
            tls_probe = await probe(s, s.port, Security.SSL, timeouts=run.timeouts, nameservers=run.nameservers)
            evidence["tls_on_same_port"] = tls_probe.to_dict()
            if tls_probe.ok:
                cause = "port-expects-tls"
                run.suggest(Suggestion(s.host, s.port, Security.SSL, s.user))
        yield run.problem("greeting", cause, evidence=evidence)
        return
    cause = cause_for_error(exc, implicit_tls=run.security is Security.SSL, stage="greeting")
    if get_cause(cause).probes_alternatives("greeting"):
        evidence.update(await alternatives_evidence(run))
    yield run.problem("greeting", cause, evidence=evidence)


async def capa(state: RunState) -> AsyncIterator[Finding]:
    """Ask CAPA; reported by `capabilities` (after STARTTLS, when that is used)."""
    await need(state.client).capa()
    return
    yield  # an async generator that reports nothing


async def capabilities(state: RunState) -> AsyncIterator[Finding]:
    """Report the capabilities; provides ``caps``."""
    caps = need(state.client).capabilities
    if caps.known:
        shown = " ".join(sorted(caps.items))
        yield state.run.passed("capabilities", m.CAPA_OK, {"capabilities": caps.to_dict()}, capabilities=shown)
    else:
        yield state.run.passed("capabilities", m.CAPA_NONE)
    if caps.login_delay is not None:
        # A login-delay refusal later in this run names the server's own interval.
        state.run.values["login_delay"] = login_delay_phrase(caps.login_delay)
    state.caps = caps
