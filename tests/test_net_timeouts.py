"""net.timeouts and the JSON shape of net errors."""

from __future__ import annotations

import json

import pytest

from pop3doctor.net import (
    Attempt,
    CertificateProblem,
    ConnectRefused,
    ReadTimeout,
    Timeouts,
    TlsHandshakeFailed,
)


def test_defaults() -> None:
    t = Timeouts()
    assert (t.resolve, t.connect, t.tls, t.greeting, t.command) == (8.0, 8.0, 8.0, 15.0, 30.0)


def test_from_total() -> None:
    t = Timeouts.from_total(10)
    assert (t.resolve, t.connect, t.tls, t.greeting, t.command) == (10, 10, 10, 20, 40)
    assert Timeouts.from_total(3).command == 30  # commands never get less than 30 s


def test_scaled() -> None:
    t = Timeouts().scaled(0.5)
    assert (t.resolve, t.connect, t.tls, t.greeting, t.command) == (4, 4, 4, 7.5, 15)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_rejects_non_positive(bad: float) -> None:
    with pytest.raises(ValueError):
        Timeouts(connect=bad)
    with pytest.raises(ValueError):
        Timeouts.from_total(bad)
    with pytest.raises(ValueError):
        Timeouts().scaled(bad)


def test_evidence_is_json_and_names_the_error() -> None:
    attempt = Attempt("::1", "ipv6", "refused", 0.42, "ECONNREFUSED")
    errors = [
        ConnectRefused("x", host="h", port=995, elapsed_ms=1.0, attempts=[attempt]),
        ReadTimeout("x", phase="greeting", host="h", port=995, elapsed_ms=2.0),
        TlsHandshakeFailed(
            "x", reason="eof", library_reason=None, host="h", port=995, elapsed_ms=3.0
        ),
        CertificateProblem(
            "x", kind="expired", verify_code=10, host="h", port=995, elapsed_ms=4.0
        ),
    ]
    codes = [json.loads(json.dumps(e.evidence()))["error"] for e in errors]
    assert codes == ["connect-refused", "read-timeout", "tls-handshake-failed",
                     "certificate-problem"]
    assert errors[0].evidence()["attempts"] == [
        {"address": "::1", "family": "ipv6", "outcome": "refused", "elapsed_ms": 0.4,
         "detail": "ECONNREFUSED"}
    ]
    assert errors[3].evidence()["reason"] == "certificate"
    assert isinstance(errors[3], TlsHandshakeFailed)
