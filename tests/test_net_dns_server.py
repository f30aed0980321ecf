"""The LocalDnsServer test helper answers like a real server (checked with dnspython)."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from support.dns_server import LocalDnsServer

RECORDS = {
    "example.test": {"MX": [(10, "mail.example.test")], "TXT": ["v=spf1 -all"]},
    "mail.example.test": {"A": ["127.0.0.1"]},
    "_pop3s._tcp.example.test": {"SRV": [(0, 1, 995, "mail.example.test")]},
}


@pytest.mark.parametrize("tcp", [False, True])
def test_answers_mx_srv_and_errors(tcp: bool) -> None:
    with LocalDnsServer(RECORDS, servfail={"bad.test"}) as server:

        def ask(name: str, rdtype: str) -> dns.message.Message:
            query = dns.message.make_query(name, rdtype)
            send = dns.query.tcp if tcp else dns.query.udp
            return send(query, "127.0.0.1", port=server.port, timeout=2)

        mx = ask("EXAMPLE.test.", "MX")
        assert [r.to_text() for r in mx.answer[0]] == ["10 mail.example.test."]
        srv = ask("_pop3s._tcp.example.test", "SRV")
        assert [r.to_text() for r in srv.answer[0]] == ["0 1 995 mail.example.test."]
        nodata = ask("mail.example.test", "AAAA")
        assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
        assert ask("nope.test", "A").rcode() == dns.rcode.NXDOMAIN
        assert ask("bad.test", "A").rcode() == dns.rcode.SERVFAIL
        assert ("example.test", "MX") in server.queries


def test_silent_names_get_no_reply() -> None:
    with LocalDnsServer({}, silent={"quiet.test"}) as server:
        query = dns.message.make_query("quiet.test", "A")
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(query, "127.0.0.1", port=server.port, timeout=0.3)
