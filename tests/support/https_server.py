"""A small HTTPS (and plain HTTP) server on loopback serving fixed routes, for tests.

Usage::

    from support.https_server import LocalWebServer, Route

    routes = {
        "autoconfig.example.test/mail/config-v1.1.xml": Route(body=xml_bytes),
        "example.test/.well-known/autoconfig/mail/config-v1.1.xml": Route(status=404),
        "huge.test/mail/config-v1.1.xml": Route(endless=True),
        "slow.test/mail/config-v1.1.xml": Route(silent=True),
    }
    with LocalWebServer(routes, ca, names=["autoconfig.example.test", "example.test"]) as web:
        web.https_port, web.http_port, web.requests

Rules:

- a route key is ``<host>/<path>``: the Host header without its port, then
  the path without the query string; ``https:<host>/<path>`` or
  ``http:<host>/<path>`` applies to one scheme only and wins; unknown keys
  answer 404;
- HTTPS uses a certificate from ``ca`` (a `trustme.CA`) valid for ``names``;
  plain HTTP serves the same routes on ``http_port``;
- ``Route(endless=True)`` streams data forever with no Content-Length (the
  client must stop reading); ``Route(silent=True)`` accepts the request and
  never answers; ``Route(content_length=N)`` announces N bytes whatever it sends;
- ``requests`` records ``(scheme, host, path_with_query)`` for each request.

Threads are daemons; ``stop()`` (or leaving the ``with``) shuts everything down
and releases silent handlers.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import trustme


@dataclass(frozen=True)
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml"
    endless: bool = False
    silent: bool = False
    content_length: int | None = None


class LocalWebServer:
    def __init__(
        self,
        routes: Mapping[str, Route],
        ca: trustme.CA,
        *,
        names: Iterable[str] = ("localhost",),
        host: str = "127.0.0.1",
    ) -> None:
        self.routes = routes
        self.ca = ca
        self.names = list(names)
        self.host = host
        self.https_port = 0
        self.http_port = 0
        self.requests: list[tuple[str, str, str]] = []
        self._stopping = threading.Event()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    def _handler(self, scheme: str) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
                owner.requests.append((scheme, host, self.path))
                path = self.path.split("?", 1)[0]
                route = owner.routes.get(f"{scheme}:{host}{path}") or owner.routes.get(f"{host}{path}")
                if route is None:
                    route = Route(status=404, body=b"not found", content_type="text/plain")
                if route.silent:
                    owner._stopping.wait(60)
                    self.close_connection = True
                    return
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                if route.endless:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"<a>" + b"x" * 65536
                    try:
                        while not owner._stopping.is_set():
                            self.wfile.write(chunk)
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                length = route.content_length if route.content_length is not None else len(route.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                try:
                    self.wfile.write(route.body)
                except OSError:
                    pass

        return Handler

    def start(self) -> LocalWebServer:
        cert = self.ca.issue_cert(*self.names)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        class TlsServer(Server):
            def finish_request(self, request: object, client_address: object) -> None:
                # Handshake in the connection's own thread, so a client that
                # never completes it cannot stall the accept loop.
                assert isinstance(request, socket.socket)
                request.settimeout(10)
                try:
                    tls = context.wrap_socket(request, server_side=True)
                except (OSError, ssl.SSLError):
                    return
                super().finish_request(tls, client_address)

        https = TlsServer((self.host, 0), self._handler("https"))
        plain = Server((self.host, 0), self._handler("http"))
        self.https_port = https.server_address[1]
        self.http_port = plain.server_address[1]
        self._servers = [https, plain]
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> LocalWebServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
