"""``pop3doctor check``: the diagnosis as a monitoring plugin (Nagios, Icinga 2, Naemon, Checkmk, Zabbix).

It runs the same diagnosis as ``diagnose`` (or, with ``--no-login``, the
login-free probe of ``probe``) and says the result the way the Monitoring
Plugins development guidelines ask (`pop3doctor.cli.plugin_format`): one line
``POP3 STATE - text | perfdata`` and the exit code 0/1/2/3.

What the guidelines fix, and how this command follows them:

- every outcome is a state: a cause found by the diagnosis maps to one
  (`pop3doctor.cli.check_verdict.CAUSE_STATES`); a usage error, an internal
  error, ``-h/--help`` and ``-V/--version`` exit 3 (UNKNOWN), never the 64 or
  70 of the other commands, which a monitoring engine would misread;
- ``-t/--timeout`` is the limit of the whole run, ending in UNKNOWN with the
  step it stopped in; the per-step network limit is ``--connect-timeout``;
- ``-w/-c`` are range expressions for the response time (the whole check, in
  seconds); ``--warning-days``/``--critical-days`` the certificate's days left.

The password is read as ``diagnose`` reads it (``--password-env``,
``--password-stdin``), never from an argument: an engine's command line is
visible to every local user.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import time
import traceback
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from pop3doctor import __version__
from pop3doctor.cli.check_verdict import Problem, Reading, read_report, read_server_info
from pop3doctor.cli.options import (
    auth_option,
    check_reference,
    connection_options_but_timeout,
    read_password,
    security_and_port,
)
from pop3doctor.cli.plugin_format import PerfDatum, Range, State, check_range, number, status_line, worst
from pop3doctor.diagnosis.auto_security import auto_security
from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.diagnosis.text import SECURITY_LABELS, STAGE_NAMES
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Lang, catalog, resolve_lang
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.units import human_size

_t = catalog("check")

#: The service name that starts the status line, as check_pop's "POP OK".
SERVICE = "POP3"

#: The guidelines' "sane default" for -t/--timeout.  Below the 60 s after
#: which Icinga 2 (CheckCommand ``timeout``) and Nagios (``service_check_timeout``)
#: kill a plugin, so the plugin's own UNKNOWN, naming the step, arrives first.
DEFAULT_TIMEOUT = 30.0

#: The per-step network limit unless --connect-timeout says otherwise: the
#: diagnosis's own default, but at most a third of -t, so one slow step still
#: leaves time to say which it was.
STEP_TIMEOUT = 8.0

#: Certificate days-left thresholds.  ACME clients renew when a third of the
#: lifetime is left (30 of Let's Encrypt's 90 days; 15 of the 45 planned), so
#: fewer than 14 days left means renewal has failed; 7 still leaves a week.
WARNING_DAYS = 14.0
CRITICAL_DAYS = 7.0

#: A days threshold: up to a century, far beyond any certificate (and never "inf").
_DAYS = click.FloatRange(0, 36500)

#: Seconds added to -t before the last-resort stop: the diagnosis stops itself
#: at -t and reports the step; this only catches a step that ignores it.
_GRACE = 2.0


def _args_lang(args: list[str]) -> Lang:
    """``--lang`` from the raw arguments: parsing them may be what failed."""
    for i, arg in enumerate(args):
        if arg.startswith("--lang="):
            return resolve_lang(arg.split("=", 1)[1])
        if arg == "--lang" and i + 1 < len(args):
            return resolve_lang(args[i + 1])
    return resolve_lang(None)


def _say(state: State, text: str, perfdata: list[PerfDatum] | None = None) -> None:
    click.echo(status_line(SERVICE, state, text, perfdata or []))


def _unknown_exit(text: str) -> NoReturn:
    _say(State.UNKNOWN, text)
    raise SystemExit(int(State.UNKNOWN))


class _PluginCommand(click.Command):
    """A click command whose every failure is a status line and exit 3 (UNKNOWN).

    click reports a bad option itself (exit 2, which a monitoring engine reads
    as CRITICAL) and ``pop3doctor`` turns that into 64; neither is a state.
    """

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        lang = _args_lang(args)
        try:
            return super().make_context(info_name, list(args), parent, **extra)
        except click.UsageError as exc:
            _unknown_exit(_t.CHECK_USAGE(lang, detail=exc.format_message()))

    def invoke(self, ctx: click.Context) -> Any:
        lang = resolve_lang(ctx.params.get("lang"))
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _unknown_exit(_t.CHECK_USAGE(lang, detail=exc.format_message()))
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            # A bug of ours: never a verdict about the server.  Only the type is
            # named (its text may hold server bytes); --debug adds the traceback.
            if ctx.parent is not None and ctx.parent.params.get("debug"):
                traceback.print_exception(exc)
            _unknown_exit(_t.CHECK_INTERNAL(lang, kind=type(exc).__name__))


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(ctx.get_help())
        ctx.exit(int(State.UNKNOWN))  # the guidelines: --help exits UNKNOWN


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"pop3doctor check {__version__}")
        ctx.exit(int(State.UNKNOWN))  # the guidelines: --version exits UNKNOWN


def _range(ctx: click.Context, param: click.Parameter, value: str | None) -> Range | None:
    if value is None:
        return None
    try:
        return Range.parse(value)
    except ValueError:
        raise click.BadParameter(_t.CHECK_BAD_RANGE(resolve_lang(ctx.params.get("lang")), value=value)) from None


@click.command("check", cls=_PluginCommand, add_help_option=False)
@click.option("-h", "--help", is_flag=True, expose_value=False, is_eager=True, callback=_show_help,
              help="このヘルプ（終了コード 3）/ show this help and exit 3 (UNKNOWN), as the guidelines ask")
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="バージョン（終了コード 3）/ show the version and exit 3 (UNKNOWN)")
@connection_options_but_timeout
@auth_option
@click.option(
    "-t", "--timeout", type=click.FloatRange(1, 3600), default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
    help="全体の制限時間 / limit of the whole check; when it passes: UNKNOWN, naming the step",
)
@click.option(
    "--connect-timeout", type=click.FloatRange(0.1, 600), metavar="SECONDS",
    help=f"各段階の制限時間 / limit of each network step (default: {number(STEP_TIMEOUT)}, at most a third of -t)",
)
@click.option("-w", "--warning", callback=_range, metavar="RANGE",
              help="応答時間の警告範囲 / response time (whole check, s) range for WARNING, e.g. 5 or @5:")
@click.option("-c", "--critical", callback=_range, metavar="RANGE",
              help="応答時間の危険範囲 / response time (whole check, s) range for CRITICAL, e.g. 10")
@click.option("--warning-days", type=_DAYS, default=WARNING_DAYS, show_default=True, metavar="DAYS",
              help="証明書の残り日数がこれ未満で WARNING / WARNING when the certificate has fewer days left")
@click.option("--critical-days", type=_DAYS, default=CRITICAL_DAYS, show_default=True, metavar="DAYS",
              help="証明書の残り日数がこれ未満で CRITICAL / CRITICAL when the certificate has fewer days left")
@click.option("--no-login", is_flag=True,
              help="ログインしない（接続・TLS・証明書・応答のみ）/ no login: the probe's checks only (no password)")
@click.option(
    "--reference", metavar="HOST:PORT", callback=check_reference,
    help="an endpoint that accepts TCP from anywhere; tells 'server down' from 'no internet'",
)
def command(
    host: str | None,
    port: int | None,
    security: str,
    user: str | None,
    password_env: str | None,
    password_stdin: bool,
    ca_file: str | None,
    allow_plaintext: bool,
    dns_servers: tuple[str, ...],
    lang: str | None,
    auth: str,
    timeout: float,
    connect_timeout: float | None,
    warning: Range | None,
    critical: Range | None,
    warning_days: float,
    critical_days: float,
    no_login: bool,
    reference: str | None,
) -> None:
    """監視プラグイン: POP3 サーバーを診断し、Nagios/Icinga 形式の 1 行と終了コードで答えます。
    A monitoring plugin: diagnose the POP3 server and answer with one status line
    (POP3 OK|WARNING|CRITICAL|UNKNOWN - text | perfdata) and exit 0/1/2/3."""
    language = resolve_lang(lang)
    if not host:
        raise click.UsageError(_t.CHECK_NEED_HOST(language))
    if critical_days > warning_days:
        raise click.UsageError(_t.CHECK_DAYS_ORDER(language, critical=critical_days, warning=warning_days))
    password: str | None = None
    if not no_login:
        if not user:
            raise click.UsageError(_t.CHECK_NEED_USER(language))
        password = read_password(user=user, password_env=password_env, password_stdin=password_stdin, lang=language)
        if password is None:
            raise click.UsageError(_t.CHECK_NEED_PASSWORD(language))
    step_timeout = connect_timeout if connect_timeout is not None else min(STEP_TIMEOUT, timeout / 3)
    plan = _Plan(host, port, security, user or "", ca_file, allow_plaintext, auth, step_timeout,
                 list(dns_servers) or None, reference)
    reading, endpoint = asyncio.run(_checked(plan, password, timeout=timeout, no_login=no_login))
    thresholds = _Thresholds(warning, critical, warning_days, critical_days)
    state, text, perfdata = _verdict(reading, endpoint, thresholds, language, timeout=timeout, no_login=no_login)
    _say(state, text, perfdata)
    click.get_current_context().exit(int(state))


# --- running the check ------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """The settings of one check, before ``--security auto`` is resolved."""

    host: str
    port: int | None
    security: str
    user: str
    ca_file: str | None
    allow_plaintext: bool
    auth: str
    step_timeout: float
    nameservers: list[str] | None
    reference: str | None


@dataclass(frozen=True)
class _Endpoint:
    """Where the check went, for the status line's text."""

    host: str
    port: int
    security: Security

    def label(self, lang: Lang) -> str:
        return f"{self.host}:{self.port} {SECURITY_LABELS[self.security.value](lang)}"


