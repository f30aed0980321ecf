"""Connection options shared by ``diagnose`` and ``fetch``, and safe password input.

A password is never accepted as an argument (it would show in ``ps``, shell
history and CI logs): it comes from an environment variable named with
``--password-env``, from standard input with ``--password-stdin``, or from a
prompt on a terminal.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from pop3doctor.diagnosis.triangulation import parse_reference
from pop3doctor.endpoint import AUTH_METHODS, DEFAULT_PORTS, Security, default_port, host_problem
from pop3doctor.i18n import Lang, catalog, resolve_lang

_t = catalog("cli")

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USAGE = 64  # sysexits.h EX_USAGE
EX_NOINPUT = 66  # sysexits.h: an input file the user named cannot be read (explain --file)
EX_SOFTWARE = 70  # sysexits.h: an internal error (a bug of ours), never a verdict about the server
EX_CANTCREAT = 73  # sysexits.h: an output file (--report) cannot be created
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports when the reader of stdout went away


class CannotCreate(click.ClickException):
    """An output file the user named cannot be written: its ja/en message, exit 73."""

    exit_code = EX_CANTCREAT


class CannotRead(click.ClickException):
    """An input file the user named cannot be read: its ja/en message, exit 66."""

    exit_code = EX_NOINPUT


def connection_options(func: F) -> F:
    """--host --port --security --user --password-env --password-stdin --ca-file --timeout --allow-plaintext."""
    return _connection_options(func, timeout=True)


def connection_options_but_timeout(func: F) -> F:
    """`connection_options` without ``--timeout``: for ``check``, where the Monitoring Plugins
    guidelines reserve -t/--timeout for the limit of the whole run (the command names
    the per-step limit otherwise)."""
    return _connection_options(func, timeout=False)


def _connection_options(func: F, *, timeout: bool) -> F:
    decorators = [
        click.option("--host", "-H", callback=check_host, help="受信メールサーバー / incoming (POP3) server name"),
        click.option("--port", "-p", type=click.IntRange(1, 65535), help="port (default: 995 ssl, 110 starttls/plain)"),
        click.option(
            "--security",
            type=click.Choice(["ssl", "starttls", "plain", "auto"]),
            default="auto",
            show_default=True,
            help="ssl = SSL/TLS (995), starttls = STARTTLS (110), plain = none; auto picks by port",
        ),
        click.option("--user", "-u", help="ユーザー名 / user name (often the full e-mail address)"),
        click.option("--password-env", metavar="VAR", help="read the password from environment variable VAR"),
        click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin"),
        click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="extra CA certificates (PEM)"),
        click.option(
            "--allow-plaintext",
            is_flag=True,
            help="allow sending the password without encryption (not recommended)",
        ),
        click.option("--dns-server", "dns_servers", multiple=True, metavar="IP[:PORT]", help="use this DNS server"),
        # Eager, so that the other options' checks (--host) speak the chosen language.
        click.option(
            "--lang", type=click.Choice(["ja", "en"]), is_eager=True, help="言語 / language (default: from the locale)"
        ),
    ]
    if timeout:
        decorators.insert(
            7,
            click.option(
                "--timeout", type=click.FloatRange(0.1, 600), default=8.0, show_default=True, help="connect timeout, s"
            ),
        )
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


#: ``--auth``, for diagnose and fetch alike: the mail program's login method.
auth_option = click.option(
    "--auth",
    type=click.Choice(AUTH_METHODS),
    default="auto",
    show_default=True,
    help=(
        "ログイン方式 / login method, as set in the mail program: auto = 通常のパスワード / normal password"
        " (AUTH PLAIN, LOGIN or USER/PASS); cram-md5, apop = 暗号化されたパスワード / encrypted password,"
        " used only when chosen"
    ),
)


def check_host(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--host`` must be a name or IP literal that can be looked up (`host_problem`): exit 64 otherwise."""
    if value is None:
        return None
    problem = host_problem(value)
    if problem is not None:
        raise click.UsageError(problem(resolve_lang(ctx.params.get("lang"))), ctx=ctx)
    return value


def check_reference(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--reference HOST:PORT`` must parse (`parse_reference`): exit 64 otherwise."""
    if value is None:
        return None
    try:
        parse_reference(value)
    except ValueError:
        raise click.BadParameter(_t.DIAGNOSE_BAD_REFERENCE(resolve_lang(ctx.params.get("lang")))) from None
    return value


def read_password(
    *, user: str, password_env: str | None, password_stdin: bool, lang: Lang, prompt: bool = True
) -> str | None:
    """The password from env, stdin or a terminal prompt; None when none is available."""
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise click.UsageError(_t.PASSWORD_ENV_UNSET(lang, var=password_env))
        return value
    if password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.UsageError(_t.PASSWORD_EMPTY(lang))
        return line
    if prompt and sys.stdin.isatty():
        return getpass.getpass(_t.PASSWORD_PROMPT(lang, user=user))
    return None


def security_and_port(security: str, port: int | None) -> tuple[Security | None, int | None]:
    """Resolve ``auto``: a standard port says its mode (995 SSL/TLS, 110 STARTTLS); otherwise None (probe).

    An explicit mode without a port gets that mode's standard port.
    """
    if security != "auto":
        mode = Security(security)
        return mode, default_port(mode, port)
    for mode in (Security.SSL, Security.STARTTLS):
        if port == DEFAULT_PORTS[mode]:
            return mode, port
    return None, port
