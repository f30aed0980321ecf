"""``pop3doctor diagnose --config accounts.toml [--jobs N]``: every account of the file, a line each.

The file is fetch's (`pop3doctor.sync.config`), read without needing a
destination: diagnose stores no mail.  Each account's line is printed as its
check ends, then a summary (accounts per verdict and per cause, wall time);
``--json`` prints the same as JSON lines instead (one object per account with
its full diagnose report, then the summary).  Exit status: the worst
account's (0 ok, 1 warnings, 2 a problem); 64 for a usage or config error.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console

from pop3doctor.cli.console import make_console
from pop3doctor.diagnosis.many import AccountCheck, AccountResult, PasswordUnavailable, Summary, diagnose_many
from pop3doctor.diagnosis.model import DEFAULT_TIMEOUT, Settings
from pop3doctor.escaping import json_text
from pop3doctor.i18n import Lang, catalog
from pop3doctor.sync.config import AccountConfig, ConfigError, load_config, resolve_password

_t = catalog("accounts")

#: Options that set one account's connection: with --config each account has its own in the file.
PER_ACCOUNT = (
    "address",
    "host",
    "port",
    "security",
    "user",
    "password_env",
    "password_stdin",
    "ca_file",
    "timeout",
    "allow_plaintext",
    "auth",
    "email",
    "report_path",
    # A second login attempt: a run of many accounts keeps to one each.
    "try_username_forms",
)


def refuse_per_account_options(ctx: click.Context, lang: Lang) -> None:
    """Exit 64 naming the first option given on the command line that the file sets per account."""
    for param in ctx.command.params:
        if param.name not in PER_ACCOUNT:
            continue
        if ctx.get_parameter_source(param.name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            # An option by its flag, the EMAIL argument by its metavar ("[EMAIL]" in the usage line).
            shown = param.opts[0] if isinstance(param, click.Option) else (param.metavar or param.name).strip("[]")
            raise click.UsageError(_t.CONFLICT(lang, option=shown), ctx=ctx)


def _check(config: AccountConfig) -> AccountCheck:
    endpoint = config.account.endpoint
    source = config.password

    def password() -> str:
        try:
            return resolve_password(source, endpoint.user)
        except ConfigError as exc:
            raise PasswordUnavailable(exc.msg) from None

    timeout = config.timeout if config.timeout is not None else DEFAULT_TIMEOUT
    return AccountCheck(config.name, Settings.of(endpoint, timeout=timeout), password)


def run_accounts(
    config_path: Path,
    *,
    jobs: int,
    lang: Lang,
    as_json: bool,
    nameservers: list[str] | None,
    extra_ports: tuple[int, ...],
    reference: str | None,
    deadline: float | None,
) -> int:
    """Check every account of ``config_path``; the exit code."""
    try:
        checks = [_check(c) for c in load_config(config_path, need_destination=False)]
    except ConfigError as exc:  # names the file and the key, in both languages
        raise click.UsageError(exc.msg(lang)) from None
    console = make_console()

    def show(result: AccountResult) -> None:
        if as_json:
            sys.stdout.write(json_text(result.to_dict(lang), default=str) + "\n")
            sys.stdout.flush()  # a reader (jq, a log) sees each account as it ends
            return
        line = _t.ACCOUNT_LINE(
            lang,
            name=result.name,
            verdict=_t.group("VERDICT")[result.verdict](lang),
            title=result.title(lang),
            cause=result.cause,
            seconds=f"{result.elapsed_s:.1f}",
        )
        style = {"ok": "green", "warning": "yellow", "problem": "red"}[result.verdict]
        try:
            console.print(line, markup=False, style=style)  # names and titles are text, not rich markup
        except SystemExit as exc:
            # rich exits 1 when stdout's reader is gone; inside the checks' task
            # group that would end as an unretrieved task error, not exit 141.
            if isinstance(exc.__context__, BrokenPipeError):
                raise BrokenPipeError() from None
            raise

    summary = asyncio.run(
        diagnose_many(
            checks,
            jobs=jobs,
            on_result=show,
            nameservers=nameservers,
            extra_ports=extra_ports,
            reference=reference,
            deadline=deadline,
        )
    )
    if as_json:
        sys.stdout.write(json_text(summary.to_dict(lang)) + "\n")
    else:
        _render_summary(console, summary, lang)
    return summary.exit_code


def _render_summary(console: Console, summary: Summary, lang: Lang) -> None:
    verdicts = summary.verdicts
    console.print()
    console.print(
        _t.SUMMARY(
            lang,
            n=len(summary.results),
            seconds=f"{summary.wall_s:.1f}",
            jobs=summary.jobs,
            ok=verdicts["ok"],
            warning=verdicts["warning"],
            problem=verdicts["problem"],
        ),
        markup=False,
        style="bold",
    )
    for cause, count in summary.causes:
        console.print(
            _t.SUMMARY_CAUSE(lang, count=count, title=summary.cause_title(cause, lang), cause=cause), markup=False
        )