async def _checked(plan: _Plan, password: str | None, *, timeout: float, no_login: bool) -> tuple[Reading, _Endpoint]:
    """The check's `Reading`, within ``timeout`` seconds whatever the server does."""
    started = time.monotonic()
    ends = asyncio.get_running_loop().time() + timeout
    chosen, chosen_port = security_and_port(plan.security, plan.port)
    fallback = _Endpoint(plan.host, chosen_port or 995, chosen or Security.SSL)
    # What a last-resort stop reports: choosing the mode and probing are connect-stage work.
    partial = Reading(deadline_stage="connect")
    try:
        async with asyncio.timeout_at(ends + _GRACE):
            if chosen is not None and chosen_port is not None:
                endpoint = _Endpoint(plan.host, chosen_port, chosen)
            else:  # --security auto on a port that does not say the mode: ask the server, as diagnose does
                mode, mode_port = await asyncio.wait_for(
                    auto_security(plan.host, chosen_port, timeout=plan.step_timeout, ca_file=plan.ca_file,
                                  nameservers=plan.nameservers),
                    max(ends - asyncio.get_running_loop().time(), 0.1),
                )
                endpoint = _Endpoint(plan.host, mode_port, mode)
            fallback = endpoint
            partial.deadline_stage = "summary" if not no_login else "connect"
            left = max(ends - asyncio.get_running_loop().time(), 1.0)
            if no_login:
                reading = await _probe(plan, endpoint, left)
            else:
                reading = await _diagnosis(plan, endpoint, password, left)
    except TimeoutError:
        partial.problems.append(Problem(State.UNKNOWN, "diagnosis-deadline", get_cause("diagnosis-deadline").title))
        reading, endpoint = partial, fallback
    if reading.total_s is None:
        reading.total_s = time.monotonic() - started
    return reading, endpoint


