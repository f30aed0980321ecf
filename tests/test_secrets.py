"""A password never appears in transcripts, exceptions, evidence, JSON, Markdown or terminal output.

Every login path is run against real servers (the lab, over real sockets) with
a distinctive password, and everything the code produced is searched for it,
in clear and in the encodings a leak would take (base64 of the SASL PLAIN
blob, base64 of the password alone).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis.markdown import render_markdown
from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.lab import LabServer
from support.hostile_output import SECRET as ECHO_SECRET
from support.hostile_output import HostileServer, diagnose_args, fetch_args, run_cli, secret_forms

SECRET = "Pw-7f3a9c1e-ZQ!"  # distinctive: any hit is a leak, never a coincidence
USER = "alice"


def forms(secret: str) -> list[str]:
    plain_blob = base64.b64encode(f"\0{USER}\0{secret}".encode()).decode()
    return [secret, base64.b64encode(secret.encode()).decode(), plain_blob]


def assert_clean(text: str, where: str) -> None:
    for form in forms(SECRET):
        assert form not in text, f"password leaked into {where}"


def everything_about(exc: BaseException) -> str:
    parts = [str(exc), repr(exc), repr(exc.args)]
    evidence = getattr(exc, "evidence", None)
    if callable(evidence):
        parts.append(json.dumps(evidence(), default=str))
    parts += [repr(v) for v in vars(exc).values()] if hasattr(exc, "__dict__") else []
    if exc.__cause__ is not None:
        parts.append(everything_about(exc.__cause__))
    return "\n".join(parts)


@pytest.mark.parametrize("mechanism", ["USER", "PLAIN", "LOGIN", "CRAM-MD5", "APOP"])
@pytest.mark.parametrize("scenario", ["healthy", "wrong-password"])
async def test_login_paths_leak_nothing(
    lab_factory: Callable[..., LabServer], tmp_path: Path, mechanism: str, scenario: str
) -> None:
    async with lab_factory(scenario, password=SECRET) as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        client = Pop3Client(lab.host, lab.tls_port, security="ssl", ca_file=str(ca))
        texts = []
        try:
            await client.connect()
            await client.login(USER, SECRET, mechanism=mechanism)
            await client.quit()
        except Exception as exc:  # the failure paths are what we want to inspect
            assert scenario != "healthy", exc
            texts.append(everything_about(exc))
        finally:
            await client.aclose()
        texts.append(client.transcript.render())
        if scenario == "healthy":
            assert lab.logins, "the login really happened"
    for text in texts:
        assert_clean(text, f"{scenario}/{mechanism}")


async def test_oauth_token_is_not_recorded(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    token = "ya29.TOKEN-" + SECRET
    async with lab_factory("oauth-required") as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        client = Pop3Client(lab.host, lab.tls_port, security="ssl", ca_file=str(ca))
        try:
            await client.connect()
            with pytest.raises(Exception) as info:
                await client.login_oauth2(USER, token)
        finally:
            await client.aclose()
    for text in (client.transcript.render(), everything_about(info.value)):
        assert token not in text and SECRET not in text
        assert base64.b64encode(f"user={USER}\x01auth=Bearer {token}\x01\x01".encode()).decode() not in text


@pytest.mark.parametrize("scenario", ["healthy", "wrong-password", "plaintext-auth-disallowed", "cert-expired"])
async def test_reports_leak_nothing(lab_factory: Callable[..., LabServer], tmp_path: Path, scenario: str) -> None:
    async with lab_factory(scenario, password=SECRET) as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        plain = scenario == "plaintext-auth-disallowed"
        port = lab.port if plain and lab.port else lab.tls_port
        settings = Settings(
            lab.host,
            port,
            "plain" if plain else "ssl",
            USER,
            ca_file=str(ca),
            timeout=2,
            allow_plaintext=plain,
            auth="user" if plain else "auto",
        )
        report = Report(settings)
        findings = [f async for f in diagnose(settings, SECRET, report=report, extra_ports=(lab.tls_port,))]
    for lang in ("ja", "en"):
        assert_clean(json.dumps(report.to_dict(lang), ensure_ascii=False, default=str), f"JSON {scenario}")
        assert_clean(render_markdown(report, lang), f"Markdown {scenario}")
        for finding in findings:
            assert_clean(json.dumps(finding.to_dict(lang), ensure_ascii=False, default=str), f"finding {scenario}")


async def test_cli_outputs_leak_nothing(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    """Human output, --json and --report of the real command, password from env and from stdin."""
    async with lab_factory("wrong-password", password=SECRET) as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        base = [
            "diagnose",
            "--host",
            lab.host,
            "--port",
            str(lab.tls_port),
            "--security",
            "ssl",
            "--user",
            USER,
            "--ca-file",
            str(ca),
            "--timeout",
            "2",
        ]
        runs = [
            ([*base, "--password-env", "P3D_PW"], None),
            ([*base, "--password-env", "P3D_PW", "--json"], None),
            ([*base, "--password-stdin", "--report", str(tmp_path / "r.md"), "--lang", "ja"], SECRET + "\n"),
        ]
        for args, stdin in runs:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "pop3doctor",
                *args,
                env={**os.environ, "P3D_PW": SECRET},
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 60)
            assert proc.returncode == 2, err.decode()
            assert_clean(out.decode() + err.decode(), f"CLI {args[-1]}")
    assert_clean((tmp_path / "r.md").read_text(encoding="utf-8"), "support report file")


def test_no_password_option_exists() -> None:
    """The password can never be given as an argument (it would show in ps and shell history)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "diagnose", "--help"], capture_output=True, text=True, check=True
    )
    assert "--password-env" in proc.stdout and "--password-stdin" in proc.stdout
    assert "--password " not in proc.stdout and "--password=" not in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "diagnose", "--host", "h", "--user", "u", "--password", SECRET],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 64
    assert SECRET not in proc.stdout + proc.stderr


