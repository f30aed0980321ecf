"""``pop3doctor diagnose``: check every stage against the real server and say what to change."""

from __future__ import annotations

import asyncio
import errno
import os
import sys
from pathlib import Path

import click

from pop3doctor.cli.client_steps import client_option, print_steps, steps_payload
from pop3doctor.cli.console import make_console
from pop3doctor.cli.diagnose_accounts import refuse_per_account_options, run_accounts
from pop3doctor.cli.discover import settings_for_diagnose
from pop3doctor.cli.options import (
    CannotCreate,
    auth_option,
    check_reference,
    connection_options,
    read_password,
    security_and_port,
)
from pop3doctor.cli.render import render_finding, render_verdict
from pop3doctor.diagnosis.auto_security import auto_security
from pop3doctor.diagnosis.many import DEFAULT_JOBS, MAX_JOBS, MIN_JOBS
from pop3doctor.diagnosis.markdown import render_markdown
from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.escaping import json_text
from pop3doctor.i18n import Lang, catalog, resolve_lang

_t = catalog("cli")
_a = catalog("accounts")




async def _run(
    settings: Settings,
    password: str | None,
    *,
    lang: Lang,
    as_json: bool,
    report_path: str | None,
    nameservers: list[str] | None,
    try_username_forms: bool,
    extra_ports: tuple[int, ...] = (),
    reference: str | None = None,
    email: str | None = None,
    deadline: float | None = None,
    client: str | None = None,
) -> int:
    console = make_console(stderr=as_json)
    report = Report(settings)
    async for finding in diagnose(
        settings,
        password,
        nameservers=nameservers,
        try_username_forms=try_username_forms,
        extra_ports=extra_ports,
        report=report,
        reference=reference,
        email_domain=email,
        deadline=deadline,
    ):
        if not as_json:
            render_finding(console, finding, lang)
    if as_json:
        payload = report.to_dict(lang) | steps_payload(report.cause, client, lang)
        sys.stdout.write(json_text(payload, indent=2, default=str) + "\n")
    else:
        render_verdict(console, report, lang)
        print_steps(console, report.cause, client, lang)
    if report_path:
        try:
            Path(report_path).write_text(render_markdown(report, lang), encoding="utf-8")
        except OSError as exc:
            raise _unwritable(report_path, exc, lang) from None
        console.print(_t.DIAGNOSE_REPORT_SAVED(lang, path=report_path), markup=False)  # a path is not markup
    return report.exit_code


def _unwritable(path: str, exc: OSError, lang: Lang) -> CannotCreate:
    return CannotCreate(_t.REPORT_UNWRITABLE(lang, path=path, why=exc.strerror or type(exc).__name__))


def _check_report_path(path: str, lang: Lang) -> None:
    """Refuse a --report file that cannot be written before the diagnosis runs (up
    to a minute), not after.  Only a first look: the write itself is checked too,
    since permissions can change meanwhile and root passes every access test."""
    target = Path(path)
    parent = target.parent
    if target.exists():
        problem = None if os.access(target, os.W_OK) else errno.EACCES
    elif not parent.is_dir():
        problem = errno.ENOTDIR if parent.exists() else errno.ENOENT
    else:
        problem = None if os.access(parent, os.W_OK | os.X_OK) else errno.EACCES
    if problem is not None:
        raise _unwritable(path, OSError(problem, os.strerror(problem)), lang)


