"""Proof that the real-Dovecot fixture works, using only stdlib ``poplib``.

The exact Dovecot 2.3.19.1 (Debian bookworm) wording is recorded in comments
and constants here because the diagnosis classifier matches on it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import poplib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

import support.dovecot as dovecot_mod
from support.dovecot import BOB, DovecotOptions, DovecotServer, require_dovecot
from support.messages import make_message, message_id, minimum_size, write_large_message

# --- Dovecot 2.3 texts (observed with 2.3.19.1, default login_greeting) -------
GREETING = b"+OK Dovecot (Debian) ready."
# CAPA before login on a connection where cleartext login is allowed (POP3S,
# after STLS, or disable_plaintext_auth=no):
CAPA_PRE_LOGIN = [b"CAPA", b"TOP", b"UIDL", b"RESP-CODES", b"PIPELINING", b"AUTH-RESP-CODE", b"USER", b"SASL PLAIN"]
# CAPA on the plain port before STLS with disable_plaintext_auth=yes: STLS is
# offered, USER is withdrawn and SASL lists no mechanism at all.
CAPA_PRE_TLS_REFUSING = [b"CAPA", b"TOP", b"UIDL", b"RESP-CODES", b"PIPELINING", b"AUTH-RESP-CODE", b"STLS", b"SASL"]
# CAPA after login (USER, SASL and STLS are gone):
CAPA_POST_LOGIN = [b"CAPA", b"TOP", b"UIDL", b"RESP-CODES", b"PIPELINING", b"AUTH-RESP-CODE"]
# Reply to PASS with a wrong password -- and, identically, to an unknown user,
# so a POP3 client cannot tell the two apart (the log can: see auth_verbose).
AUTH_FAILED = b"-ERR [AUTH] Authentication failed."
# Reply to USER (already to USER, before PASS is sent) without TLS when
# disable_plaintext_auth=yes:
PLAINTEXT_REFUSED = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections."

TIMEOUT = 10.0


def _tls(server: DovecotServer) -> ssl.SSLContext:
    # Verification ON: default context checks the chain and the host name.
    return ssl.create_default_context(cafile=str(server.ca_file))


def _pop3s(server: DovecotServer, user: str | None = None, password: str | None = None) -> poplib.POP3_SSL:
    conn = poplib.POP3_SSL(server.host, server.pop3s_port, context=_tls(server), timeout=TIMEOUT)
    name = user or server.user
    conn.user(name)
    conn.pass_(password if password is not None else server.users[name])
    return conn


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> Iterator[list[bytes]]:
    """Alice's mailbox on the shared server holding five fresh messages."""
    dovecot.clear()
    msgs = [make_message(i, 1500 + 100 * i) for i in range(5)]
    dovecot.deliver(msgs)
    yield msgs
    dovecot.clear()


# --- TLS, login, STAT, RETR, UIDL ---------------------------------------------


