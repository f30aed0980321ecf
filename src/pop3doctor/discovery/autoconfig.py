"""Source 2: autoconfig files in Thunderbird's config-v1.1.xml format.

Where Thunderbird looks, in this priority order (HTTPS first):

1. ``https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=<address>``
2. ``https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml``
3. the ISPDB: ``<ispdb_url><domain>`` (Thunderbird's is
   https://autoconfig.thunderbird.net/v1.1/)
4. 1 and 2 over plain HTTP (``allow_http``), marked medium confidence with a
   warning, because anyone on the path can rewrite them.

All are fetched in parallel; the answer is the highest-priority URL that
yields a POP3 server.  Each fetch is `pop3doctor.net.http.fetch_bounded`:
bounded in time and size (`MAX_BYTES`), redirects not followed (a redirect
could lead off the domain), host names resolved through ``nameservers`` when
given (Host header, SNI and certificate name stay the original name).  The
XML is parsed by `xmlsafe` (no DTDs or entities).  Host names from a file
must be valid DNS names before anything connects to them.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from urllib.parse import quote

from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address, is_hostname
from pop3doctor.discovery.model import Candidate, Confidence, Source, SourceReport, Status, UsernameForm, Warning
from pop3doctor.discovery.xmlsafe import Node, XmlRefused, parse
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Msg
from pop3doctor.net.http import HttpFetchFailed, fetch_bounded

#: Largest autoconfig file we read.  Real files are small: ISPDB's largest
#: (mail.com, ~250 domains listed) is about 9 KB; 256 KiB leaves ample room
#: while a hostile server cannot make us buffer more.
MAX_BYTES = 256 * 1024

DEFAULT_ISPDB_URL = "https://autoconfig.thunderbird.net/v1.1/"

_SOCKET_TYPES = {"ssl": Security.SSL, "starttls": Security.STARTTLS, "plain": Security.PLAIN}
_PASSWORD_AUTH = {"password-cleartext", "password-encrypted", "plain", "secure"}


@dataclass(frozen=True)
class AutoconfigEndpoints:
    """Where the autoconfig URLs point (all injectable for tests).

    ``https_port``/``http_port`` replace 443/80 for the domain-hosted URLs;
    ``ispdb_url`` is the ISPDB base (None turns the ISPDB off).
    """

    https_port: int = 443
    http_port: int = 80
    ispdb_url: str | None = DEFAULT_ISPDB_URL
    allow_http: bool = True


@dataclass(frozen=True)
class _Target:
    url: str
    origin: str  # "autoconfig" or "ispdb"
    secure: bool


class FetchFailed(Exception):
    def __init__(self, reason: Msg) -> None:
        super().__init__(reason.en)
        self.reason = reason


def targets(address: Address, endpoints: AutoconfigEndpoints) -> list[_Target]:
    """The URLs to try, best first."""
    d = address.domain
    query = "?emailaddress=" + quote(address.email, safe="@")

    def url(scheme: str, host: str, path: str) -> str:
        port = endpoints.https_port if scheme == "https" else endpoints.http_port
        default = 443 if scheme == "https" else 80
        netloc = host if port == default else f"{host}:{port}"
        return f"{scheme}://{netloc}{path}"

    found = [
        _Target(url("https", f"autoconfig.{d}", "/mail/config-v1.1.xml" + query), "autoconfig", True),
        _Target(url("https", d, "/.well-known/autoconfig/mail/config-v1.1.xml" + query), "autoconfig", True),
    ]
    if endpoints.ispdb_url:
        base = endpoints.ispdb_url if endpoints.ispdb_url.endswith("/") else endpoints.ispdb_url + "/"
        found.append(_Target(base + d, "ispdb", base.startswith("https:")))
    if endpoints.allow_http:
        found += [
            _Target(url("http", f"autoconfig.{d}", "/mail/config-v1.1.xml" + query), "autoconfig", False),
            _Target(url("http", d, "/.well-known/autoconfig/mail/config-v1.1.xml" + query), "autoconfig", False),
        ]
    return found


def _reason(exc: HttpFetchFailed) -> Msg:
    """What to tell the user about a failed fetch."""
    if exc.kind == "status":
        return m.HTTP_STATUS.format(status=exc.status)
    if exc.kind == "too-large":
        return m.HTTP_TOO_LARGE.format(limit=exc.limit)
    if exc.kind == "dns":
        return m.HTTP_ERROR.format(kind=f"dns: {exc.detail}")
    return m.HTTP_ERROR.format(kind=exc.kind)


async def fetch(url: str, *, timeout: float, nameservers: list[str] | None, tls_context: ssl.SSLContext) -> bytes:
    """GET ``url`` and return at most `MAX_BYTES`; raises `FetchFailed` with a ja/en reason."""
    try:
        result = await fetch_bounded(
            url, timeout=timeout, max_bytes=MAX_BYTES, tls_context=tls_context, nameservers=nameservers
        )
    except HttpFetchFailed as exc:
        raise FetchFailed(_reason(exc)) from None
    return result.body


def _fill(template: str, address: Address) -> str:
    return (
        template.replace("%EMAILADDRESS%", address.email)
        .replace("%EMAILLOCALPART%", address.local)
        .replace("%EMAILDOMAIN%", address.domain)
    )


def parse_config(
    data: bytes, address: Address, *, url: str, origin: str, secure: bool
) -> tuple[list[Candidate], list[Warning], list[Msg]]:
    """POP3 candidates, warnings and notes from one config-v1.1.xml; raises `XmlRefused`.

    Server entries that are invalid (bad host name, port, socket type) are
    skipped with a note rather than failing the whole file.
    """
    root = parse(data)
    if root.tag != "clientConfig":
        raise XmlRefused(m.XML_NOT_CONFIG.en)
    candidates: list[Candidate] = []
    warnings: list[Warning] = []
    notes: list[Msg] = []
    confidence = Confidence.HIGH if secure else Confidence.MEDIUM
    for provider in root.find_all("emailProvider"):
        name = provider.child_text("displayName") or provider.attrs.get("id")
        for server in provider.find_all("incomingServer"):
            if server.attrs.get("type") != "pop3":
                continue
            try:
                candidates.append(_candidate(server, address, url, origin, confidence, name))
            except ValueError as exc:
                notes.append(m.BAD_SERVER_ENTRY.format(reason=str(exc)))
        for enable in provider.find_all("enable"):
            visit = enable.attrs.get("visiturl", "")
            warnings.append(
                Warning("pop-must-be-enabled", m.POP_MUST_BE_ENABLED, Source.AUTOCONFIG,
                        visit if visit.startswith(("https://", "http://")) else url)
            )
    if candidates and all(c.auth and not (set(c.auth) & _PASSWORD_AUTH) for c in candidates):
        warnings.append(Warning("oauth-required", m.OAUTH_ONLY, Source.AUTOCONFIG, url))
    if candidates and not secure:
        warnings.append(Warning("autoconfig-over-http", m.HTTP_INSECURE, Source.AUTOCONFIG, url))
    return candidates, warnings, notes


def _candidate(
    server: Node, address: Address, url: str, origin: str, confidence: Confidence, provider: str | None
) -> Candidate:
    host = _fill(server.child_text("hostname") or "", address).lower()
    if not is_hostname(host):
        raise ValueError(f"host name {host[:80]!r}")
    port_text = server.child_text("port") or ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port {port_text[:20]!r}")
    socket_type = (server.child_text("socketType") or "").lower()
    if socket_type not in _SOCKET_TYPES:
        raise ValueError(f"socketType {socket_type[:20]!r}")
    template = server.child_text("username") or "%EMAILADDRESS%"
    form = {
        "%EMAILADDRESS%": UsernameForm.ADDRESS,
        "%EMAILLOCALPART%": UsernameForm.LOCAL_PART,
    }.get(template, UsernameForm.LITERAL)
    auth = tuple(a.text.strip() for a in server.find_all("authentication") if a.text.strip())
    return Candidate(
        host=host,
        port=int(port_text),
        security=_SOCKET_TYPES[socket_type],
        username=_fill(template, address)[:256],
        username_form=form,
        source=Source.AUTOCONFIG,
        origin=origin,
        confidence=confidence,
        evidence=url,
        provider=provider[:100] if provider else None,
        auth=auth[:10],
    )


def _failed(url: str, reason: Msg) -> Msg:
    return Msg(
        ja=m.AUTOCONFIG_FAILED.ja.format(url=url, reason=reason.ja),
        en=m.AUTOCONFIG_FAILED.en.format(url=url, reason=reason.en),
    )


async def lookup(
    address: Address,
    *,
    endpoints: AutoconfigEndpoints,
    timeout: float,
    nameservers: list[str] | None,
    tls_context: ssl.SSLContext,
) -> SourceReport:
    """Source 2.  Fetches in parallel; stops once no better-ranked URL is pending."""
    report = SourceReport(Source.AUTOCONFIG)
    todo = targets(address, endpoints)

    async def one(target: _Target) -> tuple[list[Candidate], list[Warning], list[Msg]]:
        try:
            data = await fetch(target.url, timeout=timeout, nameservers=nameservers, tls_context=tls_context)
            found, warnings, notes = parse_config(
                data, address, url=target.url, origin=target.origin, secure=target.secure
            )
        except FetchFailed as exc:
            return [], [], [_failed(target.url, exc.reason)]
        except XmlRefused as exc:
            return [], [], [_failed(target.url, m.XML_REFUSED.format(reason=str(exc)))]
        if not found:
            return [], warnings, [*notes, m.AUTOCONFIG_NO_POP.format(url=target.url)]
        return found, warnings, [*notes, m.AUTOCONFIG_FOUND.format(url=target.url)]

    tasks = [asyncio.ensure_future(one(t)) for t in todo]
    results: dict[int, tuple[list[Candidate], list[Warning], list[Msg]]] = {}
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                results[tasks.index(task)] = task.result()
            best = min((i for i, r in results.items() if r[0]), default=None)
            if best is not None and all(tasks.index(t) > best for t in pending):
                break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for index in sorted(results):
        report.detail += results[index][2]
    best = min((i for i, r in results.items() if r[0]), default=None)
    if best is None:
        report.status = Status.NOTHING if results else Status.ERROR
        return report
    found, warnings, _ = results[best]
    report.status = Status.ANSWER
    report.pop_offered = True
    report.candidates = found
    report.warnings = warnings
    return report
