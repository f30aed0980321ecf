"""Whose fault a dead POP3 port is: this network, the server, or no internet at all.

When the POP3 port times out or is refused, other ports of the same host and a
reference endpoint (``--reference HOST:PORT``, expected to accept TCP from
anywhere) are probed in parallel (`triangulate`); `connect_verdict` reads the
outcome through the table `VERDICTS`.  "Answered" means the host itself
replied: it accepted, or refused with a TCP reset.  A reset proves the host is
up as well as an accept does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.localnet import NetworkFacts
from pop3doctor.i18n import Msg
from pop3doctor.net.errors import NetError
from pop3doctor.net.probe import PortCheck, tcp_probe
from pop3doctor.net.resolve import resolve
from pop3doctor.racing import race

#: Other ports a mail host usually serves, probed to tell "this port is
#: blocked" from "the host is gone": POP3S, POP3, IMAPS, IMAP, submission
#: (TLS and STARTTLS), SMTP, and HTTPS (webmail; rarely filtered anywhere).
TRIANGULATION_PORTS = (995, 110, 993, 143, 465, 587, 25, 443)

#: The race label of the reference probe (port probes are labelled by port number).
_REF = "ref"


def parse_reference(spec: str) -> tuple[str, int]:
    """``"host:port"`` or ``"[v6]:port"`` -> (host, port); ValueError otherwise."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = spec.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"reference must be HOST:PORT, got {spec!r}")
    return host, int(port_text)


@dataclass
class Triangulation:
    """What the host's other ports and the reference endpoint did."""

    ports: list[PortCheck] = field(default_factory=list)
    reference: PortCheck | None = None
    reference_spec: str | None = None
    reference_error: str | None = None
    #: Probes cancelled because the answer was already clear.
    stopped_early: list[int] = field(default_factory=list)

    @property
    def answered(self) -> list[PortCheck]:
        return [p for p in self.ports if p.answered]

    @property
    def accepted(self) -> list[PortCheck]:
        return [p for p in self.ports if p.outcome == "ok"]

    @property
    def reference_ok(self) -> bool | None:
        if self.reference_spec is None:
            return None
        return self.reference is not None and self.reference.outcome == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ports": [p.to_dict() for p in self.ports],
            "reference": self.reference.to_dict() if self.reference else None,
            "reference_spec": self.reference_spec,
            "reference_error": self.reference_error,
            "stopped_early": self.stopped_early,
        }


async def _probe_reference(spec: str, *, timeout: float, nameservers: list[str] | None) -> PortCheck:
    host, port = parse_reference(spec)
    addresses = await resolve(host, timeout=timeout, nameservers=nameservers)
    return await tcp_probe(host, port, addresses, timeout=timeout)


async def triangulate(
    host: str,
    addresses: Sequence[tuple[str, str]],
    ports: Sequence[int],
    *,
    reference: str | None,
    timeout: float,
    nameservers: list[str] | None,
    primary: asyncio.Future[str],
) -> Triangulation:
    """Probe ``ports`` of ``host`` and the ``reference`` in parallel; stop once the answer is clear.

    ``primary`` resolves to the cause code of the POP3 port's own failure (it
    may still be pending when this starts).  The answer is clear when a port
    accepted (the host is up and serving), or when the POP3 port did not get
    a reset and another port answered at all.
    """
    work: dict[int | str, Any] = {p: tcp_probe(host, p, addresses, timeout=timeout) for p in ports}
    if reference:
        work[_REF] = _probe_reference(reference, timeout=timeout, nameservers=nameservers)

    def clear(results: Mapping[int | str, PortCheck], pending: Collection[int | str]) -> bool:
        checks = [check for label, check in results.items() if label != _REF]
        primary_cause = primary.result() if primary.done() else None
        return any(c.outcome == "ok" for c in checks) or (
            primary_cause not in (None, "connection-refused") and any(c.answered for c in checks)
        )

    # ``primary`` is watched (it dooms nothing) so that its answer re-checks `clear`.
    out = await race(work, settled=clear, watch=primary, on_watch=lambda _cause: (), expected=(NetError,))
    result = Triangulation(reference_spec=reference, reference=out.results.get(_REF))
    result.ports = sorted((c for label, c in out.results.items() if label != _REF), key=lambda p: p.port)
    error = out.errors.get(_REF)
    if isinstance(error, NetError):
        result.reference_error = error.code
    result.stopped_early = [label for label in out.unfinished if isinstance(label, int)]
    return result


# -- the verdict -----------------------------------------------------------------------

ANY: frozenset[str] = frozenset()  # a condition that matches every value


