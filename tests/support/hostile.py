"""A hostile POP3 server on loopback for the time and memory bounds (issue 12 item 6).

Every session logs in (USER/PASS, any password) and lists ``count`` messages.
The ``mode`` says how the server misbehaves:

- ``endless-top``: TOP's answer never ends (header lines, as fast as the socket takes them);
- ``endless-retr``: RETR's body never ends, far beyond the size LIST gave (``listed`` octets);
- ``silent-greeting``: accepts the connection and never says a word;
- ``drip-greeting`` / ``drip-top`` / ``drip-retr``: that answer arrives one byte per
  ``drip_interval`` seconds (default 1 byte/s) and never ends;
- ``huge-uidl`` / ``huge-list``: the UIDL or LIST listing is ``listing_mib`` MiB long
  (well-formed lines, as many as it takes);
- ``ok``: a well-behaved mailbox (the control case).

``dele`` counts the DELE commands received and ``quits`` the QUITs: a test can
prove that nothing was deleted.  Plain TCP only (``--security plain --allow-plaintext``).
"""

from __future__ import annotations

import asyncio
import itertools
from types import TracebackType

MESSAGE = b"From: a@example.com\r\nSubject: hello\r\n\r\nbody line\r\n"


class HostilePop3:
    def __init__(
        self,
        mode: str,
        *,
        count: int = 1,
        listed: int = 100,
        listing_mib: int = 60,
        drip_interval: float = 1.0,
    ) -> None:
        self.mode = mode
        self.count = count
        self.listed = listed
        self.listing_mib = listing_mib
        self.drip_interval = drip_interval
        self.host = "127.0.0.1"
        self.port = 0
        self.dele = 0
        self.quits = 0
        self.sent_body = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> HostilePop3:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._session(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the server is shutting down; end the session quietly
        finally:
            self._tasks.discard(task)
            writer.transport.abort()

    async def _drip(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Send ``data`` (cycled forever) one byte per interval."""
        for byte in itertools.cycle(data):
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(self.drip_interval)

    async def _endless(self, writer: asyncio.StreamWriter, line: bytes) -> None:
        """Send ``line`` over and over, as fast as the peer reads; never the terminator."""
        block = line * max(1, 65536 // len(line))
        while True:
            writer.write(block)
            self.sent_body += len(block)
            await writer.drain()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(*lines: bytes) -> None:
            writer.write(b"".join(line + b"\r\n" for line in lines))

        if self.mode == "drip-greeting":
            await self._drip(writer, b"+OK slow greeting ")
            return
        if self.mode == "silent-greeting":  # a port that waits for a TLS handshake says nothing
            await reader.read()
            return
        send(b"+OK hostile ready")
        await writer.drain()
        while True:
            raw = await reader.readline()
            if not raw:
                return
            verb, _, arg = raw.decode("ascii", "replace").strip().partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                send(b"+OK", b"USER", b"UIDL", b"TOP", b".")
            elif verb in ("USER", "PASS", "NOOP", "RSET"):
                send(b"+OK")
            elif verb == "STAT":
                send(b"+OK %d %d" % (self.count, self.count * self.listed))
            elif verb == "LIST" and not arg:
                await self._listing(writer, b"LIST")
            elif verb == "UIDL" and not arg:
                await self._listing(writer, b"UIDL")
            elif verb == "TOP":
                send(b"+OK top follows")
                if self.mode == "endless-top":
                    await self._endless(writer, b"X-Endless: " + b"x" * 60 + b"\r\n")
                elif self.mode == "drip-top":
                    await writer.drain()
                    await self._drip(writer, b"X-Slow: header\r\n")
                else:
                    writer.write(MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n.\r\n")
            elif verb == "RETR":
                send(b"+OK %d octets" % self.listed)
                if self.mode == "endless-retr":
                    await self._endless(writer, b"endless body line " + b"y" * 50 + b"\r\n")
                elif self.mode == "drip-retr":
                    await writer.drain()
                    await self._drip(writer, b"slow body\r\n")
                else:
                    writer.write(MESSAGE + b".\r\n")
            elif verb == "DELE":
                self.dele += 1
                send(b"+OK deleted")
            elif verb == "QUIT":
                self.quits += 1
                send(b"+OK bye")
                await writer.drain()
                return
            else:
                send(b"-ERR unknown command")
            await writer.drain()

    async def _listing(self, writer: asyncio.StreamWriter, verb: bytes) -> None:
        writer.write(b"+OK listing follows\r\n")
        huge = self.mode == ("huge-uidl" if verb == b"UIDL" else "huge-list")
        if not huge:
            for n in range(1, self.count + 1):
                writer.write(b"%d %s\r\n" % (n, b"uid-%08d" % n if verb == b"UIDL" else b"%d" % self.listed))
            writer.write(b".\r\n")
            return
        target = self.listing_mib * 1024 * 1024
        sent, n, lines = 0, 0, []
        while sent < target:
            n += 1
            # A realistic UIDL: 1-70 printable characters (RFC 1939 s7); Dovecot's are ~24.
            line = b"%d %s\r\n" % (n, b"%032x" % (n * 2654435761) if verb == b"UIDL" else b"%d" % self.listed)
            lines.append(line)
            sent += len(line)
            if len(lines) >= 4096:
                writer.write(b"".join(lines))
                lines.clear()
                await writer.drain()
        writer.write(b"".join(lines) + b".\r\n")
