"""This computer's network read without sending a packet: the network stage's notes, in both languages."""

from __future__ import annotations

import re

from pop3doctor.diagnosis.localnet import NetworkFacts, network_failure
from pop3doctor.net.errors import DnsUnavailable
from pop3doctor.net.probe import Route

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

NO_ROUTE = Route("198.51.100.1", None, "ENETUNREACH")


def _dns_down(host: str = "pop.example.jp") -> DnsUnavailable:
    return DnsUnavailable("no answer", reason="no-nameservers", host=host, port=None, elapsed_ms=1.0)


def test_no_route_and_no_resolver_reads_in_japanese() -> None:
    """Neither a default route nor a configured DNS server: the Japanese note names none in Japanese."""
    facts = NetworkFacts(
        default_routes={"ipv4": NO_ROUTE, "ipv6": Route("2001:db8::1", None, "ENETUNREACH")},
        nameservers=[],
        explicit_nameservers=False,
        nameserver_routes=[],
    )
    failure = network_failure(facts, _dns_down())
    assert failure is not None
    cause, note = failure
    assert cause == "no-network"
    ja = note("ja")
    assert "none configured" not in ja, ja
    assert "設定されていません" in ja, ja
    assert "none configured" in note("en")
