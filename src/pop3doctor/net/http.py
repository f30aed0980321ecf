"""One bounded HTTP(S) GET with a typed failure.

For small documents from hosts we do not trust (autoconfig files): the
response is read only when its status is 200, and never beyond
``max_bytes`` of *decoded* body, so neither an endless body nor a
compression bomb makes us buffer more.  Redirects are not followed (a
redirect could lead off the domain the caller chose).

When ``nameservers`` are given, the host name is resolved through them
(`pop3doctor.net.resolve`) and the request goes to that address with the
original name as Host header, SNI and certificate name: tests and
``--dns-server`` take exactly the path a real lookup takes, certificate
check included.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import httpx

from pop3doctor.base_error import Pop3DoctorError
from pop3doctor.net.errors import NetError
from pop3doctor.net.resolve import ip_literal, resolve


@dataclass(frozen=True)
class HttpResult:
    """A 200 response's body (at most the ``max_bytes`` asked for) from ``url``."""

    url: str
    body: bytes


class HttpFetchFailed(Pop3DoctorError):
    """The fetch gave no usable body; ``kind`` is a stable slug, never exception text.

    Kinds:

    - "status": the server answered with ``status`` other than 200 (a
      redirect included);
    - "too-large": the declared or the decoded body exceeded ``limit`` bytes;
    - "dns": the host name did not resolve through the given nameservers;
      ``detail`` is the `NetError` code (e.g. "dns-not-found");
    - "certificate": the server's certificate failed verification;
    - "tls": any other TLS failure;
    - "timeout": connect, read, write or pool wait took longer than ``timeout``;
    - "connection": the TCP connection could not be made;
    - "protocol": the peer did not speak valid HTTP/1.1 or HTTP/2;
    - "network": any other transport failure.
    """

    code = "http-fetch-failed"

    def __init__(
        self, kind: str, *, status: int | None = None, limit: int | None = None, detail: str | None = None
    ) -> None:
        super().__init__(kind if detail is None else f"{kind}: {detail}")
        self.kind = kind
        self.status = status
        self.limit = limit
        self.detail = detail


def _transport_kind(exc: BaseException) -> str:
    """The `HttpFetchFailed` kind for an httpx failure, from types (and the ssl cause chain) only."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return "certificate"
        if isinstance(seen, ssl.SSLError):
            return "tls"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connection"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return "protocol"
    return "network"


async def fetch_bounded(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    tls_context: ssl.SSLContext | None = None,
    nameservers: list[str] | None = None,
) -> HttpResult:
    """GET ``url`` and return its body if the status is 200; raises `HttpFetchFailed`.

    ``timeout`` bounds each step (name lookup: half of it; connect; each
    read and write), not the whole transfer: callers that need a total
    bound wrap the call.  ``tls_context`` verifies HTTPS servers (None:
    httpx's default trust store).  Redirects are returned as kind "status".
    """
    target = httpx.URL(url)
    request_url = target
    headers: dict[str, str] = {}
    extensions: dict[str, object] = {}
    if nameservers and ip_literal(target.host) is None:
        try:
            # Half the budget, so the lookup ends by itself well inside the caller's cap.
            addresses = await resolve(target.host, timeout=timeout / 2, nameservers=nameservers)
        except NetError as exc:
            raise HttpFetchFailed("dns", detail=exc.code) from None
        request_url = target.copy_with(host=addresses[0][1])
        headers["Host"] = target.netloc.decode("ascii")
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
    verify: ssl.SSLContext | bool = tls_context if tls_context is not None else True
    try:
        async with (
            httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
            client.stream("GET", request_url, headers=headers, extensions=extensions) as response,
        ):
            if response.status_code != 200:
                raise HttpFetchFailed("status", status=response.status_code)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise HttpFetchFailed("too-large", limit=max_bytes)
            body = bytearray()
            # aiter_bytes yields *decoded* bytes, so a gzip bomb hits the limit too.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise HttpFetchFailed("too-large", limit=max_bytes)
            return HttpResult(url, bytes(body))
    except httpx.HTTPError as exc:
        raise HttpFetchFailed(_transport_kind(exc)) from None
