"""The one error tree: a single root, a stable code on every class."""

from __future__ import annotations

import re

import pytest

import pop3doctor.errors
import pop3doctor.net.http
import pop3doctor.net.records
import pop3doctor.sync.errors
from pop3doctor import net, protocol
from pop3doctor.errors import AuthError, PolicyError, Pop3DoctorError, Pop3Error, ServerError
from pop3doctor.net.errors import CertificateProblem, ConnectionClosed, NetError, ReadTimeout
from pop3doctor.protocol.codes import parse_status_line
from pop3doctor.protocol.errors import LineTooLong, LocalProtocolError, ProtocolError


def _tree(root: type[Pop3DoctorError]) -> list[type[Pop3DoctorError]]:
    found = [root]
    for sub in root.__subclasses__():
        found.extend(_tree(sub))
    return found


PUBLIC = [cls for cls in _tree(Pop3DoctorError) if not cls.__name__.startswith("_")]


def test_the_tree_has_the_classes_of_every_layer() -> None:
    names = {cls.__name__ for cls in PUBLIC}
    assert {"NetError", "ProtocolError", "Pop3Error", "DnsQueryFailed", "HttpFetchFailed"} <= names
    assert {"ServerError", "AuthError", "PolicyError", "LocalProtocolError", "CertificateProblem"} <= names
    assert {"StateDamaged", "StateUnwritable", "MboxLocked"} <= names
    assert pop3doctor.net.records.DnsQueryFailed.code == "dns-query-failed"
    assert pop3doctor.net.http.HttpFetchFailed.code == "http-fetch-failed"
    assert pop3doctor.sync.errors.StateDamaged.code == "state-damaged"


@pytest.mark.parametrize("cls", PUBLIC, ids=[cls.__name__ for cls in PUBLIC])
def test_every_class_sets_its_own_code(cls: type[Pop3DoctorError]) -> None:
    assert "code" in vars(cls)
    assert cls.code == cls.code.lower() and " " not in cls.code
    assert cls.codes()[0] == cls.code and cls.codes()[-1] == "pop3doctor-error"


def test_codes_are_unique() -> None:
    codes = [cls.code for cls in PUBLIC]
    assert len(codes) == len(set(codes))


def test_codes_walk_up_the_hierarchy() -> None:
    assert CertificateProblem.codes() == (
        "certificate-problem",
        "tls-handshake-failed",
        "net-error",
        "pop3doctor-error",
    )
    # the private phase base has no code of its own and is skipped
    assert ReadTimeout.codes() == ("read-timeout", "net-error", "pop3doctor-error")
    assert AuthError.codes() == ("auth-error", "server-error", "pop3-error", "pop3doctor-error")
    assert LocalProtocolError.codes() == ("local-protocol-error", "protocol-error", "pop3doctor-error")


def test_the_three_roots_share_one() -> None:
    for cls in (NetError, ProtocolError, Pop3Error, LineTooLong, LocalProtocolError, PolicyError):
        assert issubclass(cls, Pop3DoctorError)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert protocol.LocalProtocolError is LocalProtocolError and net.NetError is NetError


def test_server_error_keeps_the_response_code_apart_from_its_class_code() -> None:
    status = parse_status_line("-ERR [SYS/TEMP] busy")
    assert status is not None
    error = AuthError("login", "PASS ***", status)
    assert error.response_code == "SYS/TEMP" and error.code == "auth-error" and error.text == "busy"
    bare = parse_status_line("-ERR no")
    assert bare is not None
    assert ServerError("retr", "RETR 1", bare).response_code is None


def test_net_evidence_still_names_the_code() -> None:
    closed = ConnectionClosed("closed", phase="greeting", host="h", port=110, elapsed_ms=1.0)
    assert closed.evidence()["error"] == "connection-closed"


def test_the_documented_tree_matches_the_classes() -> None:
    documented = dict(re.findall(r"(\w+) \[([a-z0-9-]+)\]", pop3doctor.errors.__doc__ or ""))
    assert documented == {cls.__name__: cls.code for cls in PUBLIC}
