"""No traceback reaches the user, and every ending has its documented exit code (issue 12 item 7).

- STARTTLS that fails after the server's ``+OK`` (closed, silent, clear text
  injected with the ``+OK`` or just after it) is a finding with a cause and
  exit 2 for ``diagnose``, and a clean stop for ``fetch``; the password is
  never sent.  A real hostile server on loopback, the real command.
- An unexpected exception is a short ja/en note and exit 70 (EX_SOFTWARE);
  ``--debug`` adds the traceback.
- A stdout whose reader is gone (``| head -0``) ends quietly with exit 141.
- An unwritable ``--report`` file is a clear error, exit 73 (EX_CANTCREAT).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pop3doctor.cli import main as cli_main
from pop3doctor.net import Timeouts, TlsHandshakeFailed, make_tls_context, open_connection
from pop3doctor.net.connection import Connection
from support.hostile_output import HostileServer, diagnose_args, fetch_args, run_cli

#: What each way of failing STARTTLS must be reported as.
STLS_CAUSES = {
    "close": "tls-handshake-failed",  # closed during the handshake
    "silence": "tls-handshake-failed",  # the handshake timed out
    "inject": "starttls-injection",  # clear text in the same segment as +OK
    "inject-late": "starttls-injection",  # clear text read by the TLS layer
}


def _no_traceback(out: str, err: str) -> None:
    assert "Traceback" not in out + err
    assert 'File "' not in err


def _sent_no_credentials(server: HostileServer) -> None:
    verbs = {line.split(b" ", 1)[0].strip().upper() for line in server.received}
    assert not verbs & {b"USER", b"PASS", b"AUTH", b"APOP"}, server.received


@pytest.mark.parametrize("mode", list(STLS_CAUSES))
async def test_diagnose_reports_a_failed_starttls_as_a_problem(mode: str) -> None:
    async with HostileServer(stls=mode) as server:
        start = time.monotonic()
        code, out, err = await run_cli(*diagnose_args(server, "starttls", "--json"))
        elapsed = time.monotonic() - start
    _no_traceback(out, err)
    assert code == 2, err  # a problem found; 1 would mean "warnings only"
    report = json.loads(out)
    assert report["cause"] == STLS_CAUSES[mode]
    tls = [f for f in report["findings"] if f["stage"] == "tls"]
    assert tls and tls[-1]["status"] == "fail" and tls[-1]["cause"] == STLS_CAUSES[mode]
    _sent_no_credentials(server)
    # --timeout 2: silence ends at the TLS deadline, not at some later one.
    assert elapsed < 20


@pytest.mark.parametrize("mode", ["inject", "inject-late"])
async def test_diagnose_text_names_the_injection_in_both_languages(mode: str) -> None:
    async with HostileServer(stls=mode) as server:
        code_en, out_en, err_en = await run_cli(*diagnose_args(server, "starttls"))
        args = diagnose_args(server, "starttls")
        args[args.index("en")] = "ja"
        code_ja, out_ja, err_ja = await run_cli(*args)
    _no_traceback(out_en, err_en)
    _no_traceback(out_ja, err_ja)
    assert code_en == code_ja == 2
    assert "starttls-injection" in out_en and "Unencrypted data arrived right after STARTTLS" in out_en
    assert "STARTTLS の直後に暗号化されていないデータが届きました" in out_ja


@pytest.mark.parametrize("mode", list(STLS_CAUSES))
async def test_fetch_stops_cleanly_on_a_failed_starttls(mode: str, tmp_path: Path) -> None:
    async with HostileServer(stls=mode) as server:
        args = fetch_args(server, tmp_path, "--json")
        args[args.index("plain")] = "starttls"
        start = time.monotonic()
        code, out, err = await run_cli(*args)
        elapsed = time.monotonic() - start
    _no_traceback(out, err)
    assert code == 2, err  # could not fetch at all
    report = json.loads(out)
    assert report["error"]["cause"] == STLS_CAUSES[mode]
    assert report["fetched"] == 0
    _sent_no_credentials(server)
    assert elapsed < 20


async def _after_stls_ok(server: HostileServer, timeouts: Timeouts) -> Connection:
    """A connection past the greeting whose STLS the server has answered with +OK."""
    conn = await open_connection(server.host, server.port, timeouts=timeouts)
    try:
        await conn.read(timeout=2, phase="greeting")
        conn.write(b"STLS\r\n")
        assert (await conn.read(timeout=2, phase="stls")).startswith(b"+OK")
    except BaseException:
        await conn.aclose()
        raise
    return conn


async def test_clear_text_answering_the_handshake_is_marked_after_plaintext() -> None:
    """net/ tells "clear text after STLS" from "a clear-text port" by what was read before."""
    timeouts = Timeouts(resolve=2, connect=2, tls=2, greeting=2, command=2)
    async with HostileServer(stls="inject-late") as server:
        conn = await _after_stls_ok(server, timeouts)
        try:
            with pytest.raises(TlsHandshakeFailed) as failed:
                await conn.start_tls(make_tls_context(), server_hostname="localhost", timeout=2)
        finally:
            await conn.aclose()
        assert failed.value.reason == "wrong-version-number"
        assert failed.value.after_plaintext is True
        assert failed.value.evidence()["after_plaintext"] is True
        # The same bytes on a connection that starts with TLS: only "this port speaks clear text".
        with pytest.raises(TlsHandshakeFailed) as implicit:
            await open_connection(server.host, server.port, timeouts=timeouts, tls=make_tls_context())
        assert implicit.value.reason == "wrong-version-number"
        assert implicit.value.after_plaintext is False


async def test_a_failed_starttls_drops_the_connection_at_once() -> None:
    """After the handshake failed, the server sees the connection end before we even
    call aclose (an aborted transport, not a graceful close waiting on a silent peer)."""
    timeouts = Timeouts(resolve=2, connect=2, tls=0.5, greeting=2, command=2)
    async with HostileServer(stls="silence") as server:
        conn = await _after_stls_ok(server, timeouts)
        try:
            with pytest.raises(TlsHandshakeFailed) as failed:
                await conn.start_tls(make_tls_context(), server_hostname="localhost", timeout=0.5)
            assert failed.value.reason == "handshake-timeout"
            await asyncio.wait_for(server.gone_after_stls.wait(), 5)
            start = time.monotonic()
        finally:
            await conn.aclose()
        assert time.monotonic() - start < 1.5  # no wait for a close that never comes (2 s bound before)


# ---- an unexpected exception ---------------------------------------------------------


def _explain_crashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``explain`` fail with an exception none of our handlers know.

    The one place these tests replace our own code: a bug cannot be produced
    on purpose from outside (every failure we can provoke has a named error
    and its own message, which is the point), so a real command is made to
    hit one.  The exception text carries a marker that must stay out of the
    output without --debug (it could be server-provided bytes).
    """
    import pop3doctor.cli.explain as explain_command

    def broken(text: str) -> object:
        raise RuntimeError("MARKER-internal-detail")

    monkeypatch.setattr(explain_command, "explain_paste", broken)


