"""Mail programs' own error texts: the data file and a corpus of real messages through ``explain``.

The corpus (tests/data/client_messages/*.jsonl) holds real texts that Thunderbird,
Outlook / Outlook Express / Windows Live Mail, iOS Mail and Gmail's mail fetcher
show, with placeholders filled, each with its source and the causes a person who
knows POP3 would accept.  Every line goes through ``pop3doctor explain --json``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pop3doctor.cli.main import cli
from pop3doctor.knowledge.causes import all_causes, get_cause
from pop3doctor.knowledge.client_messages import (
    LANGUAGES,
    all_messages,
    checks,
    client_names,
    match_client_message,
    quoted_reply,
)
from pop3doctor.knowledge.explain import explain

CORPUS = Path(__file__).parent / "data" / "client_messages"


@cache
def corpus() -> tuple[dict[str, Any], ...]:
    rows: list[dict[str, Any]] = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            row = json.loads(line)
            row["where"] = f"{path.name}:{number}"
            rows.append(row)
    return tuple(rows)


def run_json(text: str, lang: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["explain", "--json", "--lang", lang, text])
    assert result.exit_code == 0, (text, result.output)
    data: dict[str, Any] = json.loads(result.output)
    return data


# --- the corpus ----------------------------------------------------------------------


def test_the_corpus_is_large_varied_and_sourced() -> None:
    rows = corpus()
    assert len(rows) >= 80
    programs = {row["program"] for row in rows} - {"(unnamed)"}
    assert len(programs) >= 5, programs
    assert {"ja", "en"} <= {row["lang"] for row in rows}
    causes = set(all_causes())
    for row in rows:
        assert set(row) >= {"client", "program", "lang", "text", "causes", "source"}, row["where"]
        assert row["lang"] in LANGUAGES, row["where"]
        assert row["client"] in client_names(), row["where"]
        assert row["text"].strip() and row["source"].strip(), row["where"]
        assert set(row["causes"]) <= causes, row["where"]
        assert set(row.get("candidates", ())) <= set(row["causes"]), row["where"]


@pytest.mark.parametrize("row", corpus(), ids=lambda row: row["where"])
def test_every_corpus_message_classifies_to_an_acceptable_cause(row: dict[str, Any]) -> None:
    lang = row["lang"] if row["lang"] in ("ja", "en") else "en"
    data = run_json(row["text"], lang)
    assert data["cause"] in row["causes"], (row["where"], data["cause"])
    assert data["client"] == row["client"], row["where"]
    named = [candidate["cause"] for candidate in data["candidates"]]
    assert named[0] == data["cause"]
    for candidate in data["candidates"]:
        assert candidate["title"] == get_cause(candidate["cause"]).title(lang)
    if row.get("candidates"):
        # An ambiguous message names its candidates and the check that tells them apart.
        assert set(row["candidates"]) <= set(named), (row["where"], named)
        found = match_client_message(row["text"])
        assert found is not None and found.message.check is not None, row["where"]
        assert data["check"] == found.message.check.text(lang)
        assert data["command"].startswith("pop3doctor diagnose --host ")


# --- the data file -------------------------------------------------------------------


def test_every_message_is_well_formed() -> None:
    causes = set(all_causes())
    ids = [message.id for message in all_messages()]
    assert len(ids) == len(set(ids))
    for message in all_messages():
        assert message.client in client_names(), message.id
        assert message.causes and set(message.causes) <= causes, message.id
        assert len(set(message.causes)) == len(message.causes), message.id
        if len(message.causes) > 1:
            assert message.check is not None, f"{message.id}: ambiguous without a check"
        assert message.wordings, message.id
        for wording in message.wordings:
            assert wording.lang in LANGUAGES, message.id
            assert wording.source.strip() and wording.sample.strip(), message.id
            # The sample is found, and by this message (file order: specific first).
            found = match_client_message(wording.sample)
            assert found is not None and found.message.id == message.id, (message.id, wording.sample)


def test_names_and_checks_have_both_languages() -> None:
    for table in (client_names(), checks()):
        for text in table.values():
            assert text.ja.strip() and text.en.strip(), text.id
    used = {message.check.id for message in all_messages() if message.check is not None}
    assert used == set(checks())
    assert {message.client for message in all_messages()} == set(client_names())


def test_both_languages_where_the_program_has_them() -> None:
    for message in all_messages():
        langs = {wording.lang for wording in message.wordings}
        if message.client == "thunderbird":
            assert {"en", "ja"} <= langs, message.id
    langs_by_client: dict[str, set[str]] = {}
    for message in all_messages():
        langs_by_client.setdefault(message.client, set()).update(w.lang for w in message.wordings)
    for client in ("thunderbird", "outlook", "apple-mail"):
        assert {"en", "ja"} <= langs_by_client[client], client


def test_sources_name_a_commit_or_an_address() -> None:
    for message in all_messages():
        for wording in message.wordings:
            source = wording.source
            assert "@" in source or "http" in source or "issue 15" in source, (message.id, source)
            if "releases-comm-central" in source or "thunderbird-l10n" in source:
                assert "@" in source and len(source.split("@")[1].split(":")[0]) == 40, source


# --- the messages issue 15 quotes, and the server's words winning ---------------------

ISSUE_15 = [
    ("0x800CCC0E", "en", "connection-timeout"),
    ("Task 'pop.example.com - Receiving' reported error (0x800CCC92) : 'Your e-mail server rejected your login.'",
     "en", "auth-failed"),
    ("受信メール(POP3)サーバーへの接続に失敗しました", "ja", "connection-timeout"),
    ("Cannot Get Mail", "en", "auth-failed"),
    ("Sending of password for user taro@example.com did not succeed.", "en", "auth-failed"),
    ("認証エラー", "ja", "auth-failed"),
    ("接続タイムアウト", "ja", "connection-timeout"),
    ("Error Number: 0x800CCC0F", "en", "connection-dropped"),
    ("Error Number: 0x800CCC90", "en", "auth-failed"),
    ("Error Number: 0x800CCC91", "en", "user-unknown"),
    ("Socket Error: 10060, Error Number: 0x800CCC0E", "en", "connection-timeout"),
    ("Socket Error: 10061, Error Number: 0x800CCC0E", "en", "connection-refused"),
    ("Socket Error: 10053, Error Number: 0x800CCC0F", "en", "connection-dropped"),
    ("Socket Error: 11004, Error Number: 0x800CCC0E", "en", "host-not-found"),
    ("メールを取得できません", "ja", "auth-failed"),
]


@pytest.mark.parametrize(("text", "lang", "cause"), ISSUE_15, ids=[t for t, _, _ in ISSUE_15])
def test_the_kinds_of_message_issue_15_quotes_are_recognised(text: str, lang: str, cause: str) -> None:
    assert len(ISSUE_15) == 15
    data = run_json(text, lang)
    assert data["cause"] == cause
    assert data["client"]


def test_a_server_reply_inside_the_client_message_wins() -> None:
    text = (
        "Sending of password for user taro did not succeed. Mail server pop.gmail.com responded: "
        "-ERR [AUTH] Application-specific password required: https://support.google.com/accounts/answer/185833"
    )
    result = explain(text)
    assert result.cause == "app-password-required"
    assert result.client is not None and result.client.client == "thunderbird"
    assert result.client.candidates == ("app-password-required",) and result.client.check is None
    # Thunderbird itself quotes the reply without "-ERR".
    quoted = "Sending of username did not succeed.  Mail server pop.example.com responded: [IN-USE] locked"
    assert quoted_reply(quoted) == "[IN-USE] locked"
    assert explain(quoted).cause == "mailbox-in-use"
    # An unknown server text does not override the program's candidates.
    vague = "Sending of username did not succeed.  Mail server pop.example.com responded: no."
    assert explain(vague).cause == "user-unknown"


def test_text_output_lists_candidates_check_and_the_command() -> None:
    text = "サーバー pop.example.jp に接続できません。接続が拒否されました。"
    result = CliRunner().invoke(cli, ["explain", "--lang", "ja", text])
    assert result.exit_code == 0, result.output
    assert "Thunderbird" in result.output
    assert "考えられる原因" in result.output and "1. " in result.output and "2. " in result.output
    assert checks()["connect"].ja in result.output.replace("\n", "")
    assert "pop3doctor diagnose --host pop.example.jp" in result.output
    english = CliRunner().invoke(cli, ["explain", "--lang", "en", "0x800CCC92"])
    assert english.exit_code == 0
    assert "Possible causes" in english.output and "How to tell them apart" in english.output
    assert "pop3doctor diagnose --host <SERVER>" in english.output


def test_a_server_reply_alone_keeps_the_old_json_shape() -> None:
    data = run_json("-ERR [AUTH] Authentication failed.", "en")
    assert set(data) == {"cause", "title", "remedy", "source"}


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "Sending of password for user taro did not succeed. "
               "Mail server pop.example.com responded: Authentication failed."),
        ("ja", "ユーザー名を送信できませんでした。 "
               "メールサーバー pop.example.com からの応答: [AUTH] Authentication failed."),
    ],
)
def test_the_server_thunderbird_names_where_it_quotes_the_reply_goes_into_the_command(lang: str, text: str) -> None:
    """When the quoted reply decides, the command still carries the server the message names."""
    result = CliRunner().invoke(cli, ["explain", "--json", "--lang", lang, text])
    data = json.loads(result.output)
    assert data["cause"] == "auth-failed" and data["client"] == "thunderbird"
    assert data["command"].startswith("pop3doctor diagnose --host pop.example.com "), data["command"]