# ---- a server that echoes what it received (issue 12 item 4) ------------------------


@pytest.mark.parametrize("auth", ["user", "plain", "login"])
async def test_echoed_password_is_redacted_everywhere(tmp_path: Path, auth: str) -> None:
    outputs: dict[str, str] = {}
    async with HostileServer() as server:
        report = tmp_path / "report.md"
        for name, args in {
            "diagnose": diagnose_args(server, "plain", "--auth", auth),
            "diagnose --json": diagnose_args(server, "plain", "--auth", auth, "--json"),
            "diagnose --report": diagnose_args(server, "plain", "--auth", auth, "--report", str(report)),
        }.items():
            code, out, err = await run_cli(*args)
            assert code == 2, (name, out, err)
            outputs[name] = out + err
        outputs["report.md"] = report.read_text(encoding="utf-8")
        if auth == "user":  # fetch logs in with USER/PASS on a plain connection
            for name, extra in {"fetch": (), "fetch --json": ("--json",)}.items():
                code, out, err = await run_cli(*fetch_args(server, tmp_path, *extra))
                assert code == 2, (name, out, err)
                outputs[name] = out + err
        received = b"".join(server.received).decode()
    # The server really got the password and really echoed it (else the test proves nothing).
    assert any(form in received for form in secret_forms())
    for name, text in outputs.items():
        for form in secret_forms():
            assert form not in text, f"password ({form}) leaked into {name}:\n{text}"
    assert "invalid" in outputs["diagnose --json"], "the server's text itself is kept, only the secret hidden"


async def test_echoed_oauth_token_is_redacted(tmp_path: Path) -> None:
    """The client API: a token echoed in -ERR and in the SASL error challenge is hidden."""
    from pop3doctor.client import Pop3Client
    from pop3doctor.errors import AuthError

    token = "ya29.TOKEN-" + ECHO_SECRET
    async with HostileServer() as server:
        for mechanism in ("XOAUTH2", "OAUTHBEARER"):
            client = Pop3Client(server.host, server.port, security="plain", allow_plaintext=True)
            try:
                await client.connect()
                with pytest.raises(AuthError) as info:
                    await client.login_oauth2(USER, token, mechanism=mechanism)
            finally:
                await client.aclose()
            exc = info.value
            texts = [str(exc), exc.text, repr(exc.status), client.transcript.render(), repr(exc.sasl_error)]
            for text in texts:
                assert token not in text and ECHO_SECRET not in text, (mechanism, text)
                blob = f"user={USER}\x01auth=Bearer {token}\x01\x01"
                assert base64.b64encode(blob.encode()).decode() not in text
