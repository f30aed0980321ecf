"""``pop3doctor lab``: listing, serving until a signal, and the listen warning."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import ssl
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pop3doctor.cli.lab import command, is_loopback
from pop3doctor.lab import SCENARIOS

REQUIRED = [
    "healthy", "wrong-password", "unknown-user", "app-password-required", "web-login-required",
    "pop-disabled", "oauth-required", "account-locked", "mailbox-in-use", "login-delay",
    "sys-temp", "sys-perm", "plaintext-auth-disallowed", "no-stls", "tls-only", "cert-expired",
    "cert-self-signed", "cert-wrong-host", "cert-intercepted", "slow-greeting", "busy",
    "drop-mid-retr", "not-pop3", "garbage", "huge-line", "empty-mailbox", "large-message",
]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_list_shows_every_scenario_with_description(lang: str) -> None:
    result = CliRunner().invoke(command, ["--list", "--lang", lang])
    assert result.exit_code == 0
    listed = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(REQUIRED) <= set(listed) == set(SCENARIOS)
    for name in REQUIRED:
        assert SCENARIOS[name].description(lang) in listed[name]  # type: ignore[arg-type]


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert not is_loopback("mail.example.jp")


def test_non_loopback_listen_warns(tmp_path: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is not on this machine: the warning comes first,
    # then binding fails, so nothing ever listens beyond loopback.
    result = CliRunner().invoke(
        command, ["--listen", "192.0.2.1", "--port", "0", "--tls-port", "0", "--lang", "en",
                  "--ca-out", str(tmp_path / "ca.pem")]
    )
    assert "Warning: 192.0.2.1 is not a loopback address" in result.output
    assert "Could not start the lab (192.0.2.1)" in result.output
    assert result.exit_code == 1


async def test_serves_until_sigint_and_prints_how_to_connect(tmp_path: Path) -> None:
    ca = tmp_path / "lab-ca.pem"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", "lab", "--scenario", "healthy",
        "--port", "0", "--tls-port", "0", "--listen", "127.0.0.1", "--ca-out", str(ca),
        "--lang", "en",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines = []
    try:
        while not lines or not lines[-1].startswith("Press Ctrl-C"):
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, "lab exited early"
            lines.append(raw.decode().rstrip())
        text = "\n".join(lines)
        assert "Warning" not in text
        plain = int(re.search(r"STLS \(STARTTLS\): port (\d+)", text).group(1))
        tls = int(re.search(r"SSL/TLS: port (\d+)", text).group(1))
        user = re.search(r"user: (\S+)", text).group(1)
        password = re.search(r"password: (\S+)", text).group(1)
        assert f"CA file: {ca}" in text
        assert "expected diagnosis cause: ok" in text

        ctx = ssl.create_default_context(cafile=str(ca))

        def login() -> bytes:
            with socket.create_connection(("127.0.0.1", tls), timeout=20) as raw_sock:
                with ctx.wrap_socket(raw_sock, server_hostname="localhost") as s:
                    f = s.makefile("rwb")
                    f.readline()
                    f.write(f"USER {user}\r\nPASS {password}\r\nQUIT\r\n".encode())
                    f.flush()
                    return b"".join(f.readline() for _ in range(3))

        assert await asyncio.to_thread(login) == b"+OK\r\n+OK Logged in.\r\n+OK Logging out.\r\n"
        with socket.create_connection(("127.0.0.1", plain), timeout=20) as s:
            assert s.recv(100).startswith(b"+OK Dovecot")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"Lab stopped." in out
