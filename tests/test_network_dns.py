"""Network stage and name lookup, against a real DNS server on loopback.

The code under test asks only `LocalDnsServer` (``nameservers=[...]``, the
``--dns-server`` option), never the system resolver.  Servers contacted:
loopback only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.diagnosis.model import Report, Settings, Status
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.knowledge.hostnames import close_known_hostnames, domain_candidates, edit_distance
from pop3doctor.lab import LabServer
from pop3doctor.net.probe import default_routes
from support.dns_server import LocalDnsServer

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


async def run(settings: Settings, dns: str, **kw: Any) -> Report:
    report = Report(settings)
    findings = [f async for f in diagnose(settings, None, nameservers=[dns], report=report, **kw)]
    assert findings[-1].stage == "summary"
    return report


def settings(host: str, port: int = 995, user: str = "alice", **kw: Any) -> Settings:
    return Settings(host, port, "ssl", user, timeout=kw.pop("timeout", 2.0), **kw)


def assert_bilingual(report: Report) -> None:
    """The verdict's title, explanation and every remedy step exist in Japanese and English."""
    primary = report.primary
    assert primary is not None and primary.explanation is not None and primary.remedy
    for msg in (primary.title, primary.explanation, *primary.remedy):
        assert JAPANESE.search(msg.ja), msg.ja
        assert msg.en.strip() and not JAPANESE.search(msg.en), msg.en


