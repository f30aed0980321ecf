"""Every lab scenario, over real sockets, produces exactly its failure."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from pop3doctor.lab import SCENARIOS, LabServer
from pop3doctor.lab.faults import GARBAGE_LINE
from pop3doctor.protocol.codes import parse_status_line
from support.lab import RawPop3, unstuff

TESTED: set[str] = set()

# Scenarios whose failure is the reply to a login with the lab's own
# credentials: (scenario, exact reply, RFC 2449/3206 response code).
LOGIN_REPLIES = [
    ("wrong-password", "-ERR [AUTH] Username and password not accepted.", "AUTH"),
    ("unknown-user", "-ERR sorry, no mailbox for alice here", None),
    (
        "app-password-required",
        "-ERR [AUTH] Application-specific password required: "
        "https://support.google.com/accounts/answer/185833",
        "AUTH",
    ),
    (
        "web-login-required",
        "-ERR [AUTH] Web login required: https://support.google.com/mail/answer/78754",
        "AUTH",
    ),
    (
        "pop-disabled",
        "-ERR [SYS/PERM] Your account is not enabled for POP access. Please visit your "
        "Gmail settings page and enable your account for POP access.",
        "SYS/PERM",
    ),
    (
        "account-locked",
        "-ERR [AUTH] Account locked after too many failed logins. "
        "Sign in at https://mail.example.jp/unlock to unlock it.",
        "AUTH",
    ),
    ("mailbox-in-use", "-ERR [IN-USE] Unable to lock maildrop", "IN-USE"),
    ("login-delay", "-ERR [LOGIN-DELAY] Logins must be at least 15 minutes apart", "LOGIN-DELAY"),
    ("sys-temp", "-ERR [SYS/TEMP] Temporary authentication failure.", "SYS/TEMP"),
    ("sys-perm", "-ERR [SYS/PERM] Unable to open maildrop", "SYS/PERM"),
]
TESTED.update(name for name, _, _ in LOGIN_REPLIES)


async def _authenticated(lab: LabServer, *, tls: bool = False) -> RawPop3:
    c = await RawPop3.open(lab, tls=tls, limit=2**21)
    assert (await c.greet()).startswith(b"+OK")
    assert await c.login(lab) == b"+OK Logged in."
    return c


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
@pytest.mark.parametrize(("name", "reply", "code"), LOGIN_REPLIES)
async def test_login_failure_replies(lab_factory, name, reply, code, tls) -> None:
    async with lab_factory(name) as lab:
        c = await RawPop3.open(lab, tls=tls)
        assert (await c.greet()).startswith(b"+OK")
        if name == "unknown-user":
            # RFC 1939's own example: the server refuses the name at USER.
            assert await c.cmd(f"USER {lab.user}") == reply.encode()
            # APOP with the right secret hears the same.
            token = base64.b64encode(f"\0{lab.user}\0{lab.password}".encode()).decode()
            assert await c.cmd(f"AUTH PLAIN {token}") == reply.encode()
        else:
            assert await c.login(lab) == reply.encode()
        status = parse_status_line(reply)
        assert status is not None and not status.ok
        assert (str(status.code) if status.code else None) == code
        # Still in AUTHORIZATION: a wrong password gets the plain failure.
        if name != "unknown-user":
            await c.cmd(f"USER {lab.user}")
            assert await c.cmd("PASS wrong") == b"-ERR [AUTH] Authentication failed."
        assert await c.cmd("QUIT") == b"+OK Logging out."
        await c.close()


async def test_login_delay_is_advertised(lab_factory) -> None:
    async with lab_factory("login-delay", login_delay=120) as lab:
        c = await RawPop3.open(lab)
        await c.greet()
        await c.cmd("CAPA")
        assert b"LOGIN-DELAY 120" in await c.body()
        assert (
            await c.login(lab) == b"-ERR [LOGIN-DELAY] Logins must be at least 2 minutes apart"
        )
        await c.close()


TESTED.add("healthy")


async def test_healthy(lab_factory) -> None:
    async with lab_factory("healthy") as lab:
        c = await _authenticated(lab)
        await c.cmd("RETR 1")
        assert unstuff(await c.body()) == lab.mailbox[0].data
        await c.close()


TESTED.add("oauth-required")


async def test_oauth_required(lab_factory) -> None:
    async with lab_factory("oauth-required") as lab:
        c = await RawPop3.open(lab)
        greeting = await c.greet()
        assert b"<" not in greeting  # no APOP timestamp
        await c.cmd("CAPA")
        capa = await c.body()
        assert b"USER" not in capa and b"SASL XOAUTH2 OAUTHBEARER" in capa
        assert await c.login(lab) == b"-ERR Logon failure: unknown user name or bad password."
        token = base64.b64encode(b"\0alice\0" + lab.password.encode()).decode()
        assert await c.cmd(f"AUTH PLAIN {token}") == b"-ERR Unsupported authentication mechanism."
        xoauth = base64.b64encode(b"user=alice\x01auth=Bearer ya29.x\x01\x01").decode()
        challenge = await c.cmd(f"AUTH XOAUTH2 {xoauth}")
        assert challenge.startswith(b"+ ")
        assert b'"status": "401"' in base64.b64decode(challenge[2:])
        assert await c.cmd("") == b"-ERR [AUTH] Authentication failed."
        await c.close()


TESTED.add("plaintext-auth-disallowed")


async def test_plaintext_auth_disallowed(lab_factory) -> None:
    refused = (
        b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."
    )
    async with lab_factory("plaintext-auth-disallowed") as lab:
        c = await RawPop3.open(lab)
        assert b"<" not in await c.greet()
        await c.cmd("CAPA")
        capa = await c.body()
        assert b"USER" not in capa and b"SASL CRAM-MD5" in capa and b"STLS" in capa
        assert await c.cmd(f"USER {lab.user}") == refused
        assert await c.cmd(f"PASS {lab.password}") == refused
        assert await c.cmd("AUTH PLAIN") == refused
        await c.starttls(lab)
        assert await c.login(lab) == b"+OK Logged in."
        await c.close()
        c = await _authenticated(lab, tls=True)
        await c.close()


TESTED.add("no-stls")


async def test_no_stls(lab_factory) -> None:
    async with lab_factory("no-stls") as lab:
        c = await RawPop3.open(lab)
        await c.greet()
        await c.cmd("CAPA")
        assert b"STLS" not in await c.body()
        assert await c.cmd("STLS") == b"-ERR Unknown command."
        assert await c.login(lab) == b"+OK Logged in."
        await c.close()


TESTED.add("apop-no-secret")


async def test_apop_no_secret(lab_factory) -> None:
    import hashlib
    import re

    async with lab_factory("apop-no-secret") as lab:
        c = await RawPop3.open(lab)
        stamp = re.search(rb"<[^>]+>", await c.greet())
        assert stamp, "the greeting carries an APOP timestamp"
        digest = hashlib.md5(stamp.group(0) + lab.password.encode()).hexdigest()  # right password
        assert await c.cmd(f"APOP {lab.user} {digest}") == b"-ERR [AUTH] Authentication failed."
        await c.close()
        c = await RawPop3.open(lab)
        await c.greet()
        assert await c.login(lab) == b"+OK Logged in."  # the normal password works
        await c.close()


TESTED.add("tls-only")


async def test_tls_only(lab_factory) -> None:
    async with lab_factory("tls-only") as lab:
        assert lab.port is None
        c = await _authenticated(lab, tls=True)
        await c.close()
        # A plain POP3 client on the TLS port waits for a greeting that never
        # comes (the server waits for a ClientHello): port-expects-tls.
        reader, writer = await asyncio.open_connection(lab.host, lab.tls_port)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readline(), 0.5)
        writer.close()


# (scenario, OpenSSL verify code, what an unverified look at the certificate shows)
CERT_CASES = [
    ("cert-expired", 10, "expired"),  # X509_V_ERR_CERT_HAS_EXPIRED
    ("cert-self-signed", 18, "self-signed"),  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    ("cert-wrong-host", 62, "wrong-host"),  # X509_V_ERR_HOSTNAME_MISMATCH
    ("cert-intercepted", 20, "intercepted"),  # X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
]
TESTED.update(name for name, _, _ in CERT_CASES)


async def _peer_cert(lab: LabServer, *, stls: bool) -> x509.Certificate:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if stls:
        c = await RawPop3.open(lab)
        await c.greet()
        await c.starttls(lab, ctx)
    else:
        c = await RawPop3.open(lab, tls=True, ssl_context=ctx)
    der = c.writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    await c.close()
    return x509.load_der_x509_certificate(der)


@pytest.mark.parametrize("stls", [False, True], ids=["implicit", "stls"])
@pytest.mark.parametrize(("name", "verify_code", "kind"), CERT_CASES)
async def test_certificate_scenarios(lab_factory, name, verify_code, kind, stls) -> None:
    async with lab_factory(name) as lab:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            if stls:
                c = await RawPop3.open(lab)
                await c.greet()
                await c.starttls(lab)
            else:
                await RawPop3.open(lab, tls=True)
        assert caught.value.verify_code == verify_code
        cert = await _peer_cert(lab, stls=stls)
        issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sans.get_values_for_type(x509.DNSName)
        if kind == "expired":
            assert cert.not_valid_after_utc < dt.datetime.now(dt.UTC)
            assert "localhost" in names
        elif kind == "self-signed":
            assert cert.issuer == cert.subject
        elif kind == "wrong-host":
            assert names == ["pop.wrong-host.example"]
        else:
            assert issuer_cn[0].value == "Avast Web/Mail Shield Root"
            assert "localhost" in names


TESTED.add("slow-greeting")


async def test_slow_greeting_never(lab_factory) -> None:
    async with lab_factory("slow-greeting") as lab:
        c = await RawPop3.open(lab)
        with pytest.raises(TimeoutError):
            await c.line(timeout=1.0)
        await c.close()


async def test_slow_greeting_after_delay(lab_factory) -> None:
    async with lab_factory("slow-greeting", greeting_delay=0.3) as lab:
        c = await RawPop3.open(lab)
        assert (await c.line()).startswith(b"+OK Dovecot")
        await c.close()


TESTED.add("busy")


async def test_busy(lab_factory) -> None:
    async with lab_factory("busy") as lab:
        c = await RawPop3.open(lab)
        assert await c.line() == b"-ERR [SYS/TEMP] Too many connections, try again later"
        assert await c.closed()


TESTED.add("drop-mid-retr")


async def test_drop_mid_retr(lab_factory) -> None:
    async with lab_factory("drop-mid-retr") as lab:
        c = await _authenticated(lab)
        size = lab.mailbox[3].size
        assert await c.cmd("RETR 4") == f"+OK {size} octets".encode()
        rest = await asyncio.wait_for(c.reader.read(), 20)
        assert 0 < len(rest) < size
        assert not rest.endswith(b"\r\n.\r\n")
        assert not lab.mailbox[3].deleted
        # TOP (how a diagnosis samples a message) breaks the same way.
        c = await _authenticated(lab)
        assert await c.cmd("TOP 4 0") == b"+OK"
        rest = await asyncio.wait_for(c.reader.read(), 20)
        assert rest.startswith(b"Return-Path: <carol@example.org>")
        assert not rest.endswith(b"\r\n.\r\n")


TESTED.add("not-pop3")


async def test_not_pop3_imap(lab_factory) -> None:
    async with lab_factory("not-pop3") as lab:
        c = await RawPop3.open(lab)
        banner = await c.greet()
        assert banner.startswith(b"* OK [CAPABILITY IMAP4rev1")
        assert parse_status_line(banner) is None
        assert await c.cmd("USER alice") == b"USER BAD Error in IMAP command received by server."
        await c.close()


async def test_not_pop3_smtp(lab_factory) -> None:
    async with lab_factory("not-pop3", not_pop3_banner="smtp") as lab:
        c = await RawPop3.open(lab)
        assert await c.greet() == b"220 mail.example.jp ESMTP Postfix (Debian/GNU)"
        assert await c.cmd("CAPA") == b"502 5.5.2 Error: command not recognized"
        await c.close()


async def test_not_pop3_http(lab_factory) -> None:
    async with lab_factory("not-pop3", not_pop3_banner="http") as lab:
        c = await RawPop3.open(lab)
        with pytest.raises(TimeoutError):  # HTTP servers wait for the request
            await c.line(timeout=0.5)
        assert await c.cmd("CAPA") == b"HTTP/1.1 400 Bad Request"
        assert await c.closed()


TESTED.add("garbage")


async def test_garbage(lab_factory) -> None:
    async with lab_factory("garbage") as lab:
        c = await _authenticated(lab)
        for command in ("STAT", "LIST", "RETR 1"):
            await c.send(command)
            raw = await c.reader.readuntil(b"\r\n")
            assert raw == GARBAGE_LINE
            assert parse_status_line(raw.split(b"\n")[0]) is None
        assert await c.cmd("NOOP") == b"+OK"  # the connection stays up
        await c.close()


TESTED.add("huge-line")


async def test_huge_line(lab_factory) -> None:
    async with lab_factory("huge-line", huge_line_size=200_000) as lab:
        c = await _authenticated(lab)
        await c.send("LIST")
        raw = await c.reader.readuntil(b"\r\n")
        assert len(raw) == 200_000 and raw.startswith(b"+OK xxx")
        assert await c.cmd("NOOP") == b"+OK"
        await c.close()


TESTED.add("empty-mailbox")


async def test_empty_mailbox(lab_factory) -> None:
    async with lab_factory("empty-mailbox") as lab:
        c = await _authenticated(lab)
        assert await c.cmd("STAT") == b"+OK 0 0"
        assert await c.cmd("LIST") == b"+OK 0 messages (0 octets)"
        assert await c.body() == []
        assert await c.cmd("RETR 1") == b"-ERR There's no message 1."
        await c.close()


TESTED.add("large-message")


async def test_large_message_default_declares_30_mib(lab_factory) -> None:
    async with lab_factory("large-message") as lab:
        c = await _authenticated(lab)
        assert await c.cmd("LIST 2") == b"+OK 2 31457280"
        assert (await c.cmd("TOP 2 1")).startswith(b"+OK")
        top = await c.body()
        assert b"Subject: Scanned documents (large attachment)" in top
        await c.close()


async def test_large_message_streams_exact_size(lab_factory) -> None:
    size = 3_000_000
    async with lab_factory("large-message", large_size=size) as lab:
        c = await _authenticated(lab)
        assert await c.cmd("RETR 2") == f"+OK {size} octets".encode()
        received = 0
        while (line := await c.reader.readuntil(b"\r\n")) != b".\r\n":
            received += len(line)
        assert received == size
        await c.close()


def test_every_scenario_has_a_test() -> None:
    assert set(SCENARIOS) == TESTED


def test_every_scenario_has_cause_and_both_languages() -> None:
    for scenario in SCENARIOS.values():
        assert scenario.expected_cause
        assert scenario.description.ja and scenario.description.en
        assert "\n" not in scenario.description.ja + scenario.description.en
