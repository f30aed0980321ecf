"""The only code in pop3doctor that touches sockets, DNS, TLS and clocks.

It turns the world into typed evidence (see `errors`); it knows nothing
about POP3.
"""

from pop3doctor.net.attempt import Attempt
from pop3doctor.net.certs import CertFacts, cert_facts, make_tls_context
from pop3doctor.net.connection import (
    Connection,
    TlsInfo,
    open_connection,
    unverified_certificate,
)
from pop3doctor.net.errors import (
    CertificateProblem,
    ConnectError,
    ConnectFailed,
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    DnsNotFound,
    DnsUnavailable,
    HostUnreachable,
    NetError,
    ReadTimeout,
    TlsHandshakeFailed,
    WriteTimeout,
)
from pop3doctor.net.resolve import resolve
from pop3doctor.net.timeouts import Timeouts

__all__ = [
    "Attempt",
    "CertFacts",
    "CertificateProblem",
    "ConnectError",
    "ConnectFailed",
    "ConnectRefused",
    "ConnectTimeout",
    "Connection",
    "ConnectionClosed",
    "DnsNotFound",
    "DnsUnavailable",
    "HostUnreachable",
    "NetError",
    "ReadTimeout",
    "Timeouts",
    "TlsHandshakeFailed",
    "TlsInfo",
    "WriteTimeout",
    "cert_facts",
    "make_tls_context",
    "open_connection",
    "resolve",
    "unverified_certificate",
]
