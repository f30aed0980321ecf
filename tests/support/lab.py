"""Lab-server fixtures and a raw POP3 line client for talking to it.

Fixtures (loaded as a pytest plugin by tests/conftest.py):

- ``lab_ca``: one trustme CA for the whole test session.
- ``lab_factory``: ``async with lab_factory("wrong-password", **options) as lab:``
  builds a `LabServer` on free loopback ports, trusting ``lab_ca``.
- ``lab_server``: a started lab; the scenario is "healthy" unless the test
  parametrises it indirectly:
  ``@pytest.mark.parametrize("lab_server", ["busy"], indirect=True)``.

`RawPop3` speaks POP3 over asyncio streams with no cleverness, so the lab's
tests do not depend on the project's client.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import trustme

from pop3doctor.lab import LabServer
from pop3doctor.lab import server as lab_server_module

#: Generous: a loaded CI machine must not make a correct server look broken.
TIMEOUT = 20.0


@pytest.fixture(scope="session")
def lab_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def lab_factory(lab_ca: trustme.CA) -> Callable[..., LabServer]:
    def make(scenario: str = "healthy", **kwargs: Any) -> LabServer:
        kwargs.setdefault("ca", lab_ca)
        return LabServer(scenario, **kwargs)

    return make


@pytest.fixture
async def lab_server(
    request: pytest.FixtureRequest, lab_factory: Callable[..., LabServer]
) -> AsyncIterator[LabServer]:
    scenario = getattr(request, "param", "healthy")
    async with lab_factory(scenario) as lab:
        yield lab


def client_context(lab: LabServer) -> ssl.SSLContext:
    """A verifying client context that trusts the lab's CA."""
    ctx = ssl.create_default_context(cadata=lab.ca_pem.decode())
    return ctx


def unstuff(lines: list[bytes]) -> bytes:
    """Join multi-line body lines (without CRLF) back into wire bytes."""
    return b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)


class RawPop3:
    """A minimal POP3 line client over asyncio streams (test use only)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(
        cls, lab: LabServer, *, tls: bool = False, ssl_context: ssl.SSLContext | None = None,
        limit: int = 2**16,
    ) -> RawPop3:
        if tls:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    lab.host, lab.tls_port, ssl=ssl_context or client_context(lab),
                    server_hostname=lab.hostname, limit=limit,
                ),
                TIMEOUT,
            )
        else:
            assert lab.port is not None
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(lab.host, lab.port, limit=limit), TIMEOUT
            )
        return cls(reader, writer)

    async def line(self, timeout: float = TIMEOUT) -> bytes:
        """One line without CRLF; b"" at EOF."""
        data = await asyncio.wait_for(self.reader.readline(), timeout)
        return data.rstrip(b"\r\n") if data.endswith(b"\n") else data

    async def send(self, text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        self.writer.write(data + b"\r\n")
        await self.writer.drain()

    async def cmd(self, text: str | bytes) -> bytes:
        await self.send(text)
        return await self.line()

    async def body(self) -> list[bytes]:
        """Lines of a multi-line response up to (not including) the "." line."""
        lines = []
        while (line := await self.line()) != b".":
            if line == b"" and self.reader.at_eof():
                raise EOFError("connection closed inside a multi-line response")
            lines.append(line)
        return lines

    async def greet(self) -> bytes:
        return await self.line()

    async def login(self, lab: LabServer) -> bytes:
        assert (await self.cmd(f"USER {lab.user}")).startswith(b"+OK")
        return await self.cmd(f"PASS {lab.password}")

    async def starttls(self, lab: LabServer, ssl_context: ssl.SSLContext | None = None) -> None:
        reply = await self.cmd("STLS")
        assert reply.startswith(b"+OK"), reply
        await asyncio.wait_for(
            self.writer.start_tls(
                ssl_context or client_context(lab), server_hostname=lab.hostname
            ),
            TIMEOUT,
        )

    async def closed(self, timeout: float = TIMEOUT) -> bool:
        """True once the server has closed the connection (EOF or reset)."""
        try:
            rest = await asyncio.wait_for(self.reader.read(), timeout)
        except (ConnectionError, ssl.SSLError):
            return True
        return rest is not None

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass


@pytest.fixture
def expiring_in(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """The lab's next servers present a certificate of the lab CA valid for only ``days`` more days.

    The lab has no scenario for a certificate near its end (every scenario's certificate is
    valid or plainly expired), so the test swaps the lab's certificate maker for one that
    issues such a leaf from the same trustme CA.
    """

    def set_days(days: float) -> None:
        def context(ca: trustme.CA, kind: str, hostname: str, host: str) -> ssl.SSLContext:
            now = dt.datetime.now(dt.UTC)
            leaf = ca.issue_cert(
                *dict.fromkeys((hostname, host)), common_name=hostname,
                not_before=now - dt.timedelta(days=80), not_after=now + dt.timedelta(days=days),
            )
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            leaf.configure_cert(ctx)
            return ctx

        monkeypatch.setattr(lab_server_module, "server_context", context)

    return set_days
