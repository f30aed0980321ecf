"""Serve the page on loopback with uvicorn: in the foreground (the CLI) or in a thread (tests).

The listening socket is bound here, before uvicorn starts, so port 0 ("any
free port") works and the URL is known before the browser is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

#: The page is for this computer only; see `pop3doctor.web.guard`.
LOOPBACK = "127.0.0.1"


def bind_loopback(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port`` (0 = a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((LOOPBACK, port))
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://{LOOPBACK}:{sock.getsockname()[1]}/"


def _server(app: ASGIApp) -> uvicorn.Server:
    # No access log: URLs hold nothing secret, but nobody needs them either.
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1)
    return uvicorn.Server(config)


def serve_forever(app: ASGIApp, sock: socket.socket, on_started: Callable[[], None] | None = None) -> None:
    """Serve until Ctrl-C / SIGTERM (uvicorn handles the signals in the main thread)."""
    server = _server(app)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started and on_started is not None:
            on_started()
        await task

    asyncio.run(main())


@contextlib.contextmanager
def serve_in_thread(app: ASGIApp, port: int = 0) -> Iterator[str]:
    """Serve ``app`` from a daemon thread while the block runs; yields the page's URL."""
    sock = bind_loopback(port)
    server = _server(app)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the web server did not start")
            threading.Event().wait(0.02)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
