"""What every real-server fixture shares: a pool that starts servers and stops them all,
and the lookup of the servers a failed test used (so their logs go into its report).

A server type needs ``start() -> itself`` and ``stop()``; the fixtures of
tests/support/dovecot.py, mailutils.py and cyrus.py build their pools here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import pytest


class _Startable(Protocol):
    def start(self) -> Any: ...
    def stop(self) -> None: ...


S = TypeVar("S", bound=_Startable)


class ServerPool(Generic[S]):
    """Starts servers on demand (``start(options)`` or ``start(**fields)``); :meth:`close` stops them, newest first."""

    def __init__(self, make: Callable[..., S]) -> None:
        self._make = make
        self._servers: list[S] = []

    @property
    def servers(self) -> list[S]:
        """The servers started here and not yet stopped, oldest first."""
        return list(self._servers)

    def start(self, options: Any = None, **kwargs: Any) -> S:
        server = self._make(options, **kwargs)
        self._servers.append(server)
        server.start()
        return server

    def close(self) -> None:
        while self._servers:
            self._servers.pop().stop()


def servers_of(item: pytest.Item, kind: type[S]) -> dict[str, S]:
    """The ``kind`` servers a test used: its fixture values, and every server of a factory's pool."""
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    found: dict[str, S] = {}
    for name, value in funcargs.items():
        if isinstance(value, kind):
            found[name] = value
        owner = getattr(value, "__self__", None)  # a *_factory fixture is a bound ServerPool.start
        if isinstance(owner, ServerPool):
            found.update({f"{name}[{i}]": s for i, s in enumerate(owner.servers) if isinstance(s, kind)})
    return found
