"""``pop3doctor exporter``: the real command on a free loopback port, scraped over HTTP.

Each test starts ``pop3doctor exporter --listen 127.0.0.1:0`` as a process,
reads the URL it prints, and asks ``/probe`` and ``/metrics`` with httpx as
Prometheus would.  Every answer is parsed with prometheus_client's own text
parser; the assertions are on metric names, labels and values.  The servers
are the lab (tests/support/lab.py) and a real Dovecot (tests/support/dovecot.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from prometheus_client.parser import text_string_to_metric_families

from pop3doctor.exporter.request import BadRequest, Target, budget, parse_target
from pop3doctor.lab import LabServer
from support.dns_server import LocalDnsServer
from support.dovecot import DovecotServer, free_port
from support.messages import make_message

#: The variable the test accounts.toml names for the password (password_env).
PASSWORD_VAR = "P3D_EXPORTER_TEST_PASSWORD"
#: Generous: a loaded machine must not fail a correct exporter.
START_TIMEOUT = 30.0
HTTP_TIMEOUT = 60.0


# -- the exporter process -------------------------------------------------------------


@dataclass
class Exporter:
    url: str
    process: subprocess.Popen[str]
    bodies: list[str] = field(default_factory=list)  # every answer, to search for secrets

    async def get(self, path: str, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.get(self.url.rstrip("/") + path, params=params, headers=headers)
        self.bodies.append(response.text)
        return response

    async def probe(self, headers: dict[str, str] | None = None, **params: str) -> Metrics:
        response = await self.get("/probe", headers=headers, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        return Metrics.parse(response.text)


@dataclass
class Metrics:
    """A scrape parsed by prometheus_client: family name -> type, and every sample."""

    types: dict[str, str]
    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        types: dict[str, str] = {}
        samples: list[tuple[str, dict[str, str], float]] = []
        for family in text_string_to_metric_families(text):
            types[family.name] = family.type
            samples += [(s.name, dict(s.labels), s.value) for s in family.samples]
        return cls(types, samples)

    @property
    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}

    def value(self, name: str, **labels: str) -> float:
        found = [v for n, lab, v in self.samples if n == name and lab == labels]
        assert len(found) == 1, (name, labels, [(n, lab) for n, lab, _ in self.samples if n == name])
        return found[0]

    def labels(self, name: str) -> list[dict[str, str]]:
        return [lab for n, lab, _ in self.samples if n == name]


@pytest.fixture
def start_exporter() -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def start(*args: str, env: dict[str, str] | None = None, listen: str = "127.0.0.1:0") -> Exporter:
        process = subprocess.Popen(
            [sys.executable, "-m", "pop3doctor", "exporter", "--listen", listen, "--lang", "en", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT)
        line = process.stdout.readline() if ready else ""
        # Bound where told: the address given, a port the system chose.
        host = listen.rpartition(":")[0]
        found = re.search(rf"http://{re.escape(host)}:\d+/", line)
        if found is None:
            process.kill()
            _, err = process.communicate()
            pytest.fail(f"the exporter did not start: {line!r} {err!r}")
        exporter = Exporter(found.group(0), process)
        started.append(exporter)
        return exporter

    yield start
    for exporter in started:
        exporter.process.send_signal(signal.SIGTERM)
        out, err = exporter.process.communicate(timeout=20)
        # Never a traceback on the exporter's terminal, never a password anywhere.
        assert "Traceback" not in err, err
        for text in (out, err, *exporter.bodies):
            for secret in LAB_SECRETS:
                assert secret not in text


#: The passwords of the servers below: none may appear in any output.
LAB_SECRETS: set[str] = set()


def _accounts_toml(tmp_path: Path, **accounts: dict[str, object]) -> Path:
    lines: list[str] = []
    for name, table in accounts.items():
        lines.append(f"[accounts.{name}]")
        for key, value in {**table, "password_env": PASSWORD_VAR, "maildir": f"Mail/{name}"}.items():
            shown = str(value).lower() if isinstance(value, bool) else value if isinstance(value, int) else f'"{value}"'
            lines.append(f"{key} = {shown}")
    path = tmp_path / "accounts.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ca(lab: LabServer, tmp_path: Path) -> str:
    path = tmp_path / "lab-ca.pem"
    lab.write_ca(str(path))
    return str(path)


def _server_not_after(host: str, port: int) -> float:
    """The certificate's expiry as the server presents it, read without the exporter."""
    pem = ssl.get_server_certificate((host, port))
    return x509.load_pem_x509_certificate(pem.encode()).not_valid_after_utc.timestamp()


