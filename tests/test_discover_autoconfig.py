"""Source 2 (autoconfig XML) against a real local HTTPS server, including hostile files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from pop3doctor.discovery import (
    AutoconfigEndpoints,
    DiscoveryConfig,
    Source,
    Status,
    UsernameForm,
    discover,
    parse_address,
)
from pop3doctor.discovery.autoconfig import MAX_BYTES, parse_config, targets
from pop3doctor.discovery.xmlsafe import XmlRefused
from pop3doctor.endpoint import Security
from support.dns_server import LocalDnsServer
from support.https_server import LocalWebServer, Route

NAMES = ["autoconfig.example.test", "example.test", "ispdb.test"]
AC = "autoconfig.example.test/mail/config-v1.1.xml"
WELL_KNOWN = "example.test/.well-known/autoconfig/mail/config-v1.1.xml"
ISPDB = "ispdb.test/v1.1/example.test"


def config_xml(host: str, *, port: int = 995, socket_type: str = "SSL", username: str = "%EMAILADDRESS%",
               extra: str = "", auth: str = "password-cleartext") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.test</hostname><port>993</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>{host}</hostname>
      <port>{port}</port>
      <socketType>{socket_type}</socketType>
      <username>{username}</username>
      <authentication>{auth}</authentication>
    </incomingServer>
    {extra}
  </emailProvider>
</clientConfig>
""".encode()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca.cert_pem.bytes())
    return str(path)


@pytest.fixture(scope="module")
def dns() -> Iterator[LocalDnsServer]:
    records = {name: {"A": ["127.0.0.1"]} for name in NAMES}
    with LocalDnsServer(records) as server:
        yield server


def make_config(web: LocalWebServer, dns: LocalDnsServer, ca_file: str, *, timeout: float = 5.0,
                allow_http: bool = True, ispdb: bool = True) -> DiscoveryConfig:
    return DiscoveryConfig(
        timeout=timeout,
        nameservers=(dns.nameserver,),
        ca_file=ca_file,
        autoconfig=AutoconfigEndpoints(
            https_port=web.https_port,
            http_port=web.http_port,
            ispdb_url=f"https://ispdb.test:{web.https_port}/v1.1/" if ispdb else None,
            allow_http=allow_http,
        ),
        sources=frozenset({Source.AUTOCONFIG}),
    )


async def test_autoconfig_host_wins_over_well_known_and_ispdb(ca: trustme.CA, ca_file: str,
                                                             dns: LocalDnsServer) -> None:
    routes = {
        AC: Route(body=config_xml("pop.example.test")),
        WELL_KNOWN: Route(body=config_xml("wellknown.example.test")),
        ISPDB: Route(body=config_xml("ispdb-pop.example.test")),
    }
    with LocalWebServer(routes, ca, names=NAMES) as web:
        result = await discover("alice@example.test", make_config(web, dns, ca_file))
    chosen = result.chosen
    assert chosen is not None
    assert (chosen.host, chosen.port, chosen.security) == ("pop.example.test", 995, Security.SSL)
    assert chosen.source is Source.AUTOCONFIG and chosen.origin == "autoconfig"
    assert chosen.confidence.value == "high"
    assert chosen.username == "alice@example.test" and chosen.username_form is UsernameForm.ADDRESS
    assert chosen.evidence.startswith("https://autoconfig.example.test:")
    # The address is passed as Thunderbird does, and the certificate was checked for the real name.
    assert ("https", "autoconfig.example.test", "/mail/config-v1.1.xml?emailaddress=alice@example.test") in web.requests


async def test_well_known_then_ispdb(ca: trustme.CA, ca_file: str, dns: LocalDnsServer) -> None:
    with LocalWebServer({WELL_KNOWN: Route(body=config_xml("wk.example.test"))}, ca, names=NAMES) as web:
        result = await discover("a@example.test", make_config(web, dns, ca_file))
    assert result.chosen is not None and result.chosen.host == "wk.example.test"
    with LocalWebServer({ISPDB: Route(body=config_xml("db.example.test"))}, ca, names=NAMES) as web:
        result = await discover("a@example.test", make_config(web, dns, ca_file))
    assert result.chosen is not None and result.chosen.host == "db.example.test"
    assert result.chosen.origin == "ispdb"


async def test_plain_http_is_a_fallback_with_a_warning(ca: trustme.CA, ca_file: str, dns: LocalDnsServer) -> None:
    routes = {f"http:{AC}": Route(body=config_xml("pop.example.test"))}
    with LocalWebServer(routes, ca, names=NAMES) as web:
        result = await discover("a@example.test", make_config(web, dns, ca_file))
        assert result.chosen is not None and result.chosen.confidence.value == "medium"
        assert "autoconfig-over-http" in {w.code for w in result.warnings}
        off = await discover("a@example.test", make_config(web, dns, ca_file, allow_http=False))
    assert off.chosen is None


async def test_untrusted_certificate_is_reported_not_followed(ca_file: str, dns: LocalDnsServer) -> None:
    other_ca = trustme.CA()  # the server's certificate chains to a CA we do not trust
    with LocalWebServer({AC: Route(body=config_xml("pop.example.test"))}, other_ca, names=NAMES) as web:
        result = await discover("a@example.test", make_config(web, dns, ca_file, allow_http=False, ispdb=False))
    report = result.sources[Source.AUTOCONFIG.priority]
    assert result.chosen is None and report.status is Status.NOTHING
    assert any("certificate" in d.en for d in report.detail)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<clientConfig><emailProvider><incomingServer type="pop3"><hostname>&lol3;</hostname></incomingServer>