@click.command("diagnose")
@click.argument("address", metavar="[EMAIL]", required=False)
@connection_options
@click.option("--json", "as_json", is_flag=True, help="machine-readable report (schema pop3doctor.report/1)")
@click.option(
    "--report",
    "report_path",
    # Not click's writable=True: that says "usage error" (64) for a read-only file; ours says 73.
    type=click.Path(dir_okay=False),
    help="write a redacted Markdown support report to this file",
)
@auth_option
@click.option(
    "--extra-port",
    "extra_ports",
    type=click.IntRange(1, 65535),
    multiple=True,
    help="also probe this port when looking for working settings (besides 995 and 110)",
)
@click.option(
    "--reference",
    metavar="HOST:PORT",
    callback=check_reference,
    help="an endpoint that accepts TCP from anywhere; when the server does not answer, it tells "
    "'server down' from 'no internet' (default: none)",
)
@click.option(
    "--email",
    metavar="ADDRESS",
    help="your e-mail address: its domain gives 'did you mean' server names when the name does not exist",
)
@click.option(
    "--deadline",
    type=click.FloatRange(1, 3600),
    metavar="SECONDS",
    help="stop the whole check after this many seconds (default: max(60, 7 x --timeout))",
)
@click.option(
    "--try-username-forms",
    is_flag=True,
    help="after a failed login, also try the full e-mail address as user name (a 2nd attempt)",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="check every account of this accounts.toml (the file of fetch --config), one line each",
)
@click.option(
    "--jobs",
    type=click.IntRange(MIN_JOBS, MAX_JOBS),
    metavar="N",
    help=f"with --config: check up to N accounts at once (default {DEFAULT_JOBS}, {MIN_JOBS}..{MAX_JOBS})",
)
@client_option
@click.pass_context
def command(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    security: str,
    user: str | None,
    password_env: str | None,
    password_stdin: bool,
    ca_file: str | None,
    timeout: float,
    allow_plaintext: bool,
    dns_servers: tuple[str, ...],
    lang: str | None,
    as_json: bool,
    report_path: str | None,
    try_username_forms: bool,
    extra_ports: tuple[int, ...],
    auth: str,
    reference: str | None,
    email: str | None,
    deadline: float | None = None,
    address: str | None = None,
    config_path: Path | None = None,
    jobs: int | None = None,
    client: str | None = None,
) -> None:
    """受信できない原因を段階ごとに調べ、直し方を示します。
    Check every stage from name lookup to a real download, and say what to change."""
    language = resolve_lang(lang)
    if config_path is not None:
        refuse_per_account_options(ctx, language)
        sys.exit(
            run_accounts(
                config_path,
                jobs=DEFAULT_JOBS if jobs is None else jobs,
                lang=language,
                as_json=as_json,
                nameservers=list(dns_servers) or None,
                extra_ports=extra_ports,
                reference=reference,
                deadline=deadline,
            )
        )
    if jobs is not None:
        raise click.UsageError(_a.JOBS_NEED_CONFIG(language))
    if address and not host:
        # EMAIL without --host: find the settings first (discovery never sends a password).
        found = settings_for_diagnose(
            address, user=user, timeout=timeout, ca_file=ca_file, dns_servers=dns_servers, lang=language
        )
        host, user = found.host, found.user
        if port is None and security == "auto":  # an explicit --port or --security still wins
            port, security = found.port, found.security.value
        email = email or address
    if not host or not user:
        raise click.UsageError(_t.DIAGNOSE_NEED_HOST(language))
    if report_path:
        _check_report_path(report_path, language)
    password = read_password(user=user, password_env=password_env, password_stdin=password_stdin, lang=language)
    nameservers = list(dns_servers) or None
    chosen, chosen_port = security_and_port(security, port)
    if chosen is None or chosen_port is None:
        chosen, chosen_port = asyncio.run(
            auto_security(host, chosen_port, timeout=timeout, ca_file=ca_file, nameservers=nameservers)
        )
    settings = Settings(
        host, chosen_port, chosen, user, ca_file=ca_file, allow_plaintext=allow_plaintext, timeout=timeout, auth=auth
    )
    code = asyncio.run(
        _run(
            settings,
            password,
            lang=language,
            as_json=as_json,
            report_path=report_path,
            nameservers=nameservers,
            try_username_forms=try_username_forms,
            extra_ports=extra_ports,
            reference=reference,
            email=email,
            deadline=deadline,
            client=client,
        )
    )
    sys.exit(code)
