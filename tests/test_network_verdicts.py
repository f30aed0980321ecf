"""The connect verdict table read against the if-chain it replaced, over every situation."""

from __future__ import annotations

import itertools

import pytest

from pop3doctor.diagnosis import messages as m
from pop3doctor.diagnosis.localnet import NetworkFacts
from pop3doctor.diagnosis.triangulation import ConnectVerdict, Triangulation, connect_verdict
from pop3doctor.net.probe import PortCheck, Route

OK_ROUTE = Route("198.51.100.1", "192.0.2.10")
NO_ROUTE = Route("198.51.100.1", None, "ENETUNREACH")


def _facts(route: bool) -> NetworkFacts:
    return NetworkFacts({"ipv4": OK_ROUTE if route else NO_ROUTE}, ["192.0.2.53"], False, [OK_ROUTE])


def _old_verdict(primary_cause: str, tri: Triangulation, facts: NetworkFacts | None, port: int) -> ConnectVerdict:
    """The verdict as it was written before the table (diagnosis/network.py), kept as the oracle."""
    ref = tri.reference_spec or "-"
    ports_answered = ", ".join(str(p.port) for p in tri.answered)
    ports_accepted = ", ".join(str(p.port) for p in tri.accepted)
    no_route = facts is not None and not facts.has_default_route
    if primary_cause == "connection-refused":
        if tri.accepted:
            note = m.join([m.fmt(m.NOTE_CLOSED, port=port), m.fmt(m.NOTE_CLOSED_OTHERS, accepted=ports_accepted)])
            return ConnectVerdict(primary_cause, note, "port-closed")
        if tri.reference_ok:
            return ConnectVerdict("server-down", m.fmt(m.NOTE_SERVER_DOWN, reference=ref), "server-down")
        return ConnectVerdict(primary_cause, m.fmt(m.NOTE_CLOSED, port=port), "port-closed")
    if tri.answered:
        if primary_cause == "connection-timeout":
            note = m.fmt(m.NOTE_BLOCKED, answered=ports_answered, port=port)
            return ConnectVerdict(primary_cause, note, "port-blocked")
        return ConnectVerdict(primary_cause, None, "port-unreachable")
    if tri.reference_ok:
        return ConnectVerdict("server-down", m.fmt(m.NOTE_SERVER_DOWN, reference=ref), "server-down")
    if tri.reference_spec is not None:
        note = m.fmt(m.NOTE_NO_NETWORK, reference=ref)
        return ConnectVerdict("no-network", m.join([m.NOTE_NO_ROUTE, note]) if no_route else note, "no-network")
    if no_route:
        return ConnectVerdict("no-network", m.NOTE_NO_ROUTE, "no-network")
    return ConnectVerdict(primary_cause, m.NOTE_UNDETERMINED, "undetermined")


PORTS = {
    "none": [],
    "silent": [PortCheck("h", 993, "timeout", 1.0)],
    "reset": [PortCheck("h", 993, "refused", 1.0), PortCheck("h", 143, "timeout", 1.0)],
    "accepted": [PortCheck("h", 993, "ok", 1.0), PortCheck("h", 143, "refused", 1.0)],
}
REFERENCES = {
    "absent": (None, None),
    "ok": ("192.0.2.80:443", PortCheck("192.0.2.80", 443, "ok", 1.0)),
    "silent": ("192.0.2.80:443", PortCheck("192.0.2.80", 443, "timeout", 1.0)),
    "error": ("ref.example:443", None),
}
CASES = list(
    itertools.product(
        ["connection-refused", "connection-timeout", "host-unreachable"],
        PORTS,
        REFERENCES,
        [True, False, None],
    )
)


@pytest.mark.parametrize(("primary", "ports", "reference", "route"), CASES)
def test_table_reads_like_the_if_chain(primary: str, ports: str, reference: str, route: bool | None) -> None:
    spec, check = REFERENCES[reference]
    tri = Triangulation(ports=PORTS[ports], reference=check, reference_spec=spec)
    facts = None if route is None else _facts(route)
    assert connect_verdict(primary, tri, facts, 110) == _old_verdict(primary, tri, facts, 110)
