"""Contenders that run inside the benchmark process and stream to /dev/null.

- ``pop3doctor``: our `Pop3Client.retrieve_many` (pipelined RETR, window 32);
- ``poplib``: the standard library, one RETR at a time, as most Python code does;
- ``raw``: an ssl socket that logs in and then sends the RETR commands in large
  pipelined batches and only counts terminators -- no parsing, no
  dot-unstuffing, no per-message work.  No real client can beat it on the
  same TLS stack, so it is the ceiling the others are measured against.

All three verify the Dovecot CA and the host name, and log in with USER/PASS
over the TLS connection.  Each connection is timed from TCP connect to the
server's reply to QUIT.
"""

from __future__ import annotations

import asyncio
import os
import poplib
import socket
import ssl

from benchmarks.model import Target, Tool, ToolFailed
from pop3doctor.client import Pop3Client

#: Lines end in CRLF and a body line "." is sent as "..", so this sequence
#: occurs exactly once per message: at its end (RFC 1939 section 3).
TERMINATOR = b"\r\n.\r\n"
_KEEP = len(TERMINATOR) - 1  # octets of a read that may begin a straddling terminator

#: RETR commands the raw reader keeps in flight.  At ~12 octets a command a
#: batch is ~6 KB: it fits any socket buffer, so writing never blocks on a
#: server that is itself blocked writing to us.
RAW_BATCH = 500

RAW_READ = 256 * 1024
CONNECT_TIMEOUT = 30.0


def _tls_context(target: Target) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(target.ca_file))


class _DevNull:
    """Bytes and messages written to /dev/null, counted (the `MessageSink` of `_OursRun`)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.messages = 0
        self.octets = 0

    def write(self, data: bytes) -> None:
        self.octets += os.write(self.fd, data)

    def close(self) -> None:
        self.messages += 1

    def abort(self) -> None:
        pass


class _OursRun:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.fd = os.open(os.devnull, os.O_WRONLY)
        self.sink = _DevNull(self.fd)

    def go(self) -> None:
        asyncio.run(self._fetch())

    async def _fetch(self) -> None:
        t = self.target
        async with Pop3Client(t.host, t.port, security="ssl", ca_file=str(t.ca_file)) as client:
            await client.login(t.user, t.password)
            count, _ = await client.stat()
            await client.retrieve_many(range(1, count + 1), lambda _msgnum: self.sink)

    def check(self) -> int:
        return self.sink.messages

    def cleanup(self) -> None:
        os.close(self.fd)


class _PoplibRun:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.messages = 0

    def go(self) -> None:
        t = self.target
        with open(os.devnull, "wb", buffering=0) as devnull:
            pop = poplib.POP3_SSL(t.host, t.port, context=_tls_context(t), timeout=CONNECT_TIMEOUT)
            try:
                pop.user(t.user)
                pop.pass_(t.password)
                count, _ = pop.stat()
                for msgnum in range(1, count + 1):
                    _, lines, _ = pop.retr(msgnum)
                    devnull.write(b"\r\n".join(lines) + b"\r\n")
                    self.messages += 1
                pop.quit()
            except poplib.error_proto as exc:
                pop.close()
                raise ToolFailed(t.redact(f"poplib: {exc!r}")) from None

    def check(self) -> int:
        return self.messages

    def cleanup(self) -> None:
        pass


class _RawRun:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.messages = 0
        self.octets = 0

    def go(self) -> None:
        t = self.target
        raw = socket.create_connection((t.host, t.port), timeout=CONNECT_TIMEOUT)
        with _tls_context(t).wrap_socket(raw, server_hostname=t.host) as sock:
            buf = bytearray()
            self._line(sock, buf, "greeting")
            sock.sendall(f"USER {t.user}\r\n".encode())
            self._line(sock, buf, "USER")
            sock.sendall(f"PASS {t.password}\r\n".encode())
            self._line(sock, buf, "PASS")
            sock.sendall(b"STAT\r\n")
            count = int(self._line(sock, buf, "STAT").split()[1])
            self._retrieve(sock, count, bytes(buf))
            sock.sendall(b"QUIT\r\n")
            buf.clear()
            self._line(sock, buf, "QUIT")

    def _line(self, sock: ssl.SSLSocket, buf: bytearray, what: str) -> bytes:
        """One status line; raises on -ERR.  ``buf`` keeps what came after it."""
        while (end := buf.find(b"\r\n")) < 0:
            data = sock.recv(4096)
            if not data:
                raise ToolFailed(f"raw: connection closed waiting for the {what} reply")
            buf += data
        line = bytes(buf[:end])
        del buf[: end + 2]
        if not line.startswith(b"+OK"):
            # The PASS reply never echoes the password, but redact all the same.
            raise ToolFailed(self.target.redact(f"raw: {what} answered {line[:200]!r}"))
        return line

    def _retrieve(self, sock: ssl.SSLSocket, count: int, pending: bytes) -> None:
        sent = 0
        seen = 0
        tail = b""
        received = 0
        while seen < count:
            if sent < count and sent - seen < RAW_BATCH:
                upto = min(count, sent + RAW_BATCH)
                sock.sendall(b"".join(b"RETR %d\r\n" % n for n in range(sent + 1, upto + 1)))
                sent = upto
            data = pending or sock.recv(RAW_READ)
            pending = b""
            if not data:
                raise ToolFailed(f"raw: connection closed after {seen} of {count} messages")
            received += len(data)
            seen += data.count(TERMINATOR)
            # A terminator may straddle two reads.  Any match in these <= 8
            # octets starts in the old tail, so data.count did not see it.
            seen += (tail + data[:_KEEP]).count(TERMINATOR)
            tail = data[-_KEEP:] if len(data) >= _KEEP else (tail + data)[-_KEEP:]
        self.messages = seen
        self.octets = received

    def check(self) -> int:
        # Every RETR answer carries at least its message: fewer octets means an -ERR slipped in.
        return self.messages if self.octets >= self.target.octets else 0

    def cleanup(self) -> None:
        pass


def ours() -> Tool:
    return Tool("pop3doctor", "/dev/null", lambda target, _scratch: _OursRun(target), note="Pop3Client, window 32")


def stdlib_poplib() -> Tool:
    return Tool("poplib", "/dev/null", lambda target, _scratch: _PoplibRun(target), note="stdlib, one RETR at a time")


def raw() -> Tool:
    return Tool(
        "raw",
        "counted, discarded",
        lambda target, _scratch: _RawRun(target),
        note=f"ssl socket, RETR pipelined {RAW_BATCH} at a time: the limit",
    )