async def _diagnosis(plan: _Plan, endpoint: _Endpoint, password: str | None, seconds: float) -> Reading:
    settings = Settings(
        plan.host, endpoint.port, endpoint.security, plan.user, ca_file=plan.ca_file,
        allow_plaintext=plan.allow_plaintext, timeout=plan.step_timeout, auth=plan.auth,
    )
    report = Report(settings)
    async for _finding in diagnose(
        settings, password, nameservers=plan.nameservers, report=report, reference=plan.reference,
        deadline=seconds,
    ):
        pass  # the report collects them; a plugin prints one line at the end
    return read_report(report)


async def _probe(plan: _Plan, endpoint: _Endpoint, seconds: float) -> Reading:
    # Imported when used: only --no-login needs the probe module (issue 19's
    # shared probe, `probe_server`; read through `ServerInfoLike`).
    probe_server = importlib.import_module("pop3doctor.diagnosis.serverinfo").probe_server
    async with asyncio.timeout(seconds):
        info = await probe_server(
            plan.host, [(endpoint.port, endpoint.security)], timeout=plan.step_timeout, ca_file=plan.ca_file,
            nameservers=plan.nameservers,
        )
    return read_server_info(info)


# --- the verdict ------------------------------------------------------------------


@dataclass(frozen=True)
class _Thresholds:
    """-w/-c (ranges, seconds) and the certificate's days, as ranges (``N:``) too."""

    warning: Range | None
    critical: Range | None
    warning_days: float
    critical_days: float

    def days_state(self, days: float) -> State:
        return check_range(days, Range.at_least(self.warning_days), Range.at_least(self.critical_days))


