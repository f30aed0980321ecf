"""Turn what a failed TLS handshake raised into a `TlsHandshakeFailed`.

Classification uses structured attributes only: ``verify_code`` of
`ssl.SSLCertVerificationError` and ``reason`` of `ssl.SSLError` (OpenSSL's
reason macro name without the ``SSL_R_`` prefix), never the message text.
"""

from __future__ import annotations

import ssl
from typing import Unpack

from pop3doctor.net.errors import CertificateProblem, CertKind, TlsHandshakeFailed, Where

# X509_V_ERR_* codes from OpenSSL's include/openssl/x509_vfy.h.
_VERIFY_KIND: dict[int, CertKind] = {
    10: "expired",  # X509_V_ERR_CERT_HAS_EXPIRED
    9: "not-yet-valid",  # X509_V_ERR_CERT_NOT_YET_VALID
    62: "hostname-mismatch",  # X509_V_ERR_HOSTNAME_MISMATCH
    64: "hostname-mismatch",  # X509_V_ERR_IP_ADDRESS_MISMATCH (server named by IP)
    18: "self-signed",  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: the leaf signs itself
    19: "untrusted",  # X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: server sent an untrusted root
    20: "untrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: "untrusted",  # X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    2: "untrusted",  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
}

# Reasons meaning "the peer's bytes are not TLS records".  OpenSSL 3.0
# reports WRONG_VERSION_NUMBER for a plain-text banner ("+OK", "* OK", "220");
# UNKNOWN_PROTOCOL is the OpenSSL 1.x spelling for the same situation.
_NOT_TLS = frozenset({"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL"})

# Reasons meaning "no protocol version in common".
_VERSION = frozenset(
    {
        "UNSUPPORTED_PROTOCOL",  # server chose a version below our minimum
        "TLSV1_ALERT_PROTOCOL_VERSION",  # server rejected the versions we offered
        "NO_PROTOCOLS_AVAILABLE",
        "VERSION_TOO_LOW",
        "VERSION_TOO_HIGH",
    }
)

# Reasons meaning the TLS stream ended early (peer closed mid-handshake).
_EOF = frozenset({"UNEXPECTED_EOF_WHILE_READING", "EOF_OCCURRED_IN_VIOLATION_OF_PROTOCOL"})

_ALERT_PREFIXES = ("SSLV3_ALERT_", "TLSV13_ALERT_", "TLSV1_ALERT_", "TLSV1_")


def _reason_slug(library_reason: str | None) -> str:
    if library_reason is None:
        return "other"
    if library_reason in _NOT_TLS:
        return "wrong-version-number"
    if library_reason in _VERSION:
        return "protocol-version"
    if library_reason in _EOF:
        return "eof"
    for prefix in _ALERT_PREFIXES:
        if library_reason.startswith(prefix):
            name = library_reason[len(prefix) :].lower().replace("_", "-")
            return f"alert-{name}"
    return "other"


def classify_tls_error(exc: BaseException, **where: Unpack[Where]) -> TlsHandshakeFailed:
    """The `TlsHandshakeFailed` (or `CertificateProblem`) describing ``exc``.

    ``exc`` is what the handshake raised: an `ssl.SSLError`, a
    `TimeoutError` (our deadline), `ConnectionAbortedError` (asyncio's own
    handshake deadline), or `ConnectionResetError`/`BrokenPipeError`
    (asyncio raises ConnectionResetError when the peer sends EOF mid-handshake).
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        kind = _VERIFY_KIND.get(code, "untrusted")
        return CertificateProblem(
            f"certificate verification failed (verify_code={code})",
            kind=kind,
            verify_code=code,
            verify_message=exc.verify_message,
            library_reason=exc.reason,
            **where,
        )
    if isinstance(exc, ssl.SSLError):
        library_reason = exc.reason
        slug = _reason_slug(library_reason)
        if slug == "other" and isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
            slug = "eof"
        return TlsHandshakeFailed(
            f"TLS handshake failed ({library_reason})",
            reason=slug,
            library_reason=library_reason,
            **where,
        )
    if isinstance(exc, TimeoutError | ConnectionAbortedError):
        return TlsHandshakeFailed("TLS handshake timed out", reason="handshake-timeout", **where)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
        return TlsHandshakeFailed(
            "peer closed the connection during the TLS handshake", reason="eof", **where
        )
    return TlsHandshakeFailed(f"TLS handshake failed: {exc!r}", reason="other", **where)
