"""net/: implicit TLS, STARTTLS and certificate failures against real loopback servers.

Certificates come from trustme (a throwaway CA per test module); the client
trusts that CA through ``make_tls_context(ca_data=...)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pop3doctor.net import (
    CertificateProblem,
    Connection,
    Timeouts,
    TlsHandshakeFailed,
    make_tls_context,
    open_connection,
    unverified_certificate,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
UTC = dt.UTC
QUICK = Timeouts(resolve=2, connect=2, tls=2, greeting=2, command=2)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA(organization_name="pop3doctor Test CA")


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    return make_tls_context(ca_data=ca.cert_pem.bytes().decode())


def server_ctx(cert: trustme.LeafCert) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx


def self_signed_ctx(name: str) -> ssl.SSLContext:
    """A server context whose leaf certificate signs itself (no CA at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    blob = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # load_cert_chain needs a file; trustme's Blob helper writes a temp file.
    with trustme.Blob(blob).tempfile() as path:
        ctx.load_cert_chain(path)
    return ctx


async def greet_then_wait(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send one line, then hold the connection until the client leaves."""
    try:
        writer.write(b"hello\r\n")
        await writer.drain()
        await reader.read()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, never send; hold until the client leaves."""
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await reader.read()
    writer.close()


@contextlib.asynccontextmanager
async def serve(
    handler: Handler, ssl_ctx: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, host, 0, ssl=ssl_ctx)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def blocking_tls_server(ssl_ctx: ssl.SSLContext) -> Iterator[int]:
    """A TLS server on a thread, using blocking OpenSSL calls.

    Needed for alert tests: asyncio's server side aborts the transport on a
    handshake error without flushing the alert, so the client would only
    see EOF.  A blocking ``do_handshake`` sends the alert before raising.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            raw.settimeout(5)
            try:
                with ssl_ctx.wrap_socket(raw, server_side=True) as tls:
                    tls.sendall(b"hello\r\n")
            except OSError:
                pass  # the handshake failure we provoked
            finally:
                raw.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


async def test_valid_certificate_connects_and_fills_tls_info(
    ca: trustme.CA, client_ctx: ssl.SSLContext
) -> None:
    leaf = ca.issue_cert("localhost", common_name="localhost")
    async with serve(greet_then_wait, server_ctx(leaf)) as port:
        conn = await open_connection(
            "127.0.0.1", port, timeouts=QUICK, tls=client_ctx, server_hostname="localhost"
        )
        try:
            assert await conn.read(timeout=2, phase="greeting") == b"hello\r\n"
            assert conn.tls is not None
            assert conn.tls.version in ("TLSv1.2", "TLSv1.3")
            assert conn.tls.cipher
            cert = conn.tls.cert
            assert cert is not None
            assert cert.subject_cn == "localhost"
            assert cert.sans == ("localhost",)
            assert cert.issuer_org == "pop3doctor Test CA"
            assert not cert.self_signed
            assert cert.not_before < dt.datetime.now(UTC) < cert.not_after
            assert conn.attempts[0].outcome == "ok"
            assert conn.peer[0] == "127.0.0.1"
        finally:
            await conn.aclose()


async def _cert_problem(
    ssl_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str = "localhost"
) -> CertificateProblem:
    async with serve(greet_then_wait, ssl_ctx) as port:
        with pytest.raises(CertificateProblem) as info:
            await open_connection(
                "127.0.0.1",
                port,
                timeouts=QUICK,
                tls=client_ctx,
                server_hostname=server_hostname,
            )
    return info.value


async def test_expired_certificate(ca: trustme.CA, client_ctx: ssl.SSLContext) -> None:
    now = dt.datetime.now(UTC)
    leaf = ca.issue_cert(
        "localhost",
        not_before=now - dt.timedelta(days=60),
        not_after=now - dt.timedelta(days=30),
    )
    exc = await _cert_problem(server_ctx(leaf), client_ctx)
    assert exc.kind == "expired"
    assert exc.verify_code == 10
    assert exc.reason == "certificate"
    assert exc.cert is not None
    assert exc.cert.not_after < now
    assert exc.cert.issuer_org == "pop3doctor Test CA"
    assert exc.cert.sans == ("localhost",)
    assert exc.attempts and exc.attempts[0].outcome == "ok"
    evidence = exc.evidence()
    assert evidence["error"] == "certificate-problem"
    assert evidence["kind"] == "expired"
    assert isinstance(evidence["cert"], dict)


async def test_not_yet_valid_certificate(ca: trustme.CA, client_ctx: ssl.SSLContext) -> None:
    now = dt.datetime.now(UTC)
    leaf = ca.issue_cert(
        "localhost",
        not_before=now + dt.timedelta(days=30),
        not_after=now + dt.timedelta(days=60),
    )
    exc = await _cert_problem(server_ctx(leaf), client_ctx)
    assert exc.kind == "not-yet-valid"
    assert exc.verify_code == 9
    assert exc.cert is not None
    assert exc.cert.not_before > now


async def test_hostname_mismatch(ca: trustme.CA, client_ctx: ssl.SSLContext) -> None:
    leaf = ca.issue_cert("mail.other.test", common_name="mail.other.test")
    exc = await _cert_problem(server_ctx(leaf), client_ctx, server_hostname="localhost")
    assert exc.kind == "hostname-mismatch"
    assert exc.verify_code == 62
    assert exc.cert is not None
    assert exc.cert.sans == ("mail.other.test",)
    assert exc.cert.subject_cn == "mail.other.test"


async def test_untrusted_issuer_named_like_security_product(client_ctx: ssl.SSLContext) -> None:
    interceptor = trustme.CA(organization_name="Example Antivirus Web Shield Root")
    leaf = interceptor.issue_cert("localhost")
    exc = await _cert_problem(server_ctx(leaf), client_ctx)
    assert exc.kind == "untrusted"
    assert exc.verify_code == 20  # unable to get local issuer certificate
    assert exc.cert is not None
    assert exc.cert.issuer_org == "Example Antivirus Web Shield Root"
    assert not exc.cert.self_signed


async def test_self_signed_leaf(client_ctx: ssl.SSLContext) -> None:
    exc = await _cert_problem(self_signed_ctx("localhost"), client_ctx)
    assert exc.kind == "self-signed"
    assert exc.verify_code == 18
    assert exc.cert is not None
    assert exc.cert.self_signed
    assert exc.cert.issuer_cn == exc.cert.subject_cn == "localhost"


async def test_plain_service_on_tls_port_is_wrong_version_number(
    client_ctx: ssl.SSLContext,
) -> None:
    """A plain-text banner where TLS was expected.

    Checked against OpenSSL 3.0: the client reads "+OK ..." as a TLS record
    header and reports reason WRONG_VERSION_NUMBER.
    """

    async def banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"+OK ready\r\n")
        await greet_then_wait(reader, writer)

    async with serve(banner) as port:
        with pytest.raises(TlsHandshakeFailed) as info:
            await open_connection(
                "127.0.0.1", port, timeouts=QUICK, tls=client_ctx, server_hostname="localhost"
            )
    assert not isinstance(info.value, CertificateProblem)
    assert info.value.reason == "wrong-version-number"
    assert info.value.library_reason == "WRONG_VERSION_NUMBER"
    assert info.value.evidence()["reason"] == "wrong-version-number"


async def test_silent_peer_is_handshake_timeout(client_ctx: ssl.SSLContext) -> None:
    async with serve(silent) as port:
        timeouts = Timeouts(resolve=2, connect=2, tls=0.3, greeting=2, command=2)
        with pytest.raises(TlsHandshakeFailed) as info:
            await open_connection(
                "127.0.0.1", port, timeouts=timeouts, tls=client_ctx, server_hostname="localhost"
            )
    assert info.value.reason == "handshake-timeout"
    assert info.value.elapsed_ms >= 250


async def test_peer_closing_during_handshake_is_eof(client_ctx: ssl.SSLContext) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)  # the start of the ClientHello
        writer.close()

    async with serve(hang_up) as port:
        with pytest.raises(TlsHandshakeFailed) as info:
            await open_connection(
                "127.0.0.1", port, timeouts=QUICK, tls=client_ctx, server_hostname="localhost"
            )
    assert info.value.reason == "eof"


async def test_no_common_version_is_protocol_version(
    ca: trustme.CA, client_ctx: ssl.SSLContext
) -> None:
    """Server capped at TLS 1.2, client insisting on 1.3: the server sends a
    protocol_version alert (reason TLSV1_ALERT_PROTOCOL_VERSION)."""
    server = server_ctx(ca.issue_cert("localhost"))
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    client_ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with blocking_tls_server(server) as port:
        with pytest.raises(TlsHandshakeFailed) as info:
            await open_connection(
                "127.0.0.1", port, timeouts=QUICK, tls=client_ctx, server_hostname="localhost"
            )
    assert info.value.reason == "protocol-version"
    assert info.value.library_reason == "TLSV1_ALERT_PROTOCOL_VERSION"


async def test_tls_alert_becomes_alert_slug(ca: trustme.CA, client_ctx: ssl.SSLContext) -> None:
    """A server demanding a client certificate we do not have: TLS 1.2 ends
    with a handshake_failure alert from the server."""
    server = server_ctx(ca.issue_cert("localhost"))
    server.verify_mode = ssl.CERT_REQUIRED
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    ca.configure_trust(server)
    with blocking_tls_server(server) as port:
        with pytest.raises(TlsHandshakeFailed) as info:
            await open_connection(
                "127.0.0.1", port, timeouts=QUICK, tls=client_ctx, server_hostname="localhost"
            )
    assert info.value.reason == "alert-handshake-failure"
    assert info.value.library_reason == "SSLV3_ALERT_HANDSHAKE_FAILURE"


# -- STARTTLS ---------------------------------------------------------------


def starttls_server(ssl_ctx: ssl.SSLContext) -> Handler:
    """Line protocol: greet, wait for "STARTTLS", answer, upgrade, echo one line."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"ready\r\n")
            await writer.drain()
            if await reader.readline() != b"STARTTLS\r\n":
                return
            writer.write(b"go ahead\r\n")
            await writer.drain()
            await writer.start_tls(ssl_ctx)
            line = await reader.readline()
            writer.write(b"secure " + line)
            await writer.drain()
            await reader.read()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return handler


async def _plain_upto_tls(port: int) -> Connection:
    conn = await open_connection("127.0.0.1", port, timeouts=QUICK)
    assert await conn.read(timeout=2, phase="greeting") == b"ready\r\n"
    conn.write(b"STARTTLS\r\n")
    await conn.drain(timeout=2)
    assert await conn.read(timeout=2, phase="command") == b"go ahead\r\n"
    return conn


async def test_starttls_upgrade_in_place(ca: trustme.CA, client_ctx: ssl.SSLContext) -> None:
    leaf = ca.issue_cert("localhost")
    async with serve(starttls_server(server_ctx(leaf))) as port:
        conn = await _plain_upto_tls(port)
        try:
            assert conn.tls is None
            await conn.start_tls(client_ctx, server_hostname="localhost", timeout=2)
            assert conn.tls is not None and conn.tls.cert is not None
            conn.write(b"ping\r\n")
            await conn.drain(timeout=2)
            assert await conn.read(timeout=2, phase="command") == b"secure ping\r\n"
        finally:
            await conn.aclose()


async def test_starttls_certificate_problem_then_unverified_look(
    client_ctx: ssl.SSLContext,
) -> None:
    rogue = trustme.CA(organization_name="Rogue Inspection CA")
    leaf = rogue.issue_cert("localhost")
    async with serve(starttls_server(server_ctx(leaf))) as port:
        conn = await _plain_upto_tls(port)
        with pytest.raises(CertificateProblem) as info:
            await conn.start_tls(client_ctx, server_hostname="localhost", timeout=2)
        await conn.aclose()
        assert info.value.kind == "untrusted"
        assert info.value.cert is None  # STARTTLS callers fetch it themselves:
        facts = await unverified_certificate(
            lambda: _plain_upto_tls(port), server_hostname="localhost", timeout=2
        )
    assert facts is not None
    assert facts.issuer_org == "Rogue Inspection CA"


async def test_unverified_certificate_is_none_when_reopen_fails() -> None:
    async def refuse() -> Connection:
        return await open_connection("127.0.0.1", 1, timeouts=QUICK)

    assert await unverified_certificate(refuse, server_hostname="x", timeout=1) is None
