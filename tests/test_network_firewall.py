"""Connection faults made by real nftables rules on loopback, diagnosed end to end.

Every rule lives in the test's own nftables table (`support.netns.Firewall`),
deleted in teardown whatever happens.  Addresses: 127.0.0.1 (the lab and a
reference listener), 127.0.0.2 and 127.0.0.3 (a "server" and a "reference"
that the rules silence), ::1.  Nothing else is contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.diagnosis.model import Report, Settings, Status
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.lab import LabServer
from pop3doctor.net.probe import default_routes
from support.dns_server import LocalDnsServer
from support.netns import Firewall, leftovers
from support.netns import firewall as firewall  # the fixture (explicit re-export)

pytestmark = pytest.mark.root

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
#: The connect timeout these tests configure (``--timeout``), in seconds.
TIMEOUT = 2.0


@contextlib.asynccontextmanager
async def listener(host: str = "127.0.0.1") -> AsyncIterator[int]:
    """A TCP port that accepts and closes: the reference endpoint."""

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def run(settings: Settings, **kw: Any) -> Report:
    report = Report(settings)
    findings = [f async for f in diagnose(settings, kw.pop("password", None), report=report, **kw)]
    assert findings[-1].stage == "summary"
    return report


def lab_settings(lab: LabServer, tmp_path: Path, host: str | None = None, port: int | None = None) -> Settings:
    ca = tmp_path / "ca.pem"
    lab.write_ca(str(ca))
    return Settings(host or lab.host, port or lab.tls_port, "ssl", lab.user, ca_file=str(ca), timeout=TIMEOUT)


def connect_finding(report: Report) -> Any:
    return next(f for f in report.findings if f.stage == "connect" and f.status is Status.FAIL)


def assert_bilingual(report: Report) -> None:
    primary = report.primary
    assert primary is not None and primary.explanation is not None and primary.remedy
    for msg in (primary.title, primary.explanation, *primary.remedy):
        assert JAPANESE.search(msg.ja), msg.ja
        assert msg.en.strip() and not JAPANESE.search(msg.en), msg.en
    data = {lang: report.to_dict(lang) for lang in ("ja", "en")}
    assert data["ja"]["cause"] == data["en"]["cause"] == primary.cause


def has_default_route() -> bool:
    return any(r.ok for r in default_routes().values())


# -- the POP3 port alone is blocked -------------------------------------------------------


async def test_dropped_pop3_port_is_a_block_when_other_ports_answer(
    firewall: Firewall, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    """DROP on the SSL port only: the lab's plain port still answers, so the
    verdict is "this network/computer blocks the port", with STARTTLS on the
    open port proven as a working setting, within the connect timeout + 1 s."""
    async with lab_factory("healthy") as lab:
        firewall.drop("127.0.0.1", lab.tls_port)
        assert lab.port is not None
        settings = lab_settings(lab, tmp_path)
        started = asyncio.get_running_loop().time()
        report = await run(settings, extra_ports=(lab.port,))
        took = asyncio.get_running_loop().time() - started
    assert report.cause == "connection-timeout"
    connect = connect_finding(report)
    assert connect.evidence["error"] == "connect-timeout"
    assert connect.evidence["interpretation"] == "port-blocked"
    assert [a["outcome"] for a in connect.evidence["attempts"]] == ["timeout"]
    answered = {p["port"] for p in connect.evidence["triangulation"]["ports"] if p["outcome"] in ("ok", "refused")}
    assert answered, connect.evidence["triangulation"]
    assert "firewall" in connect.explanation.en
    assert report.suggested is not None
    assert (report.suggested.port, report.suggested.security) == (lab.port, "starttls")
    assert took <= TIMEOUT + 1.0, f"firewall verdict took {took:.2f}s"
    assert_bilingual(report)


async def test_tcp_reset_rule_is_refused_and_names_the_ports_that_work(
    firewall: Firewall, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with lab_factory("healthy") as lab:
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {lab.tls_port} reject with tcp reset")
        assert lab.port is not None
        report = await run(lab_settings(lab, tmp_path), extra_ports=(lab.port,))
    assert report.cause == "connection-refused"
    connect = connect_finding(report)
    assert connect.evidence["interpretation"] == "port-closed"
    assert str(lab.port) in connect.explanation.en
    assert report.suggested is not None and report.suggested.port == lab.port
    assert_bilingual(report)


async def test_icmp_unreachable_rule_is_host_unreachable(
    firewall: Firewall, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with lab_factory("healthy") as lab:
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {lab.tls_port} reject with icmp type host-unreachable")
        report = await run(lab_settings(lab, tmp_path))
    assert report.cause == "host-unreachable"
    connect = connect_finding(report)
    assert connect.evidence["error"] == "host-unreachable"
    assert [(a["outcome"], a["detail"]) for a in connect.evidence["attempts"]] == [("unreachable", "EHOSTUNREACH")]
    assert_bilingual(report)


# -- nothing on the host answers --------------------------------------------------------------


async def test_silent_host_with_answering_reference_is_server_down(firewall: Firewall) -> None:
    firewall.drop("127.0.0.2")
    async with listener() as ref_port:
        settings = Settings("127.0.0.2", 995, "ssl", "alice", timeout=TIMEOUT)
        started = asyncio.get_running_loop().time()
        report = await run(settings, reference=f"127.0.0.1:{ref_port}")
        took = asyncio.get_running_loop().time() - started
    assert report.cause == "server-down"
    connect = connect_finding(report)
    assert connect.evidence["interpretation"] == "server-down"
    tri = connect.evidence["triangulation"]
    assert tri["reference"]["outcome"] == "ok"
    assert all(p["outcome"] == "timeout" for p in tri["ports"])
    assert took <= TIMEOUT + 1.0, f"verdict took {took:.2f}s"
    assert_bilingual(report)


async def test_silent_host_and_silent_reference_is_no_network(firewall: Firewall) -> None:
    firewall.drop("127.0.0.2")
    firewall.drop("127.0.0.3")
    settings = Settings("127.0.0.2", 995, "ssl", "alice", timeout=TIMEOUT)
    report = await run(settings, reference="127.0.0.3:443")
    assert report.cause == "no-network"
    connect = connect_finding(report)
    assert connect.evidence["interpretation"] == "no-network"
    assert connect.evidence["triangulation"]["reference"]["outcome"] == "timeout"
    assert "127.0.0.3:443" in connect.explanation.en
    assert_bilingual(report)


async def test_silent_host_without_reference_says_it_cannot_tell(firewall: Firewall) -> None:
    firewall.drop("127.0.0.2")
    report = await run(Settings("127.0.0.2", 995, "ssl", "alice", timeout=TIMEOUT))
    connect = connect_finding(report)
    if has_default_route():
        assert report.cause == "connection-timeout"
        assert connect.evidence["interpretation"] == "undetermined"
        assert "--reference" in connect.explanation.en
    else:  # a machine with no route anywhere: that is the answer
        assert report.cause == "no-network"


# -- IPv6 broken, IPv4 fine ----------------------------------------------------------------


@pytest.mark.parametrize("fault", ["drop", "closed"])
async def test_broken_ipv6_is_a_warning_and_the_verdict_comes_over_ipv4(
    fault: str, firewall: Firewall, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    """AAAA -> ::1 where nothing answers ("drop": SYN dropped, so IPv4 wins the
    race before IPv6 fails; "closed": refused at once), A -> 127.0.0.1 works."""
    async with lab_factory("healthy", hostname="dual.test") as lab:
        if fault == "drop":
            firewall.drop("::1", lab.tls_port)
        records = {"dual.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]}}
        with LocalDnsServer(records) as dns:
            settings = lab_settings(lab, tmp_path, host="dual.test")
            report = await run(settings, password=lab.password, nameservers=[dns.nameserver])
    assert report.verdict == "warning", [(f.stage, f.status, f.cause) for f in report.findings]
    assert report.cause == "ipv6-broken"
    stages = [f.stage for f in report.findings]
    assert stages.index("retrieval") > stages.index("connect")  # the run went all the way over IPv4
    warn = next(f for f in report.findings if f.cause == "ipv6-broken")
    assert warn.status is Status.WARN
    # Listed with the connection findings, before TLS and the rest.
    assert stages[stages.index("connect") + 1] == "connect"
    assert_bilingual(report)


def test_no_rules_or_namespaces_are_left_behind() -> None:
    """Runs after the tests above in this module: their tables are gone."""
    assert leftovers() == []
