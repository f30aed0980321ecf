"""Certificate facts and TLS contexts.

`cert_facts` turns a DER certificate into the plain facts a diagnosis needs
(who issued it, for which names, valid when), whether or not it verified:
an expired or untrusted certificate is exactly the one we must describe.
"""

from __future__ import annotations

import functools
import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class CertFacts:
    """Facts about one (leaf) certificate.

    ``subject``/``issuer`` are RFC 4514 strings; ``sans`` lists DNS names and
    IP addresses from subjectAltName in certificate order; dates are aware
    UTC datetimes; ``self_signed`` means issuer == subject *and* the signature
    verifies with the certificate's own key; ``sha256`` is the lowercase hex
    fingerprint of the DER bytes, without colons.
    """

    subject: str
    issuer: str
    subject_cn: str | None
    issuer_cn: str | None
    issuer_org: str | None
    sans: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_signed: bool
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "subject_cn": self.subject_cn,
            "issuer_cn": self.issuer_cn,
            "issuer_org": self.issuer_org,
            "sans": list(self.sans),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "self_signed": self.self_signed,
            "sha256": self.sha256,
        }


def _first(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    attrs = name.get_attributes_for_oid(oid)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names: list[str] = []
    for general_name in ext.value:
        if isinstance(general_name, x509.DNSName):
            names.append(general_name.value)
        elif isinstance(general_name, x509.IPAddress):
            names.append(str(general_name.value))
    return tuple(names)


def _is_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def cert_facts(der: bytes) -> CertFacts:
    """Parse a DER certificate.  Raises ValueError if it is not one."""
    cert = x509.load_der_x509_certificate(der)
    return CertFacts(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        subject_cn=_first(cert.subject, NameOID.COMMON_NAME),
        issuer_cn=_first(cert.issuer, NameOID.COMMON_NAME),
        issuer_org=_first(cert.issuer, NameOID.ORGANIZATION_NAME),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=_is_self_signed(cert),
        sha256=cert.fingerprint(hashes.SHA256()).hex(),
    )


def make_tls_context(
    ca_file: str | None = None, *, verify: bool = True, ca_data: str | None = None
) -> ssl.SSLContext:
    """A client context: the system trust store plus ``ca_file``/``ca_data``.

    ``ssl.create_default_context(cafile=...)`` would *replace* the system
    store with the file, so extra anchors are loaded on top instead.  TLS 1.2
    is the minimum: a server that only offers older versions fails with
    reason "protocol-version", which is the diagnosis we want to give.
    ``verify=False`` turns off chain and hostname checks (used only to read a
    certificate that failed verification, never to send credentials).
    A new context each call, the caller's to change (`shared_tls_context` is one to share).
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is not None or ca_data is not None:
        context.load_verify_locations(cafile=ca_file, cadata=ca_data)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def shared_tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """`make_tls_context` ``(ca_file)``, made once per ``ca_file`` (and state of that file) and shared.

    Loading the system trust store parses every anchor, ~25 ms of CPU each
    time: with a new context per client that was most of the work of
    checking 200 accounts on loopback (issue 19).  Whoever gets this context
    must not change it.  Sharing a client context shares no TLS sessions:
    Python resumes one only when given ``session=``.
    """
    return _shared(ca_file, _file_state(ca_file))


def _file_state(path: str | None) -> bytes | None:
    """What tells a changed ``ca_file`` from the cached one: its digest (an mtime can repeat
    within a clock tick); None if unreadable."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return hashlib.sha256(file.read()).digest()
    except OSError:
        return None  # loading it raises the error the caller expects (and nothing is cached)


@functools.lru_cache(maxsize=32)
def _shared(ca_file: str | None, state: bytes | None) -> ssl.SSLContext:
    return make_tls_context(ca_file)
