"""The one endpoint value type, and what every layer derives from it.

`Endpoint` replaced five near-copies (diagnosis settings and suggestions, the
fetch account, discovery's candidate as the diagnosis needs it, the web
page's discovered settings): these tests pin its conversions, and the
``--security auto`` probe that moved from the front end into the diagnosis.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pop3doctor import client as client_module
from pop3doctor.cli.options import security_and_port
from pop3doctor.client import Pop3Client
from pop3doctor.diagnosis.auto_security import auto_security
from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.discovery.model import Candidate, Confidence, Source, UsernameForm
from pop3doctor.endpoint import DEFAULT_PORTS, Endpoint, Security, default_port
from pop3doctor.lab import LabServer


def test_security_is_always_the_enum_and_a_wrong_one_is_refused() -> None:
    endpoint = Endpoint("pop.example.test", 110, "starttls", "alice")  # type: ignore[arg-type]
    assert endpoint.security is Security.STARTTLS
    with pytest.raises(ValueError):
        Endpoint("pop.example.test", 110, "tls", "alice")  # type: ignore[arg-type]


def test_public_form_and_other_mode() -> None:
    endpoint = Endpoint("pop.example.test", 995, Security.SSL, "alice", ca_file="/ca.pem", auth="user")
    assert endpoint.public() == {"host": "pop.example.test", "port": 995, "security": "ssl", "user": "alice"}
    assert json.dumps(endpoint.public()) == (
        '{"host": "pop.example.test", "port": 995, "security": "ssl", "user": "alice"}'
    )
    other = endpoint.at(110, Security.STARTTLS)
    assert (other.port, other.security, other.ca_file, other.auth) == (110, Security.STARTTLS, "/ca.pem", "user")
    with pytest.raises(dataclasses.FrozenInstanceError):
        endpoint.port = 1  # type: ignore[misc]


def test_default_ports_and_the_old_client_names() -> None:
    assert DEFAULT_PORTS == {Security.SSL: 995, Security.STARTTLS: 110, Security.PLAIN: 110}
    assert (default_port(Security.SSL), default_port("plain"), default_port(Security.SSL, 2995)) == (995, 110, 2995)
    # Imports from before endpoint.py existed still work.
    assert client_module.Security is Security and client_module.DEFAULT_PORTS is DEFAULT_PORTS


def test_client_from_endpoint_takes_the_connection_facts() -> None:
    endpoint = Endpoint("pop.example.test", 1110, Security.PLAIN, "alice", ca_file="/ca.pem", allow_plaintext=True)
    client = Pop3Client.from_endpoint(endpoint, nameservers=["127.0.0.1"])
    assert (client.host, client.port, client.security, client.allow_plaintext) == (
        "pop.example.test",
        1110,
        Security.PLAIN,
        True,
    )
    assert client.nameservers == ["127.0.0.1"] and client.server_hostname == "pop.example.test"


def test_settings_are_an_endpoint_with_a_timeout() -> None:
    endpoint = Endpoint("pop.example.test", 995, Security.SSL, "alice", auth="apop", ca_file="/ca.pem")
    settings = Settings.of(endpoint, timeout=3.0)
    assert isinstance(settings, Endpoint)
    assert (settings.auth, settings.ca_file, settings.timeout) == ("apop", "/ca.pem", 3.0)
    assert Settings("pop.example.test", 995, "ssl", "alice").timeout == 8.0  # type: ignore[arg-type]
    # The report's JSON shows the settings without CA path or options, security as a string.
    assert Report(settings).to_dict("en")["settings"] == endpoint.public()


def _candidate(username: str, form: UsernameForm) -> Candidate:
    return Candidate(
        "pop.example.test", 995, Security.SSL, username, form, Source.PROVIDER, "provider", Confidence.HIGH, "test"
    )


def test_candidate_to_endpoint_takes_an_explicit_user() -> None:
    candidate = _candidate("alice@example.test", UsernameForm.ADDRESS)
    assert candidate.to_endpoint() == Endpoint("pop.example.test", 995, Security.SSL, "alice@example.test")
    assert candidate.to_endpoint("bob").user == "bob"
    assert _candidate("", UsernameForm.ACCOUNT_ID).to_endpoint().user == ""


@pytest.mark.parametrize(
    ("security", "port", "expected"),
    [
        ("ssl", None, (Security.SSL, 995)),
        ("starttls", None, (Security.STARTTLS, 110)),
        ("plain", None, (Security.PLAIN, 110)),
        ("ssl", 2995, (Security.SSL, 2995)),
        ("auto", None, (None, None)),
        ("auto", 995, (Security.SSL, 995)),
        ("auto", 110, (Security.STARTTLS, 110)),
        ("auto", 2110, (None, 2110)),
    ],
)
def test_security_and_port(security: str, port: int | None, expected: tuple[Security | None, int | None]) -> None:
    assert security_and_port(security, port) == expected


async def test_auto_security_asks_the_server(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca))
        assert lab.port is not None

        async def ask(port: int) -> tuple[Security, int]:
            return await auto_security(lab.host, port, timeout=2, ca_file=str(ca), nameservers=None)

        assert await ask(lab.tls_port) == (Security.SSL, lab.tls_port)
        assert await ask(lab.port) == (Security.STARTTLS, lab.port)
    # Nothing answers: SSL/TLS, so the diagnosis explains why the recommended mode fails.
    assert await ask(9) == (Security.SSL, 9)


async def test_diagnose_security_auto_on_an_unusual_port(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    async with lab_factory("healthy") as lab:
        lab.write_ca(str(ca))
        assert lab.port is not None
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pop3doctor", "diagnose", "--host", lab.host, "--port", str(lab.port),
            "--security", "auto", "--user", lab.user, "--password-env", "POP3DOCTOR_TEST_PASSWORD",
            "--ca-file", str(ca), "--timeout", "2", "--json",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "POP3DOCTOR_TEST_PASSWORD": lab.password},
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    report = json.loads(out)
    assert report["settings"] == {"host": lab.host, "port": lab.port, "security": "starttls", "user": lab.user}
    assert (report["verdict"], proc.returncode) == ("ok", 0), err


# --- issue 12: a host name is checked before any lookup ------------------------------------

_LONG_LABEL = "a" * 64 + ".example"


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("a..b", "empty-label"),
        (".example.com", "empty-label"),
        (_LONG_LABEL, "long-label"),
        (".".join(["a" * 60] * 5), "long-name"),
        ("pop example.com", "bad-character"),
        ("pop\x1b[31m.example", "bad-character"),
        ("[::1]", "bad-character"),
        ("", "empty"),
    ],
)
def test_host_problem_names_what_is_wrong(host: str, problem: str) -> None:
    from pop3doctor.endpoint import host_problem
    from pop3doctor.i18n import catalog

    msg = host_problem(host)
    assert msg is not None
    why = catalog("cli").group("HOST_PROBLEMS")[problem]
    assert why.en in msg.en and why.ja in msg.ja
    assert "\x1b" not in msg.en + msg.ja  # shown escaped


@pytest.mark.parametrize(
    "host", ["pop.example.com", "pop.example.com.", "127.0.0.1", "::1", "fe80::1%eth0", "bücher.example", "a_b.lan"]
)
def test_host_problem_accepts_names_and_ip_literals(host: str) -> None:
    from pop3doctor.endpoint import host_problem

    assert host_problem(host) is None


@pytest.mark.parametrize("command", ["diagnose", "fetch"])
@pytest.mark.parametrize(
    ("host", "en", "ja"),
    [("a..b", "two dots in a row", "ドットが続いて"), (_LONG_LABEL, "longer than 63 characters", "63 文字を超えて")],
)
def test_a_bad_host_is_a_usage_error_not_a_unicode_error(
    tmp_path: Path, command: str, host: str, en: str, ja: str
) -> None:
    """``a..b`` or a 64-character label made getaddrinfo's IDNA codec raise UnicodeError (a traceback)."""
    import subprocess

    extra = ["--maildir", str(tmp_path / "M"), "--state", str(tmp_path / "st")] if command == "fetch" else []
    for lang, word in (("en", en), ("ja", ja)):
        proc = subprocess.run(
            [sys.executable, "-m", "pop3doctor", command, "--host", host, "--user", "u",
             "--password-env", "HOME", *extra, "--lang", lang],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 64, proc.stderr
        assert "Traceback" not in proc.stderr and "UnicodeError" not in proc.stderr
        assert host in proc.stderr and word in proc.stderr, proc.stderr
    assert not (tmp_path / "M").exists()  # refused before anything was created
