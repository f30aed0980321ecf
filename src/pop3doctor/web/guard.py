"""Request guards of the local web page: Host-header check, security headers, CSRF tokens.

The page listens on loopback only, but a web page from anywhere can still
make the user's browser talk to it.  Two attacks matter:

- DNS rebinding: ``evil.example`` re-resolves to 127.0.0.1, and the
  attacker's script then reads our pages as same-origin.  The browser still
  sends ``Host: evil.example``, so every request whose Host is not a loopback
  name is refused (`HostGuard`).
- Cross-site request forgery: a foreign page POSTs a form to us.  Every
  state-changing request must carry the page's random token (`PageTokens`),
  which a foreign origin cannot read; a present ``Origin`` header must also
  name us.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pop3doctor.web.text import BAD_HOST_HEADER

#: Host names a loopback-only server is reached by.  Nothing else is accepted,
#: not even this machine's own name: that is what DNS rebinding would send.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})

#: Sent with every response.  The page loads nothing from elsewhere (it must
#: work offline), so everything but 'self' is refused; no inline script at all.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # Results name the user's server and account: keep them out of caches.
    (b"cache-control", b"no-store"),
)


def host_name(host_header: str) -> str:
    """The name part of a Host header value, lower-cased ("[::1]:8000" -> "[::1]")."""
    value = host_header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end != -1 else value
    return value.rsplit(":", 1)[0] if ":" in value else value


def is_loopback_origin(origin: str, host_header: str) -> bool:
    """True when an ``Origin`` header names this very server (scheme http, same host and port)."""
    expected = f"http://{host_header.strip().lower()}"
    return origin.strip().lower() == expected and host_name(host_header) in LOOPBACK_NAMES


class HostGuard:
    """ASGI middleware: refuse non-loopback Host headers; add `SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str] = LOOPBACK_NAMES) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        if host_name(host) not in self.allowed:
            body = f"{BAD_HOST_HEADER.ja}\n{BAD_HOST_HEADER.en}\n".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 421,  # Misdirected Request: this server does not serve that name
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                        *SECURITY_HEADERS,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


@dataclass
class Page:
    """One loaded page: its CSRF token and the diagnosis it runs (one at a time)."""

    page_id: str
    token: str
    run_id: str | None = None


class PageTokens:
    """The pages this server has handed out, each with its own CSRF token.

    Bounded: only the newest ``limit`` pages are remembered, so reloading a
    page forever cannot grow memory; a forgotten page is told to reload.
    """

    def __init__(self, limit: int = 64) -> None:
        self.limit = limit
        self._pages: OrderedDict[str, Page] = OrderedDict()

    def new(self) -> Page:
        page = Page(secrets.token_urlsafe(16), secrets.token_urlsafe(32))
        self._pages[page.page_id] = page
        while len(self._pages) > self.limit:
            self._pages.popitem(last=False)
        return page

    def check(self, page_id: str, token: str) -> Page | None:
        """The page when ``token`` is that page's token (compared in constant time), else None."""
        page = self._pages.get(page_id)
        if page is None or not secrets.compare_digest(page.token.encode(), token.encode()):
            return None
        self._pages.move_to_end(page_id)
        return page
