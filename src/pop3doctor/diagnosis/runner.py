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

The steps and their order are the table in `pipeline.py`; this module starts
the run and adds what comes after it: the late IPv6 verdict and the summary.
The whole run has a deadline (`default_deadline`): a server that answers too
slowly, or never ends an answer, gets a ``diagnosis-deadline`` finding at the
step it was in, not a run of hours (issue 12).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.model import Finding, Report, Settings, Status
from pop3doctor.diagnosis.pipeline import run_steps
from pop3doctor.diagnosis.state import Options, Run, RunState
from pop3doctor.diagnosis.tasks import cancel
from pop3doctor.net.probe import PortCheck

#: The shortest default deadline of a whole diagnosis, in seconds.
MIN_DEADLINE = 60.0


def default_deadline(timeout: float) -> float:
    """max(60 s, 7 x ``--timeout``): room for every phase's timeout in turn plus probing."""
    return max(MIN_DEADLINE, 7 * timeout)


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
    deadline: float | None = None,
) -> AsyncIterator[Finding]:
    """Yield one `Finding` per stage as it completes; the last has stage "summary".

    ``extra_ports`` are probed as alternatives besides 995 and 110 (the lab and
    tests serve on unprivileged ports), and as other ports of the same host
    when the POP3 port does not connect.  ``reference`` (``"host:port"``) is
    an endpoint expected to accept TCP connections from anywhere: when
    nothing on the server answers, it tells "the server is down" from "no
    internet at all".  Pass a `Report` to have it filled as well (front ends
    render it at the end).  ``deadline`` is the run's limit in seconds
    (default `default_deadline` of the settings' timeout): at it the step
    under way is stopped (its connection aborted) and reported as
    ``diagnosis-deadline``.
    """
    run = Run(settings, nameservers, extra_ports, reference)
    if report is not None:
        run.report = report
    state = RunState(run, Options(password, try_username_forms, email_domain))
    seconds = default_deadline(settings.timeout) if deadline is None else deadline
    ends = asyncio.get_running_loop().time() + seconds
    steps = run_steps(state)
    try:
        while True:
            # One timeout per step of the generator, never across a yield: the
            # consumer's own work between findings is not ours to cancel.
            try:
                async with asyncio.timeout_at(ends):
                    finding = await anext(steps)
            except StopAsyncIteration:
                break
            except TimeoutError:
                yield run.problem(run.stage, "diagnosis-deadline", evidence={"deadline_s": seconds, "step": run.step})
                break
            yield finding
        if not _deadline_passed(run):
            try:
                async with asyncio.timeout_at(ends):
                    late = await _ipv6_verdict(run, _ipv6_check(state))
            except TimeoutError:
                late = None
            if late is not None:
                yield late
    finally:
        await steps.aclose()
        await cancel(_ipv6_check(state))
    yield _summary(run)


def _deadline_passed(run: Run) -> bool:
    return any(f.cause == "diagnosis-deadline" for f in run.report.findings)


def _ipv6_check(state: RunState) -> asyncio.Task[PortCheck | None] | None:
    return state.connected.ipv6_check if state.connected is not None else None


async def _ipv6_verdict(run: Run, task: asyncio.Task[PortCheck | None] | None) -> Finding | None:
    """The IPv6-only check's result, as an ipv6-broken warning placed with the connect findings."""
    if task is None:
        return None
    check = await task
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
