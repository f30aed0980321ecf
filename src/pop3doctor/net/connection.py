"""An established TCP (optionally TLS) connection, and how to open one.

`open_connection` = resolve -> Happy Eyeballs -> optional implicit TLS.
`Connection` reads and writes with a timeout per call and raises typed
errors (`ConnectionClosed`, `ReadTimeout`, ...) instead of returning b"".
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from pop3doctor.net.attempt import Attempt, Family
from pop3doctor.net.certs import CertFacts, cert_facts, make_tls_context
from pop3doctor.net.errors import (
    CertificateProblem,
    ConnectionClosed,
    NetError,
    ReadTimeout,
    TlsHandshakeFailed,
    Where,
    WriteTimeout,
)
from pop3doctor.net.happy_eyeballs import race
from pop3doctor.net.resolve import ip_literal, resolve
from pop3doctor.net.timeouts import MIN_THROUGHPUT, Deadline, Timeouts, within
from pop3doctor.net.tls_errors import classify_tls_error

_T = TypeVar("_T")

__all__ = [
    "Attempt",
    "Connection",
    "TlsInfo",
    "open_connection",
    "unverified_certificate",
]


@dataclass(frozen=True)
class TlsInfo:
    """The negotiated TLS session: version ("TLSv1.3"), cipher name, leaf certificate.

    ``handshake_ms`` is how long the handshake itself took (TCP connect and
    name lookup excluded), for the probe's and the monitoring plugin's timings.
    """

    version: str | None
    cipher: str | None
    cert: CertFacts | None
    handshake_ms: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "cipher": self.cipher,
            "cert": None if self.cert is None else self.cert.to_dict(),
        }


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def _tls_info(writer: asyncio.StreamWriter, handshake_ms: float | None = None) -> TlsInfo:
    ssl_object = writer.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return TlsInfo(version=None, cipher=None, cert=None, handshake_ms=handshake_ms)
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    facts: CertFacts | None = None
    if der:
        with contextlib.suppress(ValueError):
            facts = cert_facts(der)
    return TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        cert=facts,
        handshake_ms=handshake_ms,
    )


class Connection:
    """A connected stream to ``host``:``port`` (``peer`` is the address used).

    Not safe for concurrent reads.  After any `NetError` from `read`,
    `drain` or `start_tls` the connection should be closed with `aclose`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        host: str,
        port: int,
        attempts: list[Attempt],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.host = host
        self.port = port
        peer = writer.get_extra_info("peername")
        self.peer: tuple[str, int] = (str(peer[0]), int(peer[1])) if peer else ("", port)
        self.attempts = attempts
        self.tls: TlsInfo | None = None
        # Whether clear-text data was read before any TLS: it tells a STARTTLS
        # upgrade (a failing handshake then sets `TlsHandshakeFailed.after_plaintext`)
        # from a fresh connection that starts TLS at once.
        self._read_plain = False
        self._aborted = False

    def __repr__(self) -> str:
        return f"<Connection {self.host}:{self.port} via {self.peer[0]} tls={self.tls is not None}>"

    async def read(
        self, max_bytes: int = 65536, *, timeout: float, phase: str, deadline: Deadline | None = None
    ) -> bytes:
        """Up to ``max_bytes`` bytes, at least one.

        Raises `ReadTimeout` if nothing arrives within ``timeout`` seconds
        (``limit`` "idle"), or when the ``deadline`` of the whole answer
        passes (``limit`` "throughput": a server dripping a byte a second
        never trips the per-read timeout), and `ConnectionClosed` on EOF or
        reset; never returns b"".  The octets read count towards ``deadline``.
        """
        start = time.monotonic()
        # The per-read timeout rules until data has flowed: a silent peer is
        # "idle" (a wrong port, a server waiting for a TLS handshake), and only
        # one that sent something and then dripped is cut by the deadline.
        idle = deadline is None or deadline.received == 0 or deadline.remaining() >= timeout
        wait = timeout if idle or deadline is None else deadline.remaining()
        try:
            if wait <= 0:
                raise TimeoutError
            data = await within(self._reader.read(max_bytes), wait)
        except TimeoutError:
            if idle:
                message, limit = f"no data from {self.host}:{self.port} within {timeout:g}s ({phase})", "idle"
            else:
                message, limit = (
                    f"{self.host}:{self.port} sent its answer too slowly (under {MIN_THROUGHPUT} octets/s, {phase})",
                    "throughput",
                )
            raise ReadTimeout(message, phase=phase, limit=limit, **self._where(start)) from None
        except OSError as exc:
            # Reset, broken pipe, a TLS record error (SSLError is an OSError):
            # the stream is gone.
            raise ConnectionClosed(
                f"connection to {self.host}:{self.port} broke ({phase})",
                phase=phase,
                reset=True,
                **self._where(start),
            ) from exc
        if not data:
            raise ConnectionClosed(
                f"{self.host}:{self.port} closed the connection ({phase})",
                phase=phase,
                **self._where(start),
            )
        if self.tls is None:
            self._read_plain = True
        if deadline is not None:
            deadline.add(len(data))
        return data

    def _where(self, start: float) -> Where:
        """The endpoint facts every error of this connection carries."""
        return {"host": self.host, "port": self.port, "address": self.peer[0], "elapsed_ms": _ms_since(start)}

    def write(self, data: bytes) -> None:
        """Queue ``data``; call `drain` to wait until the peer takes it."""
        self._writer.write(data)

    async def drain(self, *, timeout: float) -> None:
        """Wait for the send buffer to empty.

        Raises `WriteTimeout` (phase "write") or `ConnectionClosed` (phase
        "write", reset=True) when the peer is gone.
        """
        start = time.monotonic()
        try:
            await within(self._writer.drain(), timeout)
        except TimeoutError:
            raise WriteTimeout(
                f"{self.host}:{self.port} did not accept data within {timeout:g}s",
                phase="write",
                **self._where(start),
            ) from None
        except OSError as exc:
            raise ConnectionClosed(
                f"connection to {self.host}:{self.port} broke while writing",
                phase="write",
                reset=True,
                **self._where(start),
            ) from exc

    async def start_tls(
        self, context: ssl.SSLContext, *, server_hostname: str, timeout: float
    ) -> None:
        """Upgrade this connection to TLS in place (STARTTLS or implicit TLS).

        Sets `tls` on success.  Raises `CertificateProblem` (``cert`` None:
        see `unverified_certificate`) or `TlsHandshakeFailed`; the connection
        is then aborted (not closed gracefully: a half-done TLS layer would
        wait for a peer that is silent or hostile).  Bytes already buffered
        from the peer before the upgrade would be lost, which is why STARTTLS
        callers must read the server's reply to STLS completely first.
        """
        start = time.monotonic()
        try:
            await _handshake(
                self._writer.start_tls(
                    context,
                    server_hostname=server_hostname,
                    ssl_handshake_timeout=_backstop(timeout),
                ),
                timeout=timeout,
                start=start,
                host=self.host,
                port=self.port,
                address=self.peer[0],
                attempts=self.attempts,
            )
        except TlsHandshakeFailed as exc:
            self._abort()
            # Not-TLS bytes on a connection that spoke clear text just before:
            # what answered our handshake was clear text after the server's "go ahead".
            exc.after_plaintext = self._read_plain and exc.reason == "wrong-version-number"
            raise
        except BaseException:
            self._abort()
            raise
        self.tls = _tls_info(self._writer, _ms_since(start))

    def _abort(self) -> None:
        """Drop the connection at once, after a failed TLS upgrade.

        asyncio has handed the transport to its TLS protocol by then, so the
        stream's own protocol never hears of the close and ``wait_closed``
        would only end at `aclose`'s 2 s bound: `aclose` skips it.
        """
        self._aborted = True
        self._writer.transport.abort()

    async def aclose(self) -> None:
        """Close the connection; never raises, except a cancellation arriving meanwhile.

        In a task being cancelled (Ctrl-C) the connection is aborted at once:
        no TLS close_notify exchange, no flushing of queued commands, nothing
        that could keep an interrupted run alive.  The server sees a dropped
        connection without QUIT, so it deletes nothing of this session.
        """
        if self._aborted:
            return
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            self._writer.transport.abort()
            return
        try:
            self._writer.close()
            await within(self._writer.wait_closed(), 2.0)
        except asyncio.CancelledError:
            self._writer.transport.abort()
            raise
        except Exception:
            self._writer.transport.abort()


