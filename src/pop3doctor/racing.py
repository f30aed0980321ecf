"""Start probes together, keep what they answer, stop once the answer is clear.

Four jobs race probes: the diagnosis's alternatives and its triangulation of
the server's other ports, discovery's guessing and discovery's sources.  They
differ in what counts as a clear answer; the waiting, the deadline, the
"doomed" signal and the clean cancellation are the same, and live here.

Contract of `race`:

- every awaitable in ``work`` starts at once, keyed by a label;
- after each completion ``settled(results, pending)`` is asked whether the
  answer is already clear; when it is, the rest are cancelled (listed in
  ``unfinished``, in start order);
- ``watch`` is an outside future (for example "the user's own port failed")
  that may resolve while the race runs; ``on_watch(value)`` then names the
  labels it dooms, which are cancelled and listed in ``doomed``;
- ``timeout`` bounds the whole race; what is still running then is cancelled
  and ``timed_out`` is set;
- an exception of a type in ``expected`` is kept in ``errors``; any other
  exception cancels the rest and propagates (a bug must not look like an
  answer);
- whatever happens, no task is left running and none is left unretrieved:
  cancelled tasks are awaited, and our own cancellation still propagates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass
class RaceResult(Generic[K, T]):
    #: Answers in completion order.
    results: dict[K, T] = field(default_factory=dict)
    #: Expected failures (``expected`` types), by label.
    errors: dict[K, BaseException] = field(default_factory=dict)
    #: Cancelled because the answer was clear, or still running at the deadline (start order).
    unfinished: list[K] = field(default_factory=list)
    #: Cancelled because ``watch`` said they could not succeed (start order).
    doomed: list[K] = field(default_factory=list)
    timed_out: bool = False


def _never(results: Mapping[Any, Any], pending: Collection[Any]) -> bool:
    return False


async def race(
    work: Mapping[K, Awaitable[T]],
    *,
    settled: Callable[[Mapping[K, T], Collection[K]], bool] = _never,
    timeout: float | None = None,
    watch: asyncio.Future[Any] | None = None,
    on_watch: Callable[[Any], Collection[K]] | None = None,
    expected: tuple[type[BaseException], ...] = (),
) -> RaceResult[K, T]:
    """Run ``work`` concurrently until ``settled``, the deadline, or the end (see the module docstring)."""
    out: RaceResult[K, T] = RaceResult()
    labels: dict[asyncio.Future[T], K] = {asyncio.ensure_future(aw): key for key, aw in work.items()}
    order = list(work)
    pending: set[asyncio.Future[T]] = set(labels)
    doomed: set[asyncio.Future[T]] = set()
    watching: set[asyncio.Future[Any]] = {watch} if watch is not None and not watch.done() else set()
    if watch is not None and watch.done():
        doomed |= _apply_watch(watch, on_watch, labels, pending, out)
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    try:
        while pending:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                out.timed_out = True
                break
            done, _ = await asyncio.wait(pending | watching, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                out.timed_out = True
                break
            for task in done & pending:
                pending.discard(task)
                _collect(task, labels[task], out, expected)
            if watching & done:
                watching.clear()
                doomed |= _apply_watch(watch, on_watch, labels, pending, out)
            if pending and settled(out.results, [labels[t] for t in pending]):
                break
    finally:
        for task in pending:
            task.cancel()
        stopped = pending | doomed
        if stopped:
            # wait() never raises, so a cancellation of our own still propagates.
            await asyncio.wait(stopped)
        for task in stopped:
            if not task.cancelled():
                task.exception()  # retrieved: a task that failed while being cancelled logs nothing
    left = {labels[t] for t in pending}
    out.unfinished += [k for k in order if k in left]
    return out


def _collect(task: asyncio.Future[T], key: K, out: RaceResult[K, T], expected: tuple[type[BaseException], ...]) -> None:
    if task.cancelled():
        out.unfinished.append(key)
        return
    exc = task.exception()
    if exc is None:
        out.results[key] = task.result()
    elif expected and isinstance(exc, expected):
        out.errors[key] = exc
    else:
        raise exc


def _apply_watch(
    watch: asyncio.Future[Any] | None,
    on_watch: Callable[[Any], Collection[K]] | None,
    labels: dict[asyncio.Future[T], K],
    pending: set[asyncio.Future[T]],
    out: RaceResult[K, T],
) -> set[asyncio.Future[T]]:
    """Cancel the tasks ``watch`` dooms; returns them (the caller awaits them)."""
    if watch is None or on_watch is None or watch.cancelled() or watch.exception() is not None:
        return set()
    keys = set(on_watch(watch.result()))
    hit = {t for t in pending if labels[t] in keys}
    for task in hit:
        task.cancel()
        pending.discard(task)
    out.doomed += [k for k in labels.values() if k in {labels[t] for t in hit}]
    return hit