@contextlib.contextmanager
def silent_udp() -> Iterator[str]:
    """A bound UDP port that never answers: a resolver that is down but not refusing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def closed_udp_port() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# -- pure: candidate names and distances ------------------------------------------------


def test_transposition_is_one_edit_and_provider_typos_are_found() -> None:
    assert edit_distance("pop.gmial.com", "pop.gmail.com") == 1
    assert edit_distance("pop.gmal.com", "pop.gmail.com") == 1
    assert close_known_hostnames("pop.gmial.com")[0] == "pop.gmail.com"
    assert close_known_hostnames("pop.example.com") == []


def test_domain_candidates_put_srv_first_then_domain_then_mx() -> None:
    names = domain_candidates("example.test", mx_hosts=["mx1.hoster.test"], srv_targets=["pop.srv.test"])
    assert names[0] == "pop.srv.test"
    assert names[1:4] == ["pop.example.test", "pop3.example.test", "mail.example.test"]
    assert "mx1.hoster.test" in names and "pop.hoster.test" in names


# -- resolve stage ----------------------------------------------------------------------


async def test_nxdomain_is_host_not_found_with_names_from_the_email_domain(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    """A typo in the domain: pop.exmaple.test does not exist; the e-mail domain's
    pop.example.test does, and a POP3 server answers there, so it is suggested
    as the setting to use.  MX and SRV records add their own candidates."""
    async with lab_factory("healthy", hostname="pop.example.test") as lab:
        records = {
            "pop.example.test": {"A": ["127.0.0.1"]},
            "example.test": {"MX": [(10, "mx1.hoster.test")]},
            "_pop3s._tcp.example.test": {"SRV": [(0, 1, 995, "pop.srv.test")]},
            "pop.srv.test": {"A": ["127.0.0.1"]},
            "mx1.hoster.test": {"A": ["127.0.0.1"]},
            "pop.hoster.test": {"A": ["127.0.0.1"]},
        }
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        with LocalDnsServer(records) as dns:
            s = settings("pop.exmaple.test", lab.tls_port, "alice@example.test", ca_file=str(ca))
            report = await run(s, dns.nameserver)
            asked = set(dns.queries)
    assert report.cause == "host-not-found"
    resolve = next(f for f in report.findings if f.stage == "resolve")
    assert resolve.status is Status.FAIL
    names = [x["name"] for x in resolve.evidence["did_you_mean"]]
    assert names[0] == "pop.example.test"  # closest to what was typed
    assert set(names) <= {"pop.example.test", "pop.srv.test", "mx1.hoster.test", "pop.hoster.test"}
    assert len(names) == 3
    assert {("example.test", "MX"), ("_pop3s._tcp.example.test", "SRV")} <= asked
    assert resolve.evidence["verified_host"] == "pop.example.test"
    assert report.suggested is not None and report.suggested.host == "pop.example.test"
    assert any("pop.example.test" in step.en and "pop.example.test" in step.ja for step in resolve.remedy)
    assert_bilingual(report)
    # The run stops at the name: nothing after it was tried.
    assert [f.stage for f in report.findings] == ["network", "resolve", "summary"]


async def test_provider_typo_suggests_the_known_name_without_a_lookup() -> None:
    with LocalDnsServer({}) as dns:
        report = await run(settings("pop.gmial.com"), dns.nameserver)
        asked = {name for name, _ in dns.queries}
    assert report.cause == "host-not-found"
    resolve = next(f for f in report.findings if f.stage == "resolve")
    assert resolve.evidence["did_you_mean"] == [{"name": "pop.gmail.com", "source": "provider", "addresses": []}]
    assert "pop.gmail.com" not in asked  # a known name is not looked up (and never contacted)
    assert any("pop.gmail.com" in step.ja and "pop.gmail.com" in step.en for step in resolve.remedy)
    assert_bilingual(report)


async def test_servfail_is_dns_unavailable_at_the_name_not_the_network() -> None:
    with LocalDnsServer({}, servfail={"pop.broken.test"}) as dns:
        report = await run(settings("pop.broken.test"), dns.nameserver)
    assert report.cause == "dns-unavailable"
    stages = {f.stage: f for f in report.findings}
    assert stages["network"].status is Status.PASS  # the resolver itself answers
    assert stages["network"].evidence["network"]["resolvers"][0]["outcome"] == "answered"
    assert stages["resolve"].status is Status.FAIL
    assert stages["resolve"].evidence["reason"] == "servfail"
    assert "pop.broken.test" in stages["resolve"].explanation.en  # type: ignore[union-attr]
    assert_bilingual(report)


async def test_name_that_gets_no_answer_is_dns_unavailable_timeout() -> None:
    with LocalDnsServer({}, silent={"pop.slow.test"}) as dns:
        report = await run(settings("pop.slow.test", timeout=1.0), dns.nameserver)
    assert report.cause == "dns-unavailable"
    resolve = next(f for f in report.findings if f.stage == "resolve")
    assert resolve.evidence["reason"] == "timeout"
    assert_bilingual(report)


def expected_dead_resolver_cause() -> str:
    """With a default route, a dead resolver is a DNS problem; without one, no network at all."""
    return "dns-unavailable" if any(r.ok for r in default_routes().values()) else "no-network"


async def test_resolver_that_never_answers_fails_the_network_stage() -> None:
    with silent_udp() as nameserver:
        report = await run(settings("pop.example.test", timeout=1.0), nameserver)
    assert report.cause == expected_dead_resolver_cause()
    network = report.findings[0]
    assert network.stage == "network" and network.status is Status.FAIL
    assert network.evidence["network"]["resolvers"] == [
        {"nameserver": nameserver, "outcome": "timeout", "rcode": None, "elapsed_ms": pytest.approx(1000, abs=900),
         "detail": None}
    ]
    assert nameserver in network.explanation.en  # type: ignore[union-attr]
    assert_bilingual(report)


async def test_resolver_port_closed_fails_the_network_stage_at_once() -> None:
    nameserver = closed_udp_port()
    report = await run(settings("pop.example.test", timeout=5.0), nameserver)
    assert report.cause == expected_dead_resolver_cause()
    network = report.findings[0]
    assert network.evidence["network"]["resolvers"][0]["outcome"] == "refused"
    # ICMP port unreachable comes back at once: no need to wait for the timeout.
    assert report.findings[-1].elapsed_ms < 4000


async def test_healthy_lookup_passes_network_and_resolve(lab_factory: Callable[..., LabServer]) -> None:
    async with lab_factory("healthy", hostname="pop.example.test") as lab:
        with LocalDnsServer({"pop.example.test": {"A": ["127.0.0.1"]}}) as dns:
            report = await run(settings("pop.example.test", lab.tls_port, ca_file=None), dns.nameserver)
    stages = {f.stage: f for f in report.findings}
    assert stages["network"].status is Status.PASS
    assert stages["resolve"].status is Status.PASS
    assert stages["resolve"].evidence["addresses"] == ["127.0.0.1"]
    assert [f.stage for f in report.findings][:3] == ["network", "resolve", "connect"]


# -- through the CLI ---------------------------------------------------------------------


def test_cli_dns_server_option_and_json_in_both_languages() -> None:
    with LocalDnsServer({}) as dns:
        out = {}
        for lang in ("ja", "en"):
            proc = subprocess.run(
                [sys.executable, "-m", "pop3doctor", "diagnose", "--host", "pop.gmial.com", "--user", "alice",
                 "--security", "ssl", "--dns-server", dns.nameserver, "--timeout", "2", "--json", "--lang", lang],
                capture_output=True, text=True, timeout=60, env={**os.environ},
            )
            assert proc.returncode == 2, proc.stderr
            out[lang] = json.loads(proc.stdout)
    for lang, report in out.items():
        assert report["cause"] == "host-not-found"
        resolve = next(f for f in report["findings"] if f["stage"] == "resolve")
        assert any("pop.gmail.com" in step for step in resolve["remedy"])
        assert bool(JAPANESE.search(resolve["title"])) == (lang == "ja")