# -- module pop3_probe: no login --------------------------------------------------------


async def test_probe_of_a_healthy_tls_port(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("healthy") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path))
        before = lab.connections_seen
        m = await exporter.probe(target=f"{lab.host}:{lab.tls_port}", module="pop3_probe", security="ssl")
        not_after = await asyncio.to_thread(_server_not_after, lab.host, lab.tls_port)
    assert m.types["pop3doctor_up"] == "gauge"
    assert m.value("pop3doctor_up") == 1
    assert m.labels("pop3doctor_cause_info") == [{"cause": "ok"}]
    assert m.value("pop3doctor_cause_info", cause="ok") == 1
    stages = {lab["stage"] for lab in m.labels("pop3doctor_duration_seconds")}
    assert {"resolve", "connect", "tls", "greeting", "capabilities"} <= stages
    assert all(0 <= m.value("pop3doctor_duration_seconds", stage=s) < HTTP_TIMEOUT for s in stages)
    # The certificate's own expiry, to the second (ISO 8601 in the probe has no fractions).
    assert m.value("pop3doctor_cert_expiry_timestamp_seconds") == pytest.approx(not_after, abs=1)
    assert m.value("pop3doctor_cert_trusted") == 1
    [tls] = m.labels("pop3doctor_tls_info")
    assert tls["version"].startswith("TLSv1.") and tls["cipher"]
    assert m.value("pop3doctor_plaintext_login_offered") == 0  # implicit TLS: nothing in clear
    assert 0 < m.value("pop3doctor_probe_duration_seconds") < HTTP_TIMEOUT
    # Without login: no mailbox metrics, and the lab never saw a password.
    assert "pop3doctor_messages" not in m.names and "pop3doctor_mailbox_bytes" not in m.names
    assert lab.logins == [] and lab.connections_seen > before


async def test_probe_finds_the_mode_a_port_speaks(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    """No security=: the lab's clear-text port is reported in the mode it speaks (STARTTLS)."""
    async with lab_factory("healthy") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path))
        m = await exporter.probe(target=f"{lab.host}:{lab.port}", module="pop3_probe")
    assert m.value("pop3doctor_up") == 1
    assert m.value("pop3doctor_cause_info", cause="ok") == 1
    stages = {lab["stage"] for lab in m.labels("pop3doctor_duration_seconds")}
    assert {"connect", "greeting", "capabilities", "tls"} <= stages
    assert m.value("pop3doctor_cert_trusted") == 1  # seen after STLS
    # The lab offers USER before STLS, as Dovecot does by default on loopback.
    assert m.value("pop3doctor_plaintext_login_offered") == 1


async def test_probe_of_a_closed_port_is_down_with_its_cause(start_exporter: Callable[..., Exporter]) -> None:
    closed = free_port("127.0.0.1")  # bound once and released: nothing listens there
    exporter = start_exporter()
    m = await exporter.probe(target=f"127.0.0.1:{closed}", module="pop3_probe", security="ssl")
    assert m.value("pop3doctor_up") == 0
    assert m.labels("pop3doctor_cause_info") == [{"cause": "connection-refused"}]
    assert m.value("pop3doctor_cause_info", cause="connection-refused") == 1
    assert "pop3doctor_cert_expiry_timestamp_seconds" not in m.names
    assert "pop3doctor_tls_info" not in m.names
    assert m.value("pop3doctor_probe_duration_seconds") > 0


async def test_probe_of_an_expired_certificate(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("cert-expired") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path))
        m = await exporter.probe(target=f"{lab.host}:{lab.tls_port}", module="pop3_probe", security="ssl")
    assert m.value("pop3doctor_up") == 0
    assert m.value("pop3doctor_cause_info", cause="cert-expired") == 1
    assert m.value("pop3doctor_cert_trusted") == 0
    # The lab's expired certificate ended a day ago.
    assert m.value("pop3doctor_cert_expiry_timestamp_seconds") < time.time() - 3600


