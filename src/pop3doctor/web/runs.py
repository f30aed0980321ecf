"""One diagnosis run of the page: a background task and the event log the page follows.

The password is an argument of `start_run`'s task and nothing else: it is not
stored on the `Run`, not put into any event, and gone when the task ends.
Events are kept (without it) so a browser that reconnects its event stream
(``Last-Event-ID``) gets exactly the events it missed.
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
from pop3doctor.web.text import DISCOVERY_FAILED, NO_POP, RUN_FAILED, UI

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """Server-wide options from the command line (``pop3doctor web --ca-file ...``)."""

    ca_file: str | None = None
    timeout: float = 8.0
    nameservers: tuple[str, ...] = ()


class Run:
    """The events of one run, in order; ``follow`` yields them as they come."""

    def __init__(self) -> None:
        self.run_id = secrets.token_urlsafe(16)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.finished = False
        self._changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def publish(self, kind: str, data: dict[str, Any], *, last: bool = False) -> None:
        async with self._changed:
            self.events.append((kind, data))
            self.finished = self.finished or last
            self._changed.notify_all()

    async def follow(self, start: int = 0) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        """Events from index ``start`` on, waiting for new ones until the run has finished."""
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


class RunRegistry:
    """Runs by id; only the newest ``limit`` are kept (their events hold no secrets)."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._runs: OrderedDict[str, Run] = OrderedDict()

    def add(self, run: Run) -> None:
        self._runs[run.run_id] = run
        while len(self._runs) > self.limit:
            self._runs.popitem(last=False)

    def get(self, run_id: str | None) -> Run | None:
        return self._runs.get(run_id) if run_id else None


def start_run(request: CheckRequest, password: str | None, options: RunOptions) -> Run:
    """Start the checks in the background on the running loop; the returned `Run` streams them."""
    run = Run()
    run.task = asyncio.get_running_loop().create_task(_drive(run, request, password, options))
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
    except Exception as exc:
        # Only the exception's class is logged and shown: its text could in
        # principle quote what the user typed.
        log.error("diagnosis run failed: %s", type(exc).__name__)
        await run.publish("failed", events.error_event(RUN_FAILED.format(error=type(exc).__name__)), last=True)
