"""Pipelined RETR and DELE (one burst loop): -ERR for one message, sinks aborted on loss, the transcript."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.errors import ServerError
from pop3doctor.lab import LabServer
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import RemoteClosed

FAST = Timeouts(resolve=2, connect=2, tls=2, greeting=1.5, command=5)


class Sink:
    def __init__(self, events: list[tuple[str, int]], msgnum: int) -> None:
        self.events = events
        self.msgnum = msgnum
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.events.append(("closed", self.msgnum))

    def abort(self) -> None:
        self.events.append(("aborted", self.msgnum))


@contextlib.asynccontextmanager
async def logged_in(lab_factory: Callable[..., LabServer], scenario: str, tmp_path: Path) -> AsyncIterator[Pop3Client]:
    async with lab_factory(scenario) as lab:
        ca = tmp_path / "ca.pem"
        lab.write_ca(str(ca))
        client = Pop3Client(lab.host, lab.tls_port, security="ssl", ca_file=str(ca), timeouts=FAST)
        try:
            await client.connect()
            await client.login(lab.user, lab.password)
            yield client
        finally:
            await client.aclose()


async def test_retr_error_for_one_message_goes_to_on_error_and_the_rest_arrive(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with logged_in(lab_factory, "healthy", tmp_path) as client:
        count, _ = await client.stat()
        events: list[tuple[str, int]] = []
        errors: list[tuple[int, ServerError]] = []
        wanted = [1, count + 5, count]
        await client.retrieve_many(
            wanted, lambda n: Sink(events, n), window=2, on_error=lambda n, e: errors.append((n, e))
        )
        assert events == [("closed", 1), ("closed", count)]
        assert [n for n, _ in errors] == [count + 5]
        assert errors[0][1].command == f"RETR {count + 5}"
        # RETR lines stay out of the transcript; a default on_error raises.
        assert not any("RETR" in line.text for line in client.transcript.lines)
        with pytest.raises(ServerError):
            await client.retrieve_many([count + 5], lambda n: Sink(events, n))


async def test_dele_many_returns_the_accepted_numbers_and_logs_each(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with logged_in(lab_factory, "healthy", tmp_path) as client:
        count, _ = await client.stat()
        assert await client.dele_many([1, count + 5, 2]) == [1, 2]
        sent = [line.text for line in client.transcript.lines if line.direction == "C"]
        assert sent[-3:] == ["DELE 1", f"DELE {count + 5}", "DELE 2"]
        answers = [line.text for line in client.transcript.lines if line.direction == "S"]
        assert answers[-3][:3] == "+OK" and answers[-2][:4] == "-ERR" and answers[-1][:3] == "+OK"
        await client.rset()


async def test_a_message_cut_off_mid_body_aborts_its_sink(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with logged_in(lab_factory, "drop-mid-retr", tmp_path) as client:
        events: list[tuple[str, int]] = []
        with pytest.raises(RemoteClosed):
            await client.retrieve_many([1], lambda n: Sink(events, n))
        assert events == [("aborted", 1)]
