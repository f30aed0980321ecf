"""``pop3doctor explain``: text and JSON output, both languages, exit status; the text as
argument, on stdin or from a file (a pasted log), ``-h`` (issue 15 item 3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pop3doctor.cli import explain as explain_cli
from pop3doctor.cli.main import cli
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.explain import explain, explain_paste

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


# --- issue 15 item 3: the text as argument, on stdin, from a file; -h; errors ----------

OUTLOOK_NOT_FOUND = (
    "Task 'pop.example.com - Receiving' reported error (0x800CCC0E) : 'The server could not be found. "
    "(Account: 'pop.example.com', POP3Server: 'pop.example.com', Error Number: 0x800ccc0e)'"
)


def pop3doctor(*args: str, stdin: bytes | None = b"") -> subprocess.CompletedProcess[str]:
    """The real command in a child process: its exit code is main()'s (64, 66), not CliRunner's."""
    return subprocess.run(
        [sys.executable, "-m", "pop3doctor", *args],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )


def test_dash_h_first_is_help_in_both_forms() -> None:
    for args in (["-h"], ["-h", "--lang", "ja"], ["--lang", "ja", "-h"], ["--help"]):
        res = run(*args)
        assert res.exit_code == 0, res.output
        assert res.output.startswith("Usage: ") and "--file" in res.output and "Explain" in res.output


def test_dash_h_inside_pasted_text_is_text() -> None:
    # "-h" and "-hold" after the first word are the pasted reply's words, not options.
    res = run("-ERR", "[AUTH]", "Authentication", "failed", "-h", "-hold", "--json", "--lang", "en")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["cause"] == "auth-failed" and "Usage" not in res.output
    res = run("-ERR [IN-USE] -h mailbox locked -h", "--json")
    assert res.exit_code == 0 and json.loads(res.output)["cause"] == "mailbox-in-use", res.output


def test_text_from_stdin_when_no_argument_or_dash() -> None:
    for args in ([], ["-"], ["--file", "-"]):
        res = CliRunner().invoke(cli, ["explain", *args, "--json", "--lang", "en"], input=OUTLOOK_NOT_FOUND + "\n")
        assert res.exit_code == 0, res.output
        data = json.loads(res.output)
        assert data["client"] == "outlook" and len(data["candidates"]) > 1
        assert "pop.example.com" in data["command"]
        assert "read" not in data  # one line: nothing to say about which line


def test_a_pasted_log_file_explains_its_telling_line_and_names_it(tmp_path: Path) -> None:
    log = tmp_path / "thunderbird.log"
    log.write_text(
        "2026-12-03 10:00:01 connecting to pop.example.com:995\n"
        "S: +OK Dovecot ready.\n"
        "C: USER taro\n"
        "S: +OK\n"
        "\n"
        "S: -ERR [AUTH] Authentication failed.\n"
        "C: QUIT\n"
        "S: +OK Logging out\n",
        encoding="utf-8",
    )
    res = run("--file", str(log), "--json", "--lang", "en")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["cause"] == "auth-failed"
    assert data["read"] == {"lines": [6], "text": "S: -ERR [AUTH] Authentication failed."}
    for lang, says in (("en", f"Read line 6 of {log}"), ("ja", f"{log} の 6 行目を読みました")):
        text = run("--file", str(log), "--lang", lang)
        assert text.exit_code == 0 and says in text.output, text.output
        assert "-ERR [AUTH] Authentication failed." in text.output


def test_a_dialog_over_several_lines_is_read_whole(tmp_path: Path) -> None:
    dialog = tmp_path / "outlook.txt"
    dialog.write_text(
        "Task 'pop.example.com - Receiving' reported error (0x800CCC0E) : 'Cannot connect.'\n"
        "Account: 'taro@example.com', Server: 'pop.example.com', Protocol: POP3, Port: 110,\n"
        "Secure(SSL): No, Socket Error: 10061, Error Number: 0x800CCC0E\n",
        encoding="utf-8",
    )
    data = json.loads(run("--file", str(dialog), "--json", "--lang", "en").output)
    # The socket error on the third line narrows "failed to connect" to "refused".
    assert data["cause"] == "connection-refused" and data["read"]["lines"] == [1, 2, 3]


def test_a_shift_jis_log_is_read(tmp_path: Path) -> None:
    log = tmp_path / "outlook-ja.txt"
    log.write_bytes("ログ開始\nタスク 'pop.example.jp - 受信中' はエラー (0x800CCC92) を報告しました\n".encode("cp932"))
    data = json.loads(run("--file", str(log), "--json", "--lang", "ja").output)
    assert data["client"] == "outlook" and data["cause"] == "auth-failed" and data["read"]["lines"] == [2]


def test_a_hostile_line_is_shown_escaped(tmp_path: Path) -> None:
    log = tmp_path / "evil.log"
    log.write_text("noise\n-ERR [AUTH] Authentication failed.\x1b[2J\u202e\n", encoding="utf-8")
    res = run("--file", str(log), "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.output and "\u202e" not in res.output and "\\x1b" in res.output


def test_errors_are_clear_in_both_languages_with_their_exit_codes(tmp_path: Path) -> None:
    cases = [
        (["--file", str(tmp_path / "missing.log")], b"", 66, "Cannot read the file", "を読めません"),
        (["--file", str(tmp_path)], b"", 66, "Cannot read the file", "を読めません"),
        ([], b"  \n\n", 64, "standard input is empty", "標準入力 は空です"),
        (["-"], b"", 64, "standard input is empty", "標準入力 は空です"),
        (["x", "--file", str(tmp_path / "a")], b"", 64, "not both", "同時に指定できません"),
    ]
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    cases.append((["--file", str(empty)], b"", 64, f"{empty} is empty", "は空です"))
    for args, stdin, code, en, ja in cases:
        for lang, says in (("en", en), ("ja", ja)):
            done = pop3doctor("explain", *args, "--lang", lang, stdin=stdin)
            assert done.returncode == code, (args, done.stderr)
            assert says in done.stderr, (args, done.stderr)
            assert "Traceback" not in done.stderr + done.stdout


def test_no_text_on_a_terminal_asks_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explain_cli, "_stdin_is_terminal", lambda: True)
    for lang, says in (("en", "Nothing to explain"), ("ja", "説明するテキストがありません")):
        res = CliRunner().invoke(cli, ["explain", "--lang", lang])
        assert res.exit_code != 0 and says in res.output, res.output
        assert isinstance(res.exception, SystemExit)


def test_explain_paste_prefers_the_last_of_equally_telling_lines() -> None:
    reading = explain_paste("-ERR [IN-USE] locked\nnoise\n-ERR [AUTH] Authentication failed.\n")
    assert reading.explanation.cause == "auth-failed" and reading.lines == (3,)
    single = explain_paste("  -ERR [AUTH] Authentication failed.  \n")
    assert single.lines == () and single.text == "-ERR [AUTH] Authentication failed."
