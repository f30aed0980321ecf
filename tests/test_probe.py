"""``pop3doctor probe`` and `probe_server`: every POP3 port of a server, without a login (issue 19 item 1).

Against the lab (healthy, TLS-only, an expired and a soon-expiring
certificate, a closed port, a name served by a loopback DNS server) and
against real Dovecot (tests/support/dovecot.py) over STARTTLS and implicit TLS.

That no USER, PASS, APOP or AUTH is ever sent is checked where it can be seen:
the lab records every command line its sessions read (after TLS too), and for
Dovecot a loopback relay keeps the clear-text bytes of the plain port while
Dovecot's own log says whether any authentication was attempted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import socket
import ssl
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

import pop3doctor.lab.server as lab_server_module
from pop3doctor.cli.probe import plan
from pop3doctor.diagnosis.serverinfo import SCHEMA, ServerInfo, probe_server
from pop3doctor.endpoint import Security
from pop3doctor.lab import LabServer
from pop3doctor.lab.certs import CertKind, server_context
from pop3doctor.lab.scenarios import get_scenario
from pop3doctor.lab.session import Session
from support.dns_server import LocalDnsServer
from support.dovecot import DovecotServer

#: Commands a probe may send; anything else (USER, PASS, APOP, AUTH ...) is a failure.
ALLOWED = {"CAPA", "STLS", "QUIT"}

PORT_KEYS = {
    "port", "security", "ok", "cause", "address", "greeting", "apop_offered", "capa", "stls_offered",
    "capa_after_tls", "tls_version", "cipher", "cert", "plaintext_login_possible", "response_codes",
    "timings_ms", "error", "tls_versions",
}
CERT_KEYS = {
    "subject_names", "issuer", "not_after", "days_left", "trusted", "trust_error", "not_after_timestamp",
    "subject", "issuer_dn",
    "not_before", "self_signed", "sha256", "intercepted_by",
}


async def run_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(os.environ),
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def closed_port(host: str = "127.0.0.1") -> int:
    """A loopback port nothing listens on (bound a moment ago, then released)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def lab_commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command line any lab session reads from now on (inside TLS too), as text."""
    seen: list[str] = []
    original = Session._dispatch

    async def recording(self: Session, line: bytes) -> bool:
        seen.append(line.decode("ascii", "replace"))
        return await original(self, line)

    monkeypatch.setattr(Session, "_dispatch", recording)
    return seen


def verbs(lines: list[str]) -> set[str]:
    return {line.split(" ", 1)[0].upper() for line in lines}


def lab_args(lab: LabServer, ca: Path, *extra: str) -> list[str]:
    plain = lab.port if lab.port is not None else closed_port()
    return [
        "probe", lab.host, "--pop3s-port", str(lab.tls_port), "--pop3-port", str(plain),
        "--ca-file", str(ca), "--timeout", "5", *extra,
    ]


def lab_ca_file(lab: LabServer, tmp_path: Path) -> Path:
    path = tmp_path / "lab-ca.pem"
    lab.write_ca(path)
    return path


def lab_targets(lab: LabServer) -> list[tuple[int, Security]]:
    plain = lab.port if lab.port is not None else closed_port()
    return [(lab.tls_port, Security.SSL), (plain, Security.STARTTLS)]


# --- the API against the lab -------------------------------------------------------------


async def test_healthy_lab_every_field(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lab_commands: list[str]
) -> None:
    async with lab_factory("healthy") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
        assert lab.logins == []
    assert info.cause is None and info.addresses == ["127.0.0.1"] and info.all_ok
    ssl_port, stls_port = info.ports
    assert (ssl_port.port, ssl_port.security) == (lab.tls_port, Security.SSL)
    for report in info.ports:
        assert report.ok and report.cause is None and report.error is None
        assert report.greeting is not None and report.greeting.startswith("+OK Dovecot")
        assert report.apop_offered  # the lab's greeting carries an APOP timestamp
        assert report.tls_version in ("TLSv1.2", "TLSv1.3") and report.cipher
        assert report.cert is not None and report.cert.trusted and report.cert.trust_error is None
        assert 300 < report.cert.days_left  # trustme's default leaf is valid for centuries
        assert "localhost" in report.cert.subject_names and "127.0.0.1" in report.cert.subject_names
        assert report.response_codes and report.address == "127.0.0.1"
        assert {"connect", "tls", "greeting", "capa"} <= set(report.timings_ms)
        assert all(v >= 0 for v in report.timings_ms.values())
    assert ssl_port.capa is not None and "STLS" not in ssl_port.capa and ssl_port.capa_after_tls is None
    assert not ssl_port.plaintext_login_possible and ssl_port.stls_offered is None
    # 110: CAPA in clear offers STLS (and USER: the lab takes passwords in clear), CAPA after TLS does not.
    assert stls_port.capa is not None and "STLS" in stls_port.capa and "USER" in stls_port.capa
    assert stls_port.capa_after_tls is not None and "STLS" not in stls_port.capa_after_tls
    assert stls_port.stls_offered is True and stls_port.plaintext_login_possible
    # Only CAPA, STLS and QUIT reached the server; each connection ended with QUIT.
    assert verbs(lab_commands) <= ALLOWED, lab_commands
    assert lab_commands.count("QUIT") == 2 and lab_commands.count("STLS") == 1


async def test_to_dict_is_the_stable_json(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory("healthy") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    data = json.loads(json.dumps(info.to_dict()))
    assert data["schema"] == SCHEMA == "pop3doctor.probe/1"
    assert set(data) == {"schema", "host", "addresses", "checked_at", "cause", "timings_ms", "error", "ports"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["checked_at"])
    for port in data["ports"]:
        assert set(port) == PORT_KEYS
        assert set(port["cert"]) == CERT_KEYS
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", port["cert"]["not_after"])


async def test_tls_only_and_a_closed_port(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lab_commands: list[str]
) -> None:
    async with lab_factory("tls-only") as lab:
        assert lab.port is None
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    ssl_port, stls_port = info.ports
    assert ssl_port.ok and not stls_port.ok
    assert stls_port.cause == "connection-refused" and stls_port.greeting is None and stls_port.address is None
    assert stls_port.error is not None and stls_port.error["error"] == "connect-refused"
    assert not stls_port.plaintext_login_possible
    assert info.any_ok and not info.all_ok
    assert verbs(lab_commands) <= ALLOWED


async def test_expired_certificate_is_the_finding_and_the_rest_is_still_shown(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lab_commands: list[str]
) -> None:
    async with lab_factory("cert-expired") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    assert not info.any_ok
    for report in info.ports:
        assert not report.ok and report.cause == "cert-expired"
        assert report.cert is not None and not report.cert.trusted and report.cert.trust_error == "cert-expired"
        assert -2 < report.cert.days_left < 0  # the lab's expired leaf ended yesterday
        # Looked at once more without verification: the TLS session and greeting behind it.
        assert report.tls_version is not None and report.greeting is not None
        assert report.greeting.startswith("+OK")
    assert info.ports[1].capa_after_tls is not None
    assert verbs(lab_commands) <= ALLOWED


async def test_soon_expiring_certificate_counts_its_days(
    lab_factory: Callable[..., LabServer], tmp_path: Path, expiring_in: Callable[[float], None]
) -> None:
    expiring_in(10.5)
    async with lab_factory("healthy") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
        code, out, _ = await run_cli(*lab_args(lab, tmp_path / "lab-ca.pem", "--lang", "en"))
    assert info.all_ok
    for report in info.ports:
        assert report.cert is not None and report.cert.trusted
        assert 10.0 < report.cert.days_left <= 10.5
    assert code == 0
    assert "(10 days left)" in out and "trusted" in out


@pytest.fixture
def old_tls_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the lab's next servers accept TLS 1.0 and 1.1 as well (as some old servers still do)."""
    def context(ca: trustme.CA, kind: CertKind, hostname: str, host: str) -> ssl.SSLContext:
        ctx = server_context(ca, kind, hostname, host)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        return ctx

    monkeypatch.setattr(lab_server_module, "server_context", context)


