"""Source 1: bundled provider knowledge, two tables kept apart.

- ``knowledge/data/providers_pop3.toml``: our own, hand-curated facts, each
  with its source (the provider's pages, or ISPDB at a linked commit);
- ``knowledge/data/ispdb_pop3.json``: Thunderbird's ISPDB as imported by
  ``tools/import_ispdb.py`` at one recorded commit (every domain, its POP3
  servers, or "IMAP only").

Which entry answers for a domain (`provider_for_domain`):

1. our entry listing the domain exactly;
2. an ISPDB entry listing the domain exactly (ISPDB entries never extend to
   sub-domains: it lists numbered sub-domains one by one where they exist);
3. our entry for a parent domain, only when that entry says
   ``subdomains = true`` (its provider documents that any sub-domain works);
   the nearest parent wins.

So our facts win over ISPDB's for the same domain, and an exact domain wins
over a parent's rule.  Both tables load lazily, on the first lookup.

Also used by the DNS source: an MX host under a provider's ``mx`` suffix
means the domain's mail is hosted there (a custom domain at Google, Microsoft
365, ...), so that provider's settings apply (our table only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, NamedTuple

from pop3doctor.discovery import messages as m
from pop3doctor.discovery.address import Address, is_hostname
from pop3doctor.discovery.messages import PLAINTEXT_ONLY, PROVIDER_MATCH
from pop3doctor.discovery.model import Candidate, Confidence, Source, SourceReport, Status, UsernameForm, Warning
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Lang, Msg
from pop3doctor.knowledge._data import load

DATA_FILE = "providers_pop3.toml"
ISPDB_FILE = "ispdb_pop3.json"
ISPDB_SCHEMA = "pop3doctor.ispdb-import/1"

#: ``origin`` of a candidate from each table (see `Candidate.origin`).
ORIGIN_OURS = "provider"
ORIGIN_ISPDB = "ispdb-bundled"

_PASSWORD_AUTH = {"password-cleartext", "password-encrypted", "plain", "secure"}


@dataclass(frozen=True)
class Server:
    """One POP3 (or, in `Provider.instead`, IMAP) server.

    ``host`` may hold ISPDB placeholders (``mail.%EMAILDOMAIN%``), filled in
    per address; ``username`` overrides the provider's form for this server
    (ISPDB gives one per server), ``username_template`` is ISPDB's
    ``<username>`` text, ``auth`` its authentication methods.
    """

    host: str
    port: int
    security: Security
    source: str
    username: UsernameForm | None = None
    username_template: str | None = None
    auth: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProviderWarning:
    code: str
    text: Msg
    source: str


@dataclass(frozen=True)
class Provider:
    """One row of the table; ``servers`` is empty when ``pop`` is False."""

    id: str
    name: str
    domains: tuple[str, ...]
    mx: tuple[str, ...]
    pop: bool
    pop_source: str | None
    username: UsernameForm
    username_source: str | None
    servers: tuple[Server, ...]
    warnings: tuple[ProviderWarning, ...]
    #: True when the provider documents that any sub-domain of ``domains`` uses these settings
    #: (``subdomains_source`` is the page that says so).
    subdomains: bool = False
    subdomains_source: str | None = None
    #: `ORIGIN_OURS` or `ORIGIN_ISPDB`: which table the entry is from.
    origin: str = ORIGIN_OURS
    #: Where the entry is from, as evidence ("providers_pop3.toml: gmail", "ispdb_pop3.json: ...").
    evidence: str = ""
    #: For a provider without POP: the servers to use instead (IMAP), when known.
    instead: tuple[Server, ...] = ()
    documentation: tuple[str, ...] = ()


def parse_provider(raw: dict[str, Any]) -> Provider:
    """One ``[[provider]]`` table; raises KeyError/ValueError when malformed."""
    subdomains = raw.get("subdomains", False)
    if not isinstance(subdomains, bool):
        raise ValueError(f"subdomains must be true or false, not {subdomains!r}")
    subdomains_source = raw.get("subdomains_source")
    if subdomains and not subdomains_source:
        raise ValueError("subdomains = true needs subdomains_source, the page saying any sub-domain works")
    return Provider(
        id=str(raw["id"]),
        name=str(raw["name"]),
        domains=tuple(str(d).lower() for d in raw["domains"]),
        mx=tuple(str(x).lower() for x in raw.get("mx", ())),
        pop=bool(raw.get("pop", True)),
        pop_source=raw.get("pop_source"),
        username=UsernameForm(raw.get("username", "address")),
        username_source=raw.get("username_source"),
        servers=tuple(
            Server(str(s["host"]), int(s["port"]), Security(s["security"]), str(s["source"]))
            for s in raw.get("server", ())
        ),
        warnings=tuple(
            ProviderWarning(str(w["code"]), Msg(ja=str(w["ja"]), en=str(w["en"])), str(w["source"]))
            for w in raw.get("warning", ())
        ),
        subdomains=subdomains,
        subdomains_source=None if subdomains_source is None else str(subdomains_source),
        origin=ORIGIN_OURS,
        evidence=f"{DATA_FILE}: {raw['id']}",
    )


@cache
def providers() -> tuple[Provider, ...]:
    """Our own table, in file order."""
    return tuple(parse_provider(p) for p in load(DATA_FILE)["provider"])


class IspdbSnapshot(NamedTuple):
    """The imported ISPDB: where it is from, and its entries."""

    repository: str
    commit: str
    commit_date: str
    counts: dict[str, int]
    content_sha256: str
    providers: tuple[Provider, ...]


def _ispdb_server(raw: dict[str, Any], source: str) -> Server:
    return Server(
        host=str(raw["host"]),
        port=int(raw["port"]),
        security=Security(raw["security"]),
        source=source,
        username=UsernameForm(raw["username"]),
        username_template=str(raw["username_template"]),
        auth=tuple(str(a) for a in raw.get("auth", ())),
    )


def _server_text(server: Server, lang: Lang) -> str:
    security = m.SECURITY_NAMES[server.security.value](lang)
    return f"{server.host}:{server.port} ({security})" if lang == "en" else f"{server.host}:{server.port}（{security}）"


def parse_ispdb_provider(raw: dict[str, Any], snapshot_url: str) -> Provider:
    """One imported entry; raises KeyError/ValueError when malformed."""
    source = str(raw["source"])
    servers = tuple(_ispdb_server(s, source) for s in raw["servers"])
    instead = tuple(_ispdb_server(s, source) for s in raw.get("imap", ()))
    name = str(raw["name"]) or str(raw["id"])
    warnings: list[ProviderWarning] = []
    pop = bool(raw["pop"])
    if not pop:
        text = Msg(
            ja=m.ISPDB_NO_POP.ja.format(name=name, imap="、".join(_server_text(s, "ja") for s in instead) or "-"),
            en=m.ISPDB_NO_POP.en.format(name=name, imap=", ".join(_server_text(s, "en") for s in instead) or "-"),
        )
        warnings.append(ProviderWarning("no-pop", text, snapshot_url))
    enable = raw.get("enable", ())
    if enable:  # ISPDB's <enable visiturl>: something must be switched on at the provider first
        warnings.append(ProviderWarning("pop-must-be-enabled", m.POP_MUST_BE_ENABLED, enable[0]["url"] or snapshot_url))
    if servers and all(s.auth and not (set(s.auth) & _PASSWORD_AUTH) for s in servers):
        warnings.append(ProviderWarning("oauth-required", m.OAUTH_ONLY, snapshot_url))
    return Provider(
        id=str(raw["id"]),
        name=name,
        domains=tuple(str(d) for d in raw["domains"]),
        mx=(),
        pop=pop,
        pop_source=None if pop else snapshot_url,
        username=(servers[0].username or UsernameForm.ADDRESS) if servers else UsernameForm.ADDRESS,
        username_source=snapshot_url if servers else None,
        servers=servers,
        warnings=tuple(warnings),
        origin=ORIGIN_ISPDB,
        evidence=f"{ISPDB_FILE}: {raw['id']}",
        instead=instead,
        documentation=tuple(str(u) for u in raw.get("documentation", ())),
    )


@cache
def _ispdb_raw() -> dict[str, Any]:
    """``knowledge/data/ispdb_pop3.json`` as read (JSON: about ten times faster to load than TOML)."""
    text = resources.files("pop3doctor.knowledge").joinpath("data", ISPDB_FILE).read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    if raw.get("schema") != ISPDB_SCHEMA:
        raise ValueError(f"{ISPDB_FILE}: schema {raw.get('schema')!r}, expected {ISPDB_SCHEMA!r}")
    return raw


def _ispdb_url(raw: dict[str, Any], entry: dict[str, Any]) -> str:
    return f"https://github.com/{raw['repository']}/blob/{raw['commit']}/{entry['file']}"


@cache
def ispdb() -> IspdbSnapshot:
    """The imported ISPDB with every entry parsed (lookups parse only the entry they need)."""
    raw = _ispdb_raw()
    entries = tuple(parse_ispdb_provider(p, _ispdb_url(raw, p)) for p in raw["providers"])
    return IspdbSnapshot(
        str(raw["repository"]), str(raw["commit"]), str(raw["commit_date"]), dict(raw["counts"]),
        str(raw["content_sha256"]), entries,
    )


class _LazyIspdb(Mapping[str, Provider]):
    """Domain -> ISPDB entry, parsing an entry the first time one of its domains is asked for."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw
        self._position: dict[str, int] = {}
        for i, entry in enumerate(raw["providers"]):
            for domain in entry["domains"]:
                self._position.setdefault(domain, i)
        self._parsed: dict[int, Provider] = {}

    def __getitem__(self, domain: str) -> Provider:
        i = self._position[domain]
        if i not in self._parsed:
            entry = self._raw["providers"][i]
            self._parsed[i] = parse_ispdb_provider(entry, _ispdb_url(self._raw, entry))
        return self._parsed[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class Index(NamedTuple):
    """Domain -> entry maps for `match_domain`: our exact domains, ISPDB's, and our sub-domain rules."""

    exact: Mapping[str, Provider]
    ispdb: Mapping[str, Provider]
    parents: Mapping[str, Provider]


def _ours(ours: tuple[Provider, ...]) -> tuple[dict[str, Provider], dict[str, Provider]]:
    exact: dict[str, Provider] = {}
    parents: dict[str, Provider] = {}
    for provider in ours:
        for domain in provider.domains:
            exact.setdefault(domain, provider)
            if provider.subdomains:
                parents.setdefault(domain, provider)
    return exact, parents


def build_index(ours: tuple[Provider, ...], imported: tuple[Provider, ...]) -> Index:
    """The maps for ``ours`` and ``imported``; the first entry listing a domain keeps it."""
    exact, parents = _ours(ours)
    ispdb_map: dict[str, Provider] = {}
    for provider in imported:
        for domain in provider.domains:
            ispdb_map.setdefault(domain, provider)
    return Index(exact, ispdb_map, parents)


@cache
def _index() -> Index:
    exact, parents = _ours(providers())
    return Index(exact, _LazyIspdb(_ispdb_raw()), parents)


class Match(NamedTuple):
    """Which entry answers for a domain, and how: ``parent`` is set for a sub-domain rule."""

    provider: Provider
    parent: str | None = None


def match_domain(domain: str, index: Index | None = None) -> Match | None:
    """The entry answering for ``domain`` (see the module docstring for the order), or None.

    ``index`` defaults to the packaged tables (loaded on the first call).
    """
    domain = domain.lower().rstrip(".")
    index = index or _index()
    found = index.exact.get(domain) or index.ispdb.get(domain)
    if found is not None:
        return Match(found)
    labels = domain.split(".")
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        if parent in index.parents:
            return Match(index.parents[parent], parent)
    return None


def provider_for_domain(domain: str) -> Provider | None:
    """The provider serving addresses at ``domain`` (exact match, or a documented sub-domain rule)."""
    found = match_domain(domain)
    return None if found is None else found.provider


def _under(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def provider_for_mx(mx_host: str) -> Provider | None:
    """The provider whose mail hosts include ``mx_host``; the longest suffix wins.

    Longest, because one operator's MX zone can host two providers (Yahoo's
    am0.yahoodns.net and AOL's gm0.yahoodns.net).
    """
    mx_host = mx_host.lower().rstrip(".")
    best: tuple[int, Provider] | None = None
    for provider in providers():
        for suffix in provider.mx:
            if _under(mx_host, suffix) and (best is None or len(suffix) > best[0]):
                best = (len(suffix), provider)
    return None if best is None else best[1]


def fill(template: str, address: Address) -> str:
    """ISPDB's placeholders in ``template`` replaced by the parts of ``address``."""
    return (
        template.replace("%EMAILADDRESS%", address.email)
        .replace("%EMAILLOCALPART%", address.local)
        .replace("%EMAILDOMAIN%", address.domain)
    )


def candidates_from(
    provider: Provider, address: Address, *, source: Source, origin: str, confidence: Confidence, evidence: str
) -> list[Candidate]:
    found: list[Candidate] = []
    for server in provider.servers:
        host = fill(server.host, address).lower()
        if not is_hostname(host):
            continue
        form = server.username or provider.username
        username = address.username(form)
        if form is UsernameForm.LITERAL and server.username_template is not None:
            username = fill(server.username_template, address)[:256]
        found.append(
            Candidate(
                host=host,
                port=server.port,
                security=server.security,
                username=username,
                username_form=form,
                source=source,
                origin=origin,
                confidence=confidence,
                evidence=f"{evidence} ({server.source})",
                provider=fill(provider.name, address)[:100],
                auth=server.auth,
            )
        )
    return found


def warnings_from(provider: Provider, source: Source) -> list[Warning]:
    found = [Warning(w.code, w.text, source, w.source) for w in provider.warnings]
    if provider.servers and all(s.security is Security.PLAIN for s in provider.servers):
        cited = provider.servers[0].source  # an ISPDB entry's is "thunderbird/autoconfig:<file>@<commit>"
        url = cited if cited.startswith(("https://", "http://")) else provider.username_source
        found.append(Warning("plaintext-only", PLAINTEXT_ONLY, source, url))
    return found


def lookup(address: Address) -> SourceReport:
    """Source 1; instantaneous (no I/O beyond the packaged data file)."""
    report = SourceReport(Source.PROVIDER)
    found = match_domain(address.domain)
    if found is None:
        return report
    provider = found.provider
    name = fill(provider.name, address)[:100]  # ISPDB's displayName may be "%EMAILDOMAIN%"
    report.status = Status.ANSWER
    if provider.origin == ORIGIN_ISPDB:
        raw = _ispdb_raw()
        report.detail.append(
            m.ISPDB_MATCH.format(name=name, commit=str(raw["commit"])[:12], date=str(raw["commit_date"])[:10])
        )
    elif found.parent is not None:
        report.detail.append(m.PROVIDER_SUBDOMAIN_MATCH.format(name=name, parent=found.parent))
    else:
        report.detail.append(PROVIDER_MATCH.format(name=name))
    report.warnings = warnings_from(provider, Source.PROVIDER)
    if not provider.pop:
        report.pop_offered = False
        return report
    report.pop_offered = True
    report.candidates = candidates_from(
        provider,
        address,
        source=Source.PROVIDER,
        origin=provider.origin,
        confidence=Confidence.HIGH,
        evidence=provider.evidence,
    )
    return report