async def test_probe_by_name_through_dns_server(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    """--dns-server: names resolve on a loopback DNS server; one it does not know is host-not-found."""
    records = {"pop.example.test": {"A": ["127.0.0.1"]}}
    async with lab_factory("healthy") as lab:
        with LocalDnsServer(records) as dns:
            exporter = start_exporter("--ca-file", _ca(lab, tmp_path), "--dns-server", dns.nameserver)
            named = await exporter.probe(target=f"pop.example.test:{lab.tls_port}", security="ssl")
            missing = await exporter.probe(target="nowhere.example.test:995")
    # The lab's certificate names localhost and 127.0.0.1, not pop.example.test.
    assert named.value("pop3doctor_up") == 0
    assert named.labels("pop3doctor_cause_info") == [{"cause": "cert-hostname-mismatch"}]
    assert named.value("pop3doctor_cert_trusted") == 0
    assert {"resolve", "connect", "tls"} <= {lab["stage"] for lab in named.labels("pop3doctor_duration_seconds")}
    assert missing.value("pop3doctor_up") == 0
    assert missing.labels("pop3doctor_cause_info") == [{"cause": "host-not-found"}]
    assert [lab["stage"] for lab in missing.labels("pop3doctor_duration_seconds")] == ["resolve"]


async def test_a_silent_server_ends_within_the_scrape_timeout(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    """X-Prometheus-Scrape-Timeout-Seconds bounds the probe (a greeting that never comes)."""
    async with lab_factory("slow-greeting") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path))
        started = time.monotonic()
        m = await exporter.probe(
            {"X-Prometheus-Scrape-Timeout-Seconds": "3"},
            target=f"{lab.host}:{lab.tls_port}",
            module="pop3_probe",
            security="ssl",
        )
        took = time.monotonic() - started
    assert took < 20  # bounded: 3 s asked, the per-phase timeout is 8 s
    assert m.value("pop3doctor_up") == 0
    [cause] = m.labels("pop3doctor_cause_info")
    assert cause["cause"] in {"diagnosis-deadline", "greeting-timeout"}


async def test_probes_beyond_the_bound_wait_then_are_refused(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    """--max-concurrent 1: while one probe waits on a silent server, another gets 503 when its time is up."""
    async with lab_factory("slow-greeting") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path), "--max-concurrent", "1")
        target = f"{lab.host}:{lab.tls_port}"
        first = asyncio.ensure_future(
            exporter.get("/probe", {"X-Prometheus-Scrape-Timeout-Seconds": "6"}, target=target, security="ssl")
        )
        while lab.connections_seen == 0:  # the first probe holds the only slot
            await asyncio.sleep(0.05)
        second = await exporter.get(
            "/probe", {"X-Prometheus-Scrape-Timeout-Seconds": "1.5"}, target=target, security="ssl"
        )
        assert second.status_code == 503, second.text
        assert "at most 1" in second.text and "上限 1" in second.text
        assert second.headers["retry-after"] == "1"
        assert (await first).status_code == 200
        own = Metrics.parse((await exporter.get("/metrics")).text)
    assert own.value("pop3doctor_exporter_requests_refused_total", reason="busy") == 1
    assert own.value("pop3doctor_exporter_probes_total", module="pop3_probe", result="down") == 1


# -- module account: a login account from accounts.toml ----------------------------------


async def test_account_of_the_lab(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("healthy") as lab:
        LAB_SECRETS.add(lab.password)
        config = _accounts_toml(
            tmp_path,
            work={"host": lab.host, "port": lab.tls_port, "user": lab.user, "ca_file": _ca(lab, tmp_path)},
        )
        exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: lab.password})
        m = await exporter.probe(module="account", account="work")
        assert len(lab.logins) == 1  # one login
        seen = lab.connections_seen
        # A second scrape inside --min-login-interval (60 s): the last result, not a second login.
        again = await exporter.probe(module="account", account="work", target=f"{lab.host}:{lab.tls_port}")
        assert len(lab.logins) == 1 and lab.connections_seen == seen
        messages = [msg for msg in lab.mailbox if not msg.deleted]
    assert m.value("pop3doctor_up") == 1
    assert m.value("pop3doctor_cause_info", cause="ok") == 1
    assert m.value("pop3doctor_messages") == len(messages) > 0
    assert m.value("pop3doctor_mailbox_bytes") == sum(msg.size for msg in messages)
    stages = {lab["stage"] for lab in m.labels("pop3doctor_duration_seconds")}
    assert {"resolve", "connect", "tls", "greeting", "capabilities", "login", "mailbox", "retrieval"} <= stages
    assert "summary" not in stages
    assert m.value("pop3doctor_cert_trusted") == 1
    assert m.value("pop3doctor_cert_expiry_timestamp_seconds") > time.time()
    assert m.value("pop3doctor_result_age_seconds") == 0
    assert again.value("pop3doctor_result_age_seconds") > 0
    assert again.value("pop3doctor_messages") == m.value("pop3doctor_messages")
    assert again.value("pop3doctor_probe_duration_seconds") == m.value("pop3doctor_probe_duration_seconds")


