"""Time-to-verdict for each network fault, next to the configured connect timeout.

    python -m benchmarks.time_to_verdict [--timeout 8] [--only NAME ...]

Each fault is built for real, as in tests/test_network_*.py: a DNS server on
loopback (NXDOMAIN, SERVFAIL, silence), nftables rules on loopback ports
(DROP, TCP reset, ICMP unreachable) and network namespaces (no interface, no
default route).  Faults that need root, nft or ip are listed as skipped
without them.  Every rule and namespace is removed when the fault is done.

The time is measured from the start of the diagnosis to its summary finding
(in-process), except for the namespace faults, which run the CLI inside the
namespace: their figure includes starting Python (marked "cli").  Figures are
printed, never asserted.  Only loopback and the benchmark's own namespaces
are contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from pop3doctor.diagnosis.model import Report, Settings  # noqa: E402
from pop3doctor.diagnosis.runner import diagnose  # noqa: E402
from pop3doctor.lab import LabServer  # noqa: E402
from support.dns_server import LocalDnsServer  # noqa: E402
from support.netns import Firewall, Namespace, leftovers  # noqa: E402


@dataclass
class Result:
    fault: str
    expected: str
    cause: str | None
    seconds: float | None
    how: str = "in-process"
    skipped: str | None = None


Fault = Callable[[float], Awaitable[Result]]
FAULTS: dict[str, tuple[str, bool, Fault]] = {}


def fault(name: str, expected: str, *, root: bool = False) -> Callable[[Fault], Fault]:
    def register(fn: Fault) -> Fault:
        FAULTS[name] = (expected, root, fn)
        return fn

    return register


async def timed(settings: Settings, password: str | None = None, **kw: object) -> tuple[str | None, float]:
    report = Report(settings)
    start = time.monotonic()
    async for _ in diagnose(settings, password, report=report, **kw):  # type: ignore[arg-type]
        pass
    return report.cause, time.monotonic() - start


@contextlib.asynccontextmanager
async def lab(hostname: str = "localhost") -> AsyncIterator[tuple[LabServer, str]]:
    server = LabServer("healthy", hostname=hostname)
    with tempfile.TemporaryDirectory() as tmp:
        ca = str(Path(tmp) / "ca.pem")
        async with server:
            server.write_ca(ca)
            yield server, ca


@contextlib.asynccontextmanager
async def reference_listener() -> AsyncIterator[int]:
    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def ssl_settings(host: str, port: int, t: float, ca: str | None = None, user: str = "alice") -> Settings:
    return Settings(host, port, "ssl", user, ca_file=ca, timeout=t)


# -- DNS ----------------------------------------------------------------------------------


@fault("nxdomain", "host-not-found")
async def _nxdomain(t: float) -> Result:
    with LocalDnsServer({}) as dns:
        cause, s = await timed(ssl_settings("pop.gmial.com", 995, t), nameservers=[dns.nameserver])
    return Result("nxdomain", "host-not-found", cause, s)


@fault("servfail", "dns-unavailable")
async def _servfail(t: float) -> Result:
    with LocalDnsServer({}, servfail={"pop.broken.test"}) as dns:
        cause, s = await timed(ssl_settings("pop.broken.test", 995, t), nameservers=[dns.nameserver])
    return Result("servfail", "dns-unavailable", cause, s)


@fault("dns-name-silent", "dns-unavailable")
async def _silent_name(t: float) -> Result:
    with LocalDnsServer({}, silent={"pop.slow.test"}) as dns:
        cause, s = await timed(ssl_settings("pop.slow.test", 995, t), nameservers=[dns.nameserver])
    return Result("dns-name-silent", "dns-unavailable", cause, s)


@fault("resolver-silent", "dns-unavailable")
async def _resolver_silent(t: float) -> Result:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        ns = f"127.0.0.1:{sock.getsockname()[1]}"
        cause, s = await timed(ssl_settings("pop.example.test", 995, t), nameservers=[ns])
    return Result("resolver-silent", "dns-unavailable", cause, s)


@fault("resolver-port-closed", "dns-unavailable")
async def _resolver_closed(t: float) -> Result:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        ns = f"127.0.0.1:{sock.getsockname()[1]}"
    cause, s = await timed(ssl_settings("pop.example.test", 995, t), nameservers=[ns])
    return Result("resolver-port-closed", "dns-unavailable", cause, s)


# -- TCP ------------------------------------------------------------------------------------


@fault("port-closed", "connection-refused")
async def _refused(t: float) -> Result:
    async with lab() as (server, ca):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        cause, s = await timed(ssl_settings("127.0.0.1", closed, t, ca), extra_ports=(server.tls_port,))
    return Result("port-closed", "connection-refused", cause, s)


@fault("drop-port", "connection-timeout", root=True)
async def _drop(t: float) -> Result:
    async with lab() as (server, ca):
        with Firewall() as fw:
            fw.drop("127.0.0.1", server.tls_port)
            assert server.port is not None
            cause, s = await timed(ssl_settings("127.0.0.1", server.tls_port, t, ca), extra_ports=(server.port,))
    return Result("drop-port", "connection-timeout", cause, s)


@fault("tcp-reset", "connection-refused", root=True)
async def _reset(t: float) -> Result:
    async with lab() as (server, ca):
        with Firewall() as fw:
            fw.rule(f"ip daddr 127.0.0.1 tcp dport {server.tls_port} reject with tcp reset")
            assert server.port is not None
            cause, s = await timed(ssl_settings("127.0.0.1", server.tls_port, t, ca), extra_ports=(server.port,))
    return Result("tcp-reset", "connection-refused", cause, s)


@fault("icmp-unreachable", "host-unreachable", root=True)
async def _unreachable(t: float) -> Result:
    async with lab() as (server, ca):
        with Firewall() as fw:
            fw.rule(f"ip daddr 127.0.0.1 tcp dport {server.tls_port} reject with icmp type host-unreachable")
            cause, s = await timed(ssl_settings("127.0.0.1", server.tls_port, t, ca))
    return Result("icmp-unreachable", "host-unreachable", cause, s)


@fault("server-down", "server-down", root=True)
async def _server_down(t: float) -> Result:
    async with reference_listener() as ref:
        with Firewall() as fw:
            fw.drop("127.0.0.2")
            cause, s = await timed(ssl_settings("127.0.0.2", 995, t), reference=f"127.0.0.1:{ref}")
    return Result("server-down", "server-down", cause, s)


@fault("no-internet-reference", "no-network", root=True)
async def _no_internet(t: float) -> Result:
    with Firewall() as fw:
        fw.drop("127.0.0.2")
        fw.drop("127.0.0.3")
        cause, s = await timed(ssl_settings("127.0.0.2", 995, t), reference="127.0.0.3:443")
    return Result("no-internet-reference", "no-network", cause, s)


@fault("ipv6-broken", "ipv6-broken", root=True)
async def _ipv6(t: float) -> Result:
    async with lab("dual.test") as (server, ca):
        with Firewall() as fw, LocalDnsServer({"dual.test": {"A": ["127.0.0.1"], "AAAA": ["::1"]}}) as dns:
            fw.drop("::1", server.tls_port)
            cause, s = await timed(
                ssl_settings("dual.test", server.tls_port, t, ca, server.user),
                server.password,
                nameservers=[dns.nameserver],
            )
    return Result("ipv6-broken", "ipv6-broken", cause, s)


# -- namespaces (the CLI runs inside) ---------------------------------------------------------


def _cli_in(ns: Namespace, t: float, *args: str) -> tuple[str | None, float]:
    start = time.monotonic()
    proc = subprocess.run(
        ns.python(
            "-m",
            "pop3doctor",
            "diagnose",
            "--user",
            "alice",
            "--security",
            "ssl",
            "--port",
            "995",
            "--timeout",
            str(t),
            "--json",
            *args,
        ),
        capture_output=True,
        text=True,
        timeout=10 * t + 60,
    )
    took = time.monotonic() - start
    cause = json.loads(proc.stdout)["cause"] if proc.stdout else None
    return cause, took


@fault("netns-no-interface", "no-network", root=True)
async def _netns_empty(t: float) -> Result:
    with Namespace(veth=False) as ns:
        cause, s = await asyncio.to_thread(_cli_in, ns, t, "--host", "pop.example.test", "--dns-server", "127.0.0.1")
    return Result("netns-no-interface", "no-network", cause, s, how="cli")


@fault("netns-no-default-route", "no-network", root=True)
async def _netns_no_route(t: float) -> Result:
    with Namespace(veth=True) as ns:
        with LocalDnsServer({"pop.example.test": {"A": ["198.51.100.7"]}}, host=ns.host_ip) as dns:
            cause, s = await asyncio.to_thread(
                _cli_in, ns, t, "--host", "pop.example.test", "--dns-server", dns.nameserver
            )
    return Result("netns-no-default-route", "no-network", cause, s, how="cli")


# -- main ---------------------------------------------------------------------------------------


def _can_root() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    for tool in ("nft", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


async def main(timeout: float, only: list[str]) -> list[Result]:
    results: list[Result] = []
    why_not = _can_root()
    for name, (expected, root, fn) in FAULTS.items():
        if only and name not in only:
            continue
        if root and why_not:
            results.append(Result(name, expected, None, None, skipped=why_not))
            continue
        results.append(await fn(timeout))
    return results


def report(results: list[Result], timeout: float) -> str:
    lines = [
        f"Time to verdict (connect timeout --timeout {timeout:g} s)",
        f"{'fault':<24} {'expected':<20} {'got':<20} {'seconds':>8} {'x timeout':>9}  how",
    ]
    for r in results:
        if r.skipped:
            lines.append(f"{r.fault:<24} {r.expected:<20} {'(skipped: ' + r.skipped + ')':<20}")
            continue
        assert r.seconds is not None
        mark = "" if r.cause == r.expected else "  <-- MISMATCH"
        lines.append(
            f"{r.fault:<24} {r.expected:<20} {r.cause or '-':<20} {r.seconds:>8.2f} {r.seconds / timeout:>9.2f}  "
            f"{r.how}{mark}"
        )
    left = leftovers()
    lines.append(f"left behind (rules, namespaces, links): {left or 'nothing'}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=8.0, help="connect timeout in seconds (default 8)")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(FAULTS), help="run only these faults")
    args = parser.parse_args()
    print(report(asyncio.run(main(args.timeout, args.only)), args.timeout))
