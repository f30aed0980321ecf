"""Source 1 (bundled provider knowledge): the data file's schema, and lookups."""

from __future__ import annotations

import tomllib
from importlib import resources

import pytest

from pop3doctor.discovery import Source, UsernameForm, parse_address
from pop3doctor.discovery.providers import (
    lookup,
    parse_provider,
    provider_for_domain,
    provider_for_mx,
    providers,
)
from pop3doctor.endpoint import Security

RAW = tomllib.loads(
    resources.files("pop3doctor.knowledge").joinpath("data", "providers_pop3.toml").read_text("utf-8")
)["provider"]
KNOWN_KEYS = {"id", "name", "domains", "mx", "pop", "pop_source", "username", "username_source", "server", "warning",
              "status_page", "subdomains", "subdomains_source"}
KNOWN_WARNINGS = {
    "pop-must-be-enabled", "app-password-required", "oauth-required", "no-pop", "account-id-username",
    "tls-legacy-disabled",
}


def _is_source(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("https://", "http://")) and " " not in url


def test_table_has_at_least_25_providers() -> None:
    assert len(RAW) >= 25
    assert len(providers()) == len(RAW)


@pytest.mark.parametrize("raw", RAW, ids=[str(r.get("id")) for r in RAW])
def test_every_entry_follows_the_schema_and_cites_every_fact(raw: dict[str, object]) -> None:
    assert set(raw) <= KNOWN_KEYS, set(raw) - KNOWN_KEYS
    assert "status_page" not in raw or _is_source(raw["status_page"])
    assert raw.get("subdomains", False) in (True, False)
    provider = parse_provider(raw)  # raises on a malformed entry
    assert provider.id == provider.id.lower() and provider.name and provider.domains
    for domain in (*provider.domains, *provider.mx):
        assert domain == domain.lower().strip() and "." in domain and not domain.startswith(".")
    if provider.pop:
        assert provider.servers, "a POP provider needs at least one server"
        assert _is_source(provider.username_source)
        assert provider.pop_source is None
    else:
        assert not provider.servers and _is_source(provider.pop_source)
        assert any(w.code == "no-pop" for w in provider.warnings)
    for server in provider.servers:
        assert _is_source(server.source)
        assert 0 < server.port < 65536
        assert server.security in tuple(Security)
    if provider.subdomains:
        assert _is_source(provider.subdomains_source), "a sub-domain rule cites the page documenting it"
    keys = [(s.host, s.port, s.security) for s in provider.servers]
    assert len(keys) == len(set(keys))
    for warning in provider.warnings:
        assert warning.code in KNOWN_WARNINGS
        assert _is_source(warning.source)
        assert warning.text.ja.strip() and warning.text.en.strip()


def test_no_duplicate_ids_domains_or_mx_suffixes() -> None:
    ids = [p.id for p in providers()]
    domains = [d for p in providers() for d in p.domains]
    mx = [s for p in providers() for s in p.mx]
    assert len(ids) == len(set(ids))
    assert len(domains) == len(set(domains))
    assert len(mx) == len(set(mx))


def test_the_named_japanese_and_global_providers_are_present() -> None:
    for domain in ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "gmx.net", "aol.com", "zoho.com",
                   "ocn.ne.jp", "biglobe.ne.jp", "nifty.com"):
        assert provider_for_domain(domain) is not None, domain


def test_japanese_carrier_and_portal_domains_are_answered() -> None:
    for domain in ("yahoo.co.jp", "ybb.ne.jp", "mopera.net", "jcom.zaq.ne.jp", "outlook.jp", "live.co.jp"):
        assert lookup(parse_address(f"taro@{domain}")).pop_offered is True, domain
    for domain in ("docomo.ne.jp", "i.softbank.jp"):
        report = lookup(parse_address(f"taro@{domain}"))
        assert report.pop_offered is False and [w.code for w in report.warnings] == ["no-pop"], domain


def test_gmail_answer_with_enable_pop_and_app_password_warnings() -> None:
    report = lookup(parse_address("Taro.Yamada@Gmail.com"))
    assert report.pop_offered is True
    [candidate] = report.candidates
    assert (candidate.host, candidate.port, candidate.security) == ("pop.gmail.com", 995, Security.SSL)
    assert candidate.username == "Taro.Yamada@gmail.com"
    assert candidate.source is Source.PROVIDER and candidate.evidence.startswith("providers_pop3.toml: gmail")
    assert {w.code for w in report.warnings} == {"pop-must-be-enabled", "app-password-required"}


def test_icloud_is_a_definite_no_pop() -> None:
    report = lookup(parse_address("someone@me.com"))
    assert report.pop_offered is False and report.answered and not report.candidates
    assert [w.code for w in report.warnings] == ["no-pop"]


def test_subdomains_match_only_where_marked_and_look_alikes_do_not() -> None:
    for provider in providers():
        for domain in provider.domains:
            found = provider_for_domain(f"zz9-unlisted.{domain}")
            assert (found is provider) if provider.subdomains else (found is None), (provider.id, domain)
    assert provider_for_domain("notgmail.com") is None
    assert not lookup(parse_address("a@example.org")).answered


def test_user_name_forms() -> None:
    free = lookup(parse_address("jean@free.fr")).candidates[0]
    assert (free.username, free.username_form) == ("jean", UsernameForm.LOCAL_PART)
    asahi = lookup(parse_address("taro@asahi-net.or.jp")).candidates[0]
    assert (asahi.username, asahi.username_form) == ("", UsernameForm.ACCOUNT_ID)


def test_plain_only_provider_is_flagged() -> None:
    report = lookup(parse_address("a@tiki.ne.jp"))
    assert report.candidates[0].security is Security.PLAIN
    assert "plaintext-only" in {w.code for w in report.warnings}


def test_mx_mapping_takes_the_longest_suffix() -> None:
    assert provider_for_mx("aspmx.l.google.com").id == "gmail"  # type: ignore[union-attr]
    assert provider_for_mx("contoso-com.mail.protection.outlook.com").id == "microsoft"  # type: ignore[union-attr]
    assert provider_for_mx("mx-aol.mail.gm0.yahoodns.net").id == "aol"  # type: ignore[union-attr]
    assert provider_for_mx("mta5.am0.yahoodns.net").id == "yahoo"  # type: ignore[union-attr]
    assert provider_for_mx("mx.example.net") is None