def _verdict(
    reading: Reading, endpoint: _Endpoint, limits: _Thresholds, lang: Lang, *, timeout: float, no_login: bool
) -> tuple[State, str, list[PerfDatum]]:
    """The state, the text and the perfdata of a finished check."""
    perfdata = _perfdata(reading, limits)
    states = [reading.state]
    texts: list[tuple[State, str]] = []
    for problem in reading.problems:
        if problem.cause == "diagnosis-deadline":
            stage = STAGE_NAMES.get(reading.deadline_stage or "", STAGE_NAMES["summary"])(lang)
            texts.append((problem.state, _t.CHECK_DEADLINE(lang, seconds=number(timeout), stage=stage)))
        elif problem.state is not State.OK:
            texts.append((problem.state, problem.text(lang)))
    days = reading.cert_days_left()
    if days is not None and days >= 0:
        cert_state = limits.days_state(days)
        if cert_state is not State.OK:
            limit = limits.critical_days if cert_state is State.CRITICAL else limits.warning_days
            texts.append((cert_state, _t.CHECK_CERT_SOON(lang, date=_date(reading), days=f"{days:.1f}",
                                                          limit=number(limit))))
            states.append(cert_state)
    if reading.total_s is not None and reading.state is not State.UNKNOWN:
        time_state = check_range(reading.total_s, limits.warning, limits.critical)
        if time_state is not State.OK:
            broken = limits.critical if time_state is State.CRITICAL else limits.warning
            texts.append((time_state, _t.CHECK_SLOW(lang, seconds=f"{reading.total_s:.3f}", range=str(broken))))
            states.append(time_state)
    state = worst(*states)
    if not texts:
        return state, _ok_text(reading, endpoint, lang, no_login=no_login), perfdata
    # The worst first: a monitoring view shows the start of the line.
    ordered = [text for s, text in sorted(texts, key=lambda st: -_rank(st[0]))]
    return state, f"{endpoint.label(lang)}: " + "; ".join(ordered), perfdata


def _rank(state: State) -> int:
    return [State.OK, State.WARNING, State.UNKNOWN, State.CRITICAL].index(state)


def _date(reading: Reading) -> str:
    return reading.cert_not_after.date().isoformat() if reading.cert_not_after else "?"


def _ok_text(reading: Reading, endpoint: _Endpoint, lang: Lang, *, no_login: bool) -> str:
    head = (_t.CHECK_OK_NO_LOGIN if no_login else _t.CHECK_OK)(lang, endpoint=endpoint.label(lang))
    parts = [head]
    if reading.messages is not None:
        parts.append(_t.CHECK_MAILBOX(lang, count=reading.messages, size=human_size(reading.octets or 0)))
    days = reading.cert_days_left()
    if days is not None:
        parts.append(_t.CHECK_CERT_LEFT(lang, date=_date(reading), days=f"{days:.0f}"))
    return ", ".join(parts)


def _perfdata(reading: Reading, limits: _Thresholds) -> list[PerfDatum]:
    """What was measured, in the guidelines' units: seconds, a plain count, bytes (B)."""
    out: list[PerfDatum] = []
    for label, value in (
        ("connect_time", reading.connect_s),
        ("tls_time", reading.tls_s),
        ("login_time", reading.login_s),
        ("retrieval_time", reading.retrieval_s),
    ):
        if value is not None:
            out.append(PerfDatum(label, round(value, 6), "s", minimum=0))
    if reading.total_s is not None:
        out.append(PerfDatum("time", round(reading.total_s, 6), "s", limits.warning, limits.critical, minimum=0))
    if reading.messages is not None:
        out.append(PerfDatum("messages", reading.messages, minimum=0))
        out.append(PerfDatum("mailbox_size", reading.octets or 0, "B", minimum=0))
    days = reading.cert_days_left(dt.datetime.now(dt.UTC))
    if days is not None:
        warn, crit = Range.at_least(limits.warning_days), Range.at_least(limits.critical_days)
        out.append(PerfDatum("cert_days_left", round(days, 2), "", warn, crit))
    return out