@pytest.mark.parametrize("old", [False, True], ids=["tls1.2-and-up", "tls1.0-too"])
async def test_tls_versions_on_request(
    request: pytest.FixtureRequest, lab_factory: Callable[..., LabServer], tmp_path: Path,
    lab_commands: list[str], old: bool,
) -> None:
    if old:
        request.getfixturevalue("old_tls_too")
    async with lab_factory("healthy") as lab:
        info = await probe_server(
            lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)), tls_versions=True
        )
        plain = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    expected = {"TLSv1": old, "TLSv1.1": old, "TLSv1.2": True, "TLSv1.3": True}
    assert [p.tls_versions for p in info.ports] == [expected, expected]
    assert all(p.tls_versions is None for p in plain.ports)  # only when asked
    assert verbs(lab_commands) <= ALLOWED, lab_commands
    # Every POP3 session ended by QUIT: 2 x 2 of the main probes, one per accepted version and port.
    assert lab_commands.count("QUIT") == 2 * 2 + 2 * sum(expected.values())


async def test_clear_text_probe_of_a_tls_port_stops_once_tls_answered(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    """A TLS port is silent to clear text until the greeting timeout (here 2 x 10 s): the probe does not wait."""
    async with lab_factory("healthy") as lab:
        start = time.monotonic()
        info = await probe_server(
            lab.host, [(lab.tls_port, Security.SSL), (lab.tls_port, Security.PLAIN)],
            timeout=10, ca_file=str(lab_ca_file(lab, tmp_path)),
        )
        elapsed = time.monotonic() - start
    assert [(p.security, p.ok, p.cause) for p in info.ports] == [
        (Security.SSL, True, None), (Security.PLAIN, False, "port-expects-tls")]
    assert elapsed < 15  # bounded, far below the 20 s greeting timeout


async def test_a_port_of_unknown_mode_is_reported_once_in_the_mode_it_speaks(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with lab_factory("healthy") as lab:
        assert lab.port is not None
        ca = str(lab_ca_file(lab, tmp_path))
        info = await probe_server(lab.host, [], timeout=5, ca_file=ca, auto_ports=[lab.tls_port, lab.port])
    assert [(p.port, p.security, p.ok) for p in info.ports] == [
        (lab.tls_port, Security.SSL, True), (lab.port, Security.STARTTLS, True)]


async def test_no_stls_is_reported_with_the_clear_text_facts(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lab_commands: list[str]
) -> None:
    async with lab_factory("no-stls") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    stls_port = info.ports[1]
    assert not stls_port.ok and stls_port.cause == "starttls-unavailable"
    assert stls_port.stls_offered is False and stls_port.plaintext_login_possible
    assert stls_port.greeting is not None and stls_port.capa is not None and stls_port.tls_version is None
    assert "STLS" not in verbs(lab_commands)  # not offered: not asked either
    assert lab_commands.count("QUIT") == 2  # and that session, too, ended with QUIT


async def test_a_name_served_by_loopback_dns(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    name = "pop.example.test"
    with LocalDnsServer({name: {"A": ["127.0.0.1"]}}) as dns:
        async with lab_factory("healthy", hostname=name) as lab:
            ca = str(lab_ca_file(lab, tmp_path))
            info = await probe_server(name, lab_targets(lab), timeout=5, ca_file=ca, nameservers=[dns.nameserver])
        missing = await probe_server("nowhere.example.test", timeout=5, nameservers=[dns.nameserver])
    assert info.all_ok and info.addresses == ["127.0.0.1"]
    assert all(p.cert is not None and name in p.cert.subject_names for p in info.ports)
    assert missing.cause == "host-not-found" and missing.ports == [] and missing.addresses == []
    assert missing.error is not None and missing.error["error"] == "dns-not-found"


# --- the command against the lab ---------------------------------------------------------


async def test_cli_json_and_exit_codes(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lab_commands: list[str]
) -> None:
    results: dict[str, tuple[int, dict[str, Any]]] = {}
    for scenario in ("healthy", "tls-only", "cert-expired"):
        async with lab_factory(scenario) as lab:
            code, out, err = await run_cli(*lab_args(lab, lab_ca_file(lab, tmp_path), "--json"))
        assert err == ""
        results[scenario] = code, json.loads(out)
    assert results["healthy"][0] == 0 and results["tls-only"][0] == 1 and results["cert-expired"][0] == 2
    healthy = results["healthy"][1]
    assert healthy["schema"] == "pop3doctor.probe/1"
    assert [(p["security"], p["ok"]) for p in healthy["ports"]] == [("ssl", True), ("starttls", True)]
    assert results["tls-only"][1]["ports"][1]["cause"] == "connection-refused"
    expired = results["cert-expired"][1]["ports"][0]
    assert expired["cause"] == "cert-expired" and expired["cert"]["days_left"] < 0
    assert expired["cert"]["trusted"] is False and expired["cert"]["trust_error"] == "cert-expired"
    assert verbs(lab_commands) <= ALLOWED, lab_commands


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["POP3 server info: 127.0.0.1 (no login)", "SSL/TLS  answers", "CAPA (before STLS):",
                "Password in clear text: possible", "trusted", "All 2 ports answer POP3.",
                "Recommended mail program setting: port"]),
        ("ja", ["POP3 サーバー情報: 127.0.0.1（ログインはしません）", "SSL/TLS  応答あり", "CAPA（STLS 前）:",
                "平文でのパスワード送信: 可能", "信頼できる", "2 個のポートすべてが POP3 で応答しました。",
                "メールソフトの推奨設定: ポート"]),
    ],
)
async def test_cli_text_in_both_languages(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lang: str, expected: list[str]
) -> None:
    async with lab_factory("healthy") as lab:
        code, out, _ = await run_cli(*lab_args(lab, lab_ca_file(lab, tmp_path), "--lang", lang))
    assert code == 0
    for text in expected:
        assert text in out, (text, out)


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["The server's certificate has expired", "(cert-expired)", "expired on", "No port answers POP3."]),
        ("ja", ["サーバーの証明書の有効期限が切れています", "(cert-expired)", "日前に期限切れ",
                "POP3 で応答したポートはありません。"]),
    ],
)
async def test_cli_text_for_an_expired_certificate(
    lab_factory: Callable[..., LabServer], tmp_path: Path, lang: str, expected: list[str]
) -> None:
    async with lab_factory("cert-expired") as lab:
        code, out, _ = await run_cli(*lab_args(lab, lab_ca_file(lab, tmp_path), "--lang", lang))
    assert code == 2
    for text in expected:
        assert text in out, (text, out)


