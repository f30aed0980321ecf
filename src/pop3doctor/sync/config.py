"""``accounts.toml``: several accounts for ``pop3doctor fetch --config`` (and ``diagnose --config``).

::

    [accounts.work]
    host = "pop.example.com"
    user = "alice@example.com"
    security = "ssl"                  # ssl | starttls | plain   (default ssl)
    port = 995                        # optional
    auth = "auto"                     # auto (normal password) | user | plain | login | cram-md5 | apop
    password_env = "WORK_POP_PASSWORD"            # one of these four
    # password_command = ["pass", "show", "mail/work"]   (argv list, no shell)
    # password_keyring = "pop3doctor"             (keyring service; username = user)
    # password = "..."                (only if the file is not group/world-readable)
    maildir = "~/Mail/work"           # or: mbox = "~/mail/work.mbox" (fetch only)
    delete = "keep"                   # keep | delete | after-days
    delete_after_days = 30            # with delete = "after-days"
    only_new = false
    max_size = 20000000               # octets; larger messages stay on the server
    ca_file = "/path/ca.pem"
    timeout = 10
    allow_plaintext = false

A file that holds a ``password`` must not be readable by group or others
(mode 600): we refuse it otherwise, as ssh does for private keys.  Errors are
`ConfigError` with a ja/en message; no error text ever includes a secret.
"""

from __future__ import annotations

import importlib
import os
import shlex
import stat
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pop3doctor.endpoint import AUTH_METHODS, Endpoint, Security, default_port, host_problem
from pop3doctor.i18n import Lang, Msg, catalog
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.sync.engine import Account, DeleteMode, FetchOptions

_t = catalog("sync")

#: How long a ``password_command`` may take (a GPG agent may ask for a PIN).
PASSWORD_COMMAND_TIMEOUT = 120.0


class ConfigError(Exception):
    def __init__(self, msg: Msg) -> None:
        super().__init__(msg.en)
        self.msg = msg


@dataclass(frozen=True)
class PasswordSource:
    """Where a password comes from; ``repr`` never shows an inline secret."""

    kind: str  # "env" | "command" | "keyring" | "inline"
    value: tuple[str, ...]

    def __repr__(self) -> str:
        shown = ("********",) if self.kind == "inline" else self.value
        return f"PasswordSource({self.kind!r}, {shown!r})"


@dataclass(frozen=True)
class AccountConfig:
    name: str
    account: Account
    password: PasswordSource
    maildir: Path | None
    mbox: Path | None
    options: FetchOptions
    #: The file's ``timeout`` (seconds), None when absent: ``diagnose --config`` needs the number itself.
    timeout: float | None = None


_SECRET_KEYS = ("password",)


@dataclass(frozen=True)
class _Rule:
    """What one key's value must be: a kind (``CONFIG_KINDS`` in sync.toml) and, for numbers, a range."""

    kind: str  # "string" | "string-or-list" | "boolean" | "integer" | "number"
    low: float | None = None
    high: float | None = None


_STRING = _Rule("string")
#: Every key of an ``[accounts.NAME]`` table; the ranges are the command line's
#: (``--port``, ``--timeout``, ``--max-size``, ``--delete-after-days``).
_SCHEMA: dict[str, _Rule] = {
    "host": _STRING,
    "user": _STRING,
    "port": _Rule("integer", 1, 65535),
    "security": _STRING,
    "auth": _STRING,
    "password_env": _STRING,
    "password_command": _Rule("string-or-list"),
    "password_keyring": _STRING,
    "password": _STRING,
    "maildir": _STRING,
    "mbox": _STRING,
    "delete": _STRING,
    "delete_after_days": _Rule("number", 0),
    "only_new": _Rule("boolean"),
    "max_size": _Rule("integer", 0),
    "ca_file": _STRING,
    "timeout": _Rule("number", 0.1, 600),
    "allow_plaintext": _Rule("boolean"),
}
_KNOWN_KEYS = frozenset(_SCHEMA)
#: Which TOML values (`_found`) each kind accepts.
_ACCEPTS = {
    "string": {"string"},
    "string-or-list": {"string", "array"},
    "boolean": {"boolean"},
    "integer": {"integer"},
    "number": {"integer", "float"},
}


