"""One diagnosis run of the page: a background task and the event log the page follows.

The password is an argument of `start_run`'s task and nothing else: it is not
stored on the `Run`, not put into any event, and gone when the task ends.
Events are kept (without it) so a browser that reconnects its event stream
(``Last-Event-ID``) gets exactly the events it missed.

Runs are bounded server-wide: at most `RunOptions.max_active_runs` at once
(each diagnosis holds several sockets while it probes alternatives, and
without a cap 1,000 page loads were 1,000 runs and ~1,200 open fds), and a
run nobody follows -- the page was closed, or a script only POSTs -- is
stopped after `RunOptions.abandon_after` seconds, which frees its slot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.endpoint import Endpoint, default_port
from pop3doctor.web import events
from pop3doctor.web.discover import Discovery, NoPop, discover_settings
from pop3doctor.web.form import CheckRequest
from pop3doctor.web.text import DISCOVERY_FAILED, NO_POP, RUN_FAILED, RUN_STOPPED, UI

log = logging.getLogger(__name__)

#: Diagnoses running at once, server-wide.  The page is for one person on this
#: computer; four covers a check, a re-check and two tabs.
MAX_ACTIVE_RUNS = 4

#: Seconds a run may go on with no page following its events.  The page opens
#: its event stream right after starting a run, and a browser reconnects a
#: dropped stream after 2 s (the stream's ``retry``), so this is generous.
ABANDON_AFTER_S = 10.0


@dataclass(frozen=True)
class RunOptions:
    """Server-wide options from the command line (``pop3doctor web --ca-file ...``)."""

    ca_file: str | None = None
    timeout: float = 8.0
    nameservers: tuple[str, ...] = ()
    max_active_runs: int = MAX_ACTIVE_RUNS
    abandon_after: float = ABANDON_AFTER_S

    def __post_init__(self) -> None:
        if self.max_active_runs < 1:
            raise ValueError(f"max_active_runs must be >= 1, got {self.max_active_runs!r}")
        if not self.abandon_after > 0:
            raise ValueError(f"abandon_after must be > 0, got {self.abandon_after!r}")


class Run:
    """The events of one run, in order; ``follow`` yields them as they come."""

    def __init__(self, abandon_after: float = ABANDON_AFTER_S) -> None:
        self.run_id = secrets.token_urlsafe(16)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.finished = False
        self._changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None
        self.abandon_after = abandon_after
        #: Event streams reading this run now; at 0 the abandon timer runs.
        self.followers = 0
        self._abandon: asyncio.TimerHandle | None = None

    async def publish(self, kind: str, data: dict[str, Any], *, last: bool = False) -> None:
        async with self._changed:
            self.events.append((kind, data))
            self.finished = self.finished or last
            self._changed.notify_all()

    async def follow(self, start: int = 0) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        """Events from index ``start`` on, waiting for new ones until the run has finished.

        While at least one `follow` is open the run is watched; when the last
        one ends before the run does (the client went away: the server
        cancels the stream), the abandon timer starts.
        """
        self.followers += 1
        self._keep()
        try:
            index = start
            while True:
                async with self._changed:
                    while index >= len(self.events) and not self.finished:
                        await self._changed.wait()
                    pending = self.events[index:]
                    finished = self.finished
                for kind, data in pending:
                    yield index, kind, data
                    index += 1
                if finished and index >= len(self.events):
                    return
        finally:
            self.followers -= 1
            if self.followers == 0:
                self.unwatched()

    def unwatched(self) -> None:
        """Nobody follows the run: stop it in `abandon_after` seconds unless a follower comes (back)."""
        if self.finished or self.task is None or self.task.done() or self._abandon is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a stream finalized after its loop ended: nothing left to stop
            return
        self._abandon = loop.call_later(self.abandon_after, self._stop)

    def _keep(self) -> None:
        if self._abandon is not None:
            self._abandon.cancel()
            self._abandon = None

    def _stop(self) -> None:
        self._abandon = None
        if self.followers == 0 and self.task is not None and not self.task.done():
            log.info("diagnosis run stopped: no page follows it")
            self.task.cancel()


class RunRegistry:
    """Runs by id; only the newest ``limit`` are kept (their events hold no secrets).

    ``max_active`` bounds the runs whose task has not ended yet; they are
    counted apart from the kept ones, so a run still going is never
    forgotten by the count when newer, finished ones push it out of ``limit``.
    """

    def __init__(self, limit: int = 32, max_active: int = MAX_ACTIVE_RUNS) -> None:
        self.limit = limit
        self.max_active = max_active
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._active: set[Run] = set()

    @property
    def active(self) -> int:
        """Runs started and not ended (finished, failed or stopped)."""
        return len(self._active)

    def full(self) -> bool:
        """True when no further run may start now."""
        return len(self._active) >= self.max_active

    def add(self, run: Run) -> None:
        self._runs[run.run_id] = run
        while len(self._runs) > self.limit:
            self._runs.popitem(last=False)
        if run.task is not None and not run.task.done():
            self._active.add(run)
            # The slot is free the moment the task ends, however it ends.
            run.task.add_done_callback(lambda _task: self._active.discard(run))

    def get(self, run_id: str | None) -> Run | None:
        return self._runs.get(run_id) if run_id else None


def start_run(request: CheckRequest, password: str | None, options: RunOptions) -> Run:
    """Start the checks in the background on the running loop; the returned `Run` streams them.

    Until a page follows its events the run is unwatched: it is stopped
    after ``options.abandon_after`` seconds if none comes.
    """
    run = Run(options.abandon_after)
    run.task = asyncio.get_running_loop().create_task(_drive(run, request, password, options))
    run.unwatched()
    return run


async def _settings_for(request: CheckRequest, options: RunOptions) -> Discovery | None:
    """The settings to check: typed in, or discovered from the address (None: nothing found)."""
    if request.host is not None:
        port = default_port(request.security, request.port)
        return Discovery(Endpoint(request.host, port, request.security, request.user), UI["source_manual"])
    # A user name typed under "advanced" wins over discovery's guess of the form.
    typed = request.user if request.user != request.email else None
    return await discover_settings(
        request.email, user=typed, timeout=options.timeout, nameservers=options.nameservers, ca_file=options.ca_file
    )


async def _drive(run: Run, request: CheckRequest, password: str | None, options: RunOptions) -> None:
    try:
        try:
            chosen = await _settings_for(request, options)
        except NoPop:
            await run.publish("failed", events.error_event(NO_POP, field="host"), last=True)
            return
        if chosen is None:
            await run.publish("failed", events.error_event(DISCOVERY_FAILED, field="host"), last=True)
            return
        endpoint = dataclasses.replace(chosen.endpoint, ca_file=options.ca_file)
        settings = Settings.of(endpoint, timeout=options.timeout)
        await run.publish("settings", events.settings_event(settings, chosen.source, chosen.notes))
        report = Report(settings)
        async for finding in diagnose(
            settings,
            password,
            nameservers=list(options.nameservers) or None,
            email_domain=request.domain,
            extra_ports=request.extra_ports,
            report=report,
        ):
            if finding.stage != "summary":
                await run.publish("finding", events.finding_event(finding))
        await run.publish("done", events.done_event(report), last=True)
    except asyncio.CancelledError:
        # Stopped (nobody followed it, or the server shuts down): a page that
        # reconnects later gets an end instead of waiting forever.
        await run.publish("failed", events.error_event(RUN_STOPPED), last=True)
        raise
    except Exception as exc:
        # Only the exception's class is logged and shown: its text could in
        # principle quote what the user typed.
        log.error("diagnosis run failed: %s", type(exc).__name__)
        await run.publish("failed", events.error_event(RUN_FAILED.format(error=type(exc).__name__)), last=True)
