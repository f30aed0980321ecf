"""Our POP3 client against a real Dovecot (Debian's dovecot-pop3d) over real sockets."""

from __future__ import annotations

import hashlib
import tracemalloc
from pathlib import Path

import pytest

from pop3doctor.client import Pop3Client
from pop3doctor.errors import AuthError, PolicyError
from support.dovecot import DovecotServer
from support.messages import make_message, message_id, write_large_message

SMALL = [make_message(i, 1500 + 37 * i) for i in range(5)]


def client_for(server: DovecotServer, security: str, **kwargs: object) -> Pop3Client:
    port = server.pop3s_port if security == "ssl" else server.pop3_port
    return Pop3Client(server.host, port, security=security, ca_file=str(server.ca_file), **kwargs)  # type: ignore[arg-type]


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Collect:
    """A MessageSink that keeps the messages (small tests only)."""

    def __init__(self, store: dict[int, bytes], msgnum: int) -> None:
        self.store, self.msgnum = store, msgnum
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.store[self.msgnum] = b"".join(self.parts)

    def abort(self) -> None:
        raise AssertionError("no message may be aborted here")


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_login_stat_uidl_top_retr(dovecot: DovecotServer, security: str) -> None:
    dovecot.clear()
    dovecot.deliver(SMALL)
    async with client_for(dovecot, security) as client:
        assert client.encrypted
        await client.login(dovecot.user, dovecot.password)
        count, size = await client.stat()
        assert count == len(SMALL)
        sizes = await client.list()
        assert sum(sizes.values()) == size
        uids = await client.uidl()
        assert uids is not None and len(set(uids.values())) == count
        header = await client.top(1, 0)
        assert message_id(header) == message_id(SMALL[0])
        assert b"\r\n\r\n" not in header.rstrip(b"\r\n")  # headers only
        body = await client.retr_bytes(3)
        assert crlf(body) == crlf(SMALL[2])
    # UIDs are stable across sessions (what keep-on-server fetching relies on).
    async with client_for(dovecot, security) as client:
        await client.login(dovecot.user, dovecot.password)
        assert await client.uidl() == uids


async def test_plaintext_login_needs_explicit_permission(dovecot_plain_ok: DovecotServer) -> None:
    dovecot_plain_ok.clear()
    dovecot_plain_ok.deliver(SMALL[:1])
    async with client_for(dovecot_plain_ok, "plain") as client:
        with pytest.raises(PolicyError) as info:
            await client.login(dovecot_plain_ok.user, dovecot_plain_ok.password)
        assert info.value.reason == "plaintext-refused"
        # Nothing about the password went out: no USER/PASS/AUTH in the transcript.
        assert not any(line.text.startswith(("PASS", "AUTH", "USER")) for line in client.transcript.lines)
    async with client_for(dovecot_plain_ok, "plain", allow_plaintext=True) as client:
        await client.login(dovecot_plain_ok.user, dovecot_plain_ok.password)
        assert (await client.stat())[0] == 1


async def test_wrong_password_is_an_auth_error(dovecot: DovecotServer) -> None:
    async with client_for(dovecot, "ssl") as client:
        with pytest.raises(AuthError) as info:
            await client.login(dovecot.user, "not-the-password")
    assert info.value.response_code == "AUTH"
    assert "Authentication failed" in info.value.text


@pytest.mark.parametrize("mechanism", ["USER", "PLAIN"])
async def test_each_offered_mechanism_logs_in(dovecot: DovecotServer, mechanism: str) -> None:
    async with client_for(dovecot, "ssl") as client:
        await client.login(dovecot.user, dovecot.password, mechanism=mechanism)
        assert client.logged_in


async def test_mechanism_not_offered_is_refused_before_sending(dovecot: DovecotServer) -> None:
    async with client_for(dovecot, "ssl") as client:
        assert "LOGIN" not in client.capabilities.sasl  # Dovecot's default auth_mechanisms = plain
        with pytest.raises(PolicyError) as info:
            await client.login(dovecot.user, dovecot.password, mechanism="LOGIN")
        assert info.value.reason == "mechanism-unavailable"
        assert not any(line.text.startswith("AUTH") for line in client.transcript.lines)


async def test_pipelined_retr_of_1000_messages(dovecot: DovecotServer) -> None:
    messages = [make_message(i, 800 + (i % 50) * 13) for i in range(1000)]
    dovecot.clear()
    dovecot.deliver(messages)
    got: dict[int, bytes] = {}
    async with client_for(dovecot, "ssl") as client:
        await client.login(dovecot.user, dovecot.password)
        assert client.capabilities.pipelining, "Dovecot offers PIPELINING"
        count, _ = await client.stat()
        assert count == 1000
        await client.retrieve_many(range(1, count + 1), lambda n: Collect(got, n))
    by_id = {message_id(m): m for m in messages}
    assert len(got) == 1000
    for data in got.values():
        assert crlf(data) == crlf(by_id[message_id(data)])


class HashSink:
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: bytes) -> None:
        self.digest.update(data)
        self.size += len(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        raise AssertionError("aborted")


async def test_50mb_message_streams_in_bounded_memory(dovecot: DovecotServer, tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    path = write_large_message(tmp_path / "big.eml", size)
    dovecot.clear()
    dovecot.deliver_file(path)
    expected = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            expected.update(chunk)
    sink = HashSink()
    async with client_for(dovecot, "ssl") as client:
        await client.login(dovecot.user, dovecot.password)
        # tracemalloc sees every Python allocation, bytes buffers included: the
        # peak is what streaming must bound, whatever the OS does with RSS.
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            await client.retrieve_many([1], lambda n: sink)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert sink.closed and sink.size == size
    assert sink.digest.hexdigest() == expected.hexdigest()  # write_large_message writes CRLF already
    assert peak - base < 32 * 1024 * 1024, f"peak growth {(peak - base) / 2**20:.1f} MiB"