@dataclass(frozen=True)
class Rule:
    """One row of `VERDICTS`: when every condition holds, report ``cause`` with ``notes``.

    The conditions and their values (see `_situation`):

    - ``primary``: how the POP3 port failed: "refused", "timeout", "other";
    - ``ports``: the host's other ports: "accepted" (one did), "answered"
      (only resets), "silent" (nothing came back);
    - ``reference``: "ok" (it accepted), "failed" (it did not), "absent" (none given);
    - ``route``: "route" / "no-route": whether this computer has a default route.

    A condition is the set of values it accepts (`ANY`: all).  ``cause`` None
    keeps the POP3 port's own cause (connection-refused, connection-timeout, ...).
    """

    primary: frozenset[str]
    ports: frozenset[str]
    reference: frozenset[str]
    route: frozenset[str]
    cause: str | None
    notes: tuple[Msg, ...]
    interpretation: str

    def matches(self, facts: Mapping[str, str]) -> bool:
        conditions = {"primary": self.primary, "ports": self.ports, "reference": self.reference, "route": self.route}
        return all(not allowed or facts[name] in allowed for name, allowed in conditions.items())


def _rule(
    primary: str, ports: str, reference: str, route: str, cause: str | None, notes: tuple[Msg, ...], label: str
) -> Rule:
    """A row written as ``"a|b"`` alternatives, ``"*"`` for any."""

    def values(text: str) -> frozenset[str]:
        return ANY if text == "*" else frozenset(text.split("|"))

    return Rule(values(primary), values(ports), values(reference), values(route), cause, notes, label)


#: How a failed POP3 connection is read together with its triangulation; the
#: first matching row wins.  A refusal already proves the host is up, so for
#: it only an accepting port or a working reference adds anything.
VERDICTS: tuple[Rule, ...] = (
    #     POP3 port  other ports          reference  route       cause          notes, then the JSON label
    _rule("refused", "accepted",          "*",       "*",        None,          (m.NOTE_CLOSED, m.NOTE_CLOSED_OTHERS),
          "port-closed"),
    _rule("refused", "*",                 "ok",      "*",        "server-down", (m.NOTE_SERVER_DOWN,), "server-down"),
    _rule("refused", "*",                 "*",       "*",        None,          (m.NOTE_CLOSED,), "port-closed"),
    _rule("timeout", "accepted|answered", "*",       "*",        None,          (m.NOTE_BLOCKED,), "port-blocked"),
    _rule("other",   "accepted|answered", "*",       "*",        None,          (), "port-unreachable"),
    _rule("*",       "silent",            "ok",      "*",        "server-down", (m.NOTE_SERVER_DOWN,), "server-down"),
    _rule("*",       "silent",            "failed",  "no-route", "no-network",  (m.NOTE_NO_ROUTE, m.NOTE_NO_NETWORK),
          "no-network"),
    _rule("*",       "silent",            "failed",  "route",    "no-network",  (m.NOTE_NO_NETWORK,), "no-network"),
    _rule("*",       "silent",            "absent",  "no-route", "no-network",  (m.NOTE_NO_ROUTE,), "no-network"),
    _rule("*",       "silent",            "absent",  "route",    None,          (m.NOTE_UNDETERMINED,), "undetermined"),
)


@dataclass(frozen=True)
class ConnectVerdict:
    """The cause to report, the sentence that says why, and a stable label for JSON."""

    cause: str
    note: Msg | None
    interpretation: str


def _situation(primary_cause: str, tri: Triangulation, facts: NetworkFacts | None) -> dict[str, str]:
    """The values `VERDICTS` conditions are written in."""
    primary = {"connection-refused": "refused", "connection-timeout": "timeout"}.get(primary_cause, "other")
    ports = "accepted" if tri.accepted else "answered" if tri.answered else "silent"
    reference = "absent" if tri.reference_spec is None else "ok" if tri.reference_ok else "failed"
    route = "no-route" if facts is not None and not facts.has_default_route else "route"
    return {"primary": primary, "ports": ports, "reference": reference, "route": route}


def connect_verdict(primary_cause: str, tri: Triangulation, facts: NetworkFacts | None, port: int) -> ConnectVerdict:
    """Read a failed POP3 connection together with its triangulation (see `VERDICTS`)."""
    situation = _situation(primary_cause, tri, facts)
    rule = next(r for r in VERDICTS if r.matches(situation))
    values = {
        "port": port,
        "answered": ", ".join(str(p.port) for p in tri.answered),
        "accepted": ", ".join(str(p.port) for p in tri.accepted),
        "reference": tri.reference_spec or "-",
    }
    note = m.join([m.fmt(n, **values) for n in rule.notes]) if rule.notes else None
    return ConnectVerdict(rule.cause or primary_cause, note, rule.interpretation)
