"""An outage-like verdict links the provider's own status page (issue 16: "check the provider's
support page or SNS for outages"), in both languages, and only for the providers that publish one.

Real parts: the lab POP3 server on loopback playing Gmail's host name (its TLS certificate is
issued for pop.gmail.com by the test CA), and a real DNS server on loopback that resolves
pop.gmail.com to 127.0.0.1 — nothing leaves this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.knowledge.providers import STATUS_PAGE_CAUSES, status_page_for
from pop3doctor.lab import LabServer
from support.dns_server import LocalDnsServer

GMAIL_STATUS = "https://www.google.com/appsstatus"


async def _diagnose(host: str, lab: LabServer, dns: str, ca_file: Path) -> Report:
    settings = Settings(host, lab.tls_port, "ssl", lab.user, timeout=3.0, ca_file=str(ca_file))
    report = Report(settings)
    findings = [f async for f in diagnose(settings, lab.password, nameservers=[dns], report=report)]
    assert findings[-1].stage == "summary"
    return report


async def test_a_temporary_error_at_gmail_links_gmails_status_page(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    async with lab_factory("sys-temp", hostname="pop.gmail.com") as lab:
        ca_file.write_bytes(lab.ca_pem)
        with LocalDnsServer({"pop.gmail.com": {"A": ["127.0.0.1"]}}) as dns:
            report = await _diagnose("pop.gmail.com", lab, dns.nameserver, ca_file)
    assert report.cause == "server-temporary-error"
    primary = report.primary
    assert primary is not None
    assert primary.evidence["status_page"] == GMAIL_STATUS
    steps = [step for step in primary.remedy if GMAIL_STATUS in step.en]
    assert len(steps) == 1 and GMAIL_STATUS in steps[0].ja
    assert "Gmail" in steps[0].en and "障害" in steps[0].ja


async def test_a_provider_without_a_status_page_gets_no_link(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    async with lab_factory("sys-temp", hostname="pop.example.test") as lab:
        ca_file.write_bytes(lab.ca_pem)
        with LocalDnsServer({"pop.example.test": {"A": ["127.0.0.1"]}}) as dns:
            report = await _diagnose("pop.example.test", lab, dns.nameserver, ca_file)
    assert report.cause == "server-temporary-error"
    assert report.primary is not None and "status_page" not in report.primary.evidence
    assert not any("http" in step.en for step in report.primary.remedy)


def test_status_pages_match_by_server_host_or_mail_domain_by_whole_labels() -> None:
    assert status_page_for("pop.gmail.com") == status_page_for("gmail.com")
    page = status_page_for("outlook.office365.com")  # Microsoft's POP host is not under its mail domains
    assert page is not None and page.url == "https://status.office.com/"
    assert status_page_for("notgmail.com") is None and status_page_for(None) is None
    assert STATUS_PAGE_CAUSES == {"server-down", "server-temporary-error"}
