"""net.resolve against a real DNS server on loopback (support.dns_server)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pop3doctor.net import DnsNotFound, DnsUnavailable, Timeouts, open_connection, resolve
from pop3doctor.net.resolve import parse_nameserver
from support.dns_server import LocalDnsServer

RECORDS = {
    "mail.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
    "v4only.example.test": {"A": ["127.0.0.2", "127.0.0.3"]},
    "v6only.example.test": {"AAAA": ["::1"]},
    "example.test": {"MX": [(10, "mail.example.test")]},  # exists, but no address
}


@pytest.fixture
def dns() -> Iterator[LocalDnsServer]:
    with LocalDnsServer(
        RECORDS, servfail={"broken.example.test"}, silent={"slow.example.test"}
    ) as server:
        yield server


async def test_both_families_ipv6_listed_first(dns: LocalDnsServer) -> None:
    got = await resolve("mail.example.test", timeout=2, nameservers=[dns.nameserver])
    assert got == [("ipv6", "::1"), ("ipv4", "127.0.0.1")]
    assert ("mail.example.test", "A") in dns.queries
    assert ("mail.example.test", "AAAA") in dns.queries


async def test_one_family_is_enough(dns: LocalDnsServer) -> None:
    got = await resolve("v4only.example.test", timeout=2, nameservers=[dns.nameserver])
    assert got == [("ipv4", "127.0.0.2"), ("ipv4", "127.0.0.3")]
    got = await resolve("v6only.example.test", timeout=2, nameservers=[dns.nameserver])
    assert got == [("ipv6", "::1")]


async def test_nxdomain_is_not_found(dns: LocalDnsServer) -> None:
    with pytest.raises(DnsNotFound) as info:
        await resolve("typo.example.test", timeout=2, nameservers=[dns.nameserver])
    assert info.value.reason == "nxdomain"
    assert info.value.host == "typo.example.test"
    assert info.value.evidence()["error"] == "dns-not-found"


async def test_name_without_address_is_not_found(dns: LocalDnsServer) -> None:
    with pytest.raises(DnsNotFound) as info:
        await resolve("example.test", timeout=2, nameservers=[dns.nameserver])
    assert info.value.reason == "no-address"


async def test_servfail_is_unavailable(dns: LocalDnsServer) -> None:
    with pytest.raises(DnsUnavailable) as info:
        await resolve("broken.example.test", timeout=2, nameservers=[dns.nameserver])
    assert info.value.reason == "servfail"


async def test_silent_server_is_unavailable_within_the_timeout(dns: LocalDnsServer) -> None:
    start = time.monotonic()
    with pytest.raises(DnsUnavailable) as info:
        await resolve("slow.example.test", timeout=0.5, nameservers=[dns.nameserver])
    assert info.value.reason == "timeout"
    assert time.monotonic() - start < 3  # generous: the limit is 0.5 s
    assert info.value.elapsed_ms >= 400


async def test_nothing_listening_is_unavailable() -> None:
    # A UDP port nobody serves: ICMP port-unreachable or silence, never an answer.
    with LocalDnsServer({}) as gone:
        address = gone.nameserver
    with pytest.raises(DnsUnavailable) as info:
        await resolve("mail.example.test", timeout=1, nameservers=[address])
    assert info.value.reason in ("no-nameservers", "timeout")


async def test_ip_literals_skip_dns() -> None:
    # No nameserver is reachable at this address: a query would fail.
    assert await resolve("127.0.0.1", timeout=1, nameservers=["127.0.0.1:9"]) == [
        ("ipv4", "127.0.0.1")
    ]
    assert await resolve("[::1]", timeout=1) == [("ipv6", "::1")]


async def test_system_resolver_reads_hosts_file() -> None:
    got = await resolve("localhost", timeout=5)
    assert ("ipv4", "127.0.0.1") in got or ("ipv6", "::1") in got


async def test_open_connection_reports_dns_errors(dns: LocalDnsServer) -> None:
    with pytest.raises(DnsNotFound):
        await open_connection(
            "typo.example.test", 995, timeouts=Timeouts(), nameservers=[dns.nameserver]
        )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:5353", ("::1", 5353)),
    ],
)
def test_parse_nameserver(spec: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(spec) == expected


@pytest.mark.parametrize("spec", ["dns.example:53", "127.0.0.1:0", "127.0.0.1:70000"])
def test_parse_nameserver_rejects(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_nameserver(spec)


# -- the system resolver (getaddrinfo), in a network namespace ------------------

# Run inside the namespace: serve DNS on 127.0.0.1:53 (free there), resolve
# through getaddrinfo, print each outcome as JSON.
_NETNS_SCRIPT = r"""
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from support.dns_server import LocalDnsServer
from pop3doctor.net import NetError, resolve

RECORDS = {"mail.example.test": {"A": ["127.0.0.5"]}, "example.test": {"MX": [(1, "x.test")]}}

async def main():
    out = {}
    for name in ["mail.example.test", "typo.example.test", "example.test",
                 "bad.example.test", "slow.example.test"]:
        try:
            out[name] = await resolve(name, timeout=5)
        except NetError as exc:
            out[name] = exc.evidence()
    print(json.dumps(out))

with LocalDnsServer(RECORDS, 53, servfail={"bad.example.test"}, silent={"slow.example.test"}):
    asyncio.run(main())
"""


@pytest.fixture
def netns_with_local_resolver() -> Iterator[str]:
    """A network namespace whose /etc/resolv.conf names 127.0.0.1 (ip netns
    bind-mounts /etc/netns/<name>/resolv.conf); always removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a network namespace")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 (ip) is not installed")
    name = f"p3dres{os.getpid()}"
    conf_dir = Path("/etc/netns") / name
    try:
        conf_dir.mkdir(parents=True)
        (conf_dir / "resolv.conf").write_text(
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"
        )
        made = subprocess.run(["ip", "netns", "add", name], capture_output=True, timeout=10)
        if made.returncode != 0:
            pytest.skip(f"ip netns unusable: {made.stderr.decode(errors='replace').strip()}")
        subprocess.run(
            ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
            check=True, capture_output=True, timeout=10,
        )
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        shutil.rmtree(conf_dir, ignore_errors=True)


@pytest.mark.root
def test_system_resolver_errors_map_by_errno(netns_with_local_resolver: str) -> None:
    tests_dir = Path(__file__).parent
    done = subprocess.run(
        ["ip", "netns", "exec", netns_with_local_resolver, sys.executable, "-c",
         _NETNS_SCRIPT, str(tests_dir)],
        capture_output=True, timeout=60, text=True,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["mail.example.test"] == [["ipv4", "127.0.0.5"]]
    assert out["typo.example.test"]["error"] == "dns-not-found"
    assert out["typo.example.test"]["reason"] == "nxdomain"  # EAI_NONAME
    assert out["example.test"]["error"] == "dns-not-found"
    assert out["example.test"]["reason"] == "no-address"  # EAI_NODATA
    # glibc folds SERVFAIL and silence into EAI_AGAIN:
    assert out["bad.example.test"]["error"] == "dns-unavailable"
    assert out["bad.example.test"]["reason"] == "temporary"
    assert out["slow.example.test"]["error"] == "dns-unavailable"
    assert out["slow.example.test"]["reason"] == "temporary"
