"""`diagnosis.tasks.hedge`: a wait with a probe beside it once it is late; nothing left running.

Driven by events, not by clocks: the primary and the backup end when the test
says so (``after=0`` starts the backup at once), so nothing here depends on timing.
"""

from __future__ import annotations

import asyncio

import pytest

from pop3doctor.diagnosis.tasks import hedge


class Gate:
    """An awaitable job the test ends by hand, recording whether it was cancelled."""

    def __init__(self) -> None:
        self.release: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.started = False
        self.cancelled = False

    async def run(self) -> str:
        self.started = True
        try:
            return await self.release
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_primary_first_cancels_the_backup() -> None:
    primary, backup = Gate(), Gate()
    task = asyncio.ensure_future(hedge(primary.run(), backup.run, after=0, decisive=lambda _a: True))
    while not backup.started:
        await asyncio.sleep(0)
    primary.release.set_result("greeting")
    out = await task
    assert (out.result, out.error, out.answer, out.overtaken) == ("greeting", None, None, False)
    assert backup.cancelled


async def test_primary_within_the_grace_never_starts_the_backup() -> None:
    backup = Gate()

    async def at_once() -> str:
        return "greeting"

    out = await hedge(at_once(), backup.run, after=60, decisive=lambda _a: True)
    assert out.result == "greeting" and out.backup_after is None and not backup.started


async def test_decisive_backup_cancels_the_primary() -> None:
    primary = Gate()

    async def tls_answers() -> str:
        return "tls"

    out = await hedge(primary.run(), tls_answers, after=0, decisive=lambda a: a == "tls")
    assert out.overtaken and out.answer == "tls" and out.result is None and out.error is None
    assert primary.cancelled and out.backup_after is not None


async def test_undecisive_backup_lets_the_primary_go_on_and_is_kept() -> None:
    primary = Gate()

    async def no_tls() -> str:
        return "no-tls"

    task = asyncio.ensure_future(hedge(primary.run(), no_tls, after=0, decisive=lambda a: a == "tls"))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not task.done()
    primary.release.set_result("greeting")
    out = await task
    assert (out.result, out.answer, out.overtaken) == ("greeting", "no-tls", False)


async def test_failure_waits_for_the_answer_when_asked() -> None:
    backup = Gate()

    async def silent() -> str:
        raise TimeoutError("no greeting")

    task = asyncio.ensure_future(
        hedge(silent(), backup.run, after=60, decisive=lambda _a: False, wait_for_answer=lambda e: True)
    )
    while not backup.started:  # started after the failure although the grace had not passed
        await asyncio.sleep(0)
    backup.release.set_result("no-tls")
    out = await task
    assert isinstance(out.error, TimeoutError) and out.answer == "no-tls" and out.result is None


async def test_failure_not_needing_the_answer_cancels_the_backup() -> None:
    backup = Gate()
    closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def primary() -> str:
        return await closed

    task = asyncio.ensure_future(hedge(primary(), backup.run, after=0, decisive=lambda _a: True))
    while not backup.started:
        await asyncio.sleep(0)
    closed.set_exception(ConnectionError("closed"))
    out = await task
    assert isinstance(out.error, ConnectionError) and out.answer is None and backup.cancelled


async def test_our_cancellation_stops_both() -> None:
    primary, backup = Gate(), Gate()
    task = asyncio.ensure_future(hedge(primary.run(), backup.run, after=0, decisive=lambda _a: True))
    while not backup.started:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert primary.cancelled and backup.cancelled