async def test_account_with_a_wrong_password(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("wrong-password") as lab:
        LAB_SECRETS.add("not-the-password-83513")
        config = _accounts_toml(
            tmp_path,
            work={"host": lab.host, "port": lab.tls_port, "user": lab.user, "ca_file": _ca(lab, tmp_path)},
        )
        exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: "not-the-password-83513"})
        m = await exporter.probe(module="account", account="work")
    assert m.value("pop3doctor_up") == 0
    assert m.value("pop3doctor_cause_info", cause="auth-failed") == 1
    assert "pop3doctor_messages" not in m.names
    assert {"login"} <= {lab["stage"] for lab in m.labels("pop3doctor_duration_seconds")}


async def test_account_with_a_warning_is_up_with_its_cause(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    """An empty mailbox is a warning, not a failure: mail can be received, and the cause says why none came."""
    async with lab_factory("empty-mailbox") as lab:
        LAB_SECRETS.add(lab.password)
        config = _accounts_toml(
            tmp_path,
            work={"host": lab.host, "port": lab.tls_port, "user": lab.user, "ca_file": _ca(lab, tmp_path)},
        )
        exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: lab.password})
        m = await exporter.probe(module="account", account="work")
    assert m.value("pop3doctor_up") == 1
    assert m.labels("pop3doctor_cause_info") == [{"cause": "mailbox-empty"}]
    assert m.value("pop3doctor_messages") == 0 and m.value("pop3doctor_mailbox_bytes") == 0


async def test_account_whose_password_cannot_be_read(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("healthy") as lab:
        config = _accounts_toml(tmp_path, work={"host": lab.host, "port": lab.tls_port, "user": lab.user})
        exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: ""})
        response = await exporter.get("/probe", module="account", account="work")
        assert lab.connections_seen == 0  # nothing sent without a password
    assert response.status_code == 500
    assert PASSWORD_VAR in response.text and "パスワード" in response.text


async def test_account_of_a_real_dovecot(
    dovecot: DovecotServer, tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    LAB_SECRETS.add(dovecot.password)
    dovecot.clear()
    messages = [make_message(i, 3000 + 100 * i) for i in range(5)]
    dovecot.deliver(messages)
    config = _accounts_toml(
        tmp_path,
        dove={
            "host": dovecot.host,
            "port": dovecot.pop3s_port,
            "user": dovecot.user,
            "ca_file": str(dovecot.ca_file),
        },
    )
    exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: dovecot.password})
    m = await exporter.probe(module="account", account="dove")
    assert m.value("pop3doctor_up") == 1, m.labels("pop3doctor_cause_info")
    assert m.value("pop3doctor_cause_info", cause="ok") == 1
    assert m.value("pop3doctor_messages") == 5
    assert m.value("pop3doctor_mailbox_bytes") == sum(len(msg) for msg in messages)
    assert m.value("pop3doctor_cert_trusted") == 1
    # The same server without a login: the probe module sees its certificate too.
    p = await exporter.probe(target=f"{dovecot.host}:{dovecot.pop3s_port}", module="pop3_probe")
    assert p.value("pop3doctor_cause_info", cause="cert-untrusted") == 1  # --ca-file not given to the exporter
    assert p.value("pop3doctor_up") == 0
    assert p.value("pop3doctor_cert_expiry_timestamp_seconds") == m.value("pop3doctor_cert_expiry_timestamp_seconds")


