"""Racing TCP connection attempts across addresses (RFC 8305, section 5).

Addresses are interleaved by family, IPv6 first; the next attempt starts
after ``delay`` seconds or as soon as a running attempt fails, whichever is
first.  The first socket to connect wins and the others are abandoned.  We
run the race ourselves instead of using ``loop.create_connection(...,
happy_eyeballs_delay=...)`` because the diagnosis needs the outcome of every
attempt, which asyncio does not expose.
"""

from __future__ import annotations

import asyncio
import errno as errno_mod
import socket
import time
from collections.abc import Sequence

from pop3doctor.net.attempt import Attempt, Family, Outcome
from pop3doctor.net.errors import (
    ConnectError,
    ConnectFailed,
    ConnectRefused,
    ConnectTimeout,
    HostUnreachable,
)
from pop3doctor.net.timeouts import within

_REFUSED = frozenset({errno_mod.ECONNREFUSED})
_UNREACHABLE = frozenset({errno_mod.ENETUNREACH, errno_mod.EHOSTUNREACH})
_TIMEDOUT = frozenset({errno_mod.ETIMEDOUT})


def interleave(addresses: Sequence[tuple[str, str]]) -> list[tuple[Family, str]]:
    """RFC 8305 ordering: IPv6 first, then alternate families, each in given order."""
    v6 = [ip for family, ip in addresses if family == "ipv6"]
    v4 = [ip for family, ip in addresses if family == "ipv4"]
    out: list[tuple[Family, str]] = []
    for i in range(max(len(v6), len(v4))):
        if i < len(v6):
            out.append(("ipv6", v6[i]))
        if i < len(v4):
            out.append(("ipv4", v4[i]))
    return out


def _classify_oserror(exc: OSError) -> tuple[Outcome, str | None]:
    code = exc.errno
    name = errno_mod.errorcode.get(code) if code is not None else None
    if code in _REFUSED:
        return "refused", name
    if code in _UNREACHABLE:
        return "unreachable", name
    if code in _TIMEDOUT:
        return "timeout", name
    return "error", name or type(exc).__name__


class _Try:
    """One attempt in the race; ``sock`` is set when it connected."""

    def __init__(self, family: Family, ip: str) -> None:
        self.family = family
        self.ip = ip
        self.sock: socket.socket | None = None
        self.attempt: Attempt | None = None
        self.errno: int | None = None

    async def run(self, port: int, timeout: float) -> None:
        start = time.monotonic()
        outcome: Outcome
        detail: str | None = None
        sock: socket.socket | None = None
        try:
            af = socket.AF_INET6 if self.family == "ipv6" else socket.AF_INET
            sock = socket.socket(af, socket.SOCK_STREAM)
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            await within(loop.sock_connect(sock, (self.ip, port)), timeout)
        except TimeoutError as exc:
            # Our own deadline raises TimeoutError with errno None; a kernel
            # ETIMEDOUT is also a TimeoutError but carries the errno.
            if sock is not None:
                sock.close()
            outcome, detail = "timeout", (
                errno_mod.errorcode.get(exc.errno) if exc.errno is not None else None
            )
            self.errno = exc.errno
        except OSError as exc:
            if sock is not None:
                sock.close()
            outcome, detail = _classify_oserror(exc)
            self.errno = exc.errno
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
            self.attempt = Attempt(
                self.ip, self.family, "abandoned", (time.monotonic() - start) * 1000.0
            )
            raise
        else:
            outcome = "ok"
            self.sock = sock
        self.attempt = Attempt(
            self.ip, self.family, outcome, (time.monotonic() - start) * 1000.0, detail
        )


async def race(
    host: str,
    port: int,
    addresses: Sequence[tuple[str, str]],
    *,
    timeout: float,
    delay: float,
) -> tuple[socket.socket, list[Attempt]]:
    """Connect to the first address that answers; return the socket and all attempts.

    ``timeout`` bounds each attempt.  Raises a `ConnectError` subclass when
    every attempt failed, chosen by the most telling outcome: refused (a
    host answered) over timeout (something dropped packets) over
    unreachable (no route) over other errors.
    """
    start = time.monotonic()
    queue = interleave(addresses)
    if not queue:
        raise ValueError(f"no IPv4 or IPv6 address to connect to for {host!r}")
    tries: list[_Try] = []
    running: dict[asyncio.Task[None], _Try] = {}
    winner: _Try | None = None

    def launch() -> None:
        family, ip = queue.pop(0)
        attempt = _Try(family, ip)
        tries.append(attempt)
        running[asyncio.ensure_future(attempt.run(port, timeout))] = attempt

    try:
        launch()
        while running:
            done, _ = await asyncio.wait(
                running,
                timeout=delay if queue else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            failed = False
            for task in done:
                finished = running.pop(task)
                if finished.sock is not None and winner is None:
                    winner = finished
                elif finished.sock is not None:
                    finished.sock.close()  # a second success at the same instant
                else:
                    failed = True
            if winner is not None:
                break
            # Start the next address when the delay passed (nothing finished)
            # or an attempt just failed.
            if queue and (failed or not done):
                launch()
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    attempts = [t.attempt for t in tries if t.attempt is not None]
    if winner is not None and winner.sock is not None:
        return winner.sock, attempts
    raise _failure(host, port, tries, attempts, (time.monotonic() - start) * 1000.0)


def _failure(
    host: str, port: int, tries: list[_Try], attempts: list[Attempt], elapsed_ms: float
) -> ConnectError:
    by_outcome: dict[str, _Try] = {}
    for t in tries:
        if t.attempt is not None:
            by_outcome.setdefault(t.attempt.outcome, t)
    if "refused" in by_outcome:
        t = by_outcome["refused"]
        return ConnectRefused(
            f"connection to {t.ip} port {port} refused",
            host=host, port=port, elapsed_ms=elapsed_ms, address=t.ip, attempts=attempts,
        )
    if "timeout" in by_outcome:
        t = by_outcome["timeout"]
        return ConnectTimeout(
            f"no answer from {host} port {port} within the connect timeout",
            host=host, port=port, elapsed_ms=elapsed_ms, address=t.ip, attempts=attempts,
        )
    if "unreachable" in by_outcome:
        t = by_outcome["unreachable"]
        return HostUnreachable(
            f"{t.ip} is unreachable",
            errno=t.errno, host=host, port=port, elapsed_ms=elapsed_ms, address=t.ip,
            attempts=attempts,
        )
    t = tries[0]
    return ConnectFailed(
        f"could not connect to {host} port {port}",
        errno=t.errno, host=host, port=port, elapsed_ms=elapsed_ms, address=t.ip,
        attempts=attempts,
    )
