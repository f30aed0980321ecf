"""Sources 3 (DNS SRV/MX) and 4 (guessing), and the engine, against a real local
DNS server and real POP3 lab servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import trustme

from pop3doctor.discovery import (
    AutoconfigEndpoints,
    DiscoveryConfig,
    GuessPorts,
    Source,
    Status,
    UsernameForm,
    discover,
)
from pop3doctor.endpoint import Security
from pop3doctor.lab import LabServer
from support.dns_server import LocalDnsServer
from support.https_server import LocalWebServer, Route

DOMAIN = "example.test"
NO_WEB = AutoconfigEndpoints(ispdb_url=None, allow_http=False)


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def cfg(dns: LocalDnsServer, *sources: Source, ca_file: str | None = None, timeout: float = 5.0,
        ports: GuessPorts | None = None, **kwargs: object) -> DiscoveryConfig:
    return DiscoveryConfig(
        timeout=timeout,
        nameservers=(dns.nameserver,),
        ca_file=ca_file,
        autoconfig=kwargs.pop("autoconfig", NO_WEB),  # type: ignore[arg-type]
        guess_ports=ports or GuessPorts(closed_port(), closed_port()),
        sources=frozenset(sources or Source),
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
async def lab(lab_factory: Callable[..., LabServer], tmp_path: Path) -> AsyncIterator[LabServer]:
    async with lab_factory("healthy", hostname=f"pop.{DOMAIN}") as server:
        server.write_ca(tmp_path / "lab-ca.pem")
        yield server


# ---- DNS: SRV ------------------------------------------------------------------------

async def test_srv_records_give_implicit_tls_first() -> None:
    records = {
        f"_pop3._tcp.{DOMAIN}": {"SRV": [(0, 1, 110, f"mail.{DOMAIN}")]},
        f"_pop3s._tcp.{DOMAIN}": {"SRV": [(10, 1, 995, f"pop2.{DOMAIN}"), (0, 5, 995, f"pop.{DOMAIN}")]},
    }
    with LocalDnsServer(records) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    assert result.chosen is not None
    assert (result.chosen.host, result.chosen.port, result.chosen.security) == (f"pop.{DOMAIN}", 995, Security.SSL)
    assert result.chosen.origin == "dns-srv" and result.chosen.username_form is UsernameForm.UNKNOWN
    assert [(c.host, c.security) for c in result.alternatives] == [
        (f"pop2.{DOMAIN}", Security.SSL), (f"mail.{DOMAIN}", Security.STARTTLS)
    ]
    assert (f"_pop3s._tcp.{DOMAIN}", "SRV") in dns.queries


async def test_srv_target_outside_the_domain_has_low_confidence() -> None:
    records = {f"_pop3s._tcp.{DOMAIN}": {"SRV": [(0, 1, 995, "pop.elsewhere.test")]}}
    with LocalDnsServer(records) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    assert result.chosen is not None and result.chosen.confidence.value == "low"
    assert any("outside" in d.en for d in result.sources[Source.DNS.priority].detail)


async def test_srv_dot_target_means_no_pop() -> None:
    records = {f"_pop3s._tcp.{DOMAIN}": {"SRV": [(0, 0, 0, ".")]},
               f"_pop3._tcp.{DOMAIN}": {"SRV": [(0, 0, 0, ".")]}}
    with LocalDnsServer(records) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    assert result.pop_offered is False and result.chosen is None
    assert [w.code for w in result.warnings] == ["no-pop"]


async def test_mx_host_maps_a_custom_domain_to_its_provider() -> None:
    records = {DOMAIN: {"MX": [(1, "aspmx.l.google.com"), (5, "alt1.aspmx.l.google.com")]}}
    with LocalDnsServer(records) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    assert result.chosen is not None
    assert (result.chosen.host, result.chosen.origin) == ("pop.gmail.com", "dns-mx")
    assert result.chosen.username == f"bob@{DOMAIN}" and result.chosen.provider == "Gmail"
    assert "MX 1 aspmx.l.google.com." in result.chosen.evidence
    assert "pop-must-be-enabled" in {w.code for w in result.warnings}


async def test_unknown_mx_and_servfail_are_reported() -> None:
    with LocalDnsServer({DOMAIN: {"MX": [(10, "mx.unknown-host.test")]}}) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    report = result.sources[Source.DNS.priority]
    assert report.status is Status.NOTHING and any("not known" in d.en for d in report.detail)
    servfail = [DOMAIN, f"_pop3s._tcp.{DOMAIN}", f"_pop3._tcp.{DOMAIN}"]
    with LocalDnsServer({}, servfail=servfail) as dns:
        result = await discover(f"bob@{DOMAIN}", cfg(dns, Source.DNS))
    report = result.sources[Source.DNS.priority]
    assert report.status is Status.ERROR and all("servfail" in d.en for d in report.detail)


# ---- guessing against real POP3 servers ---------------------------------------------

async def test_guess_finds_the_real_server_with_capa_only(lab: LabServer, tmp_path: Path) -> None:
    assert lab.port is not None
    with LocalDnsServer({f"pop.{DOMAIN}": {"A": ["127.0.0.1"]}}) as dns:
        result = await discover(
            f"alice@{DOMAIN}",
            cfg(dns, Source.GUESS, ca_file=str(tmp_path / "lab-ca.pem"), ports=GuessPorts(lab.tls_port, lab.port)),
        )
    chosen = result.chosen
    assert chosen is not None and chosen.verified and chosen.source is Source.GUESS
    assert (chosen.host, chosen.port, chosen.security) == (f"pop.{DOMAIN}", lab.tls_port, Security.SSL)
    assert lab.logins == []  # never a password
    detail = [d.en for d in result.sources[Source.GUESS.priority].detail]
    assert any("answered as POP3" in d for d in detail)


async def test_guess_never_proposes_plain_text(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    async with lab_factory("no-stls", hostname=f"pop.{DOMAIN}") as lab:
        lab.write_ca(tmp_path / "ca.pem")
        assert lab.port is not None
        with LocalDnsServer({f"pop.{DOMAIN}": {"A": ["127.0.0.1"]}}) as dns:
            result = await discover(
                f"alice@{DOMAIN}",
                cfg(dns, Source.GUESS, ca_file=str(tmp_path / "ca.pem"), ports=GuessPorts(closed_port(), lab.port)),
            )
    assert result.chosen is None and result.alternatives == []
    assert "no-tls" in {w.code for w in result.warnings}


async def test_guess_rejects_a_certificate_for_another_name(lab_factory: Callable[..., LabServer],
                                                            tmp_path: Path) -> None:
    async with lab_factory("healthy", hostname="other.test") as lab:
        lab.write_ca(tmp_path / "ca.pem")
        with LocalDnsServer({f"pop.{DOMAIN}": {"A": ["127.0.0.1"]}}) as dns:
            result = await discover(
                f"alice@{DOMAIN}",
                cfg(dns, Source.GUESS, ca_file=str(tmp_path / "ca.pem"), ports=GuessPorts(lab.tls_port, closed_port())),
            )
    assert result.chosen is None
    assert any("cert-hostname-mismatch" in d.en or "hostname" in d.en
               for d in result.sources[Source.GUESS.priority].detail)


# ---- engine: priority, early stop, worst case ------------------------------------------

async def test_bundled_knowledge_answers_without_touching_the_network() -> None:
    with LocalDnsServer({}) as dns:
        result = await discover("taro@ocn.ne.jp", cfg(dns))
    assert result.chosen is not None and result.chosen.host == "pop.ocn.ne.jp"
    assert [s.status for s in result.sources] == [Status.ANSWER, Status.SKIPPED, Status.SKIPPED, Status.SKIPPED]
    assert dns.queries == []


async def test_higher_priority_source_wins_and_probing_confirms_it(lab: LabServer, tmp_path: Path) -> None:
    ca = trustme.CA()
    web_ca = tmp_path / "web-ca.pem"
    web_ca.write_bytes(ca.cert_pem.bytes() + lab.ca_pem)
    xml = f"""<clientConfig version="1.1"><emailProvider id="{DOMAIN}"><incomingServer type="pop3">
      <hostname>pop.{DOMAIN}</hostname><port>{lab.tls_port}</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username></incomingServer></emailProvider></clientConfig>""".encode()
    records = {name: {"A": ["127.0.0.1"]} for name in (f"autoconfig.{DOMAIN}", DOMAIN, f"pop.{DOMAIN}")}
    routes = {f"autoconfig.{DOMAIN}/mail/config-v1.1.xml": Route(body=xml)}
    assert lab.port is not None
    with LocalDnsServer(records) as dns, LocalWebServer(routes, ca, names=[f"autoconfig.{DOMAIN}", DOMAIN]) as web:
        endpoints = AutoconfigEndpoints(https_port=web.https_port, http_port=web.http_port, ispdb_url=None)
        ports = GuessPorts(lab.tls_port, lab.port)
        quick = await discover(f"alice@{DOMAIN}", cfg(dns, ca_file=str(web_ca), ports=ports, autoconfig=endpoints))
        full = await discover(f"alice@{DOMAIN}", cfg(dns, ca_file=str(web_ca), ports=ports, autoconfig=endpoints,
                                                      exhaustive=True))
    for result in (quick, full):
        assert result.chosen is not None and result.chosen.source is Source.AUTOCONFIG
        assert result.chosen.username == "alice"  # the autoconfig's user-name form, not the guess's
    assert full.sources[Source.GUESS.priority].status is Status.ANSWER
    assert full.chosen is not None and full.chosen.verified  # the same endpoint answered the probe
    assert lab.logins == []


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """A TCP port that accepts connections and then says nothing, ever."""
    release = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    release.set()
    server.close()
    await server.wait_closed()


async def test_worst_case_every_candidate_silent_ends_within_timeout_plus_one_second(silent_port: int) -> None:
    names = [f"{p}{DOMAIN}" for p in ("pop.", "pop3.", "mail.", "", "autoconfig.")] + ["ispdb.test"]
    records = {name: {"A": ["127.0.0.1"]} for name in names}
    with LocalDnsServer(records, silent=[f"_pop3s._tcp.{DOMAIN}", f"_pop3._tcp.{DOMAIN}", DOMAIN]) as dns:
        config = cfg(
            dns,
            timeout=1.5,
            ports=GuessPorts(silent_port, silent_port),
            autoconfig=AutoconfigEndpoints(
                https_port=silent_port, http_port=silent_port, ispdb_url=f"https://ispdb.test:{silent_port}/"
            ),
        )
        start = time.monotonic()
        result = await discover(f"alice@{DOMAIN}", config)
        elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 1.0, elapsed
    assert result.chosen is None and result.pop_offered is None
    assert all(s.status is not Status.ANSWER for s in result.sources)