# -- what is refused ------------------------------------------------------------------------


async def test_bad_requests_are_400_with_a_clear_text(tmp_path: Path, start_exporter: Callable[..., Exporter]) -> None:
    config = _accounts_toml(tmp_path, work={"host": "pop.example.com", "user": "alice"})
    exporter = start_exporter("--config", str(config))
    cases = {
        "unknown module": ({"target": "pop.example.com:995", "module": "icmp"}, "Unknown module: icmp"),
        "no target": ({"module": "pop3_probe"}, "No target given"),
        "no port": ({"target": "pop.example.com"}, "Not a valid target: pop.example.com"),
        "url": ({"target": "https://pop.example.com:995"}, "Not a valid target"),
        "port 0": ({"target": "pop.example.com:0"}, "port must be a number 1-65535"),
        "port too big": ({"target": "pop.example.com:70000"}, "port must be a number 1-65535"),
        "bare ipv6": ({"target": "::1:995"}, "Not a valid target"),
        "bad name": ({"target": "pop..example.com:995"}, "pop..example.com"),
        "escape": ({"target": "pop\x1b[2J.example.com:995"}, "\\x1b"),
        "bad security": ({"target": "pop.example.com:995", "security": "tls"}, "Unknown security: tls"),
        "no account": ({"module": "account"}, "No account given (the accounts of accounts.toml: work)"),
        "unknown account": ({"module": "account", "account": "home"}, "No such account in accounts.toml: home"),
        "other target": (
            {"module": "account", "account": "work", "target": "pop.example.net:995"},
            "is not the server of account work (pop.example.com:995)",
        ),
    }
    for case, (params, expected) in cases.items():
        response = await exporter.get("/probe", **params)
        assert response.status_code == 400, case
        assert expected in response.text, (case, response.text)
        assert "\x1b" not in response.text
        en, ja = response.text.splitlines()
        assert ja != en and not ja.isascii(), case  # both languages
    own = Metrics.parse((await exporter.get("/metrics")).text)
    assert own.value("pop3doctor_exporter_requests_refused_total", reason="bad-request") == len(cases)
    assert own.value("pop3doctor_exporter_requests_refused_total", reason="busy") == 0


async def test_account_module_without_config(start_exporter: Callable[..., Exporter]) -> None:
    exporter = start_exporter()
    response = await exporter.get("/probe", module="account", account="work")
    assert response.status_code == 400
    assert "--config accounts.toml" in response.text


async def test_only_loopback_host_names_on_loopback(start_exporter: Callable[..., Exporter]) -> None:
    """DNS rebinding: a page whose name resolves to 127.0.0.1 must not reach the exporter."""
    exporter = start_exporter()
    refused = await exporter.get("/metrics", headers={"Host": "evil.example:9199"})
    assert refused.status_code == 421
    assert (await exporter.get("/metrics", headers={"Host": "localhost:9199"})).status_code == 200
    assert (await exporter.get("/nowhere")).status_code == 404


# -- the exporter's own metrics -----------------------------------------------------------


