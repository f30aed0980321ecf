"""``pop3doctor diagnose --config accounts.toml --jobs N``: many accounts, each against its own lab server.

Every account gets a lab of its own (the lab serves one user and one maildrop,
locked by a login), with its own user name, so what the lab counts is that
account's: its credential checks (`LabServer.login_attempts`, refused ones
included) and whether a connection is open.  The CLI runs as a subprocess,
the passwords come from an environment variable, as a user would set it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.lab import LabServer
from pop3doctor.sync.config import ConfigError, load_config

PASSWORD_ENV = "POP3DOCTOR_TEST_PASSWORD"

#: Scenario -> the cause its account must get, and the verdict.
EXPECTED = {
    "healthy": ("ok", "ok"),
    "wrong-password": ("auth-failed", "problem"),
    "sys-temp": ("server-temporary-error", "problem"),
    "empty-mailbox": ("mailbox-empty", "warning"),
}

#: Generous: 200 diagnoses, 20 at a time, on a loaded CI machine (each takes well under a second here).
RUN_BOUND_S = 240.0


async def run_cli(*args: str, env: dict[str, str], timeout: float = RUN_BOUND_S) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pop3doctor", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def cli_env(lab: LabServer | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env[PASSWORD_ENV] = lab.password if lab is not None else "lab-pass-2024"
    return env


def account_table(name: str, lab: LabServer, ca: Path, **extra: object) -> str:
    lines = [
        f"[accounts.{name}]",
        f'host = "{lab.host}"',
        f"port = {lab.tls_port}",
        'security = "ssl"',
        f'user = "{lab.user}"',
        f'password_env = "{PASSWORD_ENV}"',
        f'ca_file = "{ca}"',
        "timeout = 5",
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def scenarios(n: int) -> Iterator[str]:
    """Mostly healthy accounts, with every 5th refusing the password and every 7th a [SYS/TEMP]."""
    for i in range(n):
        yield "wrong-password" if i % 5 == 1 else "sys-temp" if i % 7 == 3 else "healthy"


@contextlib.asynccontextmanager
async def labs_for(
    names: list[str], lab_factory: Callable[..., LabServer], **options: Any
) -> Any:
    async with contextlib.AsyncExitStack() as stack:
        labs = [
            await stack.enter_async_context(lab_factory(scenario, user=f"user{i:03d}", **options))
            for i, scenario in enumerate(names)
        ]
        yield labs


def write_config(path: Path, labs: list[LabServer], ca: Path, **extra: object) -> Path:
    path.write_text("".join(account_table(f"acct{i:03d}", lab, ca, **extra) for i, lab in enumerate(labs)))
    return path


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


async def busiest(labs: list[LabServer], stop: asyncio.Event) -> int:
    """The most accounts seen with a connection open at once (sampled: a lower bound of the true peak)."""
    peak = 0
    while not stop.is_set():
        peak = max(peak, sum(1 for lab in labs if lab.active))
        await asyncio.sleep(0.002)
    return peak


async def test_200_accounts_with_jobs_20(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    names = list(scenarios(200))
    async with labs_for(names, lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(tmp_path / "accounts.toml", labs, ca)
        stop = asyncio.Event()
        sampler = asyncio.create_task(busiest(labs, stop))
        began = time.monotonic()
        code, out, err = await run_cli(
            "diagnose", "--config", str(config), "--jobs", "20", "--json", env=cli_env(labs[0])
        )
        wall = time.monotonic() - began
        stop.set()
        peak = await sampler
        print(f"200 accounts, --jobs 20: {wall:.2f} s wall (CLI start-up included); peak {peak} accounts at once")
        attempts = [lab.login_attempts for lab in labs]
    assert "Traceback" not in err, err
    assert labs[0].password not in out and labs[0].password not in err
    lines = json_lines(out)
    accounts, summary = lines[:-1], lines[-1]
    assert len(accounts) == 200 and all(a["type"] == "account" for a in accounts)
    by_name = {a["account"]: a for a in accounts}
    for i, scenario in enumerate(names):
        got = by_name[f"acct{i:03d}"]
        cause, verdict = EXPECTED[scenario]
        assert (got["cause"], got["verdict"]) == (cause, verdict), (scenario, got)
        assert got["report"]["schema"] == "pop3doctor.report/1" and got["report"]["cause"] == cause
        assert got["exit_code"] == {"ok": 0, "warning": 1, "problem": 2}[verdict]
        # One credential check per account, whether the server accepts it or not: never a retry.
        assert [user for _method, user in attempts[i]] == [f"user{i:03d}"], (scenario, attempts[i])
    assert summary["type"] == "summary" and summary["accounts"] == 200 and summary["jobs"] == 20
    assert summary["verdicts"] == {
        "ok": names.count("healthy"), "warning": 0, "problem": 200 - names.count("healthy"),
    }
    assert summary["causes"] == {
        EXPECTED[s][0]: names.count(s) for s in ("healthy", "wrong-password", "sys-temp")
    }
    assert code == summary["exit_code"] == 2  # the worst account's
    assert 0 < summary["wall_s"] < RUN_BOUND_S
    assert peak <= 20, "more accounts at once than --jobs"


@pytest.mark.parametrize(
    ("names", "code"),
    [
        (["healthy", "healthy"], 0),
        (["healthy", "empty-mailbox"], 1),
        (["empty-mailbox", "wrong-password", "healthy"], 2),
    ],
)
async def test_exit_code_is_the_worst_accounts(
    names: list[str], code: int, lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with labs_for(names, lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(tmp_path / "accounts.toml", labs, ca)
        got, out, err = await run_cli("diagnose", "--config", str(config), "--lang", "en", env=cli_env(labs[0]))
    assert got == code, (out, err)
    lines = out.strip().splitlines()
    for i, scenario in enumerate(names):
        cause, verdict = EXPECTED[scenario]
        line = next(line for line in lines if line.startswith(f"acct{i:03d}: "))
        assert f"{ {'ok': 'OK', 'warning': 'WARNING', 'problem': 'PROBLEM'}[verdict]} - " in line
        assert f"({cause}, " in line and line.endswith(" s)")
    assert lines[-len(set(names)) - 1].startswith(f"Checked {len(names)} account(s) in ")


async def test_text_in_japanese_and_no_destination_needed(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with labs_for(["healthy", "wrong-password"], lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(tmp_path / "accounts.toml", labs, ca)
        code, out, err = await run_cli("diagnose", "--config", str(config), "--lang", "ja", env=cli_env(labs[0]))
    assert code == 2, err
    assert "acct000: 正常 — " in out and "acct001: 問題あり — " in out
    assert "件のアカウントを" in out and "（auth-failed）" in out


async def test_the_fetch_file_works_for_diagnose(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    # The same file, destinations and delete rules included, serves both commands.
    async with labs_for(["healthy"], lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(
            tmp_path / "accounts.toml", labs, ca, maildir=str(tmp_path / "Mail"), delete="after-days",
            delete_after_days=30,
        )
        code, out, err = await run_cli("diagnose", "--config", str(config), "--json", env=cli_env(labs[0]))
        assert code == 0, err
        assert json_lines(out)[0]["cause"] == "ok"
        fetched, out, err = await run_cli(
            "fetch", "--config", str(config), "--state", str(tmp_path / "state"), env=cli_env(labs[0])
        )
    assert fetched == 0, (out, err)


def test_only_fetch_needs_a_destination(tmp_path: Path) -> None:
    config = tmp_path / "accounts.toml"
    config.write_text('[accounts.a]\nhost = "pop.example.com"\nuser = "a"\npassword_env = "X"\n')
    assert [c.name for c in load_config(config, need_destination=False)] == ["a"]
    with pytest.raises(ConfigError, match="maildir"):
        load_config(config)
    config.write_text(config.read_text() + 'maildir = "M"\nmbox = "m"\n')
    with pytest.raises(ConfigError, match="exactly one of maildir and mbox"):
        load_config(config, need_destination=False)  # two destinations is wrong for both


async def test_an_account_without_its_password_is_reported_and_the_rest_checked(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with labs_for(["healthy", "healthy"], lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = tmp_path / "accounts.toml"
        config.write_text(
            account_table("good", labs[0], ca)
            + account_table("unset", labs[1], ca).replace(PASSWORD_ENV, "POP3DOCTOR_TEST_UNSET")
        )
        code, out, err = await run_cli("diagnose", "--config", str(config), "--json", env=cli_env(labs[0]))
        assert labs[1].connections_seen == 0  # not checked at all without a password
    assert code == 2, err
    by_name = {line["account"]: line for line in json_lines(out) if line["type"] == "account"}
    assert by_name["good"]["cause"] == "ok"
    unset = by_name["unset"]
    assert (unset["verdict"], unset["cause"], unset["report"]) == ("problem", "password-unavailable", None)
    assert "POP3DOCTOR_TEST_UNSET" in unset["error"]


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_a_bad_key_exits_64_naming_key_and_file(lang: str, tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "accounts.toml"
    config.write_text('[accounts.work]\nhost = "pop.example.com"\nuser = "a"\npassword_env = "X"\nhots = "x"\n')
    done = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "diagnose", "--config", str(config), "--lang", lang],
        capture_output=True, text=True, timeout=60, env=cli_env(), check=False,
    )
    assert done.returncode == 64, done.stderr
    assert "hots" in done.stderr and str(config) in done.stderr and "Traceback" not in done.stderr
    assert ("不明な項目" if lang == "ja" else "unknown keys") in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--jobs", "0"], "--jobs"),
        (["--jobs", "201"], "--jobs"),
        (["--host", "pop.example.com"], "--host cannot be combined with --config"),
        (["--user", "alice"], "--user cannot be combined with --config"),
        (["--timeout", "3"], "--timeout cannot be combined with --config"),
        (["--try-username-forms"], "--try-username-forms cannot be combined with --config"),
        (["user@example.com"], "EMAIL cannot be combined with --config"),
    ],
)
def test_usage_errors_exit_64(args: list[str], says: str, tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "accounts.toml"
    config.write_text('[accounts.a]\nhost = "pop.example.com"\nuser = "a"\npassword_env = "X"\n')
    done = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "diagnose", "--lang", "en", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, env=cli_env(), check=False,
    )
    assert done.returncode == 64 and says in done.stderr, done.stderr


def test_jobs_without_config_is_a_usage_error() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "diagnose", "--lang", "en", "--host", "pop.example.com",
         "--user", "a", "--jobs", "3"],
        capture_output=True, text=True, timeout=60, env=cli_env(), check=False,
    )
    assert done.returncode == 64 and "--jobs works with --config" in done.stderr, done.stderr


async def test_ctrl_c_stops_every_running_check(lab_factory: Callable[..., LabServer], tmp_path: Path) -> None:
    # Servers that never greet: every check would wait for its timeout (30 s here) unless stopped.
    async with labs_for(["slow-greeting"] * 8, lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = tmp_path / "accounts.toml"
        config.write_text(
            "".join(account_table(f"acct{i:03d}", lab, ca).replace("timeout = 5", "timeout = 30")
                    for i, lab in enumerate(labs))
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pop3doctor", "diagnose", "--config", str(config), "--jobs", "4", "--lang", "en",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(labs[0]),
        )
        try:
            deadline = time.monotonic() + 60
            while sum(1 for lab in labs if lab.active) < 4:  # all four jobs are waiting on a server
                assert time.monotonic() < deadline and proc.returncode is None
                await asyncio.sleep(0.02)
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
            stopped_after = time.monotonic() - sent
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await asyncio.sleep(0.2)  # let the labs see their connections close
        still_open = sum(lab.active for lab in labs)
    print(f"stopped {stopped_after:.2f} s after SIGINT")
    assert proc.returncode == 130, err.decode()
    assert "Interrupted (Ctrl-C)." in err.decode() and "Traceback" not in err.decode()
    assert stopped_after < 5.0  # promptly, not after the 30 s timeouts
    assert still_open == 0
    assert sum(lab.connections_seen for lab in labs) == 4  # the other four were never started


async def test_jobs_bounds_the_accounts_checked_at_once(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # Servers that greet after 0.5 s hold each check long enough for the labs to see how many run at once.
    async with labs_for(["slow-greeting"] * 30, lab_factory, greeting_delay=0.5) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(tmp_path / "accounts.toml", labs, ca)
        stop = asyncio.Event()
        sampler = asyncio.create_task(busiest(labs, stop))
        code, out, err = await run_cli(
            "diagnose", "--config", str(config), "--jobs", "5", "--json", env=cli_env(labs[0])
        )
        stop.set()
        peak = await sampler
        attempts = [len(lab.login_attempts) for lab in labs]
    summary = json_lines(out)[-1]
    print(f"30 accounts greeting after 0.5 s, --jobs 5: {summary['wall_s']:.2f} s; peak {peak} at once")
    assert (code, summary["causes"]) == (0, {"ok": 30}), err
    assert 1 <= peak <= 5, peak
    assert attempts == [1] * 30


async def test_a_password_in_the_file_never_reaches_the_output(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with labs_for(["healthy", "wrong-password"], lab_factory, password="s3cret-in-file-9") as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = tmp_path / "accounts.toml"
        inline = 'password = "s3cret-in-file-9"'
        config.write_text("".join(
            account_table(f"acct{i}", lab, ca).replace(f'password_env = "{PASSWORD_ENV}"', inline)
            for i, lab in enumerate(labs)
        ))
        config.chmod(0o600)
        outputs = [await run_cli("diagnose", "--config", str(config), *extra, env=cli_env())
                   for extra in ([], ["--json"], ["--lang", "ja"])]
    for code, out, err in outputs:
        assert code == 2, err
        assert "s3cret-in-file-9" not in out + err
        assert "acct0" in out and "acct1" in out


async def test_a_reader_that_goes_away_is_exit_141_without_traceback(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    async with labs_for(["healthy"] * 4, lab_factory) as labs:
        ca = tmp_path / "lab-ca.pem"
        labs[0].write_ca(ca)
        config = write_config(tmp_path / "accounts.toml", labs, ca)
        for extra in ([], ["--json"]):
            read_end, write_end = os.pipe()
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pop3doctor", "diagnose", "--config", str(config), "--jobs", "1", *extra,
                stdout=write_end, stderr=asyncio.subprocess.PIPE, env=cli_env(labs[0]),
            )
            os.close(write_end)
            first = await asyncio.get_running_loop().run_in_executor(None, os.read, read_end, 1)
            os.close(read_end)  # like `| head -c 1`: gone after the first byte
            _out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            assert first
            assert proc.returncode == 141, err.decode()
            assert "Traceback" not in err.decode() and "never retrieved" not in err.decode()


async def test_two_entries_for_one_mailbox_are_not_checked_together(
    lab_factory: Callable[..., LabServer], tmp_path: Path
) -> None:
    # The lab locks the maildrop for a session, as RFC 1939 servers do: checked at the same
    # time, the second login would get [IN-USE] and the account a problem it does not have.
    async with labs_for(["healthy"], lab_factory) as labs:
        lab = labs[0]
        ca = tmp_path / "lab-ca.pem"
        lab.write_ca(ca)
        config = tmp_path / "accounts.toml"
        config.write_text(
            account_table("ssl", lab, ca)
            + account_table("starttls", lab, ca).replace(f"port = {lab.tls_port}", f"port = {lab.port}")
            .replace('security = "ssl"', 'security = "starttls"')
        )
        code, out, err = await run_cli(
            "diagnose", "--config", str(config), "--jobs", "2", "--json", env=cli_env(lab)
        )
        attempts = list(lab.login_attempts)
    assert code == 0, (out, err)
    assert {line["account"]: line["cause"] for line in json_lines(out)[:-1]} == {"ssl": "ok", "starttls": "ok"}
    assert len(attempts) == 2  # one per entry