def _run_main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["pop3doctor", *args])
    with pytest.raises(SystemExit) as ended:
        cli_main.main()
    code = ended.value.code
    assert isinstance(code, int)
    return code


@pytest.mark.parametrize(
    ("lang", "note"), [("en", "internal error (RuntimeError)"), ("ja", "内部エラーです（RuntimeError）")]
)
def test_unexpected_exception_is_a_short_note_and_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], lang: str, note: str
) -> None:
    _explain_crashes(monkeypatch)
    code = _run_main(monkeypatch, "explain", "--lang", lang, "-ERR something")
    out, err = capsys.readouterr()
    assert code == 70
    assert note in err and "--debug" in err
    _no_traceback(out, err)
    assert "MARKER-internal-detail" not in out + err


def test_debug_shows_the_traceback_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _explain_crashes(monkeypatch)
    code = _run_main(monkeypatch, "--debug", "explain", "--lang", "en", "-ERR something")
    out, err = capsys.readouterr()
    assert code == 70
    assert "Traceback" in err and "MARKER-internal-detail" in err
    assert "Traceback" not in out


# ---- stdout's reader went away --------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "--lang", "en", "-ERR [AUTH] invalid password"],  # rich console output
        ["explain", "--json", "--lang", "en", "-ERR [AUTH] invalid password"],  # plain write
        ["--help"],  # click's own echo
        ["lab", "--list"],
    ],
    ids=["explain", "explain-json", "help", "lab-list"],
)
def test_closed_stdout_is_a_quiet_exit_141(args: list[str]) -> None:
    # What `pop3doctor ... | head -0` does, without the race: the reading end
    # of the pipe is closed before the command writes its first byte.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pop3doctor", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141
    assert done.stderr == ""  # no traceback, no "Exception ignored", nothing


# ---- an output file that cannot be written -------------------------------------------


def _readonly_dir(tmp_path: Path) -> Path:
    """A directory nobody may create files in.  chmod stops everyone but root;
    root is stopped only by a read-only file system, such as /sys."""
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    try:
        (Path("/sys") / "pop3doctor-probe").write_text("")
    except OSError:
        return Path("/sys")
    pytest.skip("running as root and /sys takes files: no read-only directory to use")


@pytest.mark.parametrize("where", ["read-only-dir", "under-a-file"])
@pytest.mark.parametrize(("lang", "text"), [("en", "Cannot write the report"), ("ja", "書き込めません")])
async def test_unwritable_report_is_a_clear_error_exit_73(tmp_path: Path, where: str, lang: str, text: str) -> None:
    if where == "read-only-dir":
        target = _readonly_dir(tmp_path) / "report.md"
    else:
        (tmp_path / "plain-file").write_text("x")
        target = tmp_path / "plain-file" / "report.md"
    async with HostileServer() as server:
        args = diagnose_args(server, "plain", "--report", str(target))
        args[args.index("en")] = lang
        code, out, err = await run_cli(*args)
    _no_traceback(out, err)
    assert code == 73
    assert text in err and str(target) in err
    assert not target.exists()
