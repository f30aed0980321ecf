"""``pop3doctor explain``: text and JSON output, both languages, exit status."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result

from pop3doctor.cli.main import cli
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.explain import explain

GMAIL_APP = (
    "-ERR [AUTH] Application-specific password required: "
    "https://support.google.com/accounts/answer/185833"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["explain", *args])


def test_explain_function_reports_code_and_source() -> None:
    result = explain(GMAIL_APP)
    assert result.cause == "app-password-required"
    assert result.code == "AUTH"
    assert result.matched_pattern_source and "mailman/issues/50" in result.matched_pattern_source
    banner = explain("* OK IMAP4rev1 ready")
    assert banner.cause == "not-pop3" and banner.code is None
    assert explain("my computer is sad").cause is None


def test_json_english_exact_shape() -> None:
    res = run(GMAIL_APP, "--json", "--lang", "en")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    cause = get_cause("app-password-required")
    assert data["cause"] == "app-password-required"
    assert data["title"] == cause.title.en
    assert data["remedy"] == [step.en for step in cause.remedy]
    assert set(data) == {"cause", "title", "remedy", "source"}


def test_json_japanese() -> None:
    res = run("-ERR [IN-USE] Mailbox is locked by another POP3 session.", "--json", "--lang", "ja")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["cause"] == "mailbox-in-use"
    assert data["title"] == get_cause("mailbox-in-use").title.ja
    assert all(isinstance(s, str) and s for s in data["remedy"])


def test_text_output_in_japanese_has_title_and_numbered_steps() -> None:
    res = run(GMAIL_APP, "--lang", "ja")
    assert res.exit_code == 0, res.output
    cause = get_cause("app-password-required")
    assert cause.title.ja in res.output
    assert "対処方法" in res.output and "1. " in res.output and "2. " in res.output


def test_text_output_in_english_fills_placeholders_with_phrases() -> None:
    res = run("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) "
              "connections.", "--lang", "en")
    assert res.exit_code == 0, res.output
    assert get_cause("plaintext-auth-disallowed").title.en in res.output
    assert "{" not in res.output  # no raw placeholder reaches the user
    assert "usually 995" in res.output


def test_unquoted_words_are_joined() -> None:
    res = run("-ERR", "[AUTH]", "Authentication", "failed.", "--json", "--lang", "en")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["cause"] == "auth-failed"


def test_unknown_text_exits_1_and_suggests_diagnose() -> None:
    res = run("the printer is on fire", "--json", "--lang", "en")
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["cause"] is None and data["title"] is None
    assert any("pop3doctor diagnose" in s for s in data["remedy"])
    res_ja = run("the printer is on fire", "--lang", "ja")
    assert res_ja.exit_code == 1
    assert "pop3doctor diagnose" in res_ja.output and "わかりませんでした" in res_ja.output
