"""pop3doctor fetch against a real Dovecot: keep, delete, delete-after-days, only-new,
Maildir and mbox, pipelined and not, and the failures a user meets first."""

from __future__ import annotations

import json
import mailbox
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pop3doctor.endpoint import Endpoint, Security
from pop3doctor.sync.engine import Account, FetchOptions, fetch_account, state_paths
from pop3doctor.sync.maildir import MaildirStore
from pop3doctor.sync.mbox import MboxStore
from pop3doctor.sync.report import FetchReport
from pop3doctor.sync.store import Store
from support.dovecot import DovecotServer
from support.messages import make_message, message_id


def _account(server: DovecotServer, **overrides: object) -> Account:
    fields: dict[str, object] = {
        "host": server.host,
        "port": server.pop3s_port,
        "security": Security.SSL,
        "ca_file": str(server.ca_file),
        "user": server.user,
    }
    fields.update(overrides)
    return Account(Endpoint(**fields))  # type: ignore[arg-type]


def _fill(server: DovecotServer, count: int, start: int = 0, size: int = 3000) -> list[str]:
    msgs = [make_message(start + i, size + 37 * i) for i in range(count)]
    server.deliver(msgs)
    return [message_id(m) for m in msgs]


def _maildir_ids(root: Path) -> list[str]:
    ids = []
    for sub in ("new", "cur"):
        for path in sorted((root / sub).iterdir()):
            ids.append(message_id(path.read_bytes()))
    return ids


