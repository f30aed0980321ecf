"""``pop3doctor check``, the monitoring plugin: status line, perfdata and exit code per the guidelines.

The real command (``python -m popdoctor check`` in a subprocess, as an engine
runs it) against the lab and a real Dovecot on loopback: a healthy server is
OK (0); a wrong password, a closed port and an expired certificate CRITICAL
(2); a certificate inside ``--warning-days`` WARNING (1); a bad option, a
bad range, ``-h``, ``-V`` and the ``-t`` limit UNKNOWN (3).  Every line is
matched whole against a strict pattern of the Monitoring Plugins guidelines:
``SERVICE STATE - text | 'label'=value[UOM];[warn];[crit];[min];[max] ...``,
each warn/crit a range expression, UOM one of the guidelines' units.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from pop3doctor.cli.check_verdict import CAUSE_STATES, state_for
from pop3doctor.cli.plugin_format import PerfDatum, Range, State, check_range, plugin_text, status_line, worst
from pop3doctor.diagnosis.model import Status
from pop3doctor.endpoint import Security
from pop3doctor.knowledge.causes import all_causes
from pop3doctor.lab import LabServer
from support.dovecot import DovecotServer
from support.messages import make_message

# --- the guidelines' syntax, strictly ---------------------------------------------

_NUM = r"-?\d+(?:\.\d+)?"  # decimal, C locale, no exponent
_RANGE = rf"@?(?:(?:~|{_NUM})?:)?(?:{_NUM})?"
_UOM = r"(?:s|ms|us|B|KB|MB|GB|TB|%|c)?"
_DATUM = rf"'[^'=]+'={_NUM}{_UOM}(?:;(?:{_RANGE})?){{0,2}}(?:;(?:{_NUM})?){{0,2}}"
_DATUM_PARTS = re.compile(
    rf"'(?P<label>[^'=]+)'=(?P<value>{_NUM})(?P<uom>{_UOM})"
    rf"(?:;(?P<warn>{_RANGE}))?(?:;(?P<crit>{_RANGE}))?(?:;(?P<min>{_NUM})?)?(?:;(?P<max>{_NUM})?)?"
)
STATUS_LINE = re.compile(
    rf"POP3 (?P<state>OK|WARNING|CRITICAL|UNKNOWN) - (?P<text>[^|\n]+?)(?: \| (?P<perf>{_DATUM}(?: {_DATUM})*))?"
)

#: Which unit each label must carry (seconds, a plain count, bytes).
UNITS = {
    "connect_time": "s",
    "tls_time": "s",
    "login_time": "s",
    "retrieval_time": "s",
    "time": "s",
    "messages": "",
    "mailbox_size": "B",
    "cert_days_left": "",
}

PASSWORD_ENV = "P3D_CHECK_PW"


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err
        lines = out.splitlines()
        assert len(lines) >= 1, (out, err)
        self.line = lines[0]
        match = STATUS_LINE.fullmatch(self.line)
        assert match is not None, f"not a guideline status line: {self.line!r}"
        self.state, self.text = match["state"], match["text"]
        self.perf: dict[str, dict[str, str]] = {}
        for item in (match["perf"] or "").split(" ") if match["perf"] else []:
            parts = _DATUM_PARTS.fullmatch(item)
            assert parts is not None, item
            assert parts["label"] not in self.perf, f"label twice: {item}"
            assert UNITS[parts["label"]] == parts["uom"], item
            self.perf[parts["label"]] = {k: v for k, v in parts.groupdict().items() if v is not None}

    def value(self, label: str) -> float:
        return float(self.perf[label]["value"])


async def check(*args: str, password: str | None = None, stdin: str | None = None) -> Result:
    env = {**os.environ, "COLUMNS": "200"}
    if password is not None:
        env[PASSWORD_ENV] = password
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", "check", *args,
        env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), 90)
    assert proc.returncode is not None
    text_out, text_err = out.decode(), err.decode()
    assert "Traceback" not in text_out + text_err
    if password is not None:
        assert password not in text_out + text_err
    result = Result(proc.returncode, text_out, text_err)
    assert result.code == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[result.state], result.line
    return result


def lab_args(lab: LabServer, ca: Path, *extra: str, security: str = "ssl") -> list[str]:
    port = lab.tls_port if security == "ssl" else lab.port
    return [
        "-H", lab.hostname, "-p", str(port), "--security", security, "-u", lab.user,
        "--password-env", PASSWORD_ENV, "--ca-file", str(ca), *extra,
    ]


@pytest.fixture
def ca_path(tmp_path: Path, lab_ca: trustme.CA) -> Path:
    path = tmp_path / "lab-ca.pem"
    lab_ca.cert_pem.write_to_path(str(path))
    return path


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- against the lab ----------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_healthy_lab_is_ok_with_every_figure(
    lab_factory: Callable[..., LabServer], ca_path: Path, security: str
) -> None:
    async with lab_factory("healthy") as lab:
        result = await check(*lab_args(lab, ca_path, "--lang", "en", security=security), password=lab.password)
    assert result.code == 0 and result.state == "OK"
    assert result.text.startswith(f"localhost:{lab.tls_port if security == 'ssl' else lab.port} ")
    assert "login and retrieval test passed" in result.text
    assert set(result.perf) == set(UNITS)
    assert result.value("messages") == len(lab.mailbox) == 4
    assert result.value("mailbox_size") == sum(m.size for m in lab.mailbox)
    # trustme's default leaf is valid until 3000: a lot of days, below none of the thresholds.
    assert result.value("cert_days_left") > 300_000
    assert result.perf["cert_days_left"]["warn"] == "14:" and result.perf["cert_days_left"]["crit"] == "7:"
    for label in ("connect_time", "tls_time", "login_time", "retrieval_time"):
        assert 0 <= result.value(label) <= result.value("time") < 60, label
        assert result.perf[label]["min"] == "0"
    # The diagnosis never deletes, and the check logged in exactly once.
    assert not any(m.deleted for m in lab.mailbox)
    assert len(lab.logins) == 1


async def test_the_text_speaks_japanese(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("healthy") as lab:
        result = await check(*lab_args(lab, ca_path, "--lang", "ja"), password=lab.password)
    assert result.state == "OK"
    assert "ログインと受信テストに成功しました" in result.text and "メール 4 通" in result.text


async def test_wrong_password_is_critical(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("wrong-password") as lab:
        en = await check(*lab_args(lab, ca_path, "--lang", "en"), password=lab.password)
        ja = await check(*lab_args(lab, ca_path, "--lang", "ja"), password=lab.password)
    assert en.code == ja.code == 2
    assert "The user name or password is wrong" in en.text
    assert "パスワード" in ja.text
    # No login, no mailbox figures; the time up to the refusal is still there.
    assert "messages" not in en.perf and "login_time" not in en.perf and "time" in en.perf


async def test_a_closed_port_is_critical() -> None:
    port = closed_port()
    result = await check(
        "-H", "127.0.0.1", "-p", str(port), "--security", "ssl", "-u", "alice", "--password-env", PASSWORD_ENV,
        "--lang", "en", password="not-used-anywhere",
    )
    assert result.code == 2
    assert "refused" in result.text
    assert set(result.perf) == {"time"}


async def test_an_expired_certificate_is_critical(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("cert-expired") as lab:
        result = await check(*lab_args(lab, ca_path, "--lang", "en"), password=lab.password)
    assert result.code == 2
    assert "certificate has expired" in result.text
    assert -2 < result.value("cert_days_left") < 0
    assert lab.logins == []  # no password went to a server that failed verification


async def test_a_certificate_expiring_soon_warns_then_goes_critical(
    lab_factory: Callable[..., LabServer], ca_path: Path, expiring_in: Callable[[float], None]
) -> None:
    expiring_in(10.5)
    async with lab_factory("healthy") as lab:
        default = await check(*lab_args(lab, ca_path, "--lang", "en"), password=lab.password)
        warn = await check(*lab_args(lab, ca_path, "--lang", "en", "--warning-days", "30"), password=lab.password)
        crit = await check(
            *lab_args(lab, ca_path, "--lang", "en", "--warning-days", "30", "--critical-days", "12"),
            password=lab.password,
        )
    assert default.code == 1 and "threshold 14 days" in default.text  # the default --warning-days
    assert warn.code == 1 and warn.state == "WARNING"
    assert "The server certificate expires soon" in warn.text and "threshold 30 days" in warn.text
    assert 10 < warn.value("cert_days_left") < 11
    assert warn.perf["cert_days_left"]["warn"] == "30:" and warn.perf["cert_days_left"]["crit"] == "7:"
    assert crit.code == 2 and "threshold 12 days" in crit.text
    # The rest of the check still ran: the mailbox figures are there.
    assert warn.value("messages") == 4


async def test_response_time_thresholds_use_range_syntax(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("healthy") as lab:
        # "@0:" alerts when the time is inside 0..infinity: always.
        inside = await check(*lab_args(lab, ca_path, "--lang", "en", "-w", "@0:"), password=lab.password)
        # "0" alerts outside 0..0: any time at all.
        critical = await check(*lab_args(lab, ca_path, "--lang", "en", "-w", "60", "-c", "0"), password=lab.password)
        # Generous limits: OK, and the ranges are echoed in the perfdata.
        fine = await check(*lab_args(lab, ca_path, "--lang", "en", "-w", "~:50", "-c", "55"), password=lab.password)
    assert inside.code == 1 and "Response time" in inside.text and inside.perf["time"]["warn"] == "@0:"
    assert critical.code == 2 and critical.perf["time"]["warn"] == "60" and critical.perf["time"]["crit"] == "0"
    assert fine.code == 0 and fine.perf["time"]["warn"] == "~:50" and fine.perf["time"]["crit"] == "55"


async def test_an_empty_mailbox_is_ok_for_a_monitor(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("empty-mailbox") as lab:
        result = await check(*lab_args(lab, ca_path, "--lang", "en"), password=lab.password)
    assert result.code == 0
    assert result.value("messages") == 0 and result.value("mailbox_size") == 0


async def test_the_timeout_is_unknown_naming_the_step(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    async with lab_factory("slow-greeting") as lab:
        result = await check(
            *lab_args(lab, ca_path, "--lang", "en", "-t", "2", "--connect-timeout", "20"), password=lab.password
        )
    assert result.code == 3
    assert "Did not finish within 2 s" in result.text and "Greeting" in result.text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-H", "localhost", "--bogus"], "No such option"),
        (["-H", "localhost", "-w", "1:x"], "not a threshold range"),
        (["-H", "localhost", "-c", "20:10"], "not a threshold range"),
        (["-H", "localhost", "--warning-days", "3", "--critical-days", "9"], "--critical-days"),
        (["-H", "localhost", "-u", "alice"], "No password given"),  # stdin is not a terminal
        (["-H", "localhost"], "-u/--user"),
        (["-u", "alice", "--no-login"], "-H/--host"),
        (["-H", "bad host name", "--no-login"], "Usage error"),
        (["-H", "localhost", "--reference", "nope"], "HOST:PORT"),
    ],
)
async def test_usage_errors_are_unknown(args: list[str], needle: str) -> None:
    result = await check(*args, "--lang", "en")
    assert result.code == 3 and result.state == "UNKNOWN"
    assert result.text.startswith("Usage error: ") and needle in result.text


async def test_help_and_version_exit_unknown() -> None:
    for flag in ("-h", "--help"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pop3doctor", "check", flag, stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 3 and b"--warning-days" in out and b"-t, --timeout" in out
    for flag in ("-V", "--version"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pop3doctor", "check", flag, stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 3 and re.fullmatch(rb"pop3doctor check \d+\.\d+\.\d+\S*\n", out)


# --- --no-login: the probe's checks only ---------------------------------------------


def _need_probe() -> None:
    pytest.importorskip("pop3doctor.diagnosis.serverinfo", reason="issue 19's probe_server (helper G) not merged yet")


async def test_no_login_is_ok_and_sends_no_password(lab_factory: Callable[..., LabServer], ca_path: Path) -> None:
    _need_probe()
    async with lab_factory("healthy") as lab:
        result = await check(
            "-H", lab.hostname, "-p", str(lab.tls_port), "--security", "ssl", "--ca-file", str(ca_path),
            "--no-login", "--lang", "en",
        )
    assert result.code == 0 and "no login made" in result.text
    assert {"connect_time", "tls_time", "time", "cert_days_left"} <= set(result.perf)
    assert "messages" not in result.perf and "login_time" not in result.perf
    assert lab.logins == []


async def test_no_login_sees_an_expiring_certificate_and_a_closed_port(
    lab_factory: Callable[..., LabServer], ca_path: Path, expiring_in: Callable[[float], None]
) -> None:
    _need_probe()
    expiring_in(5.5)
    async with lab_factory("healthy") as lab:
        result = await check(
            "-H", lab.hostname, "-p", str(lab.port), "--security", "starttls", "--ca-file", str(ca_path),
            "--no-login", "--lang", "en", "--warning-days", "30", "--critical-days", "3",
        )
    assert result.code == 1 and "expires soon" in result.text
    assert 5 < result.value("cert_days_left") < 6
    down = await check("-H", "127.0.0.1", "-p", str(closed_port()), "--security", "ssl", "--no-login", "--lang", "en")
    assert down.code == 2 and "refused" in down.text


# --- against a real Dovecot -------------------------------------------------------------


async def test_healthy_dovecot_is_ok(dovecot: DovecotServer) -> None:
    dovecot.clear()
    dovecot.deliver([make_message(i, 3000) for i in range(3)])
    for port, security in ((dovecot.pop3s_port, "ssl"), (dovecot.pop3_port, "starttls")):
        result = await check(
            "-H", dovecot.host, "-p", str(port), "--security", security, "-u", dovecot.user,
            "--password-env", PASSWORD_ENV, "--ca-file", str(dovecot.ca_file), "--lang", "en",
            password=dovecot.password,
        )
        assert result.code == 0, result.line
        assert result.value("messages") == 3
        assert result.value("mailbox_size") >= 9000
        assert result.value("cert_days_left") > 14
    assert dovecot.maildir_count() == 3


async def test_wrong_password_on_dovecot_is_critical(dovecot: DovecotServer) -> None:
    result = await check(
        "-H", dovecot.host, "-p", str(dovecot.pop3s_port), "--security", "ssl", "-u", dovecot.user,
        "--password-env", PASSWORD_ENV, "--ca-file", str(dovecot.ca_file), "--lang", "en",
        password="wrong-" + dovecot.password,
    )
    assert result.code == 2 and "password" in result.text


# --- the format and the state table on their own ---------------------------------------------

# The guidelines' table of example ranges: range -> (values that alert, values that do not).
RANGES = {
    "10": ([-1, 10.5, 11], [0, 5, 10]),
    "10:": ([9.99, -5], [10, 11, 1e9]),
    "~:10": ([10.1, 100], [-1e9, 0, 10]),
    "10:20": ([9, 21], [10, 15, 20]),
    "@10:20": ([10, 15, 20], [9, 21]),
}


@pytest.mark.parametrize("text", sorted(RANGES))
def test_range_expressions_follow_the_guidelines_table(text: str) -> None:
    alerting, quiet = RANGES[text]
    parsed = Range.parse(text)
    assert str(parsed) == text
    assert all(parsed.alerts(v) for v in alerting) and not any(parsed.alerts(v) for v in quiet)


@pytest.mark.parametrize("text", ["", "@", ":", "abc", "10:5", "1e3", "1,5", "10::20"])
def test_not_a_range(text: str) -> None:
    with pytest.raises(ValueError):
        Range.parse(text)


def test_thresholds_critical_first_and_days_as_at_least() -> None:
    assert check_range(5, Range.parse("3"), Range.parse("4")) is State.CRITICAL
    assert check_range(3.5, Range.parse("3"), Range.parse("4")) is State.WARNING
    assert Range.at_least(14).alerts(13.9) and not Range.at_least(14).alerts(14)
    assert str(Range.at_least(7)) == "7:"
    assert worst(State.OK, State.WARNING, State.UNKNOWN) is State.UNKNOWN
    assert worst(State.UNKNOWN, State.CRITICAL) is State.CRITICAL and worst() is State.OK


def test_perfdata_and_text_cannot_break_the_line() -> None:
    datum = PerfDatum("time", 0.0123456789, "s", Range.parse("5"), Range.parse("@10:"), minimum=0)
    assert str(datum) == "'time'=0.012346s;5;@10:;0"
    assert str(PerfDatum("messages", 3)) == "'messages'=3"
    assert str(PerfDatum("big", 12345678901234.5)) == "'big'=12345678901234.5"  # never 1.2e13
    for bad in ("a=b", "it's", " "):
        with pytest.raises(ValueError):
            PerfDatum(bad, 1)
    with pytest.raises(ValueError):
        PerfDatum("x", 1, "furlongs")
    with pytest.raises(ValueError):
        PerfDatum("x", math.nan)
    # Server text with a pipe, a line break and an escape sequence stays one safe line.
    line = status_line("POP3", State.CRITICAL, "-ERR a|b\r\nc\x1b[31m", [datum])
    assert STATUS_LINE.fullmatch(line), line
    assert plugin_text("a|b\nc") == "a/b c"


def test_every_cause_has_a_state() -> None:
    for code, cause in all_causes().items():
        state = state_for(code, Status.WARN if cause.severity == "warn" else Status.FAIL)
        assert state in State, code
    assert set(CAUSE_STATES) <= set(all_causes())
    assert state_for("auth-failed") is State.CRITICAL
    assert state_for("ipv6-broken", Status.WARN) is State.WARNING
    assert state_for("diagnosis-deadline") is State.UNKNOWN
    assert state_for("mailbox-empty", Status.WARN) is State.OK


def test_stage_times_come_from_the_findings() -> None:
    from pop3doctor.cli.check_verdict import read_report
    from pop3doctor.diagnosis.model import Finding, Report, Settings
    from pop3doctor.i18n import Msg

    title = Msg("x", "x")
    connect = Finding("connect", Status.PASS, title, elapsed_ms=30.0,
                      evidence={"attempts": [{"outcome": "refused", "elapsed_ms": 1.0},
                                             {"outcome": "ok", "elapsed_ms": 2.0}]})
    tls = Finding("tls", Status.PASS, title, elapsed_ms=30.5)
    login = Finding("login", Status.PASS, title, elapsed_ms=4.0)
    mailbox = Finding("mailbox", Status.PASS, title, evidence={"count": 2, "octets": 900})
    summary = Finding("summary", Status.PASS, title, cause="ok", elapsed_ms=50.0)
    report = Report(Settings("h", 995, Security.SSL, "u"), [connect, tls, login, mailbox, summary])
    reading = read_report(report)
    # SSL/TLS: connect and tls share one clock; the TCP connect is the winning attempt.
    assert reading.connect_s == 0.002 and reading.tls_s == pytest.approx(0.0285)
    assert reading.login_s == 0.004 and reading.retrieval_s is None and reading.total_s == 0.05
    assert (reading.messages, reading.octets) == (2, 900) and reading.state is State.OK
    # The handshake's own time wins where the net layer measured it.
    tls.evidence["handshake_ms"] = 3.0
    assert read_report(report).tls_s == 0.003
