"""The cause catalogue: every stable code present, complete in both languages."""

from __future__ import annotations

import re
import tomllib
from importlib import resources

import pytest

from pop3doctor.knowledge.causes import (
    CAUSE_CODES,
    SETTINGS_HINTS,
    STAGES,
    Cause,
    all_causes,
    get_cause,
)
from pop3doctor.knowledge.placeholders import KNOWN_FIELDS, field_names, fill

# The stable codes from the design; renaming one breaks JSON consumers.
STABLE_CODES = """
no-network dns-unavailable host-not-found ipv6-broken connection-refused
connection-timeout host-unreachable server-down not-pop3 port-expects-tls
port-expects-plain starttls-unavailable tls-handshake-failed cert-untrusted
cert-expired cert-not-yet-valid cert-hostname-mismatch tls-intercepted clock-skew
greeting-timeout server-busy server-temporary-error server-permanent-error
auth-failed user-unknown username-format app-password-required web-login-required
pop-disabled oauth-required plaintext-auth-disallowed account-locked mailbox-in-use
login-delay auth-mechanism-unsupported mailbox-empty message-too-large
connection-dropped retrieval-failed ok
""".split()

# Codes added since the design, each with why: the list only ever grows.
ADDED_CODES = [
    "encryption-off",  # the user's setting sends the password in clear; the server offers TLS
    "starttls-injection",  # clear text where the TLS handshake must start (issue 12 item 7)
    # issue 12 item 6: hostile servers bounded in time and memory
    "server-too-slow",  # an answer dripped below the throughput floor
    "response-too-long",  # TOP/CAPA/LIST/UIDL beyond its cap
    "message-larger-than-listed",  # RETR far beyond LIST's size: aborted, not deleted
    "diagnosis-deadline",  # diagnose stopped at --deadline
    "no-encryption-offered",  # no STLS, and no encrypted alternative found (issue 13 item 4)
]
ALL_CODES = STABLE_CODES + ADDED_CODES

# Hiragana, katakana or CJK ideographs: "contains Japanese", not just ASCII.
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def test_every_stable_code_is_present_and_nothing_else() -> None:
    assert set(ALL_CODES) == CAUSE_CODES
    assert len(STABLE_CODES) == len(set(STABLE_CODES)) == 40


def test_data_file_has_no_duplicate_codes() -> None:
    # tomllib rejects a redefined table, so parsing the raw file proves uniqueness.
    raw = resources.files("pop3doctor.knowledge").joinpath("data", "causes.toml").read_text()
    headers = re.findall(r"^\[([a-z0-9-]+)\]$", raw, re.MULTILINE)
    assert len(headers) == len(set(headers)) == len(ALL_CODES)
    tomllib.loads(raw)


@pytest.mark.parametrize("code", ALL_CODES)
def test_cause_is_complete_in_both_languages(code: str) -> None:
    cause = get_cause(code)
    assert isinstance(cause, Cause) and cause.code == code
    assert cause.stage in STAGES
    assert cause.severity == ("ok" if code == "ok" else cause.severity)
    assert cause.severity in ({"ok"} if code == "ok" else {"fail", "warn"})
    assert cause.settings_hint is None or cause.settings_hint in SETTINGS_HINTS
    assert cause.remedy, "at least one remedy step"
    for msg in (cause.title, cause.explanation, *cause.remedy):
        assert msg.ja.strip() and msg.en.strip()
        assert JAPANESE.search(msg.ja), f"{code}: Japanese text has no Japanese: {msg.ja!r}"
        # English must not be an untranslated copy of the Japanese.
        assert not JAPANESE.search(msg.en), f"{code}: Japanese inside English: {msg.en!r}"


@pytest.mark.parametrize("code", ALL_CODES)
def test_placeholders_are_known_and_same_in_both_languages(code: str) -> None:
    cause = get_cause(code)
    for msg in (cause.explanation, *cause.remedy):
        names_ja, names_en = field_names(msg.ja), field_names(msg.en)
        assert names_ja == names_en, f"{code}: {names_ja} vs {names_en}"
        assert names_ja <= KNOWN_FIELDS


def test_get_cause_raises_keyerror_for_unknown_code() -> None:
    with pytest.raises(KeyError):
        get_cause("no-such-cause")


def test_all_causes_is_a_copy() -> None:
    causes = all_causes()
    causes.pop("ok")
    assert "ok" in all_causes()


def test_remedy_fills_known_values_and_reads_well_without_them() -> None:
    cause = get_cause("connection-refused")
    filled = cause.remedy_text("en", {"suggested_port": 995, "host": "pop.example.jp"})
    assert "995" in filled[0] and "pop.example.jp" in filled[2]
    unfilled = cause.remedy_text("ja")
    assert all("{" not in step for step in unfilled)
    assert "995" in unfilled[0]  # the fallback names the usual port


def test_fill_leaves_unknown_names_visible_and_never_raises() -> None:
    assert fill("port {port} and {mystery}", {"port": 110}, "en") == "port 110 and {mystery}"
    assert fill("broken {", {}, "en") == "broken {"
    assert fill("{host}", {"host": None}, "ja") == "設定した受信メールサーバー名"
