"""Provider notes: matched by host suffix, keyed by cause, each with its source."""

from __future__ import annotations

import re

import pytest

from pop3doctor.knowledge._data import load
from pop3doctor.knowledge.causes import CAUSE_CODES
from pop3doctor.knowledge.providers import provider_for, provider_notes

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_every_note_has_known_causes_both_languages_and_an_https_source() -> None:
    for provider in load("providers.toml")["provider"]:
        assert provider["domains"]
        for note in provider["note"]:
            assert set(note["causes"]) <= CAUSE_CODES
            assert JAPANESE.search(note["ja"]) and note["en"].strip()
            assert note["url"].startswith("https://")


@pytest.mark.parametrize(
    ("host", "cause", "expected_url_part"),
    [
        ("pop.gmail.com", "app-password-required", "accounts/answer/185833"),
        ("gmail.com", "pop-disabled", "mail/answer/7104828"),
        ("POP.GMAIL.COM.", "web-login-required", "mail/answer/78754"),
        ("outlook.office365.com", "oauth-required", "support.microsoft.com"),
        ("pop-mail.outlook.com", "pop-disabled", "support.microsoft.com"),
        ("pop.mail.yahoo.com", "auth-failed", "help.yahoo.com"),
        ("icloud.com", "connection-refused", "support.apple.com"),
    ],
)
def test_notes_found_by_host(host: str, cause: str, expected_url_part: str) -> None:
    notes = provider_notes(host, cause)
    assert notes, f"no note for {host} / {cause}"
    assert any(expected_url_part in (n.url or "") for n in notes)
    assert all(n.text.ja and n.text.en for n in notes)


def test_gmail_notes_say_less_secure_apps_is_gone() -> None:
    texts = [n.text.en for n in provider_notes("pop.gmail.com", "auth-failed")]
    assert any("Less secure app access" in t and "removed" in t for t in texts)


def test_no_note_for_other_hosts_or_other_causes() -> None:
    assert provider_notes("notgmail.com", "pop-disabled") == []
    assert provider_notes("pop.example.jp", "auth-failed") == []
    assert provider_notes(None, "auth-failed") == []
    assert provider_notes("pop.gmail.com", "cert-expired") == []


def test_provider_for() -> None:
    assert provider_for("pop.gmail.com") == "Gmail"
    assert provider_for("evilgmail.com") is None
    assert provider_for(None) is None
