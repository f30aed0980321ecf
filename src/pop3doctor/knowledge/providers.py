"""Provider-specific notes (Gmail, Outlook.com, ...) keyed by cause code.

A generic remedy says "turn on POP in the web settings"; for Gmail the note
says exactly where that switch is.  Data lives in ``data/providers.toml``;
every note cites the provider's help page.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.i18n import Msg
from pop3doctor.knowledge._data import load


@dataclass(frozen=True, slots=True)
class ProviderNote:
    """One provider fact in both languages, with the page that supports it."""

    provider: str
    text: Msg
    url: str | None


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    domains: tuple[str, ...]
    notes: tuple[tuple[frozenset[str], ProviderNote], ...]


def _parse(raw: dict[str, Any]) -> _Entry:
    name = str(raw["name"])
    notes = tuple(
        (
            frozenset(str(c) for c in note["causes"]),
            ProviderNote(name, Msg(ja=str(note["ja"]), en=str(note["en"])), note.get("url")),
        )
        for note in raw.get("note", [])
    )
    return _Entry(name, tuple(str(d).lower() for d in raw["domains"]), notes)


@cache
def _entries() -> tuple[_Entry, ...]:
    return tuple(_parse(p) for p in load("providers.toml")["provider"])


def _matches(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def provider_for(host: str | None) -> str | None:
    """The provider name serving *host* (a server name or a mail domain), or None."""
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    for entry in _entries():
        if any(_matches(host, d) for d in entry.domains):
            return entry.name
    return None


def provider_notes(host: str | None, cause: str) -> list[ProviderNote]:
    """Notes about *cause* for the provider of *host*; empty when none apply.

    *host* may be the POP server name ("pop.gmail.com") or the domain of the
    address ("gmail.com"); matching is by whole labels, so "notgmail.com"
    does not match "gmail.com".
    """
    if not host:
        return []
    host = host.strip().rstrip(".").lower()
    for entry in _entries():
        if any(_matches(host, d) for d in entry.domains):
            return [note for causes, note in entry.notes if cause in causes]
    return []


#: Causes whose remedy says "check the provider's outage information": the guide's
#: advice for an outage ("the provider's support page or SNS").
STATUS_PAGE_CAUSES = frozenset({"server-down", "server-temporary-error"})


@dataclass(frozen=True, slots=True)
class StatusPage:
    provider: str
    url: str


@cache
def _status_pages() -> tuple[tuple[tuple[str, ...], frozenset[str], StatusPage], ...]:
    """(domains, server hosts, page) of every provider in providers_pop3.toml that names a status page."""
    found = []
    for raw in load("providers_pop3.toml")["provider"]:
        if "status_page" in raw:
            hosts = frozenset(str(s["host"]).lower() for s in raw.get("server", ()))
            domains = tuple(str(d).lower() for d in raw["domains"])
            found.append((domains, hosts, StatusPage(str(raw["name"]), str(raw["status_page"]))))
    return tuple(found)


def status_page_for(host: str | None) -> StatusPage | None:
    """The outage/maintenance page of the provider behind *host* (its POP server or its mail domain), if it has one."""
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    for domains, hosts, page in _status_pages():
        if host in hosts or any(_matches(host, d) for d in domains):
            return page
    return None
