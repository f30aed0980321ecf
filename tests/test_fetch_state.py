"""fetch's state and lock handling (issue 12 items 8, 9, 11), against the lab over TLS, with real files.

- a damaged state (truncated, random bytes, empty beside mail) is refused with
  exit 2 and a message naming the file and ``--rebuild-state``; with that flag
  the file is set aside and the state rebuilt from the destination, nothing
  stored twice (Maildir and mbox);
- a read-only or full state directory stops with ``state-unwritable``, exit 2,
  and nothing is deleted on the server;
- an mbox locked by another process (fcntl, or a dot-lock of a live process)
  is reported before connecting, exit 2, after ``--lock-wait`` seconds, with a
  progress line meanwhile, and Ctrl-C ends the wait (exit 130);
- a new ``--maildir`` says where the mail was fetched before and how to fetch
  it again (``--refetch``); "no new messages" and "nothing could be fetched"
  are told apart; an old (schema 1) state is migrated.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

from pop3doctor.lab import LabServer
from pop3doctor.lab.faults import Conn
from pop3doctor.lab.scenarios import get_scenario
from pop3doctor.lab.server import LAB_PASSWORD
from support.messages import make_message, message_id

_ENV = {**os.environ, "P3D_PW": LAB_PASSWORD}


def _args(lab: LabServer, tmp_path: Path, *extra: str, state: Path | None = None) -> list[str]:
    lab.write_ca(tmp_path / "ca.pem")
    return ["--host", "127.0.0.1", "--port", str(lab.tls_port), "--security", "ssl", "--user", "alice",
            "--ca-file", str(tmp_path / "ca.pem"), "--password-env", "P3D_PW",
            "--state", str(state or tmp_path / "state"), *extra]


def _fetch(args: list[str], *, as_json: bool = True) -> tuple[int, Any, str]:
    """Run ``pop3doctor fetch``; (exit code, parsed JSON or stdout text, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "pop3doctor", "fetch", *args, *(["--json"] if as_json else ["--lang", "en"])],
        capture_output=True, text=True, timeout=120, env=_ENV,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout) if as_json else done.stdout, done.stderr


def _state_file(state: Path) -> Path:
    (db,) = state.glob("*.sqlite3")
    return db


def _maildir_ids(root: Path) -> list[str]:
    return sorted(message_id(p.read_bytes()) for sub in ("new", "cur") for p in (root / sub).iterdir())


def _mbox_ids(path: Path) -> list[str]:
    return sorted(line.split(b":", 1)[1].strip().decode() for line in path.read_bytes().split(b"\n")
                  if line.lower().startswith(b"message-id:"))


# --- item 8: a damaged state -------------------------------------------------------------------

def _truncate(db: Path) -> None:
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 2])


def _random(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _empty(db: Path) -> None:
    db.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _random, _empty], ids=["truncated", "random-bytes", "empty"])
