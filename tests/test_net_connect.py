"""net/: TCP connection outcomes, reads and Happy Eyeballs on loopback.

Firewall cases need root and nftables: each test adds rules in its own
nftables table (named after the pid) that the fixture always deletes.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from pop3doctor.net import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    HostUnreachable,
    ReadTimeout,
    Timeouts,
    WriteTimeout,
    open_connection,
)
from pop3doctor.net.happy_eyeballs import interleave
from support.dns_server import LocalDnsServer

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
QUICK = Timeouts(resolve=2, connect=2, tls=2, greeting=2, command=2)


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port with (very likely) nothing listening: bound, then released."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, host, port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept and never send; return when the client leaves."""
    with contextlib.suppress(ConnectionError):
        await reader.read()
    writer.close()


# -- plain outcomes ------------------------------------------------------------


async def test_closed_port_is_refused() -> None:
    port = free_port()
    with pytest.raises(ConnectRefused) as info:
        await open_connection("127.0.0.1", port, timeouts=QUICK)
    exc = info.value
    assert exc.port == port and exc.address == "127.0.0.1"
    assert [(a.address, a.outcome, a.detail) for a in exc.attempts] == [
        ("127.0.0.1", "refused", "ECONNREFUSED")
    ]
    evidence = exc.evidence()
    assert evidence["error"] == "connect-refused"
    assert evidence["attempts"] == [a.to_dict() for a in exc.attempts]


async def test_silent_server_is_read_timeout_in_named_phase() -> None:
    async with serve(hold) as port:
        conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
        try:
            with pytest.raises(ReadTimeout) as info:
                await conn.read(timeout=0.3, phase="greeting")
        finally:
            await conn.aclose()
    assert info.value.phase == "greeting"
    assert info.value.elapsed_ms >= 250
    assert info.value.evidence()["phase"] == "greeting"


async def test_orderly_close_is_connection_closed_not_empty_bytes() -> None:
    async def greet_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye\r\n")
        await writer.drain()
        writer.close()

    async with serve(greet_and_close) as port:
        conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
        try:
            assert await conn.read(timeout=2, phase="greeting") == b"bye\r\n"
            with pytest.raises(ConnectionClosed) as info:
                await conn.read(timeout=2, phase="command")
        finally:
            await conn.aclose()
    assert info.value.phase == "command"
    assert info.value.reset is False


async def test_reset_is_connection_closed_with_reset() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        # SO_LINGER with zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await reader.readline()
        writer.transport.abort()

    async with serve(reset) as port:
        conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
        try:
            conn.write(b"hello\r\n")
            await conn.drain(timeout=2)
            with pytest.raises(ConnectionClosed) as info:
                await conn.read(timeout=2, phase="command")
        finally:
            await conn.aclose()
    assert info.value.reset is True


async def test_peer_not_reading_is_write_timeout() -> None:
    stalled = asyncio.Event()

    async def never_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stalled.wait()
        writer.close()

    async with serve(never_read) as port:
        conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
        try:
            # Far more than the loopback socket buffers hold, so drain must wait.
            conn.write(b"x" * (64 * 1024 * 1024))
            with pytest.raises(WriteTimeout) as info:
                await conn.drain(timeout=0.3)
        finally:
            stalled.set()
            await conn.aclose()
    assert info.value.phase == "write"


async def test_aclose_twice_never_raises() -> None:
    async with serve(hold) as port:
        conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
        await conn.aclose()
        await conn.aclose()


# -- Happy Eyeballs ------------------------------------------------------------


def test_interleave_puts_ipv6_first_and_alternates() -> None:
    addresses = [("ipv4", "192.0.2.1"), ("ipv4", "192.0.2.2"), ("ipv6", "2001:db8::1")]
    assert interleave(addresses) == [
        ("ipv6", "2001:db8::1"),
        ("ipv4", "192.0.2.1"),
        ("ipv4", "192.0.2.2"),
    ]