async def test_own_metrics(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("healthy") as lab:
        exporter = start_exporter("--ca-file", _ca(lab, tmp_path))
        for _ in range(2):
            await exporter.probe(target=f"{lab.host}:{lab.tls_port}", security="ssl")
        closed = free_port("127.0.0.1")
        await exporter.probe(target=f"127.0.0.1:{closed}", security="ssl")
        await exporter.get("/probe", module="nope")
        response = await exporter.get("/metrics")
        openmetrics = await exporter.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.status_code == 200
    own = Metrics.parse(response.text)
    assert own.types["pop3doctor_exporter_probes"] == "counter"
    assert own.value("pop3doctor_exporter_probes_total", module="pop3_probe", result="up") == 2
    assert own.value("pop3doctor_exporter_probes_total", module="pop3_probe", result="down") == 1
    assert own.value("pop3doctor_exporter_requests_refused_total", reason="bad-request") == 1
    assert own.value("pop3doctor_exporter_probes_in_flight") == 0
    assert own.value("process_resident_memory_bytes") > 0
    assert "python_info" in own.names
    # Probe metrics live in each probe's own registry, never here.
    assert not any(name.startswith("pop3doctor_up") for name in own.names)
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")


def test_index_and_bad_listen(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pop3doctor", "exporter", "--lang", "en", *args],
            capture_output=True,
            text=True,
            timeout=60,
        )

    for listen in (":9199", "9199", "0.0.0.0", "[127.0.0.1]:9199", "127.0.0.1:99999"):
        done = run("--listen", listen)
        assert done.returncode == 64, (listen, done.stderr)
        assert "Not a valid --listen" in done.stderr and "Traceback" not in done.stderr
    broken = tmp_path / "accounts.toml"
    broken.write_text("[accounts.x]\nhost = 1\n", encoding="utf-8")
    done = run("--config", str(broken))
    assert done.returncode == 64 and "The --config file has a problem" in done.stderr


async def test_listens_on_ipv6_loopback_when_told(start_exporter: Callable[..., Exporter]) -> None:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    exporter = start_exporter(listen="[::1]:0")
    assert exporter.url.startswith("http://[::1]:")
    own = Metrics.parse((await exporter.get("/metrics")).text)
    assert own.value("pop3doctor_exporter_probes_in_flight") == 0


async def test_account_of_a_silent_server_ends_within_the_scrape_timeout(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("slow-greeting") as lab:
        config = _accounts_toml(
            tmp_path,
            work={"host": lab.host, "port": lab.tls_port, "user": lab.user, "ca_file": _ca(lab, tmp_path)},
        )
        exporter = start_exporter("--config", str(config), env={PASSWORD_VAR: lab.password})
        started = time.monotonic()
        m = await exporter.probe({"X-Prometheus-Scrape-Timeout-Seconds": "4"}, module="account", account="work")
        took = time.monotonic() - started
        assert lab.logins == []
    assert took < 20  # bounded
    assert m.value("pop3doctor_up") == 0
    assert m.value("pop3doctor_cause_info", cause="diagnosis-deadline") == 1
    # The stages before the silence are there: it got as far as a TCP connection.
    assert {"resolve", "connect"} <= {lab["stage"] for lab in m.labels("pop3doctor_duration_seconds")}


async def test_index_page(start_exporter: Callable[..., Exporter]) -> None:
    exporter = start_exporter()
    page = await exporter.get("/")
    assert page.status_code == 200
    assert "/probe?target=HOST:PORT&module=pop3_probe" in page.text and "/metrics" in page.text


# -- the request's parts, without a server -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("pop.example.com:995", Target("pop.example.com", 995)),
        ("127.0.0.1:110", Target("127.0.0.1", 110)),
        ("[::1]:995", Target("::1", 995)),
        ("ポップ.例え.jp:995", Target("ポップ.例え.jp", 995)),
    ],
)
def test_parse_target(value: str, expected: Target) -> None:
    assert parse_target(value) == expected
    assert str(parse_target(value)) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        ":995",
        "host:",
        "host:x",
        "host:-1",
        "[::1]995",
        "[pop.example.com]:995",
        "[127.0.0.1]:995",
        "a@b:995",
        "a/b:995",
        "host:１１０",
        "x" * 400 + ":995",
    ],
)
def test_parse_target_refuses(value: str) -> None:
    with pytest.raises(BadRequest):
        parse_target(value)


def test_budget_follows_the_scrape_timeout() -> None:
    assert budget("10", ceiling=30) == 9.5  # blackbox_exporter's 0.5 s offset
    assert budget("120", ceiling=30) == 30
    assert budget(None, ceiling=30) == 10  # Prometheus's default scrape timeout
    assert budget("nan", ceiling=30) == budget("-1", ceiling=30) == budget("x", ceiling=30) == 10
    assert budget("0.3", ceiling=30) == 0.2


def test_certificate_expiry_reads_iso_times() -> None:
    from pop3doctor.exporter.metrics import _timestamp

    assert _timestamp("2030-01-02T03:04:05Z") == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC).timestamp()
    assert _timestamp("2030-01-02T03:04:05+09:00") == dt.datetime(2030, 1, 1, 18, 4, 5, tzinfo=dt.UTC).timestamp()
    assert _timestamp("2030-01-02T03:04:05") == _timestamp("2030-01-02T03:04:05Z")
    assert _timestamp("soon") is None and _timestamp(None) is None


# -- a real Prometheus, configured as the README says -----------------------------------------