def _backstop(timeout: float) -> float:
    """asyncio's own handshake deadline, set beyond ours so that ours decides
    (and its ConnectionAbortedError never wins the race)."""
    return timeout * 2 + 1


async def _handshake(
    work: Awaitable[_T],
    *,
    timeout: float,
    start: float,
    host: str,
    port: int,
    address: str,
    attempts: list[Attempt],
) -> _T:
    """Await a TLS handshake under ``timeout``; failures become `TlsHandshakeFailed`."""
    try:
        return await within(work, timeout)
    except (TimeoutError, OSError, EOFError) as exc:
        raise classify_tls_error(
            exc,
            host=host,
            port=port,
            address=address,
            elapsed_ms=_ms_since(start),
            attempts=attempts,
        ) from exc


async def _wrap_plain(
    sock: socket.socket, host: str, port: int, attempts: list[Attempt]
) -> Connection:
    """Plain streams over a connected socket, which they then own."""
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
    except BaseException:
        sock.close()
        raise
    return Connection(reader, writer, host=host, port=port, attempts=attempts)


async def open_connection(
    host: str,
    port: int,
    *,
    timeouts: Timeouts,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    nameservers: list[str] | None = None,
    happy_eyeballs_delay: float = 0.25,
) -> Connection:
    """Resolve ``host``, connect (Happy Eyeballs), then implicit TLS if ``tls`` is given.

    ``server_hostname`` (default ``host``) is what the certificate must
    name and what is sent as SNI.  Raises `DnsNotFound`/`DnsUnavailable`,
    a `ConnectError` subclass, or `TlsHandshakeFailed`/`CertificateProblem`.
    A `CertificateProblem` carries the leaf's facts (``cert``), fetched by
    one extra unverified handshake to the same address, because the
    diagnosis needs the issuer, dates and names of exactly the certificate
    that failed.  Every error raised after resolution carries ``attempts``.
    """
    addresses = await resolve(host, timeout=timeouts.resolve, nameservers=nameservers)
    sock, attempts = await race(
        host, port, addresses, timeout=timeouts.connect, delay=happy_eyeballs_delay
    )
    if tls is None:
        return await _wrap_plain(sock, host, port, attempts)
    hostname = server_hostname or (ip_literal(host) or host)
    address = str(sock.getpeername()[0])
    family: Family = "ipv6" if sock.family == socket.AF_INET6 else "ipv4"
    start = time.monotonic()
    try:
        # The handshake must run on the raw socket: a plain StreamReader
        # created first would swallow the peer's first bytes (e.g. a plain
        # "+OK" banner), and the TLS layer would then wait for nothing.
        reader, writer = await _handshake(
            asyncio.open_connection(
                sock=sock,
                ssl=tls,
                server_hostname=hostname,
                ssl_handshake_timeout=_backstop(timeouts.tls),
            ),
            timeout=timeouts.tls,
            start=start,
            host=host,
            port=port,
            address=address,
            attempts=attempts,
        )
    except CertificateProblem as exc:
        sock.close()

        async def reopen() -> Connection:
            again, tries = await race(
                host, port, [(family, address)], timeout=timeouts.connect, delay=0
            )
            return await _wrap_plain(again, host, port, tries)

        # Filled in after construction: the facts come from a second connection.
        exc.cert = await unverified_certificate(
            reopen, server_hostname=hostname, timeout=timeouts.tls
        )
        raise
    except BaseException:
        sock.close()
        raise
    conn = Connection(reader, writer, host=host, port=port, attempts=attempts)
    conn.tls = _tls_info(writer, _ms_since(start))
    return conn


async def unverified_certificate(
    open_plain: Callable[[], Awaitable[Connection]], *, server_hostname: str, timeout: float
) -> CertFacts | None:
    """The peer's leaf certificate, read without verifying it; None if that fails.

    ``open_plain`` returns a plain `Connection` positioned right before the
    TLS handshake (for STARTTLS: after the server accepted STLS).  The
    connection is closed before returning; nothing is sent over it after the
    handshake.  Connection and handshake errors are swallowed (the result is
    supplementary evidence), so the answer is None when the second look fails.
    """
    try:
        conn = await open_plain()
    except NetError:
        return None
    try:
        await conn.start_tls(
            make_tls_context(verify=False), server_hostname=server_hostname, timeout=timeout
        )
    except TlsHandshakeFailed:
        return None
    finally:
        await conn.aclose()
    return conn.tls.cert if conn.tls is not None else None