@pytest.fixture
def dual_stack_dns() -> Iterator[LocalDnsServer]:
    """"dual.test" resolves to ::1 and 127.0.0.1, like "localhost" on many systems."""
    if not has_ipv6_loopback():
        pytest.skip("no ::1 on this machine")
    with LocalDnsServer({"dual.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]}}) as dns:
        yield dns


async def test_happy_eyeballs_falls_back_to_ipv4_when_ipv6_refuses(
    dual_stack_dns: LocalDnsServer,
) -> None:
    async with serve(hold, host="127.0.0.1") as port:  # nothing on ::1
        conn = await open_connection(
            "dual.test",
            port,
            timeouts=QUICK,
            nameservers=[dual_stack_dns.nameserver],
            happy_eyeballs_delay=1.0,
        )
        try:
            assert conn.peer[0] == "127.0.0.1"
            assert [(a.family, a.address, a.outcome) for a in conn.attempts] == [
                ("ipv6", "::1", "refused"),
                ("ipv4", "127.0.0.1", "ok"),
            ]
        finally:
            await conn.aclose()


async def test_all_families_refused_reports_every_attempt(
    dual_stack_dns: LocalDnsServer,
) -> None:
    port = free_port()
    with pytest.raises(ConnectRefused) as info:
        await open_connection(
            "dual.test", port, timeouts=QUICK, nameservers=[dual_stack_dns.nameserver]
        )
    assert [(a.family, a.outcome) for a in info.value.attempts] == [
        ("ipv6", "refused"),
        ("ipv4", "refused"),
    ]


# -- firewall faults (root + nftables) ------------------------------------------

_table_ids = itertools.count()


class Firewall:
    """Rules in one dedicated nftables table, hooked on output."""

    def __init__(self) -> None:
        self.table = f"pop3doctor_test_{os.getpid()}_{next(_table_ids)}"

    def nft(self, *args: str) -> None:
        subprocess.run(["nft", *args], check=True, capture_output=True, timeout=10)

    def create(self) -> None:
        self.nft("add", "table", "inet", self.table)
        self.nft(
            "add", "chain", "inet", self.table, "out",
            "{ type filter hook output priority 0; policy accept; }",
        )

    def rule(self, rule: str) -> None:
        self.nft("add", "rule", "inet", self.table, "out", *rule.split())

    def delete(self) -> None:
        subprocess.run(
            ["nft", "delete", "table", "inet", self.table], capture_output=True, timeout=10
        )


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    if os.geteuid() != 0:
        pytest.skip("firewall tests need root (nftables rules)")
    if shutil.which("nft") is None:
        pytest.skip("nft (nftables) is not installed")
    fw = Firewall()
    try:
        fw.create()
    except subprocess.CalledProcessError as exc:
        fw.delete()
        pytest.skip(f"nftables unusable here: {exc.stderr.decode(errors='replace').strip()}")
    try:
        yield fw
    finally:
        fw.delete()



@pytest.mark.root
async def test_dropped_syn_is_connect_timeout(firewall: Firewall) -> None:
    async with serve(hold) as port:  # a listener, so only the rule explains the timeout
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {port} drop")
        timeouts = Timeouts(resolve=2, connect=0.5, tls=2, greeting=2, command=2)
        with pytest.raises(ConnectTimeout) as info:
            await open_connection("127.0.0.1", port, timeouts=timeouts)
    assert [a.outcome for a in info.value.attempts] == ["timeout"]
    assert info.value.elapsed_ms >= 400


@pytest.mark.root
async def test_icmp_port_unreachable_is_refused(firewall: Firewall) -> None:
    """Linux turns ICMP port-unreachable for a TCP SYN into ECONNREFUSED."""
    async with serve(hold) as port:
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {port} reject with icmp type port-unreachable")
        with pytest.raises(ConnectRefused) as info:
            await open_connection("127.0.0.1", port, timeouts=QUICK)
    assert info.value.attempts[0].detail == "ECONNREFUSED"


@pytest.mark.root
async def test_icmp_host_unreachable_is_host_unreachable(firewall: Firewall) -> None:
    """Linux reports ICMP host-unreachable as EHOSTUNREACH ("No route to host")."""
    async with serve(hold) as port:
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {port} reject with icmp type host-unreachable")
        with pytest.raises(HostUnreachable) as info:
            await open_connection("127.0.0.1", port, timeouts=QUICK)
    assert info.value.errno == errno.EHOSTUNREACH
    assert [(a.outcome, a.detail) for a in info.value.attempts] == [
        ("unreachable", "EHOSTUNREACH")
    ]


@pytest.mark.root
async def test_tcp_reset_rule_is_refused(firewall: Firewall) -> None:
    async with serve(hold) as port:
        firewall.rule(f"ip daddr 127.0.0.1 tcp dport {port} reject with tcp reset")
        with pytest.raises(ConnectRefused):
            await open_connection("127.0.0.1", port, timeouts=QUICK)


@pytest.mark.root
async def test_happy_eyeballs_races_past_a_blackholed_ipv6(
    firewall: Firewall, dual_stack_dns: LocalDnsServer
) -> None:
    """::1 silently dropped: IPv4 starts after the delay and wins; the IPv6
    attempt is abandoned, not waited for until the connect timeout."""
    async with serve(hold, host="127.0.0.1") as port:
        firewall.rule(f"ip6 daddr ::1 tcp dport {port} drop")
        conn = await open_connection(
            "dual.test",
            port,
            timeouts=Timeouts(resolve=2, connect=5, tls=2, greeting=2, command=2),
            nameservers=[dual_stack_dns.nameserver],
            happy_eyeballs_delay=0.1,
        )
        try:
            assert conn.peer[0] == "127.0.0.1"
            assert [(a.family, a.outcome) for a in conn.attempts] == [
                ("ipv6", "abandoned"),
                ("ipv4", "ok"),
            ]
            assert conn.attempts[0].elapsed_ms < 4000  # abandoned well before its timeout
        finally:
            await conn.aclose()
