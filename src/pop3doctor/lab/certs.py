"""Certificates the lab makes at start, one kind per TLS scenario.

The lab CA (a `trustme.CA`) is what clients are told to trust (``--ca-out``).
Each kind of server certificate is chosen so a client that trusts that CA and
checks the name ``hostname`` sees exactly one problem:

- ``valid``: issued by the lab CA for ``hostname`` and the listen address.
- ``expired``: issued by the lab CA, valid from 60 days ago until yesterday.
- ``wrong-host``: issued by the lab CA for `WRONG_HOST` only.
- ``self-signed``: a leaf that signed itself (OpenSSL reports
  "self-signed certificate", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT).
- ``intercepted``: issued for ``hostname`` by a CA named like the root that
  Avast's "Web/Mail Shield" installs to scan TLS mail (subject
  ``CN=Avast Web/Mail Shield Root, O=Avast Web/Mail Shield``, as reported in
  many help-desk threads); this is how interception looks to a mail client.
  The key is generated here: it shares nothing with the real product.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from typing import Literal

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CertKind = Literal["valid", "expired", "self-signed", "wrong-host", "intercepted"]

#: The only name a wrong-host certificate is valid for.
WRONG_HOST = "pop.wrong-host.example"

#: Issuer of the intercepted chain (see module docstring).
INTERCEPT_CA_NAME = "Avast Web/Mail Shield Root"
INTERCEPT_CA_ORG = "Avast Web/Mail Shield"


def _san(identity: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(identity))
    except ValueError:
        return x509.DNSName(identity)


def _build(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    *,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    identities: tuple[str, ...],
    is_ca: bool,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if identities:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_san(i) for i in identities]), critical=False
        ).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _self_signed(identities: tuple[str, ...]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identities[0])])
    cert = _build(name, key, issuer=name, issuer_key=key, identities=identities, is_ca=False)
    return _pem_cert(cert), _pem_key(key)


def _intercepted(identities: tuple[str, ...]) -> tuple[bytes, bytes]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, INTERCEPT_CA_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, INTERCEPT_CA_ORG),
        ]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _build(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, identities[0])]),
        key,
        issuer=ca_name,
        issuer_key=ca_key,
        identities=identities,
        is_ca=False,
    )
    return _pem_cert(leaf), _pem_key(key)


def _context(chain_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain only reads files; the files live for the call only.
    fd, path = tempfile.mkstemp(prefix="pop3doctor-lab-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key_pem + chain_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx


def server_context(
    ca: trustme.CA, kind: CertKind, hostname: str, host: str
) -> ssl.SSLContext:
    """An SSL server context presenting the certificate of ``kind``."""
    identities = tuple(dict.fromkeys((hostname, host)))
    now = dt.datetime.now(dt.UTC)
    if kind == "self-signed":
        return _context(*_self_signed(identities))
    if kind == "intercepted":
        return _context(*_intercepted(identities))
    if kind == "expired":
        leaf = ca.issue_cert(
            *identities,
            common_name=hostname,
            not_before=now - dt.timedelta(days=60),
            not_after=now - dt.timedelta(days=1),
        )
    elif kind == "wrong-host":
        leaf = ca.issue_cert(WRONG_HOST, common_name=WRONG_HOST)
    else:
        # A subject CN as real server certificates have: fetchmail 6.4 refuses
        # a certificate without one ("Server name not specified in certificate").
        leaf = ca.issue_cert(*identities, common_name=hostname)
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    return _context(chain, leaf.private_key_pem.bytes())
