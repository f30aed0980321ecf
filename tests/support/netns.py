"""Real network faults for tests: nftables rules and network namespaces, always removed.

- `Firewall`: rules in one nftables table of this test's own (named after the
  pid and a counter), hooked on ``output``; `delete` drops the whole table,
  so a half-built rule set cannot outlive the test.
- `Namespace`: ``ip netns add`` with loopback down (nothing works), or with
  loopback up and a veth pair to the test's namespace (``10.213.N.0/30``,
  no default route): only the pair's own two addresses are reachable.
  `delete` removes the veth and the namespace.

Use them through the fixtures (`firewall`, `namespace_factory`), or as
context managers; both clean up on every exit path, including a failing
assertion.  They need root, nft and ip; the fixtures skip with the reason
otherwise.  `leftovers` lists what a test run left behind (should be empty).

Kernel behaviour these helpers rely on, checked on the CI machine (a
Firecracker VM running a real Linux 6.18 kernel, not gVisor, so nftables
and namespaces behave as on any Linux host):

- in a fresh namespace loopback is down: connecting to 127.0.0.1 fails at
  once with ENETUNREACH, to ::1 with EADDRNOTAVAIL;
- deleting a namespace destroys its end of a veth pair only asynchronously
  (the peer was still listed right after ``ip netns del``), so `delete`
  removes our end explicitly first;
- nftables ``output`` rules apply to loopback traffic: ``drop`` gives a
  connect timeout, ``reject with tcp reset`` ECONNREFUSED, ``reject with
  icmp type host-unreachable`` EHOSTUNREACH;
- an ICMP port-unreachable reaches a *connected* UDP socket as
  ECONNREFUSED, never an unconnected one (so dnspython's queries just time
  out against a closed resolver port; pop3doctor's resolver check connects).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import TracebackType

import pytest

_ids = itertools.count()
PREFIX = "p3d"


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=15)


def skip_unless_root(tool: str) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"needs root ({tool})")
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


class Firewall:
    """Rules in one dedicated nftables table (inet family: IPv4 and IPv6), on output."""

    def __init__(self) -> None:
        self.table = f"{PREFIX}_test_{os.getpid()}_{next(_ids)}"

    def nft(self, *args: str) -> None:
        _run("nft", *args)

    def create(self) -> Firewall:
        self.nft("add", "table", "inet", self.table)
        self.nft(
            "add", "chain", "inet", self.table, "out",
            "{ type filter hook output priority 0; policy accept; }",
        )
        return self

    def rule(self, rule: str) -> None:
        """Add one rule, e.g. ``"ip daddr 127.0.0.2 tcp dport 995 drop"``."""
        self.nft("add", "rule", "inet", self.table, "out", *rule.split())

    def drop(self, address: str, port: int | None = None) -> None:
        """Silently drop TCP to ``address`` (one ``port``, or every port)."""
        family = "ip6" if ":" in address else "ip"
        match = f"tcp dport {port}" if port else "meta l4proto tcp"
        self.rule(f"{family} daddr {address} {match} drop")

    def delete(self) -> None:
        _run("nft", "delete", "table", "inet", self.table, check=False)

    def exists(self) -> bool:
        return _run("nft", "list", "table", "inet", self.table, check=False).returncode == 0

    def __enter__(self) -> Firewall:
        try:
            return self.create()
        except BaseException:
            self.delete()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()


class Namespace:
    """A network namespace of this test's own; see the module docstring."""

    def __init__(self, *, veth: bool) -> None:
        n = next(_ids)
        self.name = f"{PREFIX}-{os.getpid()}-{n}"
        self.veth = veth
        self.host_if = f"{PREFIX}h{os.getpid() % 10000}x{n}"[:15]
        self.ns_if = f"{PREFIX}n{os.getpid() % 10000}x{n}"[:15]
        subnet = (os.getpid() + n) % 250 + 1
        #: The test side of the veth pair, and the namespace side.
        self.host_ip = f"10.213.{subnet}.1"
        self.ns_ip = f"10.213.{subnet}.2"

    def create(self) -> Namespace:
        _run("ip", "netns", "add", self.name)
        if self.veth:
            _run("ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up")
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            _run("ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            _run("ip", "netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up")
        return self

    def command(self, *args: str) -> list[str]:
        """``args`` run inside the namespace (for subprocess)."""
        return ["ip", "netns", "exec", self.name, *args]

    def python(self, *args: str) -> list[str]:
        return self.command(sys.executable, *args)

    def delete(self) -> None:
        # Deleting the namespace destroys its end of the pair only
        # asynchronously; remove ours first so nothing outlives the test.
        _run("ip", "link", "del", self.host_if, check=False)
        _run("ip", "netns", "del", self.name, check=False)

    def exists(self) -> bool:
        return self.name in _run("ip", "netns", "list", check=False).stdout.split()

    def __enter__(self) -> Namespace:
        try:
            return self.create()
        except BaseException:
            self.delete()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.delete()


def leftovers() -> list[str]:
    """Tables, namespaces and links of this process still present (empty after cleanup)."""
    mine = f"{PREFIX}_test_{os.getpid()}_"
    tables = [line for line in _run("nft", "list", "tables", check=False).stdout.splitlines() if mine in line]
    spaces = [
        n for n in _run("ip", "netns", "list", check=False).stdout.split() if n.startswith(f"{PREFIX}-{os.getpid()}-")
    ]
    links = [
        line
        for line in _run("ip", "-br", "link", check=False).stdout.splitlines()
        if line.startswith(f"{PREFIX}h{os.getpid() % 10000}x")
    ]
    return tables + spaces + links


@pytest.fixture
def firewall() -> Iterator[Firewall]:
    skip_unless_root("nft")
    fw = Firewall()
    try:
        fw.create()
    except subprocess.CalledProcessError as exc:
        fw.delete()
        pytest.skip(f"nftables unusable here: {exc.stderr.strip()}")
    try:
        yield fw
    finally:
        fw.delete()


@pytest.fixture
def namespace_factory() -> Iterator[Callable[..., Namespace]]:
    skip_unless_root("ip")
    made: list[Namespace] = []

    def make(*, veth: bool = False) -> Namespace:
        ns = Namespace(veth=veth)
        made.append(ns)
        try:
            return ns.create()
        except subprocess.CalledProcessError as exc:
            pytest.skip(f"network namespaces unusable here: {exc.stderr.strip()}")

    try:
        yield make
    finally:
        for ns in made:
            ns.delete()