</emailProvider></clientConfig>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><clientConfig>&xxe;</clientConfig>"""
DEEP = b"<clientConfig>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</clientConfig>"

HOSTILE = {
    "endless-body": (Route(endless=True), "too large"),
    "declared-too-large": (Route(body=b"<clientConfig/>", content_length=MAX_BYTES + 1), "too large"),
    "just-over-the-limit": (Route(body=b"<clientConfig>" + b" " * MAX_BYTES + b"</clientConfig>"), "too large"),
    "malformed": (Route(body=b"<clientConfig><emailProvider></clientConfig>"), "malformed XML"),
    "not-xml": (Route(body=b"\x00\xff garbage", content_type="text/html"), "malformed XML"),
    "billion-laughs": (Route(body=BILLION_LAUGHS), "DOCTYPE"),
    "external-entity": (Route(body=EXTERNAL_ENTITY), "DOCTYPE"),
    "deep-nesting": (Route(body=DEEP), "nested deeper"),
    "wrong-root": (Route(body=b"<html><body>hi</body></html>"), "clientConfig"),
    "server-error": (Route(status=500, body=b"oops"), "HTTP status 500"),
    "redirect-not-followed": (Route(status=302, body=b""), "HTTP status 302"),
    "hostile-hostname": (Route(body=config_xml("evil.test/../x?y= z")), "no POP3 settings"),
    "bad-port": (Route(body=config_xml("pop.example.test", port=99999)), "no POP3 settings"),
    "bad-socket-type": (Route(body=config_xml("pop.example.test", socket_type="TLS1.0")), "no POP3 settings"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_or_broken_files_give_a_clear_reason_and_no_crash(
    name: str, ca: trustme.CA, ca_file: str, dns: LocalDnsServer
) -> None:
    route, reason = HOSTILE[name]
    with LocalWebServer({AC: route}, ca, names=NAMES) as web:
        result = await discover("a@example.test", make_config(web, dns, ca_file, allow_http=False, ispdb=False))
    report = result.sources[Source.AUTOCONFIG.priority]
    assert result.chosen is None and report.status is Status.NOTHING
    first = [d.en for d in report.detail if "autoconfig.example.test" in d.en]
    assert first and reason in first[0], report.detail
    assert all(d.ja for d in report.detail)


async def test_silent_server_is_cut_off_at_the_timeout(ca: trustme.CA, ca_file: str, dns: LocalDnsServer) -> None:
    with LocalWebServer({AC: Route(silent=True), WELL_KNOWN: Route(silent=True)}, ca, names=NAMES) as web:
        start = time.monotonic()
        result = await discover("a@example.test", make_config(web, dns, ca_file, timeout=1.0, ispdb=False))
        elapsed = time.monotonic() - start
    assert result.chosen is None
    assert elapsed < 1.0 + 1.0  # the bound: connect timeout plus 1 s


# ---- parsing (no network) -------------------------------------------------------

ADDRESS = parse_address("taro@example.test")


def parse(data: bytes, secure: bool = True) -> tuple[list, list, list]:  # type: ignore[type-arg]
    return parse_config(data, ADDRESS, url="https://x.test/c.xml", origin="autoconfig", secure=secure)


def test_placeholders_and_user_name_forms() -> None:
    [c], _, _ = parse(config_xml("pop.%EMAILDOMAIN%", username="%EMAILLOCALPART%"))
    assert (c.host, c.username, c.username_form) == ("pop.example.test", "taro", UsernameForm.LOCAL_PART)
    [c], _, _ = parse(config_xml("pop.example.test", username="fixed-id"))
    assert (c.username, c.username_form) == ("fixed-id", UsernameForm.LITERAL)


def test_socket_types_map_to_security_modes() -> None:
    assert parse(config_xml("h.test", socket_type="STARTTLS", port=110))[0][0].security is Security.STARTTLS
    assert parse(config_xml("h.test", socket_type="plain", port=110))[0][0].security is Security.PLAIN


def test_enable_and_oauth_only_become_warnings() -> None:
    extra = '<enable visiturl="https://mail.example.test/settings"><instruction>Enable POP</instruction></enable>'
    _, warnings, _ = parse(config_xml("h.test", extra=extra, auth="OAuth2"))
    by_code = {w.code: w for w in warnings}
    assert by_code["pop-must-be-enabled"].url == "https://mail.example.test/settings"
    assert "oauth-required" in by_code
    _, warnings, _ = parse(config_xml("h.test", auth="password-cleartext"))
    assert not warnings


def test_file_without_pop3_yields_nothing() -> None:
    data = b'<clientConfig><emailProvider><incomingServer type="imap"><hostname>i.test</hostname>' \
           b"</incomingServer></emailProvider></clientConfig>"
    assert parse(data)[0] == []


def test_doctype_is_refused_even_when_harmless() -> None:
    with pytest.raises(XmlRefused):
        parse(b'<?xml version="1.0"?><!DOCTYPE clientConfig><clientConfig/>')


def test_url_order_is_https_first_then_ispdb_then_http() -> None:
    urls = [t.url for t in targets(ADDRESS, AutoconfigEndpoints())]
    assert urls == [
        "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=taro@example.test",
        "https://example.test/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=taro@example.test",
        "https://autoconfig.thunderbird.net/v1.1/example.test",
        "http://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=taro@example.test",
        "http://example.test/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=taro@example.test",
    ]
