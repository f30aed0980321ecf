"""Bounded time and memory against hostile servers (issue 12 item 6).

The real ``pop3doctor`` command runs in a child process against a hostile
POP3 server on loopback (`support.hostile`); `support.peak_rss` measures its
wall time and peak RSS.  Bounds are generous (a run that is bounded ends in
a second or a few dozen; one that is not runs until it is killed, or grows to
gigabytes): they assert *bounded*, not *fast*.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.client import Pop3Client, retr_limit
from pop3doctor.net.errors import ReadTimeout
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import MessageLargerThanListed, ResponseTooLong
from support.hostile import HostilePop3
from support.peak_rss import Measured, run_measured_async

# A healthy diagnose or fetch of one message peaks near 50 MiB on the
# development machine; an endless TOP grew to 5 GiB in 40 s before the fix.
RSS_BOUND_MIB = 250
ENV = {"P3D_PW": "secret"}


def _common(server: HostilePop3, timeout: str) -> list[str]:
    return [
        "--host",
        server.host,
        "--port",
        str(server.port),
        "--security",
        "plain",
        "--allow-plaintext",
        "--user",
        "alice",
        "--password-env",
        "P3D_PW",
        "--timeout",
        timeout,
        "--lang",
        "en",
    ]


async def _diagnose(server: HostilePop3, *extra: str, timeout: str = "1", **kw: Any) -> Measured:
    return await run_measured_async(
        ["diagnose", *_common(server, timeout), "--json", *extra], env=ENV, kill_after=120, **kw
    )


async def _fetch(server: HostilePop3, tmp_path: Path, *extra: str) -> Measured:
    args = ["fetch", *_common(server, "1"), "--maildir", str(tmp_path / "Maildir"), "--state", str(tmp_path / "st")]
    return await run_measured_async([*args, *extra], env=ENV, kill_after=120)


def _causes(result: Measured) -> list[str]:
    report = json.loads(result.stdout)
    return [f["cause"] for f in report["findings"] if f["cause"]]


def _stored_files(tmp_path: Path) -> list[Path]:
    return [p for sub in ("new", "cur", "tmp") for p in (tmp_path / "Maildir" / sub).glob("*")]


async def test_diagnose_endless_top_is_cut_at_the_cap() -> None:
    async with HostilePop3("endless-top") as server:
        result = await _diagnose(server)
    assert not result.killed, result
    assert result.returncode == 2, result
    assert "response-too-long" in _causes(result), result
    assert result.wall_s < 30, result
    assert result.peak_rss_mib < RSS_BOUND_MIB, result
    assert server.dele == 0 and server.quits == 0


async def test_fetch_endless_retr_is_aborted_saved_nowhere_deleted_never(tmp_path: Path) -> None:
    async with HostilePop3("endless-retr", listed=100) as server:
        result = await _fetch(server, tmp_path, "--delete", "--json")
    assert not result.killed, result
    assert result.returncode == 1, result  # the mailbox was reached; its one message failed
    report = json.loads(result.stdout)
    assert report["error"]["cause"] == "message-larger-than-listed", result
    assert report["fetched"] == 0 and report["deleted"] == 0
    assert server.dele == 0 and server.quits == 0  # no DELE, no QUIT: nothing can be deleted
    assert _stored_files(tmp_path) == []  # no partial file in tmp/, nothing in new/
    assert server.sent_body < 100 * 1024 * 1024  # read stopped near retr_limit(100) = 1 MiB + 100
    assert result.wall_s < 30 and result.peak_rss_mib < RSS_BOUND_MIB, result


async def test_fetch_endless_retr_text_in_both_languages(tmp_path: Path) -> None:
    async with HostilePop3("endless-retr") as server:
        en = await _fetch(server, tmp_path / "en")
        ja = await _fetch(server, tmp_path / "ja", "--lang", "ja")
    assert "far past the size the server gave" in en.stderr + en.stdout, en
    assert "サーバーの示したサイズ" in ja.stderr + ja.stdout, ja


async def test_diagnose_greeting_drip_ends_soon_after_its_timeout() -> None:
    async with HostilePop3("drip-greeting") as server:
        result = await _diagnose(server)
    assert not result.killed, result
    assert result.returncode == 2, result
    assert "server-too-slow" in _causes(result), result
    assert result.wall_s < 30, result  # greeting window 2 s (--timeout 1); it ran until killed before


async def test_diagnose_top_drip_ends_without_a_deadline_given() -> None:
    async with HostilePop3("drip-top") as server:
        result = await _diagnose(server)
    assert not result.killed, result
    assert result.returncode == 2, result
    # The command window is 30 s; the default deadline max(60, 7 x 1 s) = 60 s.
    assert set(_causes(result)) & {"server-too-slow", "diagnosis-deadline"}, result
    assert result.wall_s < 90, result


async def test_fetch_retr_drip_ends_and_keeps_nothing(tmp_path: Path) -> None:
    async with HostilePop3("drip-retr") as server:
        result = await _fetch(server, tmp_path, "--delete", "--json")
    assert not result.killed, result
    report = json.loads(result.stdout)
    assert report["error"]["cause"] == "server-too-slow", result
    assert result.wall_s < 90, result  # command window 30 s, then the 10 KiB/s floor
    assert server.dele == 0 and server.quits == 0
    assert _stored_files(tmp_path) == []


async def test_diagnose_deadline_option_stops_the_run() -> None:
    async with HostilePop3("drip-top") as server:
        result = await _diagnose(server, "--deadline", "3")
    assert not result.killed, result
    assert result.returncode == 2, result
    report = json.loads(result.stdout)
    finding = next(f for f in report["findings"] if f["cause"] == "diagnosis-deadline")
    assert finding["stage"] == "retrieval" and finding["evidence"]["deadline_s"] == 3
    assert report["cause"] == "diagnosis-deadline"
    assert result.wall_s < 20, result


async def test_diagnose_deadline_text_in_japanese() -> None:
    async with HostilePop3("drip-top") as server:
        result = await run_measured_async(
            ["diagnose", *_common(server, "1"), "--deadline", "2", "--lang", "ja"], env=ENV, kill_after=60
        )
    assert result.returncode == 2, result
    assert "制限時間" in result.stdout, result


async def test_diagnose_sigint_stops_promptly() -> None:
    async with HostilePop3("drip-top") as server:
        result = await _diagnose(server, sigint_after=3.0)
    assert not result.killed, result
    assert result.returncode == 130, result
    assert result.wall_s < 13, result
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mode", ["huge-uidl", "huge-list"])
async def test_diagnose_huge_listing_stays_near_its_size_in_memory(mode: str) -> None:
    # 60 MiB of listing, under the 64 MiB cap: it must be read, and cost about its size.
    async with HostilePop3(mode, listing_mib=60) as server:
        result = await _diagnose(server, timeout="8")
    assert not result.killed, result
    assert result.returncode in (0, 1), result  # works (a warning for plaintext login)
    assert result.peak_rss_mib < RSS_BOUND_MIB, result  # 469 / 639 MiB before the fix


async def test_diagnose_listing_over_the_cap_is_refused() -> None:
    async with HostilePop3("huge-uidl", listing_mib=70) as server:
        result = await _diagnose(server, timeout="8")
    assert result.returncode == 2, result
    assert "response-too-long" in _causes(result), result
    assert result.peak_rss_mib < RSS_BOUND_MIB, result


# ---- the client itself, in process: the typed errors the front ends read -----------


async def test_client_top_cap_is_a_named_error() -> None:
    async with HostilePop3("endless-top") as server:
        client = Pop3Client(server.host, server.port, security="plain", allow_plaintext=True)
        async with client:
            await client.login("alice", "x")
            with pytest.raises(ResponseTooLong) as info:
                await client.top(1, 0)
    assert info.value.command == "TOP" and info.value.code == "response-too-long"


async def test_client_retr_beyond_list_is_a_named_error() -> None:
    class Sink:
        aborted = closed = False
        written = 0

        def write(self, data: bytes) -> None:
            self.written += len(data)

        def close(self) -> None:
            self.closed = True

        def abort(self) -> None:
            self.aborted = True

    sink = Sink()
    async with HostilePop3("endless-retr", listed=5000) as server:
        client = Pop3Client(server.host, server.port, security="plain", allow_plaintext=True)
        try:
            await client.connect()
            await client.login("alice", "x")
            sizes = await client.list()
            with pytest.raises(MessageLargerThanListed) as info:
                await client.retrieve_many([1], lambda n: sink, listed=sizes)
        finally:
            await client.aclose()
    assert info.value.listed == 5000 and info.value.limit == retr_limit(5000) == 5000 + 1024 * 1024
    assert sink.aborted and not sink.closed and sink.written <= info.value.limit


async def test_client_silent_greeting_is_idle_not_too_slow() -> None:
    # Nothing sent at all is a silent peer (wrong port, TLS expected), not a slow one:
    # its verdicts (greeting-timeout, port-expects-tls) rest on limit "idle".
    async with HostilePop3("silent-greeting") as server:
        client = Pop3Client(server.host, server.port, security="plain", timeouts=Timeouts(greeting=0.5))
        try:
            with pytest.raises(ReadTimeout) as info:
                await client.connect()
        finally:
            await client.aclose()
    assert info.value.limit == "idle", info.value


async def test_client_drip_ends_with_a_throughput_timeout() -> None:
    async with HostilePop3("drip-top", drip_interval=0.2) as server:
        timeouts = Timeouts(command=1.0)
        client = Pop3Client(server.host, server.port, security="plain", allow_plaintext=True, timeouts=timeouts)
        try:
            await client.connect()
            await client.login("alice", "x")
            with pytest.raises(ReadTimeout) as info:
                await client.top(1, 0)
        finally:
            await client.aclose()
    assert info.value.limit == "throughput" and info.value.evidence()["limit"] == "throughput"
