"""net.certs: certificate facts from DER, and client TLS contexts."""

from __future__ import annotations

import datetime as dt
import hashlib
import ssl
from pathlib import Path

import pytest
import trustme

from pop3doctor.net import cert_facts, make_tls_context


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="Facts Test CA")


def leaf_der(leaf: trustme.LeafCert) -> bytes:
    pem = leaf.cert_chain_pems[0].bytes().decode()
    return ssl.PEM_cert_to_DER_cert(pem)


def test_leaf_facts(ca: trustme.CA) -> None:
    not_before = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    not_after = dt.datetime(2034, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    leaf = ca.issue_cert(
        "mail.example.test",
        "127.0.0.1",
        common_name="mail.example.test",
        not_before=not_before,
        not_after=not_after,
    )
    der = leaf_der(leaf)
    facts = cert_facts(der)
    assert facts.subject_cn == "mail.example.test"
    assert facts.issuer_cn is None  # trustme's CA names have O and OU, no CN
    assert facts.issuer_org == "Facts Test CA"
    assert "O=Facts Test CA" in facts.issuer
    assert facts.sans == ("mail.example.test", "127.0.0.1")
    assert facts.not_before == not_before and facts.not_after == not_after
    assert facts.not_after.tzinfo is not None
    assert facts.self_signed is False
    assert facts.sha256 == hashlib.sha256(der).hexdigest()
    as_dict = facts.to_dict()
    assert as_dict["not_after"] == "2034-01-02T03:04:05+00:00"
    assert as_dict["sans"] == ["mail.example.test", "127.0.0.1"]


def test_root_ca_is_self_signed(ca: trustme.CA) -> None:
    der = ssl.PEM_cert_to_DER_cert(ca.cert_pem.bytes().decode())
    facts = cert_facts(der)
    assert facts.self_signed is True
    assert facts.subject == facts.issuer


def test_garbage_is_value_error() -> None:
    with pytest.raises(ValueError):
        cert_facts(b"not a certificate")


def test_default_context_verifies_and_requires_tls12() -> None:
    ctx = make_tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_extra_ca_is_added_to_system_trust(ca: trustme.CA, tmp_path: Path) -> None:
    system = make_tls_context().cert_store_stats()["x509_ca"]
    with_data = make_tls_context(ca_data=ca.cert_pem.bytes().decode())
    assert with_data.cert_store_stats()["x509_ca"] == system + 1
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    with_file = make_tls_context(str(path))
    assert with_file.cert_store_stats()["x509_ca"] == system + 1


def test_unverified_context() -> None:
    ctx = make_tls_context(verify=False)
    assert ctx.verify_mode == ssl.CERT_NONE
    assert ctx.check_hostname is False
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_shared_context_is_made_once_per_ca_file_content(tmp_path: Path) -> None:
    # Issue 19: a client context per connection reloaded the system store each time (~25 ms of CPU).
    from pop3doctor.net.certs import shared_tls_context

    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(trustme.CA().cert_pem.bytes())
    first = shared_tls_context(str(ca_file))
    assert shared_tls_context(str(ca_file)) is first
    assert shared_tls_context(None) is shared_tls_context(None) is not first
    ca_file.write_bytes(trustme.CA().cert_pem.bytes())  # another CA, same path (maybe the same mtime)
    assert shared_tls_context(str(ca_file)) is not first
    assert make_tls_context(str(ca_file)) is not make_tls_context(str(ca_file))  # callers may change theirs
