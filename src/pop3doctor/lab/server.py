"""`LabServer`: the fault-injecting POP3 server, as an async context manager.

Usage (tests, in-process)::

    async with LabServer("wrong-password") as lab:
        ... connect to lab.host / lab.port (STLS) or lab.tls_port (implicit TLS),
            trusting lab.ca_pem and checking lab.hostname ...

From synchronous code (the CLI, benchmarks) use ``with lab.run_in_thread():``,
which runs the server on its own event loop in a daemon thread.

Contract: ports given as 0 are chosen by the OS and readable after start;
``port`` is ``None`` when the scenario closes the plain port.  The lab listens
only on ``host`` (127.0.0.1 unless told otherwise).  The maildrop lives as long
as the server object, so UIDLs and deletions persist across sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme

from pop3doctor.lab.certs import server_context
from pop3doctor.lab.mailbox import LabMessage, Maildrop, generated_message, sample_messages
from pop3doctor.lab.options import LabOptions
from pop3doctor.lab.scenarios import Scenario, get_scenario
from pop3doctor.lab.session import Session

#: The lab's fixed password.  It is printed by ``pop3doctor lab`` on purpose:
#: it protects nothing, and help-desk staff must be able to type it.
LAB_PASSWORD = "lab-pass-2024"  # noqa: S105 - a published demo password


class LabServer:
    """A POP3 server on loopback that behaves as ``scenario`` says."""

    def __init__(
        self,
        scenario: str | Scenario = "healthy",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_port: int = 0,
        messages: list[bytes] | None = None,
        user: str = "alice",
        password: str = LAB_PASSWORD,
        ca: trustme.CA | None = None,
        hostname: str = "localhost",
        **options: Any,
    ) -> None:
        self.scenario = get_scenario(scenario)
        self.options = LabOptions.from_kwargs(options)
        self.host = host
        self.port: int | None = None
        self.tls_port: int = 0
        self._want_port = port
        self._want_tls_port = tls_port
        self.user = user
        self.password = password
        self.hostname = hostname
        self.ca = ca if ca is not None else trustme.CA()
        self.maildrop = self._make_maildrop(messages)
        self.connections_seen = 0
        #: How each successful login was made ("USER", "APOP", "AUTH PLAIN", ...).
        self.logins: list[str] = []
        #: (method, user) of every credential check, refused ones included.
        self.login_attempts: list[tuple[str, str]] = []
        self.active = 0
        self.ssl_context: ssl.SSLContext = ssl.create_default_context()  # replaced at start
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def _make_maildrop(self, messages: list[bytes] | None) -> Maildrop:
        kind = self.scenario.mailbox
        raw = sample_messages() if messages is None else messages
        if kind == "empty":
            return Maildrop([])
        drop = Maildrop.from_bytes(raw[:1] if kind == "large" else raw)
        if kind == "large":
            drop.messages.append(
                generated_message(len(drop.messages) + 1, self.options.large_size)
            )
        return drop

    # --- what clients and tests need ------------------------------------

    @property
    def mailbox(self) -> list[LabMessage]:
        """Every message, in order; ``deleted`` is True once a QUIT removed it."""
        return self.maildrop.messages

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM) a client should trust."""
        data: bytes = self.ca.cert_pem.bytes()
        return data

    def write_ca(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_bytes(self.ca_pem)

    # --- life cycle --------------------------------------------------------

    async def start(self) -> None:
        self.ssl_context = server_context(
            self.ca, self.scenario.certificate, self.hostname, self.host
        )
        limit = self.options.max_line
        try:
            if self.scenario.plain_port:
                plain = await asyncio.start_server(
                    self._on_plain, self.host, self._want_port, limit=limit
                )
                self._servers.append(plain)
                self.port = plain.sockets[0].getsockname()[1]
            secure = await asyncio.start_server(
                self._on_tls,
                self.host,
                self._want_tls_port,
                limit=limit,
                ssl=self.ssl_context,
                ssl_handshake_timeout=self.options.tls_handshake_timeout,
            )
            self._servers.append(secure)
            self.tls_port = secure.sockets[0].getsockname()[1]
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def __aenter__(self) -> LabServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        """Start (if needed) and serve until cancelled; always closes."""
        if not self._servers:
            await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    def run_in_thread(self) -> ThreadedLab:
        """A context manager running this server on a loop in a daemon thread."""
        return ThreadedLab(self)

    # --- connections -------------------------------------------------------

    async def _on_plain(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=False)

    async def _on_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve(reader, writer, tls=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, tls: bool
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections_seen += 1
        self.active += 1
        try:
            await Session(self, reader, writer, tls=tls).run()
        except asyncio.CancelledError:
            # Only close() cancels sessions.  The task is the top of asyncio's
            # own client callback, and Python 3.11's streams.py logs a spurious
            # error when that task ends cancelled, so end it normally.
            writer.transport.abort()
        finally:
            self.active -= 1
            self._tasks.discard(task)


class ThreadedLab:
    """Runs a `LabServer` on a private event loop in a daemon thread.

    ``with lab.run_in_thread() as lab:`` returns the started server (ports
    set); leaving the block stops it.  Attributes may be read from the caller's
    thread; only the server's own loop touches its sockets.
    """

    def __init__(self, server: LabServer) -> None:
        self.server = server
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="pop3doctor-lab", daemon=True)

    def start(self) -> LabServer:
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self.server

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # loop already finished
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await self.server.close()

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

