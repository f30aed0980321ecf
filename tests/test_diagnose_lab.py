"""Table-driven: every lab scenario, diagnosed by the real CLI over real sockets.

The lab runs in this test's event loop; ``pop3doctor diagnose --json`` runs as
a subprocess (the password comes through an environment variable, as a user
would pass it) and must name the scenario's cause and, where one exists, the
settings that work.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.lab import LabServer
from pop3doctor.lab.scenarios import SCENARIOS

PASSWORD_ENV = "POP3DOCTOR_TEST_PASSWORD"


@dataclass(frozen=True)
class Case:
    scenario: str
    cause: str
    port: str = "tls"  # which lab port the "mail program" is set to: "tls" or "plain"
    security: str = "ssl"
    allow_plaintext: bool = False
    suggest: tuple[str, str] | None = None  # (lab port name, security) expected in suggested_settings
    verdict: str = "problem"
    options: tuple[tuple[str, Any], ...] = ()
    auth: str = "auto"  # the mail program's login method


CASES = [
    Case("healthy", "ok", verdict="ok"),
    Case("healthy", "ok", port="plain", security="starttls", verdict="ok"),
    # SSL/TLS set on the plain port: the most common mix-up of all.
    Case("healthy", "port-expects-plain", port="plain", security="ssl", suggest=("tls", "ssl")),
    # Encryption "none" while the server offers it: no password is sent.
    Case("healthy", "encryption-off", port="plain", security="plain", suggest=("tls", "ssl")),
    Case("wrong-password", "auth-failed"),
    # A timestamp in the greeting, no APOP secret: "auto" is the normal password and works
    # (issue 13 item 1); APOP chosen by the user is refused, and that is not called a wrong password.
    Case("apop-no-secret", "ok", verdict="ok"),
    Case("apop-no-secret", "auth-mechanism-unsupported", auth="apop"),
    Case("unknown-user", "user-unknown"),
    Case("app-password-required", "app-password-required"),
    Case("web-login-required", "web-login-required"),
    Case("pop-disabled", "pop-disabled"),
    Case("oauth-required", "oauth-required"),
    Case("account-locked", "account-locked"),
    Case("mailbox-in-use", "mailbox-in-use"),
    Case("login-delay", "login-delay"),
    Case("sys-temp", "server-temporary-error"),
    Case("sys-perm", "server-permanent-error"),
    Case(
        "plaintext-auth-disallowed",
        "plaintext-auth-disallowed",
        port="plain",
        security="plain",
        allow_plaintext=True,
        # "Normal password" (USER/PASS) as most mail programs send it; with
        # "auto" the client would pick CRAM-MD5, which such servers allow.
        auth="user",
        suggest=("tls", "ssl"),
    ),
    Case("no-stls", "starttls-unavailable", port="plain", security="starttls", suggest=("tls", "ssl")),
    Case("tls-only", "port-expects-tls", port="tls", security="starttls", suggest=("tls", "ssl")),
    Case("cert-expired", "cert-expired"),
    Case("cert-self-signed", "cert-untrusted"),
    Case("cert-wrong-host", "cert-hostname-mismatch"),
    Case("cert-intercepted", "tls-intercepted"),
    Case("slow-greeting", "greeting-timeout"),
    Case("busy", "server-busy"),
    Case("drop-mid-retr", "connection-dropped"),
    Case("not-pop3", "not-pop3", port="plain", security="starttls"),
    Case("garbage", "retrieval-failed"),
    Case("huge-line", "retrieval-failed"),
    Case("empty-mailbox", "mailbox-empty", verdict="warning"),
    Case("large-message", "message-too-large", verdict="warning"),
]


def test_every_scenario_is_in_the_table() -> None:
    assert {c.scenario for c in CASES} == set(SCENARIOS)
    # ...and each scenario's declared cause is what the table expects for it
    # with the settings a user of that server would have.
    declared = {name: s.expected_cause for name, s in SCENARIOS.items()}
    for case in CASES:
        if case.scenario != "healthy":
            # (a login method the user chose, not "auto", may meet another cause)
            assert declared[case.scenario] == case.cause or case.scenario == "tls-only" or case.auth != "auto"


async def run_cli(*args: str, env: dict[str, str], stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def lab_port(lab: LabServer, name: str) -> int:
    port = lab.tls_port if name == "tls" else lab.port
    if port is None:  # tls-only closes the plain port; point at any closed port
        return 9
    return port


async def diagnose_json(lab: LabServer, case: Case, tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    ca = tmp_path / "lab-ca.pem"
    lab.write_ca(str(ca))
    env = {**os.environ, PASSWORD_ENV: lab.password}
    args = [
        "diagnose", "--host", lab.host, "--port", str(lab_port(lab, case.port)), "--security", case.security,
        "--user", lab.user, "--password-env", PASSWORD_ENV, "--ca-file", str(ca), "--timeout", "2", "--json",
        "--extra-port", str(lab.tls_port),
        *extra,
    ]
    if lab.port is not None:
        args += ["--extra-port", str(lab.port)]
    if case.allow_plaintext:
        args.append("--allow-plaintext")
    args += ["--auth", case.auth]
    code, out, err = await run_cli(*args, env=env)
    assert lab.password not in out and lab.password not in err
    return code, json.loads(out), err


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.scenario}-{c.port}-{c.security}")
async def test_diagnose_names_the_cause(case: Case, lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory(case.scenario, **dict(case.options)) as lab:
        code, report, err = await diagnose_json(lab, case, tmp_path)
    assert report["schema"] == "pop3doctor.report/1"
    assert report["cause"] == case.cause, (report, err)
    assert report["verdict"] == case.verdict
    assert code == {"ok": 0, "warning": 1, "problem": 2}[case.verdict]
    if case.suggest is None:
        assert report["suggested_settings"] is None
    else:
        port_name, security = case.suggest
        expected_port = lab.tls_port if port_name == "tls" else lab.port
        assert report["suggested_settings"] == {
            "host": lab.host, "port": expected_port, "security": security, "user": lab.user,
        }
    # Stages appear in the order a mail program meets them: with STARTTLS the
    # greeting comes before encryption, with SSL/TLS after it.
    order = ["network", "resolve", "connect", "tls", "greeting", "capabilities", "login", "mailbox", "retrieval"]
    if case.security != "ssl":
        order = ["network", "resolve", "connect", "greeting", "tls", "capabilities", "login", "mailbox", "retrieval"]
    stages = [f["stage"] for f in report["findings"]]
    assert stages == sorted(stages, key=order.index)
    failing = [f for f in report["findings"] if f["status"] in ("fail", "warn")]
    if case.verdict != "ok":
        assert failing and failing[0]["cause"] == case.cause
        assert failing[0]["remedy"], "a problem always comes with steps to fix it"


@pytest.mark.parametrize(
    ("seconds", "ja", "en"),
    [
        (60, "1 分以上", "1 minute or more"),
        (900, "15 分以上", "15 minutes or more"),
        (30, "30 秒以上", "30 seconds or more"),
    ],
)
async def test_login_delay_remedy_uses_the_announced_delay(
    seconds: int, ja: str, en: str, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # Issue 13 item 6: CAPA's "LOGIN-DELAY <seconds>" (RFC 2449 s6.5) is the interval to set, not a fixed 15 min.
    from pop3doctor.diagnosis.model import Report, Settings
    from pop3doctor.diagnosis.runner import diagnose

    ca = tmp_path / "lab-ca.pem"
    async with lab_factory("login-delay", login_delay=seconds) as lab:
        lab.write_ca(str(ca))
        settings = Settings(lab.host, lab.tls_port, "ssl", lab.user, ca_file=str(ca), timeout=2)  # type: ignore[arg-type]
        report = Report(settings)
        _ = [f async for f in diagnose(settings, lab.password, report=report)]
    assert report.cause == "login-delay"
    login = next(f for f in report.findings if f.stage == "login")
    assert any(ja in step.ja for step in login.remedy), [s.ja for s in login.remedy]
    assert any(en in step.en for step in login.remedy), [s.en for s in login.remedy]


async def test_clear_login_with_no_encryption_anywhere_says_so(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # Issue 13 item 4: no STLS on this port and no implicit-TLS port answering: the warning
    # says the password can only travel in clear, and suggests no setting it did not prove.
    from pop3doctor.diagnosis.model import Report, Settings, Status
    from pop3doctor.diagnosis.runner import diagnose

    async with lab_factory("no-stls") as lab:
        settings = Settings(lab.host, lab.port, "plain", lab.user, timeout=2, allow_plaintext=True, auth="user")  # type: ignore[arg-type]
        report = Report(settings)
        _ = [f async for f in diagnose(settings, lab.password, extra_ports=(), report=report)]
    warning = next(f for f in report.findings if f.stage == "login" and f.status is Status.WARN)
    assert warning.cause == "encryption-off" and warning.suggestion is None and report.suggested is None
    assert any("neither STARTTLS nor SSL/TLS" in step.en for step in warning.remedy), warning.remedy
    assert any("STARTTLS も SSL/TLS も" in step.ja for step in warning.remedy), warning.remedy
    assert [a["port"] for a in warning.evidence["alternatives"]], warning.evidence  # it did probe


@pytest.mark.parametrize("security", ["plain", "starttls"])
async def test_no_stls_and_no_tls_port_says_no_encryption_exists(
    lab_factory: Callable[..., LabServer], security: str
) -> None:
    # Issue 13 item 4, before any login: "plain" without --allow-plaintext, or "starttls"
    # where STLS is missing, and no encrypted alternative answers.  The verdict says that
    # no encryption exists (we probed), not "set STARTTLS" or "the server supports encryption".
    from pop3doctor.diagnosis.model import Report, Settings
    from pop3doctor.diagnosis.runner import diagnose

    async with lab_factory("no-stls") as lab:
        settings = Settings(lab.host, lab.port, security, lab.user, timeout=2)  # type: ignore[arg-type]
        report = Report(settings)
        _ = [f async for f in diagnose(settings, lab.password, extra_ports=(), report=report)]
    assert (report.cause, report.suggested) == ("no-encryption-offered", None)
    failed = next(f for f in report.findings if f.cause == "no-encryption-offered" and f.stage != "summary")
    probed = failed.evidence["alternatives"]
    assert {(a["security"], a["ok"]) for a in probed} >= {("ssl", False)}, probed
    assert "STARTTLS" in failed.title.en and "STARTTLS" in failed.title.ja
    assert any("--allow-plaintext" in step.en for step in failed.remedy)
    assert not any("{" in step.en or "{" in step.ja for step in failed.remedy)


def test_a_broken_certificate_is_not_no_encryption() -> None:
    # A TLS port with a bad certificate does speak TLS: "no encryption here" would be false.
    from pop3doctor.diagnosis.alternatives import no_encryption_found

    refused = {"port": 995, "security": "ssl", "ok": False, "cause": "connection-refused"}
    bad_cert = {"port": 995, "security": "ssl", "ok": False, "cause": "cert-untrusted"}
    no_stls = {"port": 110, "security": "starttls", "ok": False, "cause": "starttls-unavailable"}
    assert no_encryption_found([refused, no_stls])
    assert not no_encryption_found([bad_cert, no_stls])
    assert not no_encryption_found([])  # nothing probed proves nothing


async def test_refused_apop_names_the_method_and_both_candidates(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # Issue 13 item 1: "-ERR [AUTH] Authentication failed." to APOP is no evidence of a wrong
    # password; the explanation says what else it may be, in both languages.
    from pop3doctor.diagnosis.model import Report, Settings
    from pop3doctor.diagnosis.runner import diagnose

    async with lab_factory("apop-no-secret") as lab:
        ca = tmp_path / "lab-ca.pem"
        ca.write_bytes(lab.ca_pem)
        settings = Settings(lab.host, lab.tls_port, "ssl", lab.user, ca_file=str(ca), timeout=2, auth="apop")  # type: ignore[arg-type]
        report = Report(settings)
        _ = [f async for f in diagnose(settings, lab.password, extra_ports=(), report=report)]
    refused = next(f for f in report.findings if f.stage == "login")
    assert refused.cause == "auth-mechanism-unsupported" and refused.evidence["mechanism"] == "APOP"
    assert "APOP" in refused.explanation.en and "password is wrong" in refused.explanation.en
    assert "APOP" in refused.explanation.ja
    assert report.suggested is None  # over TLS another port would not change the login


async def test_a_listing_dropped_once_stays_a_dropped_connection(tmp_path: Path) -> None:
    # The counterpart of the Dovecot pop3_uidl_format=%m row (closed at UIDL every time ->
    # retrieval-failed): closed at UIDL only once, the second connection lists fine, so the
    # drop is the network's (connection-dropped), and that second look is in the evidence.
    import dataclasses

    import trustme

    from pop3doctor.diagnosis.model import Report, Settings
    from pop3doctor.diagnosis.runner import diagnose
    from pop3doctor.lab.faults import Conn
    from pop3doctor.lab.scenarios import get_scenario

    drops = 0

    async def drop_first_uidl(conn: Conn, verb: str, args: list[str]) -> bool:
        nonlocal drops
        if verb == "UIDL" and drops == 0:
            drops += 1
            await conn.send_line("+OK")
            conn.abort()
            return True
        return False

    scenario = dataclasses.replace(get_scenario("healthy"), name="drop-uidl-once", on_transaction=drop_first_uidl)
    ca_file = tmp_path / "ca.pem"
    async with LabServer(scenario, ca=trustme.CA()) as lab:
        lab.write_ca(str(ca_file))
        settings = Settings(lab.host, lab.tls_port, "ssl", lab.user, ca_file=str(ca_file), timeout=2)  # type: ignore[arg-type]
        report = Report(settings)
        _ = [f async for f in diagnose(settings, lab.password, extra_ports=(), report=report)]
        logins = len(lab.logins)
    failed = next(f for f in report.findings if f.stage == "mailbox" and f.cause)
    assert (failed.cause, failed.evidence["asked_again"]) == (
        "connection-dropped",
        {"command": "UIDL", "closed_again": False},
    )
    assert logins == 2  # the second look logged in with the password that had just worked
