"""The steps between connecting and login: encryption, the greeting, the capabilities.

With SSL/TLS the handshake happened on connecting, so encryption is reported
first; with STARTTLS the greeting and CAPA come first and the upgrade after
(the step table in `pipeline.py` orders them).  CAPA is asked before STARTTLS
and reported after it, since the capabilities may change with TLS.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.alternatives import ProbeResult, alternatives_evidence, no_encryption_found, probe
from pop3doctor.diagnosis.model import Finding, Suggestion
from pop3doctor.diagnosis.state import Diagnosable, Run, RunState, evidence_of, need
from pop3doctor.diagnosis.tasks import Hedged, hedge
from pop3doctor.endpoint import Security
from pop3doctor.errors import PolicyError
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.evidence import cause_for_error
from pop3doctor.knowledge.placeholders import login_delay_phrase
from pop3doctor.net.errors import ReadTimeout
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import RemoteClosed
from pop3doctor.protocol.events import Greeting


def _tls_passed(run: Run, client: Pop3Client) -> Finding:
    tls = client.connection.tls
    cert = tls.cert if tls else None
    evidence: dict[str, Any] = {}
    if tls is not None:
        evidence = {"version": tls.version, "cipher": tls.cipher}
        if tls.handshake_ms is not None:
            # The handshake alone (the step's clock also holds loading the CA store): check's tls_time.
            evidence["handshake_ms"] = round(tls.handshake_ms, 3)
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


def late_greeting(run: Run) -> float:
    """Seconds without a greeting after which a TLS handshake on the same port is tried beside the wait.

    A POP3 server greets at once (RFC 1939 s4: "Once the TCP connection has
    been opened ... the server issues a one line greeting"); one that says
    nothing for a second is most likely an implicit-TLS port waiting for our
    TLS hello, or one that greets late after a reverse-DNS/RBL lookup.  The
    handshake tells the two apart long before the greeting timeout (2 x
    ``--timeout``) would.  The same hedge as a slow connect's (`connecting`).
    """
    return min(1.0, run.timeouts.greeting / 4)


def _tls_probe_timeouts(run: Run) -> Timeouts:
    # As the alternatives' probes: a server that answers at all greets at once.
    return replace(run.timeouts, greeting=min(run.timeouts.greeting, run.timeouts.connect))


async def _tls_on_same_port(run: Run) -> ProbeResult:
    s = run.settings
    return await probe(s, s.port, Security.SSL, timeouts=_tls_probe_timeouts(run), nameservers=run.nameservers)


def _speaks_tls(answer: ProbeResult) -> bool:
    """The TLS handshake on the same port was answered: by a POP3 greeting, or with a certificate that failed."""
    return answer.ok or answer.cert_failed


def _silence(error: Exception) -> bool:
    """No byte came at all: what a TLS-only port does to a clear-text client."""
    return isinstance(error, ReadTimeout) and error.limit == "idle"


async def greeting(state: RunState) -> AsyncIterator[Finding]:
    """The server's first line must be a POP3 +OK; provides ``greeting``.

    In clear text (STARTTLS or none) a greeting that is late gets a TLS
    handshake on the same port beside it, on a second connection (`hedge`):
    when that handshake is answered by a POP3 greeting, the port expects TLS
    and the verdict comes at once, the clear-text wait being cancelled; when
    the greeting comes first, the probe is cancelled.  A silence that lasts
    the whole greeting timeout is read with the probe's answer.
    """
    run, client = state.run, need(state.client)
    started = time.monotonic()
    heard: Hedged[Greeting, ProbeResult] = Hedged()
    if run.security is Security.SSL:
        line = await client.read_greeting()
    else:
        heard = await hedge(
            client.read_greeting(),
            lambda: _tls_on_same_port(run),
            after=late_greeting(run),
            decisive=_speaks_tls,
            wait_for_answer=_silence,
        )
        if heard.error is not None and not (_silence(heard.error) and heard.answer is not None):
            raise heard.error  # read by `greeting_failed`
        if heard.result is None:
            yield _not_greeted(run, heard, time.monotonic() - started)
            return  # without a greeting the run stops here
        line = heard.result
    evidence: dict[str, Any] = {"greeting": line.raw.decode("utf-8", "replace")}
    if heard.backup_after is not None:
        # A late greeting: what was waited for, and what the TLS probe had found by then.
        evidence["waited"] = _waited(run, heard, time.monotonic() - started, "greeting")
        if heard.answer is not None:
            evidence["tls_on_same_port"] = heard.answer.to_dict()
    yield state.run.passed("greeting", m.GREETING_OK, evidence, greeting=line.status.text[:80])
    state.greeting = line


def _waited(run: Run, heard: Hedged[Greeting, ProbeResult], waited: float, ended_by: str) -> dict[str, Any]:
    """What the greeting step waited for, for how long at most, how long it did, and what ended it."""
    return {
        "for": "greeting",
        "at_most_s": run.timeouts.greeting,
        "waited_s": round(waited, 3),
        "tls_probe_after_s": None if heard.backup_after is None else round(heard.backup_after, 3),
        "ended_by": ended_by,
    }


def _not_greeted(run: Run, heard: Hedged[Greeting, ProbeResult], waited: float) -> Finding:
    """No greeting in clear text: port-expects-tls when TLS on the same port was answered, else a timeout."""
    s, probe_result = run.settings, need(heard.answer)
    evidence: dict[str, Any] = evidence_of(heard.error) if heard.error is not None else {}
    evidence["waited"] = _waited(run, heard, waited, "tls-probe" if heard.overtaken else "timeout")
    evidence["tls_on_same_port"] = probe_result.to_dict()
    if not _speaks_tls(probe_result):
        return run.problem("greeting", "greeting-timeout", evidence=evidence)
    run.suggest(Suggestion(s.host, s.port, Security.SSL, s.user))
    if probe_result.ok:
        note = m.fmt(m.NOTE_TLS_ANSWERED, waited=f"{waited:.1f}")
    else:  # TLS is spoken here; its certificate is the next thing to fix
        problem = get_cause(need(probe_result.cause)).title
        note = m.fmt(m.NOTE_TLS_ANSWERED_CERT, waited=f"{waited:.1f}", problem=problem)
    return run.problem("greeting", "port-expects-tls", evidence=evidence, note=note)


async def greeting_failed(state: RunState, exc: Diagnosable) -> AsyncIterator[Finding]:
    run = state.run
    evidence = evidence_of(exc)
    # (A silence in clear text is read by `greeting` itself, with its TLS probe.)
    cause = cause_for_error(exc, implicit_tls=run.security is Security.SSL, stage="greeting")
    if cause == "server-busy" and isinstance(exc, RemoteClosed) and run.security is not Security.SSL:
        # Closed before any greeting in clear text: a server at its connection limit does
        # that, and so does a TLS-only port whose handshake wait ended (Mailutils' pop3s
        # after its handshake-timeout).  Ask the port in TLS before blaming the server
        # (issue 13 item 3).
        answer = await _tls_on_same_port(run)
        evidence["tls_on_same_port"] = answer.to_dict()
        if _speaks_tls(answer):
            s = run.settings
            run.suggest(Suggestion(s.host, s.port, Security.SSL, s.user))
            note = m.NOTE_CLOSED_THEN_TLS if answer.ok else None  # else its certificate is the finding's evidence
            yield run.problem("greeting", "port-expects-tls", evidence=evidence, note=note)
            return
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
