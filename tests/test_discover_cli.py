"""``pop3doctor discover`` and ``pop3doctor diagnose EMAIL`` as a user runs them (a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pop3doctor.lab import LabServer
from support.dns_server import LocalDnsServer

DOMAIN = "example.test"


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env or dict(os.environ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_json_schema_for_a_known_provider() -> None:
    with LocalDnsServer({}) as dns:  # only to prove nothing is looked up
        code, out, _ = await run_cli("discover", "Taro@nifty.com", "--json", "--lang", "en",
                                     "--dns-server", dns.nameserver)
    assert code == 0
    data = json.loads(out)
    assert data["schema"] == "pop3doctor.discovery/1"
    assert set(data) == {"schema", "email", "domain", "pop_offered", "chosen", "alternatives", "warnings",
                         "sources", "elapsed_ms"}
    chosen = data["chosen"]
    assert (chosen["host"], chosen["port"], chosen["security"], chosen["username"]) == (
        "pop.nifty.com", 995, "ssl", "Taro@nifty.com")
    assert chosen["source"] == "provider" and chosen["confidence"] == "high"
    assert [s["source"] for s in data["sources"]] == ["provider", "autoconfig", "dns", "guess"]
    assert dns.queries == []


async def test_no_pop_provider_in_japanese_exits_2() -> None:
    code, out, _ = await run_cli("discover", "hanako@icloud.com", "--lang", "ja")
    assert code == 2
    assert "POP3 を提供していません" in out and "IMAP" in out


async def test_not_an_address_is_a_usage_error() -> None:
    code, _, err = await run_cli("discover", "no-at-sign", "--lang", "en")
    assert code == 64 and "not an e-mail address" in err


async def test_guessing_through_the_cli_finds_the_lab(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory("healthy", hostname=f"mail.{DOMAIN}") as lab:
        lab.write_ca(tmp_path / "ca.pem")
        assert lab.port is not None
        with LocalDnsServer({f"mail.{DOMAIN}": {"A": ["127.0.0.1"]}}) as dns:
            code, out, _ = await run_cli(
                "discover", f"alice@{DOMAIN}", "--json", "--dns-server", dns.nameserver, "--timeout", "5",
                "--ca-file", str(tmp_path / "ca.pem"), "--source", "guess",
                "--pop3s-port", str(lab.tls_port), "--pop3-port", str(lab.port),
            )
    assert code == 0, out
    chosen = json.loads(out)["chosen"]
    assert (chosen["host"], chosen["port"], chosen["security"], chosen["verified"]) == (
        f"mail.{DOMAIN}", lab.tls_port, "ssl", True)
    assert lab.logins == []


async def test_diagnose_email_uses_discovered_settings(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    """EMAIL without --host: SRV points at the lab, diagnose logs in with the discovered settings."""
    address = f"alice@{DOMAIN}"
    async with lab_factory("healthy", hostname=f"pop.{DOMAIN}", user=address) as lab:
        lab.write_ca(tmp_path / "ca.pem")
        records = {
            f"_pop3s._tcp.{DOMAIN}": {"SRV": [(0, 1, lab.tls_port, f"pop.{DOMAIN}")]},
            f"pop.{DOMAIN}": {"A": ["127.0.0.1"]},
        }
        env = dict(os.environ, LAB_PW=lab.password)
        with LocalDnsServer(records) as dns:
            code, out, err = await run_cli(
                "diagnose", address, "--json", "--lang", "en", "--dns-server", dns.nameserver,
                "--ca-file", str(tmp_path / "ca.pem"), "--password-env", "LAB_PW", "--timeout", "5", env=env,
            )
    assert code == 0, (out, err)
    assert f"pop.{DOMAIN}:{lab.tls_port}" in err and "DNS (SRV/MX)" in err
    assert lab.logins  # the diagnosis itself logged in, as the user asked
    assert lab.password not in out + err
