"""The shared probe race: answers kept, early stop, deadline, doomed labels, clean cancellation."""

from __future__ import annotations

import asyncio

import pytest

from pop3doctor.racing import race


async def _after(delay: float, value: str) -> str:
    await asyncio.sleep(delay)
    return value


async def _fail(delay: float, exc: BaseException) -> str:
    await asyncio.sleep(delay)
    raise exc


async def test_all_answers_in_completion_order_without_settled() -> None:
    out = await race({"slow": _after(0.05, "b"), "fast": _after(0.0, "a")})
    assert list(out.results.items()) == [("fast", "a"), ("slow", "b")]
    assert out.unfinished == [] and not out.timed_out


async def test_settled_cancels_the_rest_and_lists_them_in_start_order() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def tracked(name: str, delay: float) -> str:
        started.append(name)
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    out = await race(
        {"x": tracked("x", 10), "win": tracked("win", 0), "y": tracked("y", 10)},
        settled=lambda results, pending: "win" in results,
    )
    assert out.results == {"win": "win"}
    assert out.unfinished == ["x", "y"]
    assert sorted(cancelled) == ["x", "y"]


async def test_deadline_stops_the_race() -> None:
    out = await race({"a": _after(0.0, "a"), "b": _after(10, "b")}, timeout=0.05)
    assert out.results == {"a": "a"}
    assert out.timed_out and out.unfinished == ["b"]


async def test_expected_errors_are_kept_others_propagate() -> None:
    out = await race({"a": _fail(0, OSError("x")), "b": _after(0, "b")}, expected=(OSError,))
    assert isinstance(out.errors["a"], OSError) and out.results == {"b": "b"}
    with pytest.raises(ValueError):
        await race({"a": _fail(0, ValueError("bug")), "b": _after(10, "b")}, expected=(OSError,))


async def test_watch_dooms_labels_it_names() -> None:
    loop = asyncio.get_running_loop()
    watch: asyncio.Future[str] = loop.create_future()
    loop.call_later(0.02, watch.set_result, "refused")
    out = await race(
        {"same-port": _after(10, "s"), "other": _after(0.05, "o")},
        watch=watch,
        on_watch=lambda value: ["same-port"] if value == "refused" else [],
    )
    assert out.doomed == ["same-port"]
    assert out.results == {"other": "o"} and out.unfinished == []


async def test_our_own_cancellation_propagates_and_leaves_no_task() -> None:
    task = asyncio.ensure_future(race({"a": _after(10, "a"), "b": _after(10, "b")}))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