def _err(ja: str, en: str, **fields: object) -> ConfigError:
    return ConfigError(Msg(ja=ja, en=en).format(**fields))


def _msg(entry: Msg, **fields: object) -> Msg:
    """``entry`` filled in each language; a field that is a `Msg` is filled in the same language."""

    def one(lang: Lang) -> str:
        return entry(lang, **{k: v(lang) if isinstance(v, Msg) else v for k, v in fields.items()})

    return Msg(one("ja"), one("en"))


def load_config(path: Path, *, need_destination: bool = True) -> list[AccountConfig]:
    """Parse and check the file; raises `ConfigError`.

    ``need_destination=False`` is for ``diagnose --config``, which stores no
    mail: an account without ``maildir``/``mbox`` is accepted (one that has
    them is still checked, so the same file serves ``fetch`` as well).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _err(
            "設定ファイルを読めません: {path} ({why})",
            "Cannot read the config file {path} ({why})",
            path=path,
            why=exc.strerror,
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        # TOMLDecodeError names a line and column, never a value.
        raise _err(
            "設定ファイルの書式が正しくありません: {path}: {why}",
            "The config file {path} is not valid TOML: {why}",
            path=path,
            why=str(exc) if isinstance(exc, tomllib.TOMLDecodeError) else "not UTF-8",
        ) from None
    accounts = data.get("accounts")
    if not isinstance(accounts, dict) or not accounts:
        raise _err(
            "設定ファイルに [accounts.名前] がありません: {path}",
            "The config file {path} has no [accounts.NAME] table",
            path=path,
        )
    if any(isinstance(a, dict) and any(k in a for k in _SECRET_KEYS) for a in accounts.values()):
        _check_private(path)
    configs: list[AccountConfig] = []
    for name, table in accounts.items():
        try:
            configs.append(_account(name, table, path.parent, need_destination))
        except ConfigError as exc:
            # Every mistake in an account names the file it is in.
            raise ConfigError(_msg(_t.CONFIG_IN_FILE, path=path, problem=exc.msg)) from None
    return configs


def _check_private(path: Path) -> None:
    if sys.platform == "win32":  # pragma: no cover - ACLs, not mode bits
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise _err(
            "設定ファイル {path} にパスワードが書かれていますが、ほかのユーザーも読める設定です（{mode}）。"
            "`chmod 600 {path}` を実行してください。",
            "The config file {path} holds a password but others may read it (mode {mode}). Run `chmod 600 {path}`.",
            path=path,
            mode=oct(stat.S_IMODE(mode)),
        )


def _account(name: str, table: Any, base: Path, need_destination: bool = True) -> AccountConfig:
    """One ``[accounts.NAME]`` table, checked in the order its errors are reported."""
    _check_keys(name, table)
    _check_values(name, table)
    host, user = _need_str(name, table, "host"), _need_str(name, table, "user")
    problem = host_problem(host)
    if problem is not None:
        raise ConfigError(_msg(_t.CONFIG_BAD_HOST, name=name, problem=problem))
    security = _security(name, table)
    auth = _auth(name, table)
    source = _password_source(name, table)
    maildir, mbox = _destination(name, table, need_destination)
    delete, days = _delete_rule(name, table)
    timeout = table.get("timeout")
    endpoint = Endpoint(
        host,
        default_port(security, table.get("port")),
        security,
        user,
        ca_file=_ca_file(name, table, base),
        allow_plaintext=table.get("allow_plaintext", False),
        auth=auth,
    )
    account = Account(
        endpoint,
        timeouts=Timeouts.from_total(float(timeout)) if timeout is not None else Timeouts(),
        name=name,
    )
    options = FetchOptions(
        delete=delete,
        delete_after_days=float(days),
        only_new=table.get("only_new", False),
        max_size=table.get("max_size"),
    )
    return AccountConfig(
        name=name,
        account=account,
        password=source,
        maildir=_path(maildir, base) if maildir is not None else None,
        mbox=_path(mbox, base) if mbox is not None else None,
        options=options,
        timeout=float(timeout) if timeout is not None else None,
    )


def _check_keys(name: str, table: Any) -> None:
    if not isinstance(table, dict):
        raise _err("[accounts.{name}] は表である必要があります", "[accounts.{name}] must be a table", name=name)
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise _err(
            "[accounts.{name}] に不明な項目があります: {keys}",
            "[accounts.{name}] has unknown keys: {keys}",
            name=name,
            keys=", ".join(unknown),
        )


def _check_values(name: str, table: dict[str, Any]) -> None:
    """Each value against `_SCHEMA`, in the file's order: the first wrong one is reported."""
    for key, value in table.items():
        rule = _SCHEMA[key]
        found = _found(value)
        if found not in _ACCEPTS[rule.kind]:
            raise ConfigError(
                _msg(
                    _t.CONFIG_BAD_TYPE,
                    name=name,
                    key=key,
                    kind=_t.group("CONFIG_KINDS")[rule.kind],
                    found=_t.group("CONFIG_FOUND")[found],
                )
            )
        if rule.low is None:
            continue
        # Written so that NaN (valid TOML) is out of every range.
        if not (rule.low <= value and (rule.high is None or value <= rule.high)):
            span = f">= {rule.low:g}" if rule.high is None else f"{rule.low:g}..{rule.high:g}"
            raise ConfigError(_msg(_t.CONFIG_OUT_OF_RANGE, name=name, key=key, value=value, range=span))


