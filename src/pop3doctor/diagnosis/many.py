"""Many accounts at once: every account's diagnosis, at most ``jobs`` running together.

    summary = await diagnose_many(checks, jobs=20, on_result=show)

Each account gets exactly the diagnosis ``pop3doctor diagnose`` runs for one
(`runner.diagnose`): the same stages, the same single login attempt (the
second user-name form is never tried here: an account locks after a few
refused passwords, and a help desk checking 200 accounts must not lock any).
``on_result`` is called as each account finishes, in the order they finish,
so a front end can print a line at once; the `Summary` lists them in the
order given.

The bound is a fixed set of ``jobs`` workers taking the next account from one
iterator, not one task per account behind a semaphore: a cancellation (Ctrl-C)
then has ``jobs`` tasks to stop, whatever the number of accounts.

Passwords are asked for one at a time, just before their account's check
(a ``password_command`` may prompt for a PIN: two prompts at once would
fight over the terminal), and dropped when the check ends.

Two entries for the same mailbox (same server and user, say on both ports)
are checked one after the other, never together: RFC 1939 servers lock the
maildrop for a session, so the second login would meet ``[IN-USE]`` and be
reported as a problem the account does not have.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.i18n import Lang, Msg, catalog
from pop3doctor.knowledge.causes import get_cause

_t = catalog("accounts")

SCHEMA = "pop3doctor.accounts/1"

#: ``--jobs`` limits: 200 checks at once is already far more connections than
#: a provider's per-address limit (often 10-20); more would only be refused.
MIN_JOBS, MAX_JOBS = 1, 200
DEFAULT_JOBS = 4

#: The cause reported for an account whose password source failed (no check ran).
NOT_CHECKED = "password-unavailable"

#: Exit codes, as for one account (`Report.exit_code`); an account with no
#: password counts as a problem: it was not checked.
EXIT_PROBLEM = 2


class PasswordUnavailable(Exception):
    """The account's password source gave nothing (unset variable, failed command); ``msg`` says why."""

    def __init__(self, msg: Msg) -> None:
        super().__init__(msg.en)
        self.msg = msg


@dataclass(frozen=True)
class AccountCheck:
    """One account to check: its name in the file, its settings, and how to get its password.

    ``password`` is called once, just before the check; it raises `PasswordUnavailable`.
    """

    name: str
    settings: Settings
    password: Callable[[], str]


@dataclass(frozen=True)
class AccountResult:
    """How one account's check ended: its report, or why it could not run."""

    name: str
    report: Report | None
    elapsed_s: float
    #: Why no check ran (the password source's failure), else None.
    error: Msg | None = None

    @property
    def verdict(self) -> str:
        return self.report.verdict if self.report is not None else "problem"

    @property
    def cause(self) -> str | None:
        return self.report.cause if self.report is not None else NOT_CHECKED

    @property
    def exit_code(self) -> int:
        return self.report.exit_code if self.report is not None else EXIT_PROBLEM

    def title(self, lang: Lang) -> str:
        """The cause's title in ``lang`` (the reason the check could not run, when it did not)."""
        if self.error is not None:
            return _t.NO_PASSWORD(lang, why=self.error(lang))
        cause = self.cause
        return get_cause(cause).title(lang) if cause else ""

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "type": "account",
            "account": self.name,
            "verdict": self.verdict,
            "cause": self.cause,
            "title": self.title(lang),
            "exit_code": self.exit_code,
            "elapsed_s": round(self.elapsed_s, 3),
            "error": self.error(lang) if self.error is not None else None,
            "report": self.report.to_dict(lang) if self.report is not None else None,
        }


@dataclass(frozen=True)
class Summary:
    """Every account's result (in the order given), the bound and the run's wall time."""

    results: list[AccountResult]
    jobs: int
    wall_s: float

    @property
    def exit_code(self) -> int:
        """The worst account's: 0 all ok, 1 warnings only, 2 a problem somewhere."""
        return max((r.exit_code for r in self.results), default=0)

    @property
    def verdicts(self) -> dict[str, int]:
        counts = Counter(r.verdict for r in self.results)
        return {v: counts[v] for v in ("ok", "warning", "problem")}

    @property
    def causes(self) -> list[tuple[str, int]]:
        """(cause, accounts) most frequent first; ties in the order the causes first appear."""
        counts = Counter(r.cause or "unknown" for r in self.results)
        return counts.most_common()

    def cause_title(self, cause: str, lang: Lang) -> str:
        if cause == NOT_CHECKED:  # each account's own reason is on its line
            return _t.NO_PASSWORD_TITLE(lang)
        for result in self.results:
            if (result.cause or "unknown") == cause:
                return result.title(lang)
        return cause

    def to_dict(self, lang: Lang) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "type": "summary",
            "accounts": len(self.results),
            "jobs": self.jobs,
            "wall_s": round(self.wall_s, 3),
            "verdicts": self.verdicts,
            "causes": {cause: count for cause, count in self.causes},
            "exit_code": self.exit_code,
        }


async def diagnose_many(
    checks: Sequence[AccountCheck],
    *,
    jobs: int = DEFAULT_JOBS,
    on_result: Callable[[AccountResult], None] | None = None,
    nameservers: list[str] | None = None,
    extra_ports: tuple[int, ...] = (),
    reference: str | None = None,
    deadline: float | None = None,
) -> Summary:
    """Check every account, at most ``jobs`` at a time; see the module's docstring."""
    if not MIN_JOBS <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be {MIN_JOBS}..{MAX_JOBS}, not {jobs}")
    started = time.monotonic()
    results: dict[int, AccountResult] = {}
    pending: Iterator[tuple[int, AccountCheck]] = iter(enumerate(checks))
    asking = asyncio.Lock()  # one password source at a time
    mailboxes: dict[tuple[str, str], asyncio.Lock] = {}

    async def one(check: AccountCheck) -> AccountResult:
        key = (check.settings.host.lower().rstrip("."), check.settings.user)
        async with mailboxes.setdefault(key, asyncio.Lock()):
            return await checked(check)

    async def checked(check: AccountCheck) -> AccountResult:
        began = time.monotonic()
        try:
            async with asking:
                # In a thread: a password_command or a keyring may take a while.
                password = await asyncio.to_thread(check.password)
        except PasswordUnavailable as exc:
            return AccountResult(check.name, None, time.monotonic() - began, exc.msg)
        began = time.monotonic()
        report = Report(check.settings)
        async for _finding in diagnose(
            check.settings,
            password,
            nameservers=nameservers,
            extra_ports=extra_ports,
            report=report,
            reference=reference,
            deadline=deadline,
        ):
            pass
        return AccountResult(check.name, report, time.monotonic() - began)

    async def worker() -> None:
        # `next` on a shared iterator needs no lock: workers run on one thread
        # and do not await between taking an account and claiming it.
        for index, check in pending:
            result = await one(check)
            results[index] = result
            if on_result is not None:
                on_result(result)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(jobs, len(checks))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:
        # A worker's own error (a bug, or stdout's reader gone in ``on_result``)
        # reaches the caller as itself: `cli.main` knows a BrokenPipeError, not a group.
        raise failed.exceptions[0] from None
    return Summary([results[i] for i in range(len(checks))], jobs, time.monotonic() - started)