async def test_cli_only_one_port(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory("healthy") as lab:
        code, out, _ = await run_cli(
            "probe", lab.host, "--port", str(lab.tls_port), "--only", "--json", "--timeout", "5",
            "--ca-file", str(lab_ca_file(lab, tmp_path)),
        )
    assert code == 0
    assert [(p["port"], p["security"]) for p in json.loads(out)["ports"]] == [(lab.tls_port, "ssl")]


async def test_cli_name_not_found_exits_2() -> None:
    with LocalDnsServer({}) as dns:
        code, out, _ = await run_cli("probe", "nowhere.example.test", "--dns-server", dns.nameserver, "--json")
        text_code, text, _ = await run_cli("probe", "nowhere.example.test", "--dns-server", dns.nameserver,
                                           "--lang", "en")
    assert code == 2 and json.loads(out)["cause"] == "host-not-found"
    assert text_code == 2 and "could not be looked up" in text


@pytest.mark.parametrize(
    "args",
    [["probe", "bad..name"], ["probe", "127.0.0.1", "--dns-server", "not-an-ip"], ["probe"],
     ["probe", "127.0.0.1", "--security", "tls"], ["probe", "127.0.0.1", "--port", "0"]],
)
async def test_cli_usage_errors_exit_64(args: list[str]) -> None:
    code, out, err = await run_cli(*args, "--lang", "en")
    assert code == 64 and out == "" and "Traceback" not in err


def test_plan_of_targets() -> None:
    std = dict(ssl_port=995, starttls_port=110)
    assert plan(None, None, only=False, **std) == ([(995, Security.SSL), (110, Security.STARTTLS)], [])
    assert plan(995, None, only=False, **std) == ([(995, Security.SSL), (110, Security.STARTTLS)], [])
    assert plan(None, "plain", only=False, **std) == (
        [(995, Security.SSL), (110, Security.STARTTLS), (110, Security.PLAIN)], [])
    assert plan(2110, "starttls", only=True, **std) == ([(2110, Security.STARTTLS)], [])
    assert plan(2995, None, only=False, **std) == ([(995, Security.SSL), (110, Security.STARTTLS)], [2995])
    assert plan(110, None, only=True, **std) == ([(110, Security.STARTTLS)], [])


# --- real Dovecot ------------------------------------------------------------------------


#: The relay's source address towards Dovecot: its log lines (``rip=``) then name our connections alone.
RELAY_SOURCE = "127.0.0.3"


class ClearTextWitness:
    """A loopback relay in front of one port that keeps every byte the client sent through it.

    After STLS the bytes are TLS records: what it keeps in clear is what a
    network observer would see.  It connects on from `RELAY_SOURCE`.
    """

    def __init__(self, host: str, target: int) -> None:
        self.host, self.target = host, target
        self.sent = bytearray()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ClearTextWitness:
        self._server = await asyncio.start_server(self._relay, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.target, local_addr=(RELAY_SOURCE, 0))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bool) -> None:
            try:
                while data := await src.read(65536):
                    if keep:
                        self.sent += data
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