def _found(value: object) -> str:
    """The kind of TOML value ``value`` is (a ``CONFIG_FOUND`` key); never the value, which may be a secret."""
    if isinstance(value, str):
        return "empty-string" if not value else "nul-string" if "\0" in value else "string"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "datetime"  # tomllib's only other values: datetime, date, time


def _ca_file(name: str, table: dict[str, Any], base: Path) -> str | None:
    if "ca_file" not in table:
        return None
    path = _path(table["ca_file"], base)
    if not path.is_file():
        raise ConfigError(_msg(_t.CONFIG_NO_CA_FILE, name=name, file=path))
    return path.as_posix()


def _need_str(name: str, table: dict[str, Any], key: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise _err(
            "[accounts.{name}] に {key} がありません", "[accounts.{name}] needs a {key} string", name=name, key=key
        )
    return value


def _security(name: str, table: dict[str, Any]) -> Security:
    try:
        return Security(table.get("security", "ssl"))
    except ValueError:
        raise _err(
            "[accounts.{name}] の security は ssl, starttls, plain のいずれかです",
            "[accounts.{name}] security must be ssl, starttls or plain",
            name=name,
        ) from None


def _auth(name: str, table: dict[str, Any]) -> str:
    auth = table.get("auth", "auto")
    if auth not in AUTH_METHODS:
        raise _err(
            "[accounts.{name}] の auth は {choices} のいずれかです",
            "[accounts.{name}] auth must be one of {choices}",
            name=name,
            choices=", ".join(AUTH_METHODS),
        )
    return str(auth)


def _password_source(name: str, table: dict[str, Any]) -> PasswordSource:
    sources = [k for k in ("password_env", "password_command", "password_keyring", "password") if k in table]
    if len(sources) != 1:
        raise _err(
            "[accounts.{name}] には password_env, password_command, password_keyring, password の"
            "どれか 1 つを書いてください",
            "[accounts.{name}] needs exactly one of password_env, password_command, password_keyring, password",
            name=name,
        )
    key = sources[0]
    value = table[key]
    if key == "password_command":
        argv = shlex.split(value) if isinstance(value, str) else value
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise _err(
                "[accounts.{name}] password_command は文字列の配列です",
                "[accounts.{name}] password_command must be a list of strings",
                name=name,
            )
        return PasswordSource("command", tuple(argv))
    if isinstance(value, str) and value:
        kind = {"password_env": "env", "password_keyring": "keyring", "password": "inline"}[key]
        return PasswordSource(kind, (value,))
    raise _err("[accounts.{name}] {key} は文字列です", "[accounts.{name}] {key} must be a string", name=name, key=key)


def _destination(name: str, table: dict[str, Any], needed: bool = True) -> tuple[Any, Any]:
    """The raw ``maildir`` and ``mbox`` values: exactly one of them is set (at most one when not ``needed``)."""
    maildir, mbox = table.get("maildir"), table.get("mbox")
    if (maildir is None) == (mbox is None) and (needed or maildir is not None):
        raise _err(
            "[accounts.{name}] には maildir か mbox のどちらか一方を書いてください",
            "[accounts.{name}] needs exactly one of maildir and mbox",
            name=name,
        )
    return maildir, mbox


def _delete_rule(name: str, table: dict[str, Any]) -> tuple[DeleteMode, Any]:
    """``delete`` and ``delete_after_days`` (the raw value; 0 when absent)."""
    delete: DeleteMode = table.get("delete", "keep")
    if delete not in ("keep", "delete", "after-days"):
        raise _err(
            "[accounts.{name}] の delete は keep, delete, after-days のいずれかです",
            "[accounts.{name}] delete must be keep, delete or after-days",
            name=name,
        )
    days = table.get("delete_after_days", 0)
    if delete == "after-days" and (not isinstance(days, int | float) or days < 0 or "delete_after_days" not in table):
        raise _err(
            '[accounts.{name}] delete = "after-days" には delete_after_days（0 以上の日数）が必要です',
            '[accounts.{name}] delete = "after-days" needs delete_after_days (days, >= 0)',
            name=name,
        )
    return delete, days


def _path(value: Any, base: Path) -> Path:
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else base / path


def resolve_password(source: PasswordSource, user: str) -> str:
    """The password from its source; raises `ConfigError` (without the secret) on failure."""
    if source.kind == "inline":
        return source.value[0]
    if source.kind == "env":
        value = os.environ.get(source.value[0])
        if not value:
            raise _err(
                "環境変数 {var} にパスワードが設定されていません",
                "The environment variable {var} holds no password",
                var=source.value[0],
            )
        return value
    if source.kind == "command":
        try:
            done = subprocess.run(  # noqa: S603 - the user's own configured command, no shell
                list(source.value), capture_output=True, timeout=PASSWORD_COMMAND_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _err(
                "password_command を実行できません: {why}",
                "password_command could not run: {why}",
                why=type(exc).__name__,
            ) from None
        first = done.stdout.decode("utf-8", "replace").splitlines()[:1]
        if done.returncode != 0 or not first or not first[0]:
            raise _err(
                "password_command が失敗しました（終了コード {rc}）",
                "password_command failed (exit status {rc})",
                rc=done.returncode,
            )
        return first[0]
    if source.kind == "keyring":
        try:
            keyring = importlib.import_module("keyring")
        except ImportError:
            raise _err(
                "password_keyring を使うには Python パッケージ keyring が必要です",
                "password_keyring needs the Python package keyring",
            ) from None
        value = keyring.get_password(source.value[0], user)
        if not value:
            raise _err(
                "キーリングにパスワードがありません（サービス {service}、ユーザー {user}）",
                "No password in the keyring for service {service}, user {user}",
                service=source.value[0],
                user=user,
            )
        return str(value)
    raise AssertionError(source.kind)
