"""Background tasks of a diagnosis run, stopped cleanly; a wait hedged by a probe."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
U = TypeVar("U")


async def cancel(task: asyncio.Future[Any] | None) -> None:
    """Cancel ``task`` and wait for it to finish; never raises."""
    if task is None:
        return
    task.cancel()
    # wait() never raises, so our own cancellation still propagates.
    await asyncio.wait([task])


@dataclass(frozen=True)
class Hedged(Generic[T, U]):
    """How `hedge` ended.

    Exactly one of ``result`` / ``error`` is set when the primary ended;
    neither when the backup's decisive answer made it unnecessary (it was
    cancelled).  ``answer`` is the backup's answer, if it gave one in time.
    """

    result: T | None = None
    error: Exception | None = None
    answer: U | None = None
    #: Seconds after the start at which the backup was started (None: never).
    backup_after: float | None = None

    @property
    def overtaken(self) -> bool:
        """True when the backup's answer ended the wait before the primary."""
        return self.result is None and self.error is None


async def hedge(
    primary: Awaitable[T],
    backup: Callable[[], Awaitable[U]],
    *,
    after: float,
    decisive: Callable[[U], bool],
    wait_for_answer: Callable[[Exception], bool] = lambda _error: False,
) -> Hedged[T, U]:
    """Await ``primary``; if it is still pending after ``after`` seconds, run ``backup()`` beside it.

    The backup must not raise: its failure is an answer too.  The wait ends

    - when the primary ends: its result, or its exception (an `Exception`;
      anything else propagates) in ``error``; the backup is cancelled, unless
      ``wait_for_answer(error)`` says its answer is needed to read the error,
      when it is awaited (started first if it had not been yet);
    - when the backup gives an answer ``decisive`` accepts: the primary is
      cancelled, and the answer returned;
    - a backup answer that is not decisive is kept, and the primary goes on.

    Nothing is left running whichever way it ends, our own cancellation included.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    main: asyncio.Future[Any] = asyncio.ensure_future(primary)
    side: asyncio.Future[Any] | None = None
    backup_after: float | None = None

    def start_backup() -> asyncio.Future[Any]:
        nonlocal backup_after
        backup_after = loop.time() - started
        return asyncio.ensure_future(backup())

    try:
        done, _ = await asyncio.wait([main], timeout=after)
        if not done:
            side = start_backup()
            done, _ = await asyncio.wait([main, side], return_when=asyncio.FIRST_COMPLETED)
            if main not in done and decisive(side.result()):
                return Hedged(answer=side.result(), backup_after=backup_after)
            await asyncio.wait([main])
        try:
            result = main.result()
        except Exception as exc:  # handed to the caller, who reads or re-raises it
            if wait_for_answer(exc):
                side = side or start_backup()
                await asyncio.wait([side])
            answer = side.result() if side is not None and side.done() else None
            return Hedged(error=exc, answer=answer, backup_after=backup_after)
        answer = side.result() if side is not None and side.done() else None
        return Hedged(result=result, answer=answer, backup_after=backup_after)
    finally:
        if side is not None and not side.done():
            await cancel(side)
        if not main.done():
            await cancel(main)
