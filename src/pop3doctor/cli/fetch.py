"""``pop3doctor fetch``: receive mail into a Maildir or mbox, safely.

Thin front end over `pop3doctor.sync`: parses options, finds the password
(environment variable, stdin, a terminal prompt, or the config file's
source -- never an argument), shows progress on a terminal, prints a text or
``--json`` summary.  Exit status: 0 all fetched, 1 partial, 2 could not
fetch at all (connection, login, lock, or a destination that stored nothing:
read-only, full, not a directory; a damaged or unwritable state; an mbox
another program keeps locked), 64 usage error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import platformdirs
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pop3doctor.cli.console import make_console
from pop3doctor.cli.interrupt import FetchInterrupted, QuitWatch
from pop3doctor.cli.options import auth_option, connection_options, read_password, security_and_port
from pop3doctor.endpoint import Endpoint, Security, default_port
from pop3doctor.escaping import json_text, visible
from pop3doctor.i18n import Lang, catalog, resolve_lang
from pop3doctor.knowledge.causes import CAUSE_CODES, get_cause
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.sync.config import AccountConfig, ConfigError, PasswordSource, load_config, resolve_password
from pop3doctor.sync.engine import Account, DeleteMode, FetchOptions, fetch_account
from pop3doctor.sync.errors import MboxLocked
from pop3doctor.sync.maildir import MaildirStore
from pop3doctor.sync.mbox import LOCK_WAIT_SECONDS, MboxStore
from pop3doctor.sync.report import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, FetchReport
from pop3doctor.sync.store import Store
from pop3doctor.units import human_size

_t = catalog("cli")


_Job = tuple[Account, PasswordSource | None, Store, FetchOptions]


class _Usage(click.UsageError):
    exit_code = EXIT_USAGE


class _FetchCommand(click.Command):
    """``--password`` gets a clear refusal (and no echo of its value) instead of "no such option"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for arg in args:
            if arg == "--" or not arg.startswith("-"):
                continue
            if arg.split("=", 1)[0] in ("--password", "--pass"):
                lang = resolve_lang(_lang_in(args))
                raise _Usage(_t.FETCH_NO_PASSWORD_ARG(lang), ctx=ctx)
        return super().parse_args(ctx, args)