@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_a_damaged_state_is_refused_then_rebuilt_without_duplicates(
    trustme_ca: trustme.CA, tmp_path: Path, damage: Any, kind: str
) -> None:
    # Enough messages that the state spans several pages (a truncation cuts real rows off).
    msgs = [make_message(i, 1200 + 7 * i) for i in range(120)]
    dest = tmp_path / ("M" if kind == "maildir" else "inbox.mbox")
    where = ["--maildir" if kind == "maildir" else "--mbox", str(dest)]
    ids = _maildir_ids if kind == "maildir" else _mbox_ids
    with LabServer("healthy", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        rc, first, _ = _fetch(_args(lab, tmp_path, *where))
        assert (rc, first["fetched"]) == (0, 120)
    db = _state_file(tmp_path / "state")
    damage(db)
    damaged_bytes = db.read_bytes()

    # One more message arrived meanwhile: the rebuild must fetch it, and only it.
    msgs.append(make_message(120, 3000))
    with LabServer("healthy", messages=msgs, ca=trustme_ca, tls_port=lab.tls_port).run_in_thread() as lab:
        rc, refused, _ = _fetch(_args(lab, tmp_path, *where, "--delete"))
        assert rc == 2
        assert refused["fetched"] == 0 and refused["outcome"] == "nothing-fetched"
        assert refused["error"]["cause"] == "state-damaged" and refused["error"]["path"] == str(db)
        assert str(db) in refused["error"]["message"] and "--rebuild-state" in refused["error"]["message"]
        assert lab.connections_seen == 0  # refused before connecting
        rc, _, err = _fetch(_args(lab, tmp_path, *where), as_json=False)
        assert rc == 2 and "is damaged" in err and "--rebuild-state" in err

        rc, rebuilt, _ = _fetch(_args(lab, tmp_path, *where, "--rebuild-state", "--delete"))
        assert (rc, rebuilt["fetched"], rebuilt["rebuilt"], rebuilt["deleted"]) == (0, 1, 120, 121)
        assert all(m.deleted for m in lab.mailbox)
    aside = Path(rebuilt["state_set_aside"])
    assert aside.name.startswith(db.name + ".damaged-") and aside.read_bytes() == damaged_bytes
    assert ids(dest) == sorted(message_id(m) for m in msgs)  # every message exactly once


# --- item 8: a state directory that is read-only or full ---------------------------------------

#: Runs inside ``unshare -m``: makes the state directory read-only (or a tiny
#: tmpfs), runs fetch, prints its result (the mount dies with the namespace).
_IN_NAMESPACE = r"""
import json, subprocess, sys
mount, *fetch = sys.argv[1:]
subprocess.run(mount, shell=True, check=True)
done = subprocess.run([sys.executable, "-m", "pop3doctor", "fetch", *fetch], capture_output=True, text=True)
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr}))
"""


def _fetch_in_namespace(mount: str, args: list[str]) -> tuple[int, dict[str, Any], str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a private mount namespace)")
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", _IN_NAMESPACE, mount, *args],
        capture_output=True, text=True, timeout=120, env=_ENV,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "Traceback" not in result["err"], result["err"]
    return result["rc"], json.loads(result["out"]), result["err"]


def test_a_read_only_state_directory_stops_clearly_and_deletes_nothing(
    trustme_ca: trustme.CA, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    msgs = [make_message(i, 2500) for i in range(3)]
    with LabServer("healthy", messages=msgs[:2], ca=trustme_ca).run_in_thread() as lab:
        rc, _, _ = _fetch(_args(lab, tmp_path, "--maildir", str(tmp_path / "M")))
        assert rc == 0
    with LabServer("healthy", messages=msgs, ca=trustme_ca, tls_port=lab.tls_port).run_in_thread() as lab:
        rc, report, _ = _fetch_in_namespace(
            f"mount --bind {state} {state} && mount -o remount,bind,ro {state}",
            [*_args(lab, tmp_path, "--maildir", str(tmp_path / "M"), "--delete"), "--json"],
        )
        assert not any(m.deleted for m in lab.mailbox)
    assert rc == 2 and report["error"]["cause"] == "state-unwritable"
    assert report["error"]["path"].startswith(str(state))
    assert "cannot be written" in report["error"]["message"]


def test_a_full_state_file_system_stops_clearly_keeps_the_mail_and_deletes_nothing(
    trustme_ca: trustme.CA, tmp_path: Path
) -> None:
    """A 128 KiB tmpfs as the state directory: the WAL fills it after a few batches."""
    state = tmp_path / "state"
    state.mkdir()
    msgs = [make_message(i, 1500) for i in range(400)]
    with LabServer("healthy", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        rc, report, _ = _fetch_in_namespace(
            f"mount -t tmpfs -o size=128k tmpfs {state}",
            [*_args(lab, tmp_path, "--maildir", str(tmp_path / "M"), "--delete"), "--json"],
        )
        assert not any(m.deleted for m in lab.mailbox)
    assert rc == 2 and report["error"]["cause"] == "state-unwritable", report
    assert "full" in report["error"]["detail"]
    saved = len(list((tmp_path / "M" / "new").iterdir()))
    assert 0 < saved < 400 and saved >= report["fetched"]
    assert list((tmp_path / "M" / "tmp").iterdir()) == []


# --- item 9: an mbox another process keeps locked ----------------------------------------------

_HOLD_LOCK = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)
"""


@pytest.fixture
def held_mbox(tmp_path: Path) -> Any:
    """An mbox with a real fcntl (lockf) lock held by a separate process."""
    mbox = tmp_path / "inbox.mbox"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(mbox)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    yield mbox
    holder.kill()
    holder.wait()


def test_an_mbox_locked_by_another_process_is_a_clear_stop_before_connecting(
    trustme_ca: trustme.CA, tmp_path: Path, held_mbox: Path
) -> None:
    with LabServer("healthy", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
        started = time.monotonic()
        rc, report, _ = _fetch(_args(lab, tmp_path, "--mbox", str(held_mbox), "--lock-wait", "1.5"))
        elapsed = time.monotonic() - started
        assert lab.connections_seen == 0
        rc_text, _, err_text = _fetch(_args(lab, tmp_path, "--mbox", str(held_mbox), "--lock-wait", "1"),
                                      as_json=False)
    assert rc == 2 and report["error"]["cause"] == "mbox-locked" and report["error"]["kind"] == "fcntl"
    assert report["error"]["path"] == str(held_mbox) and report["outcome"] == "nothing-fetched"
    assert 1.4 < elapsed < 20
    assert rc_text == 2
    assert f"The mbox {held_mbox} is locked by another program" in err_text and "--lock-wait" in err_text
    assert f"Waiting up to 1 s for the lock on {held_mbox}" in err_text  # the progress line


def test_a_dotlock_of_a_live_process_names_its_holder(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(b"")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (tmp_path / "inbox.mbox.lock").write_text(f"{sleeper.pid} {socket.gethostname()}\n")
        with LabServer("healthy", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
            rc, report, _ = _fetch(_args(lab, tmp_path, "--mbox", str(mbox), "--lock-wait", "0.5"))
            assert lab.connections_seen == 0
    finally:
        sleeper.kill()
        sleeper.wait()
    assert rc == 2 and report["error"]["kind"] == "dotlock"
    assert report["error"]["holder"] == f"{sleeper.pid} {socket.gethostname()}"
    assert str(sleeper.pid) in report["error"]["message"]


def test_ctrl_c_ends_the_lock_wait(trustme_ca: trustme.CA, tmp_path: Path, held_mbox: Path) -> None:
    with LabServer("healthy", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pop3doctor", "fetch",
             *_args(lab, tmp_path, "--mbox", str(held_mbox), "--lock-wait", "60", "--lang", "en")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_ENV,
        )
        assert proc.stderr is not None
        assert "Waiting up to 60 s" in proc.stderr.readline()
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 10
        assert lab.connections_seen == 0
    assert proc.returncode == 130 and "Traceback" not in err


def test_a_lock_released_during_the_wait_lets_the_fetch_go_on(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK.replace("time.sleep(120)", "time.sleep(1.5)"), str(mbox)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with LabServer("healthy", messages=[make_message(0, 2000)], ca=trustme_ca).run_in_thread() as lab:
            rc, report, _ = _fetch(_args(lab, tmp_path, "--mbox", str(mbox), "--lock-wait", "30"))
    finally:
        holder.kill()
        holder.wait()
    assert (rc, report["fetched"], report["outcome"]) == (0, 1, "fetched")


# --- item 11: another destination, "0 new" vs "nothing could be fetched" ------------------------

def test_a_new_maildir_says_where_the_mail_went_and_refetch_fetches_it_again(
    trustme_ca: trustme.CA, tmp_path: Path
) -> None:
    msgs = [make_message(i, 1800) for i in range(4)]
    first_dir, second_dir = tmp_path / "Mail-old", tmp_path / "Mail-new"
    with LabServer("healthy", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        rc, first, _ = _fetch(_args(lab, tmp_path, "--maildir", str(first_dir)))
        assert (rc, first["fetched"], first["outcome"], first["saved_elsewhere"]) == (0, 4, "fetched", [])

        rc, moved, _ = _fetch(_args(lab, tmp_path, "--maildir", str(second_dir)))
        assert (rc, moved["fetched"], moved["outcome"]) == (0, 0, "no-new-messages")
        [elsewhere] = moved["saved_elsewhere"]
        assert (elsewhere["destination"], elsewhere["count"]) == (str(first_dir.resolve()), 4)
        rc, text, _ = _fetch(_args(lab, tmp_path, "--maildir", str(second_dir)), as_json=False)
        assert "no new messages" in text
        assert f"4 message(s) on the server were fetched earlier to {first_dir.resolve()} (last on " in text
        assert "use --refetch to fetch them again here" in text

        rc, again, _ = _fetch(_args(lab, tmp_path, "--maildir", str(second_dir), "--refetch"))
        assert (rc, again["fetched"], again["refetched"], again["saved_elsewhere"]) == (0, 4, 4, [])
        rc, after, _ = _fetch(_args(lab, tmp_path, "--maildir", str(second_dir)))
        assert (after["fetched"], after["outcome"], after["saved_elsewhere"]) == (0, "no-new-messages", [])
    assert _maildir_ids(first_dir) == _maildir_ids(second_dir) == sorted(message_id(m) for m in msgs)


async def _retr_refused(conn: Conn, verb: str, args: list[str]) -> bool:
    if verb != "RETR":
        return False
    await conn.send_line("-ERR [SYS/TEMP] message cannot be read now")
    return True


def test_nothing_could_be_fetched_is_not_no_new_messages(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    scenario = dataclasses.replace(get_scenario("healthy"), name="retr-refused", on_transaction=_retr_refused)
    msgs = [make_message(i, 1800) for i in range(2)]
    with LabServer(scenario, messages=msgs, ca=trustme_ca).run_in_thread() as lab:  # type: ignore[arg-type]
        rc, report, _ = _fetch(_args(lab, tmp_path, "--maildir", str(tmp_path / "M")))
        rc_text, _, err = _fetch(_args(lab, tmp_path, "--maildir", str(tmp_path / "M")), as_json=False)
    assert (rc, report["fetched"], report["outcome"]) == (1, 0, "nothing-fetched")
    assert rc_text == 1 and "nothing could be fetched (2 new message(s) are still on the server)" in err


def test_a_schema_1_state_is_migrated_and_keeps_what_it_knew(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 1800) for i in range(2)]
    with LabServer("healthy", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        rc, _, _ = _fetch(_args(lab, tmp_path, "--maildir", str(tmp_path / "M")))
        db_path = _state_file(tmp_path / "state")
        # Back to the first schema: no destination column, version "1".
        db = sqlite3.connect(db_path)
        db.executescript(
            "CREATE TABLE old AS SELECT uid, status, first_seen, delivered_at, target, size, deleted_at FROM messages;"
            "DROP TABLE messages;"
            "CREATE TABLE messages (uid TEXT PRIMARY KEY, status TEXT NOT NULL, first_seen REAL NOT NULL,"
            " delivered_at REAL, target TEXT, size INTEGER, deleted_at REAL) WITHOUT ROWID;"
            "INSERT INTO messages SELECT * FROM old; DROP TABLE old;"
            "UPDATE meta SET value = '1' WHERE key = 'schema';"
        )
        db.close()
        rc, report, _ = _fetch(_args(lab, tmp_path, "--maildir", str(tmp_path / "Other")))
    assert (rc, report["fetched"], report["outcome"]) == (0, 0, "no-new-messages")
    assert report["saved_elsewhere"] == []  # rows of schema 1 do not say where they went
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == ("2",)
    assert "destination" in [row[1] for row in db.execute("PRAGMA table_info(messages)")]
    db.close()
