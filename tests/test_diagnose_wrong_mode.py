"""Wrong-mode ports and untrusted STARTTLS certificates, over real sockets (issue 13 items 7 and 5).

Item 7: clear text (STARTTLS or none) on a port that waits for a TLS handshake
hears nothing.  The verdict must not wait out the greeting timeout (2 x
``--timeout``): once the greeting is late, a TLS handshake on the same port
runs beside the wait and its answer ends it.  Tests never assert wall-clock
times, so these rows run with a 30 s ``--timeout`` (a 60 s greeting timeout)
under a bound of `BOUND` seconds, far below it, and check the evidence that
says the TLS probe ended the wait.

Item 5: a server whose CAPA lists STLS but whose certificate is not trusted
(here: the server's CA is not given) is reported for its certificate, with
the certificate's facts, never as "the server does not offer STARTTLS".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.diagnosis.auto_security import auto_security
from pop3doctor.diagnosis.model import Finding, Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.endpoint import Security
from pop3doctor.lab import LabServer
from support.cyrus import CyrusServer
from support.dovecot import DovecotServer

#: The rows' --timeout: the clear-text greeting timeout is twice this.
LONG = 30.0
#: Each wrong-mode diagnosis must end within this many seconds: well below
#: `LONG`, so only a verdict that did not wait for the greeting timeout passes.
BOUND = 15.0


async def run(
    host: str,
    port: int,
    security: str,
    user: str,
    password: str,
    *,
    ca_file: str | None,
    extra: tuple[int, ...],
    timeout: float = LONG,
    **more: Any,
) -> Report:
    settings = Settings(host, port, security, user, ca_file=ca_file, timeout=timeout, **more)  # type: ignore[arg-type]
    report = Report(settings)
    async with asyncio.timeout(BOUND):
        findings = [f async for f in diagnose(settings, password, extra_ports=extra, report=report)]
    assert findings[-1].stage == "summary"
    return report


def finding(report: Report, stage: str) -> Finding:
    return next(f for f in report.findings if f.stage == stage and f.cause)


def assert_tls_probe_ended_the_wait(report: Report, port: int, *, cert_cause: str | None = None) -> None:
    """port-expects-tls on ``port``, suggested SSL/TLS there, decided by the TLS probe, not by a timeout."""
    assert report.cause == "port-expects-tls", [(f.stage, f.cause) for f in report.findings]
    assert report.suggested is not None
    assert (report.suggested.port, report.suggested.security.value) == (port, "ssl")
    evidence = finding(report, "greeting").evidence
    assert evidence["waited"]["for"] == "greeting"
    assert evidence["waited"]["ended_by"] == "tls-probe"
    assert evidence["waited"]["at_most_s"] == 2 * LONG
    probe = evidence["tls_on_same_port"]
    assert (probe["port"], probe["security"]) == (port, "ssl")
    if cert_cause is None:
        assert probe["ok"] is True
    else:
        assert probe["ok"] is False and probe["cause"] == cert_cause and probe["certificate"] is not None


# -- item 7: the lab's implicit-TLS port is silent until the handshake ---------------------------


@pytest.mark.parametrize("security", ["starttls", "plain"])
async def test_clear_text_on_lab_tls_port(lab_factory: Callable[..., LabServer], tmp_path: Path, security: str) -> None:
    async with lab_factory() as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(ca)
        assert lab.port is not None
        report = await run(
            lab.host, lab.tls_port, security, lab.user, lab.password, ca_file=str(ca), extra=(lab.port, lab.tls_port)
        )
    assert_tls_probe_ended_the_wait(report, lab.tls_port)


async def test_clear_text_on_lab_tls_port_with_untrusted_certificate(lab_factory: Callable[..., LabServer]) -> None:
    # The port speaks TLS (its handshake got as far as the certificate): the mode is
    # still the first thing to change, and the note names the certificate's problem.
    async with lab_factory() as lab:
        assert lab.port is not None
        report = await run(
            lab.host, lab.tls_port, "starttls", lab.user, lab.password, ca_file=None, extra=(lab.port, lab.tls_port)
        )
    assert_tls_probe_ended_the_wait(report, lab.tls_port, cert_cause="cert-untrusted")
    explanation = finding(report, "greeting").explanation
    assert explanation is not None and "certificate was not accepted" in explanation.en


async def test_silent_both_ways_is_a_greeting_timeout(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    # A plain port that never greets and never answers TLS either: no mode is wrong,
    # the server is silent.  The TLS probe's failure is the evidence.
    async with lab_factory("slow-greeting") as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(ca)
        assert lab.port is not None
        report = await run(
            lab.host, lab.port, "starttls", lab.user, lab.password, ca_file=str(ca), extra=(), timeout=1.0
        )
    assert report.cause == "greeting-timeout"
    assert report.suggested is None
    evidence = finding(report, "greeting").evidence
    assert evidence["waited"]["ended_by"] == "timeout"
    assert evidence["tls_on_same_port"]["ok"] is False


async def test_late_plain_greeting_is_not_a_wrong_mode(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    # A server that greets late (2 s: a reverse-DNS lookup, say) in clear text: the TLS
    # probe started after the 1 s grace is answered in clear text, so it decides
    # nothing, and the greeting, when it comes, is used as always.
    async with lab_factory("slow-greeting", greeting_delay=2.0) as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(ca)
        assert lab.port is not None
        report = await run(
            lab.host, lab.port, "starttls", lab.user, lab.password, ca_file=str(ca), extra=(), timeout=3.0
        )
    assert report.verdict == "ok", [(f.stage, f.cause) for f in report.findings]
    greeting = next(f for f in report.findings if f.stage == "greeting")
    assert greeting.evidence["waited"]["ended_by"] == "greeting"
    assert greeting.evidence["waited"]["tls_probe_after_s"] is not None
    probe = greeting.evidence.get("tls_on_same_port")
    assert probe is None or probe["ok"] is False


# -- item 7: real servers' implicit-TLS ports ----------------------------------------------------


@pytest.mark.parametrize("security", ["starttls", "plain"])
async def test_clear_text_on_dovecot_pop3s(dovecot: DovecotServer, security: str) -> None:
    report = await run(
        dovecot.host, dovecot.pop3s_port, security, dovecot.user, dovecot.password,
        ca_file=str(dovecot.ca_file), extra=(dovecot.pop3_port, dovecot.pop3s_port),
    )  # fmt: skip
    assert_tls_probe_ended_the_wait(report, dovecot.pop3s_port)


@pytest.mark.parametrize("security", ["starttls", "plain"])
async def test_clear_text_on_cyrus_pop3s(cyrus: CyrusServer, security: str) -> None:
    # Cyrus's pop3s port says nothing until the handshake (it was still silent after 12 s).
    report = await run(
        cyrus.host, cyrus.ports["pop3s"], security, cyrus.user, cyrus.password,
        ca_file=str(cyrus.ca_file), extra=tuple(sorted(set(cyrus.ports.values()))),
    )  # fmt: skip
    assert_tls_probe_ended_the_wait(report, cyrus.ports["pop3s"])


async def test_ssl_on_dovecot_plain_port_is_port_expects_plain(dovecot: DovecotServer) -> None:
    # The reverse: the plain greeting answers our TLS hello at once.
    report = await run(
        dovecot.host, dovecot.pop3_port, "ssl", dovecot.user, dovecot.password,
        ca_file=str(dovecot.ca_file), extra=(dovecot.pop3_port, dovecot.pop3s_port),
    )  # fmt: skip
    assert report.cause == "port-expects-plain"
    assert report.suggested is not None
    assert (report.suggested.port, report.suggested.security.value) == (dovecot.pop3s_port, "ssl")


# -- item 5: STLS offered, certificate untrusted ---------------------------------------------------


def certificate_failure(report: Report, stage: str) -> dict[str, Any]:
    failure: dict[str, Any] = finding(report, stage).evidence["certificate_failure"]
    return failure


async def test_plain_setting_with_untrusted_stls_certificate(lab_factory: Callable[..., LabServer]) -> None:
    async with lab_factory() as lab:
        assert lab.port is not None
        # No CA file: the lab's certificate is from a CA this computer does not trust.
        report = await run(
            lab.host, lab.port, "plain", lab.user, lab.password, ca_file=None, extra=(lab.port, lab.tls_port)
        )
    assert report.cause == "cert-untrusted", [(f.stage, f.cause) for f in report.findings]
    assert report.suggested is None
    assert not any(f.cause == "starttls-unavailable" for f in report.findings)
    login = finding(report, "login")
    assert login.evidence["stls_offered"] is True
    failure = certificate_failure(report, "login")
    # The best-ranked encrypted mode that failed on its certificate: the lab's implicit-TLS port.
    assert (failure["port"], failure["security"], failure["cause"]) == (lab.tls_port, "ssl", "cert-untrusted")
    assert failure["certificate"]["issuer"] and failure["certificate"]["subject_cn"] == lab.hostname
    alternatives = {(a["port"], a["security"]): a for a in login.evidence["alternatives"]}
    assert alternatives[(lab.port, "starttls")]["cause"] == "cert-untrusted"
    assert alternatives[(lab.port, "starttls")]["certificate"]["sha256"] == failure["certificate"]["sha256"]
    # The clear-text probe of the implicit-TLS port was stopped (that port spoke TLS), not waited out.
    assert alternatives[(lab.tls_port, "starttls")]["cause"] == "port-expects-tls"


async def test_starttls_setting_with_untrusted_certificate(lab_factory: Callable[..., LabServer]) -> None:
    async with lab_factory() as lab:
        assert lab.port is not None
        report = await run(
            lab.host, lab.port, "starttls", lab.user, lab.password, ca_file=None, extra=(lab.port, lab.tls_port)
        )
    assert report.cause == "cert-untrusted"
    assert report.suggested is None
    assert finding(report, "tls").evidence["certificate"]["sha256"]


async def test_clear_login_with_untrusted_stls_certificate_names_it(lab_factory: Callable[..., LabServer]) -> None:
    # Plain text allowed: the login works, and the warning must not say "no encryption was found".
    async with lab_factory() as lab:
        assert lab.port is not None
        report = await run(
            lab.host, lab.port, "plain", lab.user, lab.password, ca_file=None, extra=(lab.port, lab.tls_port),
            allow_plaintext=True,
        )  # fmt: skip
    assert (report.verdict, report.cause) == ("warning", "encryption-off")
    assert report.suggested is None
    warning = finding(report, "login")
    assert certificate_failure(report, "login")["cause"] == "cert-untrusted"
    remedy = " ".join(step.en for step in warning.remedy)
    assert "does offer encryption" in remedy and "The server's certificate is not trusted" in remedy
    assert "No encrypted connection" not in remedy


async def test_plain_setting_with_untrusted_certificate_on_dovecot(dovecot: DovecotServer) -> None:
    report = await run(
        dovecot.host, dovecot.pop3_port, "plain", dovecot.user, dovecot.password,
        ca_file=None, extra=(dovecot.pop3_port, dovecot.pop3s_port),
    )  # fmt: skip
    assert report.cause == "cert-untrusted", [(f.stage, f.cause) for f in report.findings]
    assert report.suggested is None
    assert certificate_failure(report, "login")["port"] == dovecot.pop3s_port


async def test_plain_setting_with_untrusted_certificate_on_cyrus(cyrus: CyrusServer) -> None:
    report = await run(
        cyrus.host, cyrus.ports["pop3"], "plain", cyrus.user, cyrus.password,
        ca_file=None, extra=tuple(sorted(set(cyrus.ports.values()))),
    )  # fmt: skip
    assert report.cause == "cert-untrusted", [(f.stage, f.cause) for f in report.findings]
    assert report.suggested is None
    assert certificate_failure(report, "login")["port"] == cyrus.ports["pop3s"]


async def test_security_auto_on_a_tls_port_does_not_wait_for_the_clear_text_probe(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # --security auto on an unusual port probes both modes; once SSL/TLS answered, the
    # STARTTLS probe (silent until its 60 s greeting timeout here) is stopped.
    async with lab_factory() as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(ca)
        async with asyncio.timeout(BOUND):
            chosen = await auto_security(lab.host, lab.tls_port, timeout=LONG, ca_file=str(ca), nameservers=None)
    assert chosen == (Security.SSL, lab.tls_port)
