"""Discovery's use of racing.race: when guessing stops, and how stopped sources are reported."""

from __future__ import annotations

import asyncio

import pytest

from pop3doctor.client import Security
from pop3doctor.discovery import engine
from pop3doctor.discovery.engine import DiscoveryConfig
from pop3doctor.discovery.guess import ProbeOutcome, _best_in_hand
from pop3doctor.discovery.model import Source, SourceReport, Status


def _outcome(ok: bool) -> ProbeOutcome:
    return ProbeOutcome("pop.example.test", 995, Security.SSL, ok)


def test_guess_stops_only_when_no_better_candidate_is_still_running() -> None:
    assert not _best_in_hand({}, [0, 1])
    assert not _best_in_hand({0: _outcome(False)}, [1])
    assert _best_in_hand({1: _outcome(True)}, [2, 3])
    assert not _best_in_hand({1: _outcome(True)}, [0, 2])  # candidate 0 could still win


async def _answer(source: Source, delay: float) -> SourceReport:
    await asyncio.sleep(delay)
    # "No POP3 here" is an answer as final as a candidate.
    return SourceReport(source, Status.ANSWER, pop_offered=False)


async def test_sources_below_the_answer_are_skipped_and_silent_ones_time_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine, "GRACE", 0.0)
    makers = {
        Source.AUTOCONFIG: lambda: _answer(Source.AUTOCONFIG, 10),
        Source.DNS: lambda: _answer(Source.DNS, 0),
        Source.GUESS: lambda: _answer(Source.GUESS, 10),
    }
    # DNS answers at once, but autoconfig (above it) could still win: nothing stops until the deadline.
    out = await engine._race_network(makers, DiscoveryConfig(timeout=0.2), {})
    assert out[Source.DNS].status is Status.ANSWER
    assert out[Source.AUTOCONFIG].status is Status.TIMEOUT and out[Source.GUESS].status is Status.TIMEOUT
    assert out[Source.GUESS].elapsed_ms >= 150
    # Without autoconfig racing, DNS's answer is final: guessing is skipped.
    del makers[Source.AUTOCONFIG]
    out = await engine._race_network(makers, DiscoveryConfig(timeout=5), {})
    assert out[Source.GUESS].status is Status.SKIPPED and out[Source.DNS].status is Status.ANSWER