PROMETHEUS = "/usr/bin/prometheus"
README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_scrape_config(exporter: str, servers: list[str]) -> str:
    """The README's scrape configuration, pointed at this test's exporter, servers and account.

    Each substitution must find its text: a README that changes shape fails
    here rather than leaving an example nobody ran.
    """
    section = README.read_text("utf-8").split("\n## exporter\n", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert found is not None
    text = found.group(1)
    for old, new in (
        ("[pop.example.com:995, pop.example.com:110]", "[" + ", ".join(servers) + "]"),
        ("[work, home]", "[work]"),
        ("127.0.0.1:9199", exporter),
    ):
        assert old in text, old
        text = text.replace(old, new)
    # Seconds, not minutes, between scrapes: the test waits for a few.
    text = re.sub(r"\n\s*scrape_(interval|timeout): \S+[^\n]*", "", text)
    return "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n" + text


@pytest.mark.skipif(not os.access(PROMETHEUS, os.X_OK), reason="Prometheus is not installed (Debian: prometheus)")
async def test_prometheus_scrapes_with_the_readme_config(
    lab_factory: Callable[..., LabServer], tmp_path: Path, start_exporter: Callable[..., Exporter]
) -> None:
    async with lab_factory("healthy") as lab:
        LAB_SECRETS.add(lab.password)
        ca = _ca(lab, tmp_path)
        config = _accounts_toml(
            tmp_path, work={"host": lab.host, "port": lab.tls_port, "user": lab.user, "ca_file": ca}
        )
        exporter = start_exporter("--config", str(config), "--ca-file", ca, env={PASSWORD_VAR: lab.password})
        closed = free_port("127.0.0.1")
        healthy = f"{lab.host}:{lab.tls_port}"
        (tmp_path / "prometheus.yml").write_text(
            _readme_scrape_config(exporter.url.removeprefix("http://").rstrip("/"), [healthy, f"127.0.0.1:{closed}"]),
            encoding="utf-8",
        )
        api = f"http://127.0.0.1:{free_port('127.0.0.1')}"
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={api.removeprefix('http://')}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            series = await _wait_for_series(api, prometheus, "pop3doctor_up", 3)
            await asyncio.sleep(3)  # a few more scrapes of the account
            causes = await _query(api, "pop3doctor_cause_info")
            messages = await _query(api, "pop3doctor_messages")
            own = await _query(api, 'up{job="pop3doctor_exporter"}')
            scrape_ok = await _query(api, 'up{job=~"pop3|pop3_accounts"}')
            assert len(lab.logins) == 1  # scraped every 2 s, logged in once (--min-login-interval)
        finally:
            prometheus.terminate()
            _, err = prometheus.communicate(timeout=30)
    up = {s["metric"]["instance"]: float(s["value"][1]) for s in series}
    assert up == {healthy: 1.0, f"127.0.0.1:{closed}": 0.0, "work": 1.0}, err
    cause = {s["metric"]["instance"]: s["metric"]["cause"] for s in causes}
    assert cause == {healthy: "ok", f"127.0.0.1:{closed}": "connection-refused", "work": "ok"}
    assert [(s["metric"]["instance"], float(s["value"][1])) for s in messages] == [("work", len(lab.mailbox))]
    assert [float(s["value"][1]) for s in own] == [1.0]
    # Prometheus's own up: every probe scrape succeeded, a server being down included.
    assert sorted(float(s["value"][1]) for s in scrape_ok) == [1.0, 1.0, 1.0]


async def _query(api: str, query: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        answer = (await client.get(f"{api}/api/v1/query", params={"query": query})).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


async def _wait_for_series(api: str, prometheus: subprocess.Popen[str], query: str, count: int) -> list[dict[str, Any]]:
    ends = time.monotonic() + 60
    while time.monotonic() < ends:
        if prometheus.poll() is not None:
            pytest.fail(f"Prometheus exited: {prometheus.communicate()[1]}")
        try:
            found = await _query(api, query)
        except (httpx.HTTPError, ValueError):  # not listening yet, or "Service Unavailable" while it starts
            found = []
        if len(found) >= count:
            return found
        await asyncio.sleep(0.5)
    pytest.fail(f"Prometheus did not scrape {count} series of {query} in 60 s")