def login_disconnects(log: str) -> list[str]:
    """Dovecot's line per pre-login connection as it ends (it says whether any auth was attempted)."""
    return [line for line in log.splitlines() if "pop3-login:" in line and "Disconnected" in line]


async def test_dovecot_starttls_and_implicit_tls(dovecot: DovecotServer) -> None:
    async with (
        ClearTextWitness(dovecot.host, dovecot.pop3_port) as plain,
        ClearTextWitness(dovecot.host, dovecot.pop3s_port) as tls,
    ):
        code, out, err = await run_cli(
            "probe", dovecot.host, "--pop3s-port", str(tls.port), "--pop3-port", str(plain.port),
            "--ca-file", str(dovecot.ca_file), "--timeout", "5", "--json",
        )
    assert code == 0, (out, err)
    data = json.loads(out)
    ssl_port, stls_port = data["ports"]
    for port in (ssl_port, stls_port):
        assert port["ok"] and port["greeting"].startswith("+OK Dovecot")
        assert port["tls_version"] in ("TLSv1.2", "TLSv1.3")
        assert port["cert"]["days_left"] > 0 and port["cert"]["trusted"]
        assert port["response_codes"]
    # disable_plaintext_auth = yes: before STLS no USER and no SASL mechanism; after it both.
    assert "STLS" in stls_port["capa"] and "USER" not in stls_port["capa"]
    assert stls_port["plaintext_login_possible"] is False
    assert "USER" in stls_port["capa_after_tls"] and "SASL PLAIN" in stls_port["capa_after_tls"]
    assert ssl_port["plaintext_login_possible"] is False and "USER" in ssl_port["capa"]
    # In clear only CAPA and STLS crossed the wire, then a TLS handshake record (0x16, version 3.x).
    clear = b"CAPA\r\nSTLS\r\n"
    assert bytes(plain.sent[: len(clear)]) == clear and plain.sent[len(clear) : len(clear) + 2] == b"\x16\x03"
    assert tls.sent[:2] == b"\x16\x03"
    # Inside TLS too, Dovecot saw no authentication: both sessions ended by QUIT ("logging out").
    ours: list[str] = []
    for _ in range(50):  # Dovecot writes the line as each connection ends
        ours = [line for line in login_disconnects(dovecot.logs()) if f"rip={RELAY_SOURCE}," in line]
        if len(ours) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(ours) == 2, ours
    for line in ours:
        assert "Aborted login by logging out (no auth attempts in" in line and ", TLS," in line, line
    assert f"Login: user=<{dovecot.user}>" not in dovecot.logs()


