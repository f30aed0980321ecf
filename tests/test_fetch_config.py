"""accounts.toml parsing, password sources, and the rule that a file holding a password is private."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pop3doctor.endpoint import Security
from pop3doctor.sync.config import ConfigError, PasswordSource, load_config, resolve_password

BASE = """
[accounts.work]
host = "pop.example.test"
user = "alice@example.test"
security = "starttls"
maildir = "Mail/work"
delete = "after-days"
delete_after_days = 30
max_size = 1000000
"""


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_full_account_is_parsed_with_relative_paths_under_the_file(tmp_path: Path) -> None:
    (config,) = load_config(_write(tmp_path, BASE + 'password_env = "WORK_PW"\n', 0o644))
    assert config.account.endpoint.security is Security.STARTTLS and config.account.name == "work"
    assert config.maildir == tmp_path / "Mail" / "work" and config.mbox is None
    assert (config.options.delete, config.options.delete_after_days, config.options.max_size) == (
        "after-days",
        30.0,
        1_000_000,
    )
    assert config.password == PasswordSource("env", ("WORK_PW",))


def test_inline_password_needs_a_private_file_and_never_shows(tmp_path: Path) -> None:
    secret = "s3cret-" + os.urandom(4).hex()
    path = _write(tmp_path, BASE + f'password = "{secret}"\n', 0o640)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "chmod 600" in info.value.msg.en and secret not in info.value.msg.en + info.value.msg.ja
    path.chmod(0o600)
    (config,) = load_config(path)
    assert secret not in repr(config)
    assert resolve_password(config.password, "alice") == secret


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        ("", "exactly one of password_env"),
        ('password_env = "A"\npassword_command = ["x"]\n', "exactly one of password_env"),
        ('password_env = "A"\nfolder = "x"\n', "unknown keys: folder"),
        ('password_env = "A"\nmbox = "x"\n', "exactly one of maildir and mbox"),
        ('password_env = "A"\nauth = "md5"\n', "auth must be one of auto, user, plain, login, cram-md5, apop"),
        ('password_env = "A"\nauth = true\n', "auth"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, extra: str, word: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, BASE + extra))
    assert word in info.value.msg.en


@pytest.mark.parametrize(
    ("table", "word"),
    [
        ("[accounts]\nwork = 1\n", "[accounts.work] must be a table"),
        ('[accounts.work]\nuser = "a"\n', "needs a host string"),
        ('[accounts.work]\nhost = "h"\nuser = ""\n', "user must be a non-empty string"),
        ('[accounts.work]\nhost = "h"\nuser = "a"\nsecurity = "tls"\n', "security must be ssl, starttls or plain"),
        (
            '[accounts.work]\nhost = "h"\nuser = "a"\npassword_command = [1]\n',
            "password_command must be a list of strings",
        ),
        ('[accounts.work]\nhost = "h"\nuser = "a"\npassword_env = 5\n', "password_env must be a non-empty string"),
        (
            '[accounts.work]\nhost = "h"\nuser = "a"\npassword_env = "A"\nmaildir = "M"\ndelete = "never"\n',
            "delete must be keep, delete or after-days",
        ),
        (
            '[accounts.work]\nhost = "h"\nuser = "a"\npassword_env = "A"\nmaildir = "M"\ndelete = "after-days"\n',
            'delete = "after-days" needs delete_after_days',
        ),
        # Checked in order: the first mistake of the table is the one reported.
        ('[accounts.work]\nsecurity = "tls"\nfolder = 1\n', "unknown keys: folder"),
    ],
)
def test_each_check_of_an_account_names_the_mistake(tmp_path: Path, table: str, word: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, table))
    assert word in info.value.msg.en and info.value.msg.ja


def test_port_defaults_to_the_security_modes_port(tmp_path: Path) -> None:
    (config,) = load_config(_write(tmp_path, BASE + 'password_env = "A"\n'))
    assert config.account.endpoint.port == 110
    (config,) = load_config(_write(tmp_path, BASE.replace("starttls", "ssl") + 'password_env = "A"\nport = 2995\n'))
    assert (config.account.endpoint.port, config.account.endpoint.security) == (2995, Security.SSL)


def test_password_command_runs_without_a_shell_and_takes_the_first_line(tmp_path: Path) -> None:
    source = PasswordSource("command", (sys.executable, "-c", "print('pw-from-cmd'); print('ignored')"))
    assert resolve_password(source, "alice") == "pw-from-cmd"
    failing = PasswordSource("command", (sys.executable, "-c", "import sys; print('leak'); sys.exit(3)"))
    with pytest.raises(ConfigError) as info:
        resolve_password(failing, "alice")
    assert "exit status 3" in info.value.msg.en and "leak" not in info.value.msg.en


def test_env_source_missing_variable_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3D_NOT_SET", raising=False)
    with pytest.raises(ConfigError, match="P3D_NOT_SET"):
        resolve_password(PasswordSource("env", ("P3D_NOT_SET",)), "alice")


# --- issue 12: every key has a type and a range (through the CLI, exit 64) -----------------

import socket  # noqa: E402
import subprocess  # noqa: E402

_ACCOUNT = '[accounts.work]\nhost = "{host}"\nuser = "u"\nmaildir = "M"\npassword_env = "HOME"\n'


def _fetch_config(path: Path, lang: str) -> subprocess.CompletedProcess[str]:
    """``pop3doctor fetch --config PATH`` in a child process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pop3doctor", "fetch", "--config", str(path), "--state", str(path.parent / "st"),
         "--lang", lang],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _fetch_config_here(path: Path, lang: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The same through `pop3doctor.cli.main.main` in this process (fast): exit status and stderr."""
    from pop3doctor.cli.main import main

    argv = ["pop3doctor", "fetch", "--config", str(path), "--state", str(path.parent / "st"), "--lang", lang]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", argv)
        with pytest.raises(SystemExit) as info:
            main()
    return int(info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "key", "en", "ja"),
    [
        ('allow_plaintext = "false"', "allow_plaintext", "must be true or false", "true か false"),
        ('only_new = "false"', "only_new", "must be true or false", "true か false"),
        ("only_new = 0", "only_new", "not a whole number", "整数"),
        ('timeout = "x"', "timeout", "must be a number, not a string", "数値"),
        ("timeout = 0", "timeout", "timeout = 0 is out of range (0.1..600)", "範囲外"),
        ("timeout = nan", "timeout", "out of range", "範囲外"),
        ("port = 99999", "port", "port = 99999 is out of range (1..65535)", "範囲外"),
        ("port = 0", "port", "out of range", "範囲外"),
        ("port = true", "port", "must be a whole number, not a boolean", "整数"),
        ('port = "995"', "port", "must be a whole number, not a string", "整数"),
        ('max_size = "big"', "max_size", "must be a whole number, not a string", "整数"),
        ("max_size = -1", "max_size", "out of range (>= 0)", "範囲外"),
        ("max_size = 1.5", "max_size", "not a decimal number", "小数"),
        ('delete = "after-days"\ndelete_after_days = "30"', "delete_after_days", "must be a number", "数値"),
        ("user = 5", "user", "must be a non-empty string", "空でない文字列"),
        ('security = ["ssl"]', "security", "not a list", "配列"),
        ("ca_file = 1979-05-27", "ca_file", "not a date or time", "日付"),
        ('ca_file = "missing.pem"', "ca_file", "does not exist", "見つかりません"),
        ('password_keyring = ""', "password_keyring", "not an empty string", "空の文字列"),
    ],
)
def test_a_wrong_type_or_range_is_a_usage_error_naming_key_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, key: str, en: str, ja: str
) -> None:
    text = _ACCOUNT.format(host="pop.example.test")
    if key == "password_keyring":
        text = text.replace('password_env = "HOME"\n', "")
    if key == "user":
        text = text.replace('user = "u"\n', "")
    path = _write(tmp_path, text + extra + "\n")
    for lang, word, file_word in (("en", en, "Config file"), ("ja", ja, "設定ファイル")):
        code, err = _fetch_config_here(path, lang, capsys)
        assert code == 64, err
        assert f"{file_word} {path}" in err and key in err and word in err, err


def test_allow_plaintext_as_a_string_never_connects(tmp_path: Path) -> None:
    """``allow_plaintext = "false"`` turned plaintext login on (a non-empty string is true): now refused."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.0)
        port = server.getsockname()[1]
        text = _ACCOUNT.format(host="127.0.0.1") + f'security = "plain"\nport = {port}\nallow_plaintext = "false"\n'
        proc = _fetch_config(_write(tmp_path, text), "en")
        assert proc.returncode == 64 and "allow_plaintext" in proc.stderr, proc.stderr
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody came: no login was attempted


@pytest.mark.parametrize(
    ("host", "en", "ja"),
    [
        ("a..b", "two dots in a row", "ドットが続いて"),
        ("a" * 64 + ".example", "longer than 63 characters", "63 文字を超えて"),
        ("pop example", "a character host names cannot have", "使えない文字"),
    ],
)
def test_a_bad_host_name_in_the_config_is_a_usage_error(tmp_path: Path, host: str, en: str, ja: str) -> None:
    path = _write(tmp_path, _ACCOUNT.format(host=host))
    for lang, word in (("en", en), ("ja", ja)):
        proc = _fetch_config(path, lang)  # a child process: no traceback reaches the user
        assert proc.returncode == 64 and "Traceback" not in proc.stderr, proc.stderr
        assert str(path) in proc.stderr and "host" in proc.stderr and word in proc.stderr, proc.stderr


def test_good_values_of_every_kind_load(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("x")
    text = _ACCOUNT.format(host="bücher.example.") + (
        'port = 2995\ntimeout = 2.5\nmax_size = 0\nonly_new = true\nallow_plaintext = false\nca_file = "ca.pem"\n'
        'delete = "after-days"\ndelete_after_days = 0.5\n'
    )
    (config,) = load_config(_write(tmp_path, text))
    assert config.account.endpoint.port == 2995 and config.account.endpoint.allow_plaintext is False
    assert config.options.only_new is True and config.options.max_size == 0
    assert config.account.endpoint.ca_file == (tmp_path / "ca.pem").as_posix()


def test_auth_is_the_mail_programs_login_method(tmp_path: Path) -> None:
    # Issue 13 item 1: fetch logs in as the mail program is set to; default "auto" (normal password).
    (config,) = load_config(_write(tmp_path, BASE + 'password_env = "A"\nauth = "apop"\n'))
    assert config.account.endpoint.auth == "apop"
    (config,) = load_config(_write(tmp_path, BASE + 'password_env = "A"\n'))
    assert config.account.endpoint.auth == "auto"
