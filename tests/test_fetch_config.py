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
        ('[accounts.work]\nhost = "h"\nuser = ""\n', "needs a user string"),
        ('[accounts.work]\nhost = "h"\nuser = "a"\nsecurity = "tls"\n', "security must be ssl, starttls or plain"),
        (
            '[accounts.work]\nhost = "h"\nuser = "a"\npassword_command = [1]\n',
            "password_command must be a list of strings",
        ),
        ('[accounts.work]\nhost = "h"\nuser = "a"\npassword_env = 5\n', "password_env must be a string"),
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