async def test_dovecot_allowing_clear_text_says_so(dovecot_plain_ok: DovecotServer) -> None:
    info: ServerInfo = await probe_server(
        dovecot_plain_ok.host,
        [(dovecot_plain_ok.pop3s_port, Security.SSL), (dovecot_plain_ok.pop3_port, Security.STARTTLS)],
        timeout=5, ca_file=str(dovecot_plain_ok.ca_file), tls_versions=True,
    )
    assert info.all_ok
    stls_port = info.ports[1]
    assert stls_port.capa is not None and "USER" in stls_port.capa
    assert stls_port.plaintext_login_possible is True
    # Dovecot 2.3's default ssl_min_protocol is TLSv1.2.
    for report in info.ports:
        assert report.tls_versions == {"TLSv1": False, "TLSv1.1": False, "TLSv1.2": True, "TLSv1.3": True}


async def test_server_text_cannot_drive_the_terminal_and_json_keeps_it_exact(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    hostile = "Dovecot \x1b[2J\x1b]0;owned\x07 \u202eready[bold]"
    scenario = dataclasses.replace(get_scenario("healthy"), name="hostile-greeting", greeting=hostile, apop=False)
    async with lab_factory(scenario) as lab:
        ca = lab_ca_file(lab, tmp_path)
        code, text, _ = await run_cli(*lab_args(lab, ca, "--lang", "en"))
        json_code, out, _ = await run_cli(*lab_args(lab, ca, "--json"))
    assert code == json_code == 0
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "\\x1b[2J" in text and "[bold]" in text  # shown as escapes; markup stays literal
    assert "\x1b" not in out and "\u202e" not in out
    assert json.loads(out)["ports"][0]["greeting"] == f"+OK {hostile}"


async def test_another_service_is_named_by_its_banner(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory("not-pop3") as lab:
        info = await probe_server(lab.host, lab_targets(lab), timeout=5, ca_file=str(lab_ca_file(lab, tmp_path)))
    for report in info.ports:
        assert not report.ok and report.cause == "not-pop3"
        assert report.greeting is not None and report.greeting.startswith("* OK") and "IMAP4rev1" in report.greeting
        assert report.capa is None and not report.plaintext_login_possible