def test_pop3s_login_verified_and_stat_counts_delivered(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    conn = _pop3s(dovecot)
    try:
        count, size = conn.stat()
        assert count == len(mailbox) == dovecot.maildir_count()
        assert size == sum(len(m) for m in mailbox)
    finally:
        conn.quit()


def test_certificate_names_match_host_localhost_and_127_0_0_1(dovecot: DovecotServer) -> None:
    ctx = _tls(dovecot)
    for name in (dovecot.host, "localhost", "127.0.0.1"):
        # Connect to the real listener but verify against each name the
        # certificate is meant to carry.
        with socket.create_connection((dovecot.host, dovecot.pop3s_port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with socket.create_connection((dovecot.host, dovecot.pop3s_port), timeout=TIMEOUT) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="pop.example.test")


def test_untrusted_ca_is_rejected(dovecot: DovecotServer) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=ssl.create_default_context(), timeout=TIMEOUT)


def test_retr_returns_exactly_the_delivered_bytes(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    conn = _pop3s(dovecot)
    try:
        for number, original in enumerate(mailbox, start=1):
            _resp, lines, _octets = conn.retr(number)
            # poplib strips CRLF and undoes dot-stuffing; our messages are all
            # CRLF and end in CRLF, so rejoining gives the original bytes.
            assert b"\r\n".join(lines) + b"\r\n" == original
            assert message_id(b"\r\n".join(lines)) == message_id(original)
    finally:
        conn.quit()


def test_dot_lines_are_stuffed_on_the_wire(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    # Read RETR raw, below poplib, to prove the fixture's messages really
    # exercise dot-stuffing: the body line "." travels as "..".
    with socket.create_connection((dovecot.host, dovecot.pop3s_port), timeout=TIMEOUT) as raw:
        with _tls(dovecot).wrap_socket(raw, server_hostname=dovecot.host) as tls:
            f = tls.makefile("rwb")
            assert f.readline() == GREETING + b"\r\n"
            f.write(f"USER {dovecot.user}\r\nPASS {dovecot.password}\r\nRETR 1\r\n".encode())
            f.flush()
            assert f.readline().startswith(b"+OK")
            assert f.readline() == b"+OK Logged in.\r\n"
            status = f.readline()
            assert status == f"+OK {len(mailbox[0])} octets\r\n".encode()
            wire = bytearray()
            while (line := f.readline()) != b".\r\n":
                wire += line
            f.write(b"QUIT\r\n")
            f.flush()
    assert b"\r\n..\r\n" in wire  # the lone "." line, stuffed
    assert b"\r\n...\r\n" in wire  # the ".." line, stuffed
    assert bytes(wire).replace(b"\r\n.", b"\r\n") == mailbox[0]


def test_uidl_is_stable_across_sessions(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    listings = []
    for _ in range(2):
        conn = _pop3s(dovecot)
        try:
            listings.append(conn.uidl()[1])
        finally:
            conn.quit()
    assert listings[0] == listings[1]
    assert len(listings[0]) == len(mailbox)
    assert len({line.split()[1] for line in listings[0]}) == len(mailbox)  # unique per message


def test_dele_and_quit_removes_from_maildir(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    conn = _pop3s(dovecot)
    conn.dele(1)
    conn.quit()
    assert dovecot.maildir_count() == len(mailbox) - 1
    dovecot.clear()
    assert dovecot.maildir_count() == 0
    conn = _pop3s(dovecot)
    try:
        assert conn.stat() == (0, 0)
    finally:
        conn.quit()


def test_bare_lf_and_missing_final_newline_are_normalised_by_dovecot(dovecot: DovecotServer) -> None:
    # What Dovecot changes: bare LF goes out as CRLF, and LIST/RETR octets
    # count CRLF (Maildir W= size); a message without a final line break gets
    # CRLF added before the terminating "." (not counted in the octets).
    dovecot.clear()
    lf_msg = b"From: a@example.test\nSubject: lf\n\n.dot line\nend\n"
    no_eol = b"From: a@example.test\r\nSubject: no eol\r\n\r\nlast line"
    dovecot.deliver([lf_msg, no_eol])
    lf_vsize = len(lf_msg) + lf_msg.count(b"\n")
    conn = _pop3s(dovecot)
    try:
        assert conn.list()[1] == [f"1 {lf_vsize}".encode(), f"2 {len(no_eol)}".encode()]
        resp, lines, _ = conn.retr(1)
        assert resp == f"+OK {lf_vsize} octets".encode()
        assert b"\r\n".join(lines) + b"\r\n" == lf_msg.replace(b"\n", b"\r\n")
        resp, lines, _ = conn.retr(2)
        assert resp == f"+OK {len(no_eol)} octets".encode()
        assert b"\r\n".join(lines) == no_eol
    finally:
        conn.quit()
        dovecot.clear()


def test_fifty_megabyte_message_round_trip(dovecot: DovecotServer) -> None:
    dovecot.clear()
    path = dovecot.directory / "big.eml"
    write_large_message(path, 50_000_000, index=99)
    dovecot.deliver_file(path)
    want = hashlib.sha256(path.read_bytes()).hexdigest()
    path.unlink()
    conn = _pop3s(dovecot)
    try:
        assert conn.list()[1] == [b"1 50000000"]
        _resp, lines, _ = conn.retr(1)
        digest = hashlib.sha256()
        for line in lines:
            digest.update(line + b"\r\n")
        assert digest.hexdigest() == want
    finally:
        conn.quit()
        dovecot.clear()


# --- exact texts ----------------------------------------------------------------


def test_greeting_and_capa_texts(dovecot: DovecotServer) -> None:
    conn = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=_tls(dovecot), timeout=TIMEOUT)
    try:
        assert conn.getwelcome() == GREETING
        assert conn._longcmd("CAPA")[1] == CAPA_PRE_LOGIN
        conn.user(dovecot.user)
        assert conn.pass_(dovecot.password) == b"+OK Logged in."
        assert conn._longcmd("CAPA")[1] == CAPA_POST_LOGIN
    finally:
        conn.quit()


def test_wrong_password_is_err_auth_failed(dovecot: DovecotServer) -> None:
    conn = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=_tls(dovecot), timeout=TIMEOUT)
    try:
        conn.user(dovecot.user)
        with pytest.raises(poplib.error_proto) as err:
            conn.pass_("not-" + dovecot.password)
        assert err.value.args[0] == AUTH_FAILED
    finally:
        conn.close()
    assert "Password mismatch" in dovecot.logs() or "password mismatch" in dovecot.logs().lower()


def test_unknown_user_gets_the_same_text(dovecot: DovecotServer) -> None:
    conn = poplib.POP3_SSL(dovecot.host, dovecot.pop3s_port, context=_tls(dovecot), timeout=TIMEOUT)
    try:
        # Dovecot accepts any name at USER and judges only at PASS.
        assert conn.user("nosuchuser").startswith(b"+OK")
        with pytest.raises(poplib.error_proto) as err:
            conn.pass_(dovecot.password)
        assert err.value.args[0] == AUTH_FAILED
    finally:
        conn.close()
    assert "unknown user" in dovecot.logs()


def test_full_address_user_name(dovecot: DovecotServer) -> None:
    conn = _pop3s(dovecot, BOB)
    conn.quit()
    # alice exists only as the bare name: the full address is an unknown user.
    with pytest.raises(poplib.error_proto, match=r"Authentication failed"):
        _pop3s(dovecot, "alice@example.test", dovecot.password)


def test_stls_on_plain_port(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    conn = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        assert conn.getwelcome() == GREETING
        assert conn.stls(_tls(dovecot)).startswith(b"+OK")
        assert conn._longcmd("CAPA")[1] == CAPA_PRE_LOGIN
        conn.user(dovecot.user)
        conn.pass_(dovecot.password)
        assert conn.stat()[0] == len(mailbox)
    finally:
        conn.quit()
    assert ", TLS," in dovecot.logs()  # Dovecot's login line marks STLS sessions


def test_plaintext_login_refused_without_tls(dovecot: DovecotServer) -> None:
    assert dovecot.options.disable_plaintext_auth
    conn = poplib.POP3(dovecot.host, dovecot.pop3_port, timeout=TIMEOUT)
    try:
        assert conn._longcmd("CAPA")[1] == CAPA_PRE_TLS_REFUSING
        # Refused already at USER, before any password is sent.
        with pytest.raises(poplib.error_proto) as err:
            conn.user(dovecot.user)
        assert err.value.args[0] == PLAINTEXT_REFUSED
    finally:
        conn.quit()


def test_plain_ok_server_accepts_user_pass_without_tls(dovecot_plain_ok: DovecotServer) -> None:
    assert not dovecot_plain_ok.options.disable_plaintext_auth
    dovecot_plain_ok.clear()
    dovecot_plain_ok.deliver([make_message(1, 1000)])
    conn = poplib.POP3(dovecot_plain_ok.host, dovecot_plain_ok.pop3_port, timeout=TIMEOUT)
    try:
        capa = conn._longcmd("CAPA")[1]
        assert b"USER" in capa and b"STLS" in capa and b"SASL PLAIN" in capa
        conn.user(dovecot_plain_ok.user)
        assert conn.pass_(dovecot_plain_ok.password) == b"+OK Logged in."
        assert conn.stat()[0] == 1
    finally:
        conn.quit()
    # Proof the connection counted as insecure (not "secured" as 127.0.0.1 -> 127.0.0.1 would).
    login_lines = [ln for ln in dovecot_plain_ok.logs().splitlines() if "Login: user=<alice>" in ln]
    assert login_lines and "secured" not in login_lines[-1] and "TLS" not in login_lines[-1]


def test_pipelining_is_advertised(dovecot: DovecotServer) -> None:
    conn = _pop3s(dovecot)
    try:
        assert b"PIPELINING" in conn._longcmd("CAPA")[1]
    finally:
        conn.quit()


# --- lifecycle ------------------------------------------------------------------


def test_factory_starts_independent_servers(dovecot_factory: Callable[..., DovecotServer]) -> None:
    a = dovecot_factory()
    b = dovecot_factory(disable_plaintext_auth=False)
    assert {a.pop3_port, a.pop3s_port}.isdisjoint({b.pop3_port, b.pop3s_port})
    assert a.directory != b.directory and a.password != b.password
    a.deliver([make_message(1, 800)])
    assert (a.maildir_count(), b.maildir_count()) == (1, 0)
    assert "starting up for pop3" in a.logs()


def _live_members_of_group(pgid: int) -> list[int]:
    live = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state ppid pgrp ...
        state, _ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            live.append(int(entry.name))
    return live


def test_stop_ends_processes_and_removes_files(trustme_ca: trustme.CA) -> None:
    require_dovecot()
    with DovecotServer(trustme_ca) as server:
        conn = _pop3s(server)
        conn.quit()
        pid = server._process.pid if server._process else -1
        assert server.running
    assert not server.running
    assert not server.directory.exists()
    assert "Login: user=<alice>" in server.logs()  # kept after the files are gone
    # Nothing of the process group Dovecot ran in is still running.  (A
    # zombie may remain: Dovecot's log child can outlive the master and is
    # then re-parented to PID 1, which in some VMs/containers never reaps.)
    assert _live_members_of_group(pid) == []
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.pop3s_port), timeout=2).close()


def test_mail_owned_by_unprivileged_account(dovecot: DovecotServer, mailbox: list[bytes]) -> None:
    box = dovecot.maildir()
    new_files = list((box / "new").iterdir())
    assert new_files
    assert dovecot.account.pw_uid != 0
    assert all(f.stat().st_uid == dovecot.account.pw_uid for f in new_files)


def test_missing_dovecot_skips_or_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dovecot_mod, "DOVECOT", Path("/nonexistent/dovecot"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        require_dovecot()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_dovecot()


def test_options_are_frozen_and_default_to_dovecots_default() -> None:
    opts = DovecotOptions()
    assert opts.disable_plaintext_auth is True
    assert opts.host == "127.0.0.2"


# --- messages -------------------------------------------------------------------


@pytest.mark.parametrize("size", [minimum_size(), minimum_size() + 1, 4096, 70_000, 200_003])
def test_make_message_has_exact_size_crlf_and_dot_lines(size: int) -> None:
    msg = make_message(7, size)
    assert len(msg) == size
    assert msg.endswith(b"\r\n") and b"\n" not in msg.replace(b"\r\n", b"")
    assert b"\r\n.\r\n" in msg and b"\r\n..\r\n" in msg
    msg.decode("utf-8")  # every line is whole UTF-8


def test_make_message_headers_are_realistic() -> None:
    a, b = make_message(3, 2000), make_message(3, 2000)
    parsed = email.message_from_bytes(a, policy=email.policy.default)
    assert parsed["Subject"] == "テストメッセージ 3"
    assert b"=?UTF-8?B?" in a.split(b"\r\n\r\n")[0]
    assert parsed["Date"] and parsed["From"] and parsed["To"]
    assert parsed.get_content_type() == "text/plain"
    assert "こんにちは" in parsed.get_content()
    assert message_id(a).startswith("<msg-3-") and message_id(a).endswith("@example.test>")
    assert message_id(a) != message_id(b)


def test_small_size_gives_minimal_message() -> None:
    assert len(make_message(1, 10)) == minimum_size() - 3


def test_message_id_handles_folding_and_missing() -> None:
    assert message_id(b"Subject: x\r\nMessage-Id:\r\n <a@b>\r\n\r\nbody") == "<a@b>"
    with pytest.raises(ValueError):
        message_id(b"Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n")


def test_write_large_message_streams_exact_size(tmp_path: Path) -> None:
    path = write_large_message(tmp_path / "m.eml", 5_000_000, index=5)
    data = path.read_bytes()
    assert len(data) == 5_000_000
    assert message_id(data).startswith("<msg-5-")
