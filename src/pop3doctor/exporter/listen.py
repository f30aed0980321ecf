"""``--listen ADDRESS:PORT``: parsed, and bound exactly there.

blackbox_exporter's ``:9115`` means every interface; here the address is
never implied, so the exporter is reachable only where its admin said.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from pop3doctor.escaping import visible
from pop3doctor.i18n import Msg, catalog

_t = catalog("exporter")

DEFAULT_LISTEN = "127.0.0.1:9199"


class ListenError(Exception):
    def __init__(self, msg: Msg) -> None:
        super().__init__(msg.en)
        self.msg = msg


@dataclass(frozen=True)
class Listen:
    host: str  # an address or a name; an IPv6 literal without brackets
    port: int  # 0: any free port (tests)


def parse_listen(value: str) -> Listen:
    bad = ListenError(_t.BAD_LISTEN.format(listen=visible(value[:300])))
    if value.startswith("["):
        host, sep, port_text = value[1:].partition("]:")
        try:
            if not sep or ipaddress.ip_address(host).version != 6:
                raise bad
        except ValueError:
            raise bad from None
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep or not host or ":" in host:
            raise bad
    if not (port_text.isascii() and port_text.isdigit() and int(port_text) < 65536):
        raise bad
    return Listen(host, int(port_text))


def bind(listen: Listen) -> socket.socket:
    """A listening socket on the first address ``listen.host`` stands for; `ListenError` when that fails."""
    shown = visible(f"{listen.host}:{listen.port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise ListenError(_t.CANNOT_LISTEN.format(listen=shown, why=_why(exc))) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # Only the address asked for: "::1" must not also take 127.0.0.1, nor "::" every IPv4 address.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise ListenError(_t.CANNOT_LISTEN.format(listen=shown, why=_why(exc))) from None
    sock.setblocking(False)
    return sock


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def is_loopback(sock: socket.socket) -> bool:
    """True when ``sock`` listens on a loopback address (127.0.0.0/8, ::1)."""
    return ipaddress.ip_address(sock.getsockname()[0]).is_loopback


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
