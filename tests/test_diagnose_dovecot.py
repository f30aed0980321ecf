"""Diagnosis against a real Dovecot: the verdicts a real server produces."""

from __future__ import annotations

from pop3doctor.diagnosis.model import Report, Settings, Status
from pop3doctor.diagnosis.runner import diagnose
from support.dovecot import DovecotServer
from support.messages import make_message


async def run(server: DovecotServer, port: int, security: str, password: str | None, **kw: object) -> Report:
    settings = Settings(server.host, port, security, server.user, ca_file=str(server.ca_file), timeout=3, **kw)  # type: ignore[arg-type]
    report = Report(settings)
    extra = (server.pop3_port, server.pop3s_port)
    findings = [f async for f in diagnose(settings, password, extra_ports=extra, report=report)]
    assert findings[-1].stage == "summary"
    return report


async def test_healthy_over_implicit_tls_and_starttls(dovecot: DovecotServer) -> None:
    dovecot.clear()
    dovecot.deliver([make_message(i, 3000) for i in range(3)])
    for port, security in ((dovecot.pop3s_port, "ssl"), (dovecot.pop3_port, "starttls")):
        report = await run(dovecot, port, security, dovecot.password)
        assert report.verdict == "ok", [(f.stage, f.status, f.cause) for f in report.findings]
        assert report.cause == "ok"
        stages = {f.stage: f for f in report.findings}
        assert stages["tls"].status is Status.PASS
        assert stages["tls"].evidence["version"].startswith("TLSv1.")
        assert stages["mailbox"].evidence["count"] == 3
        assert stages["retrieval"].status is Status.PASS
    # The diagnosis never deletes: the messages are still there.
    assert dovecot.maildir_count() == 3


async def test_wrong_password(dovecot: DovecotServer) -> None:
    report = await run(dovecot, dovecot.pop3s_port, "ssl", "wrong-" + dovecot.password)
    assert report.cause == "auth-failed"
    login = next(f for f in report.findings if f.stage == "login")
    assert login.status is Status.FAIL
    assert "Authentication failed" in login.evidence["server_said"]


async def test_username_form_is_found_only_when_allowed(dovecot: DovecotServer) -> None:
    """The account is "bob@example.test"; the mail program says just "bob"."""
    settings = Settings(dovecot.host, dovecot.pop3s_port, "ssl", "bob", ca_file=str(dovecot.ca_file), timeout=3)
    password = dovecot.users["bob@example.test"]
    report = Report(settings)
    _ = [f async for f in diagnose(settings, password, email_domain="example.test", report=report)]
    assert report.cause == "auth-failed"
    login = next(f for f in report.findings if f.stage == "login")
    assert any("bob@example.test" in step.en and "bob@example.test" in step.ja for step in login.remedy)
    assert report.suggested is None

    report = Report(settings)
    _ = [
        f
        async for f in diagnose(
            settings, password, email_domain="example.test", try_username_forms=True, report=report
        )
    ]
    assert report.cause == "username-format"
    assert report.suggested is not None and report.suggested.user == "bob@example.test"


async def test_plaintext_disallowed_suggests_encryption(dovecot: DovecotServer) -> None:
    # The mail program is set to "no encryption" and told to send the password anyway.
    report = await run(dovecot, dovecot.pop3_port, "plain", dovecot.password, allow_plaintext=True, auth="user")
    assert report.cause == "plaintext-auth-disallowed"
    assert report.suggested is not None
    assert (report.suggested.port, report.suggested.security) in {
        (dovecot.pop3s_port, "ssl"),
        (dovecot.pop3_port, "starttls"),
    }


async def test_plain_setting_without_permission_sends_no_password(dovecot: DovecotServer) -> None:
    report = await run(dovecot, dovecot.pop3_port, "plain", dovecot.password)
    assert report.cause == "encryption-off"
    assert report.suggested is not None and report.suggested.security in ("ssl", "starttls")
    sent = [line for f in report.findings for line in f.transcript if line.startswith("C: ")]
    assert sent and not any(line.startswith(("C: USER", "C: PASS", "C: AUTH", "C: APOP")) for line in sent)
