"""The healthy lab is a correct POP3 server (RFC 1939, 2449, 5034, 2595)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import ssl

import pytest

from pop3doctor.lab import LabServer
from pop3doctor.lab.mailbox import sample_messages, to_wire
from pop3doctor.protocol.codes import parse_status_line
from support.lab import RawPop3, client_context, unstuff


async def test_greeting_has_apop_timestamp(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    greeting = await c.greet()
    assert re.fullmatch(rb"\+OK Dovecot \(Debian\) ready\. <\d+\.[0-9a-f]+@localhost>", greeting)
    await c.close()


async def test_capa_plain_port_lists_every_capability(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert (await c.cmd("CAPA")).startswith(b"+OK")
    capa = await c.body()
    assert capa == [
        b"TOP", b"UIDL", b"RESP-CODES", b"AUTH-RESP-CODE", b"PIPELINING", b"USER",
        b"SASL PLAIN LOGIN CRAM-MD5", b"STLS", b"EXPIRE NEVER",
        b"IMPLEMENTATION pop3doctor-lab",
    ]
    await c.close()


async def test_capa_on_tls_port_has_no_stls(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server, tls=True)
    await c.greet()
    await c.cmd("CAPA")
    capa = await c.body()
    assert b"STLS" not in capa and b"USER" in capa
    await c.close()


async def test_user_pass_stat_list_uidl_retr_match_mailbox(lab_server: LabServer) -> None:
    expected = [to_wire(m) for m in sample_messages()]
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert await c.login(lab_server) == b"+OK Logged in."
    total = sum(map(len, expected))
    assert await c.cmd("STAT") == f"+OK {len(expected)} {total}".encode()
    assert (await c.cmd("LIST")).startswith(b"+OK")
    assert await c.body() == [f"{i} {len(m)}".encode() for i, m in enumerate(expected, 1)]
    assert await c.cmd("LIST 2") == f"+OK 2 {len(expected[1])}".encode()
    await c.cmd("UIDL")
    uids = await c.body()
    assert [u.split()[1].decode() for u in uids] == [m.uid for m in lab_server.mailbox]
    for i, data in enumerate(expected, 1):
        assert await c.cmd(f"RETR {i}") == f"+OK {len(data)} octets".encode()
        assert unstuff(await c.body()) == data
    assert await c.cmd("QUIT") == b"+OK Logging out."
    await c.close()


async def test_retr_byte_stuffs_lines_starting_with_dot(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.login(lab_server)
    await c.cmd("RETR 1")
    raw = await c.body()
    assert b".." in raw  # the body line "." went out stuffed
    assert b"...two dots start this line" in raw
    await c.close()


async def test_top_returns_headers_and_n_body_lines(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.login(lab_server)
    assert (await c.cmd("TOP 1 2")).startswith(b"+OK")
    lines = await c.body()
    blank = lines.index(b"")
    assert lines[blank + 1 :] == [b"Hi Alice,", b""]
    assert lines[0] == b"Return-Path: <bob@example.com>"
    await c.close()


async def test_dele_commits_only_at_quit(lab_server: LabServer) -> None:
    first_uid = lab_server.mailbox[0].uid
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.login(lab_server)
    assert await c.cmd("DELE 1") == b"+OK Marked to be deleted."
    assert (await c.cmd("RETR 1")).startswith(b"-ERR")
    assert not lab_server.mailbox[0].deleted
    assert await c.cmd("QUIT") == b"+OK Logging out, messages deleted."
    await c.close()
    assert lab_server.mailbox[0].deleted
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.login(lab_server)
    await c.cmd("UIDL")
    uids = [line.split()[1].decode() for line in await c.body()]
    assert first_uid not in uids
    assert uids == [m.uid for m in lab_server.mailbox[1:]]
    await c.close()


async def test_dropped_session_deletes_nothing_and_rset_unmarks(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.login(lab_server)
    await c.cmd("DELE 1")
    assert await c.cmd("RSET") == b"+OK"
    await c.cmd("DELE 2")
    await c.close()  # no QUIT: RFC 1939 says no UPDATE state
    await asyncio.sleep(0.05)
    assert not any(m.deleted for m in lab_server.mailbox)


async def test_uidl_stable_across_sessions(lab_server: LabServer) -> None:
    seen = []
    for _ in range(2):
        c = await RawPop3.open(lab_server)
        await c.greet()
        await c.login(lab_server)
        await c.cmd("UIDL")
        seen.append(await c.body())
        await c.cmd("QUIT")
        await c.close()
    assert seen[0] == seen[1]
    assert all(re.fullmatch(rb"\d+ [\x21-\x7e]{1,70}", line) for line in seen[0])


async def test_second_session_gets_in_use(lab_server: LabServer) -> None:
    a = await RawPop3.open(lab_server)
    await a.greet()
    await a.login(lab_server)
    b = await RawPop3.open(lab_server)
    await b.greet()
    reply = await b.login(lab_server)
    status = parse_status_line(reply)
    assert status is not None and not status.ok and str(status.code) == "IN-USE"
    await a.cmd("QUIT")
    assert await b.login(lab_server) == b"+OK Logged in."
    await a.close()
    await b.close()


async def test_wrong_password_is_auth_error(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.cmd(f"USER {lab_server.user}")
    assert await c.cmd("PASS not-the-password") == b"-ERR [AUTH] Authentication failed."
    await c.close()


async def test_apop(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    greeting = await c.greet()
    stamp = re.search(rb"<[^>]+>", greeting)
    assert stamp
    digest = hashlib.md5(stamp.group() + lab_server.password.encode()).hexdigest()
    assert await c.cmd(f"APOP {lab_server.user} {digest}") == b"+OK Logged in."
    await c.close()


async def test_sasl_plain_with_initial_response_and_continuation(lab_server: LabServer) -> None:
    token = base64.b64encode(f"\0{lab_server.user}\0{lab_server.password}".encode()).decode()
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert await c.cmd(f"AUTH PLAIN {token}") == b"+OK Logged in."
    await c.cmd("QUIT")
    await c.close()
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert await c.cmd("AUTH PLAIN") == b"+ "
    assert await c.cmd(token) == b"+OK Logged in."
    await c.close()


async def test_sasl_login(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert await c.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    assert await c.cmd(base64.b64encode(lab_server.user.encode())) == b"+ UGFzc3dvcmQ6"
    assert await c.cmd(base64.b64encode(lab_server.password.encode())) == b"+OK Logged in."
    await c.close()


async def test_sasl_cram_md5(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    challenge_line = await c.cmd("AUTH CRAM-MD5")
    challenge = base64.b64decode(challenge_line[2:])
    digest = hmac.new(lab_server.password.encode(), challenge, hashlib.md5).hexdigest()
    answer = base64.b64encode(f"{lab_server.user} {digest}".encode())
    assert await c.cmd(answer) == b"+OK Logged in."
    await c.close()


async def test_sasl_cancel_and_auth_listing(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    assert await c.cmd("AUTH LOGIN") == b"+ VXNlcm5hbWU6"
    assert await c.cmd("*") == b"-ERR Authentication aborted."
    assert await c.cmd("AUTH") == b"+OK"
    assert await c.body() == [b"PLAIN", b"LOGIN", b"CRAM-MD5"]
    await c.close()


async def test_stls_then_login_and_retr(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    await c.starttls(lab_server)
    assert await c.cmd("CAPA") == b"+OK Capability list follows"
    assert b"STLS" not in await c.body()
    assert await c.cmd("STLS") == b"-ERR TLS is already active."
    assert await c.login(lab_server) == b"+OK Logged in."
    await c.cmd("RETR 2")
    assert unstuff(await c.body()) == lab_server.mailbox[1].data
    # RFC 2595 section 4: STLS is only valid in the AUTHORIZATION state.
    assert (await c.cmd("STLS")).startswith(b"-ERR")
    await c.close()


async def test_implicit_tls_verifies_with_lab_ca(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server, tls=True)
    assert (await c.greet()).startswith(b"+OK")
    assert await c.login(lab_server) == b"+OK Logged in."
    await c.close()


async def test_pipelined_commands_answered_in_order(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    c.writer.write(
        f"USER {lab_server.user}\r\nPASS {lab_server.password}\r\nSTAT\r\n"
        "LIST 1\r\nUIDL 1\r\nRETR 1\r\nNOOP\r\nQUIT\r\n".encode()
    )
    await c.writer.drain()
    assert await c.line() == b"+OK"
    assert await c.line() == b"+OK Logged in."
    assert (await c.line()).startswith(b"+OK 4 ")
    assert await c.line() == f"+OK 1 {lab_server.mailbox[0].size}".encode()
    assert await c.line() == f"+OK 1 {lab_server.mailbox[0].uid}".encode()
    assert (await c.line()).startswith(b"+OK")
    assert unstuff(await c.body()) == lab_server.mailbox[0].data
    assert await c.line() == b"+OK"
    assert await c.line() == b"+OK Logging out."
    assert await c.closed()


# --- hostile clients ---------------------------------------------------------


async def test_malformed_commands_get_err_then_hang_up(lab_factory) -> None:
    async with lab_factory(max_bad_commands=5) as lab:
        c = await RawPop3.open(lab)
        await c.greet()
        for bad in [b"FOO", b"\xff\xfe", b"RETR 1", b"USER", b"x" * 300]:
            reply = await c.cmd(bad)
            assert reply.startswith(b"-ERR"), reply
        # The fifth bad command was answered "-ERR Too many bad commands." and closed.
        assert reply == b"-ERR Too many bad commands."
        assert await c.closed()


async def test_overlong_line_is_refused_and_closed(lab_factory) -> None:
    async with lab_factory(max_line=1024) as lab:
        c = await RawPop3.open(lab)
        await c.greet()
        c.writer.write(b"A" * 100_000)
        await c.writer.drain()
        assert await c.line() == b"-ERR Input line too long."
        assert await c.closed()


async def test_idle_client_is_timed_out(lab_factory) -> None:
    async with lab_factory(idle_timeout=0.3) as lab:
        c = await RawPop3.open(lab)
        await c.greet()
        assert await c.line() == b"-ERR Disconnected for inactivity."
        assert await c.closed()


async def test_connection_count_is_bounded(lab_factory) -> None:
    async with lab_factory(max_connections=2) as lab:
        kept = [await RawPop3.open(lab) for _ in range(2)]
        for k in kept:
            await k.greet()
        extra = await RawPop3.open(lab)
        assert await extra.line() == b"-ERR [SYS/TEMP] Too many connections, try again later"
        assert await extra.closed()
        for k in kept:
            await k.close()
        assert lab.connections_seen == 3


async def test_tls_port_rejects_plaintext_client(lab_server: LabServer) -> None:
    reader, writer = await asyncio.open_connection(lab_server.host, lab_server.tls_port)
    writer.write(b"USER alice\r\n")
    await writer.drain()
    # The TLS server sees a non-TLS record and drops the connection.
    assert await asyncio.wait_for(reader.read(), 20) == b""
    writer.close()


async def test_unverified_client_sees_lab_certificate_names(lab_server: LabServer) -> None:
    ctx = client_context(lab_server)
    c = await RawPop3.open(lab_server, tls=True, ssl_context=ctx)
    sslobj = c.writer.get_extra_info("ssl_object")
    assert isinstance(sslobj, ssl.SSLObject)
    cert = sslobj.getpeercert()
    assert ("DNS", "localhost") in cert["subjectAltName"]
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    await c.close()


def test_unknown_option_is_type_error() -> None:
    with pytest.raises(TypeError, match="idle_timeut"):
        LabServer(idle_timeut=3)


def test_unknown_scenario_is_key_error() -> None:
    with pytest.raises(KeyError, match="no-such"):
        LabServer("no-such")


def test_run_in_thread_serves_a_blocking_client() -> None:
    import socket

    with LabServer().run_in_thread() as lab:
        assert lab.port
        with socket.create_connection((lab.host, lab.port), timeout=20) as sock:
            f = sock.makefile("rwb")
            assert f.readline().startswith(b"+OK")
            f.write(b"QUIT\r\n")
            f.flush()
            assert f.readline() == b"+OK Logging out.\r\n"


async def test_plaintext_pipelined_after_stls_is_refused(lab_server: LabServer) -> None:
    c = await RawPop3.open(lab_server)
    await c.greet()
    c.writer.write(b"STLS\r\nUSER alice\r\n")
    await c.writer.drain()
    assert await c.line() == b"-ERR STLS must be the last command in a pipeline."
    assert await c.closed()


async def test_silent_client_on_tls_port_is_dropped(lab_factory) -> None:
    async with lab_factory(tls_handshake_timeout=0.3) as lab:
        reader, writer = await asyncio.open_connection(lab.host, lab.tls_port)
        assert await asyncio.wait_for(reader.read(), 20) == b""
        writer.close()
