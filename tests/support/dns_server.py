"""A tiny authoritative DNS server on loopback, for tests.

Usage::

    from support.dns_server import LocalDnsServer

    records = {
        "mail.example.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]},
        "example.test": {"MX": [(10, "mail.example.test")]},
        "_pop3s._tcp.example.test": {"SRV": [(0, 1, 995, "mail.example.test")]},
    }
    with LocalDnsServer(records, servfail={"broken.test"}, silent={"slow.test"}) as dns:
        await resolve("mail.example.test", timeout=2, nameservers=[dns.nameserver])

Behaviour (names are case-insensitive, a trailing dot is optional):

- a name in ``records`` answers the asked type from its dict; supported types
  are A, AAAA, MX ``(preference, exchange)``, SRV ``(priority, weight, port,
  target)``, CNAME ``target`` and TXT ``text``.  A known name without the asked
  type answers NOERROR with an empty answer section (NODATA).  A CNAME is
  returned as is (not chased), like a server that is not authoritative for
  the target.
- a name in ``servfail`` answers SERVFAIL; a name in ``silent`` never answers
  (the client's query times out); any other name answers NXDOMAIN.
- it serves UDP and TCP on the same port of ``host`` (127.0.0.1 by default);
  ``port=0`` picks a free port, readable as ``.port`` after ``start()``.
- ``queries`` records every ``(name, type)`` asked, in arrival order
  (thread-safe append), so tests can check what a client looked up.

The dicts and sets are read at query time, so a test may change them while
the server runs.  Runs in daemon threads; ``stop()`` (or leaving the ``with``
block) shuts both listeners down.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, SRV, TXT, A, DNSRecord

Records = Mapping[str, Mapping[str, Sequence[Any]]]


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


class LocalDnsServer:
    """Authoritative test DNS server; see the module docstring for the rules."""

    def __init__(
        self,
        records: Records,
        port: int = 0,
        *,
        servfail: Iterable[str] = (),
        silent: Iterable[str] = (),
        host: str = "127.0.0.1",
        ttl: int = 60,
        tcp: bool = True,
    ) -> None:
        self.records = records
        self.servfail = {_norm(n) for n in servfail}
        self.silent = {_norm(n) for n in silent}
        self.host = host
        self.port = port
        self.ttl = ttl
        self.tcp = tcp
        self.queries: list[tuple[str, str]] = []
        self._servers: list[socketserver.BaseServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def nameserver(self) -> str:
        """``"host:port"``, the form `pop3doctor.net.resolve` takes."""
        return f"{self.host}:{self.port}"

    # -- answering -----------------------------------------------------------

    def _lookup(self, name: str) -> Mapping[str, Sequence[Any]] | None:
        for key, value in self.records.items():
            if _norm(key) == name:
                return value
        return None

    def answer(self, wire: bytes) -> bytes | None:
        """The reply to one query in wire format, or None to stay silent."""
        try:
            request = DNSRecord.parse(wire)
        except Exception:
            return None
        qname = str(request.q.qname)
        name = _norm(qname)
        qtype = QTYPE[request.q.qtype]
        self.queries.append((name, str(qtype)))
        if name in self.silent:
            return None
        reply = request.reply()  # sets QR, AA and RD from the request
        if name in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return bytes(reply.pack())
        entry = self._lookup(name)
        if entry is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return bytes(reply.pack())
        for value in entry.get(str(qtype), ()):
            rdata = self._rdata(str(qtype), value)
            if rdata is not None:
                reply.add_answer(RR(qname, request.q.qtype, rdata=rdata, ttl=self.ttl))
        return bytes(reply.pack())

    @staticmethod
    def _rdata(qtype: str, value: Any) -> Any:
        if qtype == "A":
            return A(value)
        if qtype == "AAAA":
            return AAAA(value)
        if qtype == "MX":
            preference, exchange = value
            return MX(exchange, preference)
        if qtype == "SRV":
            priority, weight, port, target = value
            return SRV(priority, weight, port, target)
        if qtype == "CNAME":
            return CNAME(value)
        if qtype == "TXT":
            return TXT(value)
        return None

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> LocalDnsServer:
        owner = self

        class UdpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = owner.answer(data)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class TcpHandler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(5)
                try:
                    while True:
                        head = self._exactly(conn, 2)
                        if head is None:
                            return
                        (length,) = struct.unpack("!H", head)
                        body = self._exactly(conn, length)
                        if body is None:
                            return
                        reply = owner.answer(body)
                        if reply is None:
                            continue
                        conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

            @staticmethod
            def _exactly(conn: socket.socket, n: int) -> bytes | None:
                buf = b""
                while len(buf) < n:
                    chunk = conn.recv(n - len(buf))
                    if not chunk:
                        return None
                    buf += chunk
                return buf

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Udp(socketserver.ThreadingUDPServer):
            address_family = family
            daemon_threads = True

        class Tcp(socketserver.ThreadingTCPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        # UDP picks the port; TCP must then get the same number.  With port=0
        # another process could take it in between, so retry a few times.
        last_error: OSError | None = None
        for _ in range(20):
            udp = Udp((self.host, self.port), UdpHandler)
            port = udp.server_address[1]
            if not self.tcp:
                break
            try:
                tcp = Tcp((self.host, port), TcpHandler)
            except OSError as exc:
                udp.server_close()
                last_error = exc
                if self.port:
                    raise
                continue
            self._servers.append(tcp)
            break
        else:
            raise RuntimeError(f"no port free for both UDP and TCP: {last_error}")
        self._servers.insert(0, udp)
        self.port = port
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> LocalDnsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
