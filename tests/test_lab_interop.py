"""Real POP3 clients from Debian (mpop, fetchmail) download the healthy lab's
mail intact, over STLS and over implicit TLS, verifying the lab CA.

What each client adds, and is removed before comparing bytes:

- mpop 1.4 (maildir delivery) prepends one "Received: from 127.0.0.1 ...
  by <host> (mpop-1.4.x) with POP3 for <user>; <date>" header field (3 lines)
  and stores LF line ends;
- fetchmail 6.4 (mda delivery) prepends one "Received: from 127.0.0.1
  [127.0.0.1] by <host> with POP3 (fetchmail-6.4.x) for <user> (single-drop);
  <date>" field (3 lines) and hands the MDA LF line ends.

Everything else must be byte-identical to what the lab served, for every
message.  The password reaches mpop through ``passwordeval`` reading a file
and fetchmail through its 0600 rc file, never through argv.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from pop3doctor.lab import LabServer

MPOP = shutil.which("mpop")
FETCHMAIL = shutil.which("fetchmail")


def _need(path: str | None, package: str) -> str:
    """The client's path; skip without it, but fail in CI, where ./dev installs it."""
    if path is None:
        message = f"{package} is not installed (Debian package {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def _without_received(data: bytes, marker: bytes) -> bytes:
    """Drop the first header field, which must be the client's Received: line."""
    data = data.replace(b"\r\n", b"\n")
    assert data.startswith(b"Received: "), data[:80]
    lines = data.split(b"\n")
    end = 1
    while lines[end][:1] in (b" ", b"\t"):
        end += 1
    assert marker in b"\n".join(lines[:end])
    return b"\n".join(lines[end:])


def _served(lab: LabServer) -> list[bytes]:
    return sorted(m.data.replace(b"\r\n", b"\n") for m in lab.mailbox)


async def _run(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", "replace")


def _env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C"}


@pytest.mark.parametrize(
    ("mode", "keep", "auth"),
    [
        ("stls", True, "on"),
        ("tls", False, "on"),
        # mpop's other login methods against the lab's implementations.
        ("stls", True, "user"),
        ("stls", True, "apop"),
        ("tls", True, "cram-md5"),
        ("tls", True, "plain"),
        ("tls", True, "login"),
    ],
)
async def test_mpop_downloads_every_message_intact(
    lab_factory, tmp_path: Path, mode: str, keep: bool, auth: str
) -> None:
    mpop = _need(MPOP, "mpop")
    async with lab_factory("healthy") as lab:
        served = _served(lab)
        lab.write_ca(tmp_path / "ca.pem")
        (tmp_path / "password").write_text(lab.password)
        maildir = tmp_path / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        port = lab.port if mode == "stls" else lab.tls_port
        rc_file = tmp_path / "mpoprc"
        rc_file.write_text(
            "defaults\n"
            "tls on\n"
            f"tls_starttls {'on' if mode == 'stls' else 'off'}\n"
            f"tls_trust_file {tmp_path / 'ca.pem'}\n"
            "account lab\n"
            f"host {lab.host}\n"
            f"port {port}\n"
            f"user {lab.user}\n"
            f"auth {auth}\n"
            f"passwordeval cat {tmp_path / 'password'}\n"
            f"delivery maildir {maildir}\n"
            f"uidls_file {tmp_path / 'uidls'}\n"
            f"keep {'on' if keep else 'off'}\n"
        )
        rc_file.chmod(0o600)
        code, out = await _run([mpop, "-C", str(rc_file), "lab"], _env(tmp_path))
        assert code == 0, out
        assert lab.password not in out
        if auth != "on":
            method = auth.upper() if auth in ("user", "apop") else f"AUTH {auth.upper()}"
            assert lab.logins == [method]
        delivered = sorted(
            _without_received(p.read_bytes(), b"(mpop-") for p in (maildir / "new").iterdir()
        )
        assert len(delivered) == len(served) == 4
        assert delivered == served
        # keep off: mpop sent DELE for each and QUIT, so the UPDATE state ran.
        assert all(m.deleted for m in lab.mailbox) is (not keep)
        # mpop remembers the UIDs the lab gave it.
        if keep:
            uidls = (tmp_path / "uidls").read_text()
            assert all(m.uid in uidls for m in lab.mailbox)


@pytest.mark.parametrize(("mode", "keep"), [("stls", True), ("tls", False)])
async def test_fetchmail_downloads_every_message_intact(
    lab_factory, tmp_path: Path, mode: str, keep: bool
) -> None:
    fetchmail = _need(FETCHMAIL, "fetchmail")
    async with lab_factory("healthy") as lab:
        served = _served(lab)
        lab.write_ca(tmp_path / "ca.pem")
        out_dir = tmp_path / "delivered"
        out_dir.mkdir()
        # One file per message: mktemp gives unique names in out_dir.
        mda = tmp_path / "mda.sh"
        mda.write_text(f'#!/bin/sh\nexec cat > "$(mktemp -p {out_dir} msg.XXXXXX)"\n')
        mda.chmod(0o700)
        port = lab.port if mode == "stls" else lab.tls_port
        security = (
            "sslproto 'TLS1.2+'" if mode == "stls" else "ssl"
        )
        rc_file = tmp_path / "fetchmailrc"
        rc_file.write_text(
            "set no syslog\n"
            f"poll {lab.hostname} via {lab.host} with proto POP3 port {port} uidl\n"
            f'  user {lab.user} there with password "{lab.password}" is root here\n'
            f"  {security} sslcertck sslcertfile {tmp_path / 'ca.pem'}"
            f" sslcommonname {lab.hostname}\n"
            f"  {'keep' if keep else 'nokeep'} fetchall no rewrite\n"
            f'  mda "{mda}"\n'
        )
        rc_file.chmod(0o600)
        code, out = await _run(
            [fetchmail, "-f", str(rc_file), "-i", str(tmp_path / "ids"), "-v"],
            _env(tmp_path),
        )
        assert code == 0, out
        assert lab.password not in out
        assert ("STLS" in out) is (mode == "stls")
        delivered = sorted(
            _without_received(p.read_bytes(), b"(fetchmail-") for p in out_dir.iterdir()
        )
        assert len(delivered) == len(served) == 4
        assert delivered == served
        assert all(m.deleted for m in lab.mailbox) is (not keep)
