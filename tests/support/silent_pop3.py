"""A POP3 port that accepts connections and never says a word, counting them (issue 12, item 12).

A client waits for the greeting until its own timeout, so every connection
stays open as long as the client keeps it: ``peak`` is how many clients were
connected at once, ``current`` how many are now.  Threads, not asyncio, so a
test in plain synchronous code can use it next to a server on its own loop.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType


class SilentPop3Server:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.current = 0
        self.peak = 0
        self.total = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sock: socket.socket | None = None
        self._closing = False
        self._conns: set[socket.socket] = set()

    def __enter__(self) -> SilentPop3Server:
        self._sock = socket.create_server((self.host, 0), backlog=128)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing = True
        assert self._sock is not None
        self._sock.close()
        with self._lock:
            for conn in list(self._conns):
                conn.close()

    def reset_peak(self) -> None:
        with self._lock:
            self.peak = self.current

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no client is connected; False if some still are after ``timeout`` s."""
        return self._wait(lambda: self.current == 0, timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Wait until at least one client is connected; False if none came within ``timeout`` s."""
        return self._wait(lambda: self.current > 0, timeout)

    def _wait(self, done: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._closing:
            try:
                conn, _addr = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(conn)
                self.current += 1
                self.total += 1
                self.peak = max(self.peak, self.current)
                self._changed.notify_all()
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn: socket.socket) -> None:
        """Read and ignore whatever comes until the client closes; never answer."""
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass
        finally:
            conn.close()
            with self._changed:
                self._conns.discard(conn)
                self.current -= 1
                self._changed.notify_all()
