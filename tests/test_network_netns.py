"""This computer without a network: the CLI run inside network namespaces the test creates.

- an empty namespace (loopback down, no interface): nothing is reachable,
  not even the DNS server; the verdict comes at the network stage;
- a namespace with a veth pair to this test and no default route: DNS (on
  the test's end of the pair) works, the server's address has no route.

Only the namespaces' own addresses are contacted; each namespace and veth
is deleted in teardown, whether the test passed or not.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable

import pytest

from support.dns_server import LocalDnsServer
from support.netns import Namespace, leftovers, skip_unless_root
from support.netns import namespace_factory as namespace_factory  # the fixture (explicit re-export)

pytestmark = pytest.mark.root

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def diagnose_in(ns: Namespace, *args: str, lang: str = "en") -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        ns.python("-m", "pop3doctor", "diagnose", "--user", "alice", "--security", "ssl", "--port", "995",
                  "--timeout", "2", "--json", "--lang", lang, *args),
        capture_output=True, text=True, timeout=60,
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_empty_namespace_is_no_network_before_any_lookup(namespace_factory: Callable[..., Namespace]) -> None:
    ns = namespace_factory(veth=False)
    reports = {
        lang: diagnose_in(ns, "--host", "pop.example.test", "--dns-server", "127.0.0.1:53", lang=lang)
        for lang in ("ja", "en")
    }
    for lang, (code, report) in reports.items():
        assert code == 2
        assert report["cause"] == "no-network"
        findings = report["findings"]
        assert isinstance(findings, list)
        assert [f["stage"] for f in findings] == ["network"]
        network = findings[0]
        assert network["status"] == "fail"
        routes = network["evidence"]["network"]["default_routes"]
        assert routes["ipv4"]["error"] == "ENETUNREACH"
        assert network["remedy"]
        assert bool(JAPANESE.search(network["title"])) == (lang == "ja")


def test_no_default_route_makes_an_unroutable_server_no_network(
    namespace_factory: Callable[..., Namespace],
) -> None:
    ns = namespace_factory(veth=True)
    # 198.51.100.7 is a documentation address: with no default route the
    # kernel refuses at once (ENETUNREACH), so no packet ever leaves.
    with LocalDnsServer({"pop.example.test": {"A": ["198.51.100.7"]}}, host=ns.host_ip) as dns:
        code, report = diagnose_in(ns, "--host", "pop.example.test", "--dns-server", dns.nameserver)
    assert code == 2
    assert report["cause"] == "no-network", report
    findings = report["findings"]
    assert isinstance(findings, list)
    stages = {f["stage"]: f for f in findings}
    assert stages["network"]["status"] == "pass"  # the local network and its DNS work
    assert stages["network"]["evidence"]["network"]["default_routes"]["ipv4"]["source"] is None
    assert stages["resolve"]["status"] == "pass"
    connect = stages["connect"]
    assert connect["evidence"]["error"] == "host-unreachable"
    assert connect["evidence"]["attempts"][0]["detail"] == "ENETUNREACH"
    assert connect["evidence"]["interpretation"] == "no-network"


def test_namespace_cleanup_survives_a_failing_test() -> None:
    """The context manager removes namespace and veth even when the body raises."""
    skip_unless_root("ip")
    try:
        with Namespace(veth=True) as ns:
            assert ns.exists()
            raise RuntimeError("the test failed here")
    except RuntimeError:
        pass
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"network namespaces unusable here: {exc.stderr}")
    assert not ns.exists()
    assert leftovers() == []