async def _fetch(server: DovecotServer, store: Store, state: Path, **options: object) -> FetchReport:
    return await fetch_account(_account(server), server.password, store, state, FetchOptions(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("window", [None, 1], ids=["pipelined", "window1"])
async def test_keep_maildir_fetches_each_message_once(
    dovecot: DovecotServer, tmp_path: Path, window: int | None
) -> None:
    dovecot.clear()
    ids = _fill(dovecot, 40)
    store = MaildirStore(tmp_path / "Maildir")
    report = await _fetch(dovecot, store, tmp_path / "state", window=window)
    assert report.stop_cause is None, report.to_json("en")
    assert (report.fetched, report.deleted, report.exit_code, report.uid_source) == (40, 0, 0, "uidl")
    assert sorted(_maildir_ids(tmp_path / "Maildir")) == sorted(ids)
    assert dovecot.maildir_count() == 40  # keep is the default
    # Line ends are LF on disk; the bytes otherwise are the message's.
    one = next((tmp_path / "Maildir" / "new").iterdir()).read_bytes()
    assert b"\r\n" not in one and b"\n..\n" in one and b"\n.\n" in one

    again = await _fetch(dovecot, store, tmp_path / "state", window=window)
    assert (again.fetched, again.new, again.on_server) == (0, 0, 40)
    assert len(_maildir_ids(tmp_path / "Maildir")) == 40


@pytest.mark.parametrize("window", [None, 1], ids=["pipelined", "window1"])
async def test_delete_into_mbox_empties_the_server(dovecot: DovecotServer, tmp_path: Path, window: int | None) -> None:
    dovecot.clear()
    ids = _fill(dovecot, 25)
    path = tmp_path / "mail" / "inbox.mbox"
    report = await _fetch(dovecot, MboxStore(path), tmp_path / "state", delete="delete", window=window)
    assert (report.fetched, report.deleted, report.exit_code) == (25, 25, 0), report.to_json("en")
    assert dovecot.maildir_count() == 0
    box = mailbox.mbox(path, create=False)
    got = [m["Message-ID"] for m in box]
    assert sorted(got) == sorted(ids)
    # mboxrd: the body's "From " lines would have been quoted; the special
    # dot lines arrive unstuffed.
    raw = path.read_bytes()
    assert raw.count(b"\nFrom MAILER-DAEMON ") + raw.startswith(b"From MAILER-DAEMON ") == 25


async def test_delete_after_days_deletes_only_old_messages(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    ids = _fill(dovecot, 6)
    store = MaildirStore(tmp_path / "Maildir")
    state_dir = tmp_path / "state"
    first = await _fetch(dovecot, store, state_dir)
    assert first.fetched == 6
    # Age three of them by ten days in the state (as if fetched back then).
    db_path, _ = state_paths(state_dir, _account(dovecot))
    db = sqlite3.connect(db_path)
    old = [row[0] for row in db.execute("SELECT uid FROM messages ORDER BY uid LIMIT 3")]
    db.executemany("UPDATE messages SET first_seen = ? WHERE uid = ?", [(time.time() - 10 * 86400, u) for u in old])
    db.commit()
    db.close()
    report = await _fetch(dovecot, store, state_dir, delete="after-days", delete_after_days=7)
    assert (report.fetched, report.deleted) == (0, 3)
    assert dovecot.maildir_count() == 3
    assert sorted(_maildir_ids(tmp_path / "Maildir")) == sorted(ids)  # still all on disk


async def test_only_new_skips_the_first_runs_mail_and_never_deletes_it(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    _fill(dovecot, 3)
    store = MaildirStore(tmp_path / "Maildir")
    state_dir = tmp_path / "state"
    first = await _fetch(dovecot, store, state_dir, only_new=True, delete="delete")
    assert (first.fetched, first.marked_seen, first.deleted) == (0, 3, 0)
    later = _fill(dovecot, 2, start=100)
    second = await _fetch(dovecot, store, state_dir, only_new=True, delete="delete")
    assert (second.fetched, second.deleted) == (2, 2)
    assert sorted(_maildir_ids(tmp_path / "Maildir")) == sorted(later)
    assert dovecot.maildir_count() == 3  # the baseline stays on the server


async def test_max_size_leaves_big_messages_and_dry_run_changes_nothing(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    dovecot.deliver([make_message(1, 2000), make_message(2, 50_000)])
    state_dir = tmp_path / "state"
    dry = await _fetch(dovecot, MaildirStore(tmp_path / "Maildir"), state_dir, dry_run=True, delete="delete")
    assert (dry.would_fetch, dry.fetched, dry.exit_code) == (2, 0, 0)
    assert not (tmp_path / "Maildir").exists() and not state_dir.exists()
    report = await _fetch(dovecot, MaildirStore(tmp_path / "Maildir"), state_dir, max_size=10_000, delete="delete")
    assert (report.fetched, report.skipped_too_large, report.deleted) == (1, 1, 1)
    assert dovecot.maildir_count() == 1


async def test_failures_map_to_cause_codes(dovecot: DovecotServer, tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Maildir")
    cases = [
        (_account(dovecot), "wrong-password", "auth-failed"),
        (_account(dovecot, ca_file=None), dovecot.password, "cert-untrusted"),
        (
            _account(dovecot, port=dovecot.pop3_port, security=Security.PLAIN),
            dovecot.password,
            # pop3doctor itself refuses to send the password unencrypted
            # (no --allow-plaintext): the user's setting is the problem.
            "encryption-off",
        ),
    ]
    for account, password, cause in cases:
        report = await fetch_account(account, password, store, tmp_path / "state")
        assert (report.stop_cause, report.exit_code) == (cause, 2), report.to_json("en")
        assert password not in json.dumps(report.to_json("en"))


# ---- the command line ---------------------------------------------------------------


def _cli(
    args: list[str], env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pop3doctor", "fetch", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=stdin,
        timeout=120,
    )


def _server_args(server: DovecotServer) -> list[str]:
    return [
        "--host",
        server.host,
        "--port",
        str(server.pop3s_port),
        "--security",
        "ssl",
        "--ca-file",
        str(server.ca_file),
        "--user",
        server.user,
    ]


def test_cli_fetches_with_password_env_and_prints_json(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    ids = _fill(dovecot, 5)
    done = _cli(
        [
            *_server_args(dovecot),
            "--password-env",
            "P3D_PW",
            "--maildir",
            str(tmp_path / "M"),
            "--state",
            str(tmp_path / "s"),
            "--delete",
            "--json",
        ],
        env={"P3D_PW": dovecot.password},
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["fetched"], summary["deleted"], summary["error"]) == (5, 5, None)
    assert sorted(_maildir_ids(tmp_path / "M")) == sorted(ids)
    assert dovecot.password not in done.stdout + done.stderr


def test_cli_exit_codes_and_messages(dovecot: DovecotServer, tmp_path: Path) -> None:
    common = ["--maildir", str(tmp_path / "M"), "--state", str(tmp_path / "s")]
    bad = _cli([*_server_args(dovecot), "--password-stdin", "--lang", "ja", *common], stdin="nope\n")
    assert bad.returncode == 2
    assert "原因コード: auth-failed" in bad.stderr and "対処方法" in bad.stderr
    refused = _cli(
        [
            "--host",
            "127.0.0.1",
            "--port",
            "1",
            "--security",
            "ssl",
            "--user",
            "u",
            "--password-env",
            "P3D_PW",
            "--json",
            *common,
        ],
        env={"P3D_PW": "x"},
    )
    assert refused.returncode == 2
    assert json.loads(refused.stdout)["error"]["cause"] == "connection-refused"
    secret = "hunter2-" + os.urandom(4).hex()
    argv = _cli([*_server_args(dovecot), f"--password={secret}", *common])
    assert argv.returncode == 64
    assert secret not in argv.stdout + argv.stderr
    both = _cli([*_server_args(dovecot), "--password-env", "X", "--maildir", "a", "--mbox", "b"])
    assert both.returncode == 64


def test_cli_config_file_with_inline_password_must_be_private(dovecot: DovecotServer, tmp_path: Path) -> None:
    dovecot.clear()
    ids = _fill(dovecot, 3)
    config = tmp_path / "accounts.toml"
    config.write_text(
        f"""
[accounts.home]
host = "{dovecot.host}"
port = {dovecot.pop3s_port}
user = "{dovecot.user}"
ca_file = "{dovecot.ca_file}"
password = "{dovecot.password}"
mbox = "{tmp_path / "home.mbox"}"
delete = "delete"
"""
    )
    config.chmod(0o644)
    loose = _cli(["--config", str(config), "--state", str(tmp_path / "s"), "--lang", "en"])
    assert loose.returncode == 64 and "chmod 600" in loose.stderr
    assert dovecot.password not in loose.stderr + loose.stdout
    config.chmod(0o600)
    ok = _cli(["--config", str(config), "--account", "home", "--state", str(tmp_path / "s"), "--json"])
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["accounts"][0]["fetched"] == 3
    assert sorted(m["Message-ID"] for m in mailbox.mbox(tmp_path / "home.mbox")) == sorted(ids)