def _lang_in(args: Sequence[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/pop3doctor/fetch`` on Linux (platformdirs elsewhere)."""
    return Path(platformdirs.user_state_dir("pop3doctor")) / "fetch"


class _RichProgress:
    """Messages done/total, octets, rate and time left, on stderr (a terminal only)."""

    def __init__(self, console: Console, label: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),  # the label is a host name, not markup
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        # Rendered as a Text, not through render_str: made visible here (a config's user name).
        self.label = visible(label)
        self.messages: TaskID | None = None
        self.done = 0
        self.total_messages = 0

    def start(self, messages: int, octets: int) -> None:
        self.progress.start()
        self.messages = self.progress.add_task(self.label, total=octets or None, count=f"0/{messages}")
        self.total_messages = messages

    def advance(self, octets: int) -> None:
        if self.messages is not None:
            self.progress.advance(self.messages, octets)

    def message_done(self) -> None:
        self.done += 1
        if self.messages is not None:
            self.progress.update(self.messages, count=f"{self.done}/{self.total_messages}")

    def stop(self) -> None:
        self.progress.stop()


def _render(report: FetchReport, lang: Lang, console: Console) -> None:
    if report.dry_run and report.stop_cause is None:
        console.print(
            _t.FETCH_DRY(
                lang,
                account=report.account,
                fetch=report.would_fetch,
                delete=report.would_delete,
                total=report.on_server,
            ),
            markup=False,
        )
    elif report.outcome == "no-new-messages" and not report.deleted:
        console.print(
            _t.FETCH_NO_NEW(lang, account=report.account, total=report.on_server, dest=report.destination),
            markup=False,
        )
    elif report.outcome == "nothing-fetched" and report.uid_source is not None:
        console.print(_t.FETCH_NOTHING(lang, account=report.account, new=report.new), markup=False)
    elif report.stop_stage not in ("lock", "state", "prepare", "connect", "login"):
        console.print(
            _t.FETCH_SUMMARY(
                lang,
                account=report.account,
                fetched=report.fetched,
                size=human_size(report.fetched_octets),
                deleted=report.deleted,
                dest=report.destination,
            ),
            markup=False,
        )
    for note in report.notes:
        console.print(note.msg(lang), markup=False, style="cyan")
    if report.state_set_aside is not None:
        console.print(
            _t.FETCH_STATE_REBUILT(lang, aside=report.state_set_aside, n=report.rebuilt, dest=report.destination),
            markup=False,
            style="cyan",
        )
    for saved in report.saved_elsewhere[:3]:
        console.print(
            _t.FETCH_SAVED_ELSEWHERE(lang, n=saved.count, dest=saved.destination, date=saved.last_text()),
            markup=False,
            style="cyan",
        )
    if report.refetched:
        console.print(_t.FETCH_REFETCHED(lang, n=report.refetched), markup=False, style="cyan")
    if report.duplicate_uidl:
        console.print(_t.FETCH_KEPT_DUPLICATE_UIDL(lang, n=report.duplicate_uidl), markup=False, style="yellow")
    if report.skipped_too_large:
        console.print(_t.FETCH_SKIPPED_BIG(lang, n=report.skipped_too_large), markup=False, style="yellow")
    if report.failed:
        console.print(_t.FETCH_FAILED(lang, n=len(report.failed)), markup=False, style="yellow")
        for failed in report.failed[:10]:
            console.print(f"  #{failed.msgnum} {failed.uid or ''}: {failed.detail} ({failed.cause})", markup=False)
    if report.stop_cause is not None:
        console.print(f"{_t.FETCH_STOPPED(lang)}: {report.stop_message(lang)}", markup=False, style="bold red")
        if report.stop_cause in CAUSE_CODES:
            cause = get_cause(report.stop_cause)
            console.print(f"  {_t.FETCH_CAUSE_CODE(lang)}: {report.stop_cause}", markup=False)
            console.print(f"  {cause.explanation_text(lang, report.settings)}", markup=False)
            console.print(f"  {_t.WHAT_TO_DO(lang)}:", markup=False)
            for number, step in enumerate(cause.remedy_text(lang, report.settings), 1):
                console.print(f"    {number}. {step}", markup=False)
        if report.stop_detail:
            console.print(f"  {_t.FETCH_DETAIL(lang)}: {report.stop_detail}", markup=False, style="dim")


def _overall(codes: Sequence[int]) -> int:
    if all(code == EXIT_OK for code in codes):
        return EXIT_OK
    if all(code == EXIT_FAILED for code in codes):
        return EXIT_FAILED
    return EXIT_PARTIAL


async def _run_one(
    account: Account,
    password: str,
    store: Store,
    state_dir: Path,
    options: FetchOptions,
    show_progress: bool,
    err_console: Console,
    lang: Lang,
    watch: QuitWatch,
) -> FetchReport:
    progress = _RichProgress(err_console, f"{_t.FETCH_PROGRESS(lang)} {account.label}") if show_progress else None

    def waiting(locked: MboxLocked, seconds: float) -> None:
        holder = FetchReport(account.label, str(store.location))
        holder.stop_fields = {"kind": locked.kind, "path": str(locked.path), "holder": locked.holder}
        err_console.print(
            _t.FETCH_LOCK_WAITING(lang, path=locked.path, seconds=f"{seconds:g}", holder=holder.lock_holder(lang)),
            markup=False,
        )

    try:
        return await fetch_account(
            account, password, store, state_dir, options, progress=progress, on_lock_wait=waiting, on_stage=watch
        )
    finally:
        if progress is not None:
            progress.stop()


def _store(maildir: Path | None, mbox: Path | None, lock_wait: float) -> Store:
    if maildir is not None:
        return MaildirStore(maildir)
    assert mbox is not None
    return MboxStore(mbox, lock_wait=lock_wait)


@click.command("fetch", cls=_FetchCommand)
@connection_options
@auth_option
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path), help="Deliver into this Maildir.")
@click.option("--mbox", type=click.Path(dir_okay=False, path_type=Path), help="Append to this mbox file.")
@click.option("--keep", "mode", flag_value="keep", default=True, help="Leave mail on the server (default).")
@click.option("--delete", "mode", flag_value="delete", help="Delete messages from the server once saved.")
@click.option(
    "--delete-after-days",
    type=click.FloatRange(min=0),
    metavar="N",
    help="Delete saved messages first seen N or more days ago.",
)
@click.option(
    "--only-new", is_flag=True, help="First run: record what is on the server as seen, fetch only later mail."
)
@click.option("--max-size", type=click.IntRange(min=0), metavar="BYTES", help="Leave larger messages on the server.")
@click.option("--dry-run", is_flag=True, help="Show what would be fetched and deleted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the UIDL state (default: the user state directory).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="accounts.toml with one or more accounts.",
)
@click.option("--account", "account_names", multiple=True, help="Only this account of --config (repeatable).")
@click.option(
    "--rebuild-state",
    is_flag=True,
    help="If the state file is damaged: keep it aside and rebuild it from the destination's mail.",
)
@click.option("--refetch", is_flag=True, help="Fetch again messages fetched earlier to another destination.")
@click.option(
    "--lock-wait",
    type=click.FloatRange(min=0),
    default=LOCK_WAIT_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another program's mbox lock.",
)
@click.option("--window", type=click.IntRange(min=1), hidden=True, help="RETR pipelining window (1: no pipelining).")
def command(**opts: Any) -> None:
    """メールを受信して Maildir か mbox に安全に保存します。
    Fetch mail into a Maildir or mbox, safely (never lost, never twice)."""
    lang = resolve_lang(opts["lang"])
    raise SystemExit(_main(opts, lang))


def _main(opts: dict[str, Any], lang: Lang) -> int:
    out = make_console()
    err = make_console(stderr=True)
    state_dir: Path = opts["state_dir"] or default_state_dir()
    show_progress = err.is_terminal and not opts["as_json"]
    jobs: list[_Job] = []
    try:
        if opts["config_path"] is not None:
            jobs = _jobs_from_config(opts)
        else:
            jobs = [_job_from_options(opts)]
    except ConfigError as exc:
        raise _Usage(exc.msg(lang)) from None

    watch = QuitWatch()
    try:
        return _fetch_all(jobs, opts, lang, state_dir, show_progress, out, err, watch)
    except KeyboardInterrupt as exc:
        # asyncio.run turned the run's cancellation into KeyboardInterrupt;
        # whether QUIT had gone out decides what the message may promise.
        raise FetchInterrupted(after_quit=watch.quit_sent) from exc


def _fetch_all(
    jobs: list[_Job],
    opts: dict[str, Any],
    lang: Lang,
    state_dir: Path,
    show_progress: bool,
    out: Console,
    err: Console,
    watch: QuitWatch,
) -> int:
    reports: list[FetchReport] = []
    for account, source, store, options in jobs:
        try:
            password = _password(opts, source, account, lang)
        except ConfigError as exc:
            if len(jobs) == 1:
                raise _Usage(exc.msg(lang)) from None
            failed = FetchReport(account=account.label, destination=str(store.location))
            failed.stop("auth-failed", "login", exc.msg(lang))
            reports.append(failed)
            continue
        report = asyncio.run(_run_one(account, password, store, state_dir, options, show_progress, err, lang, watch))
        del password
        reports.append(report)
        if not opts["as_json"]:
            _render(report, lang, out if report.exit_code == EXIT_OK else err)

    code = _overall([r.exit_code for r in reports])
    if opts["as_json"]:
        if opts["config_path"] is None:
            payload: object = reports[0].to_json(lang)
        else:
            payload = {"accounts": [r.to_json(lang) for r in reports], "exit_code": code}
        click.echo(json_text(payload))
    return code


def _options(opts: dict[str, Any]) -> FetchOptions:
    mode: DeleteMode = opts["mode"]
    days = opts["delete_after_days"]
    if days is not None:
        if mode == "delete":
            raise _Usage("--delete and --delete-after-days exclude each other")
        mode = "after-days"
    return FetchOptions(
        delete=mode,
        delete_after_days=days or 0.0,
        only_new=opts["only_new"],
        max_size=opts["max_size"],
        dry_run=opts["dry_run"],
        window=opts["window"],
        **_state_options(opts),
    )


def _state_options(opts: dict[str, Any]) -> dict[str, Any]:
    """The state and lock options, the same for every account of a run."""
    return {"rebuild_state": opts["rebuild_state"], "refetch": opts["refetch"], "lock_wait": opts["lock_wait"]}


def _job_from_options(opts: dict[str, Any]) -> _Job:
    if not opts["host"] or not opts["user"]:
        raise _Usage("--host and --user are required (or --config FILE)")
    if (opts["maildir"] is None) == (opts["mbox"] is None):
        raise _Usage("give exactly one of --maildir DIR and --mbox FILE")
    if opts["account_names"]:
        raise _Usage("--account needs --config")
    security, port = security_and_port(opts["security"], opts["port"])
    # "auto" on an unusual port: implicit TLS, the safe choice (RFC 8314).
    security = security or Security.SSL
    endpoint = Endpoint(
        opts["host"],
        default_port(security, port),
        security,
        opts["user"],
        ca_file=opts["ca_file"],
        allow_plaintext=opts["allow_plaintext"],
        auth=opts["auth"],
    )
    account = Account(
        endpoint, timeouts=Timeouts.from_total(opts["timeout"]), nameservers=list(opts["dns_servers"]) or None
    )
    return account, None, _store(opts["maildir"], opts["mbox"], opts["lock_wait"]), _options(opts)


def _jobs_from_config(opts: dict[str, Any]) -> list[_Job]:
    for name in ("host", "user", "maildir", "mbox", "password_env", "password_stdin", "port", "ca_file"):
        if opts[name]:
            raise _Usage(f"--{name.replace('_', '-')} cannot be combined with --config")
    configs: list[AccountConfig] = load_config(opts["config_path"])
    wanted = set(opts["account_names"])
    unknown = wanted - {c.name for c in configs}
    if unknown:
        raise _Usage(f"no such account in the config file: {', '.join(sorted(unknown))}")
    jobs: list[_Job] = []
    for config in configs:
        if wanted and config.name not in wanted:
            continue
        base = config.options
        options = FetchOptions(
            delete=base.delete,
            delete_after_days=base.delete_after_days,
            only_new=base.only_new or opts["only_new"],
            max_size=opts["max_size"] if opts["max_size"] is not None else base.max_size,
            dry_run=opts["dry_run"],
            window=opts["window"],
            **_state_options(opts),
        )
        jobs.append((config.account, config.password, _store(config.maildir, config.mbox, opts["lock_wait"]), options))
    return jobs


def _password(opts: dict[str, Any], source: PasswordSource | None, account: Account, lang: Lang) -> str:
    if source is not None:
        return resolve_password(source, account.endpoint.user)
    try:
        password = read_password(
            user=f"{account.endpoint.user}@{account.endpoint.host}",
            password_env=opts["password_env"],
            password_stdin=opts["password_stdin"],
            lang=lang,
        )
    except click.UsageError as exc:
        raise _Usage(exc.message) from None
    if password is None:
        raise _Usage(_t.FETCH_NEED_PASSWORD(lang))
    return password
