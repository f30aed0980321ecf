"""Crash safety: kill -9 at random points, and a connection dropped mid-RETR.

The contract under test (see `pop3doctor.sync`): after any number of
interrupted runs followed by one normal run, every message is on disk exactly
once and, in delete mode, nothing is left on the server.  Between runs two
invariants are checked too: no Message-ID is ever on disk twice, and every
message gone from the server is on disk (nothing lost).
"""

from __future__ import annotations

import json
import mailbox
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import trustme

from pop3doctor.lab import LabServer
from pop3doctor.lab.server import LAB_PASSWORD
from support.dovecot import DovecotServer
from support.messages import make_message, message_id

KILLS = 32


def _scan_ids(root: Path) -> tuple[list[str], bool]:
    """Message-IDs under new/ and cur/, and whether a file vanished while reading."""
    ids, vanished = [], False
    for sub in ("new", "cur"):
        folder = root / sub
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            try:
                ids.append(message_id(path.read_bytes()))
            except FileNotFoundError:
                vanished = True
    return ids, vanished


def _ids_in(root: Path) -> list[str]:
    """Message-IDs in a Maildir that another process may be renaming right now.

    Dovecot's pop3 process outlives our killed client for a moment and then
    renames files (new/ -> cur/, ":2," -> ":2,S" for the \\Seen flags of the
    RETRs it saw).  readdir() during a rename may return neither name (POSIX
    leaves it unspecified), so one scan can miss a message that is there: only
    two identical scans in a row, with nothing vanishing, are believed.
    """
    previous: list[str] | None = None
    ids: list[str] = []
    for _attempt in range(200):
        ids, vanished = _scan_ids(root)
        ids.sort()
        if not vanished and ids == previous:
            return ids
        previous = ids
        time.sleep(0.01)
    return ids


def _mbox_ids(path: Path) -> list[str]:
    """Message-IDs in the mbox: a header-line scan (the bodies have no such lines);
    `mailbox.mbox` agrees but is too slow to run after every kill."""
    if not path.exists():
        return []
    return [m.decode() for m in re.findall(rb"(?m)^Message-ID:[ \t]*(\S+)", path.read_bytes())]


def _disk_ids(target: Path) -> list[str]:
    return _mbox_ids(target) if target.suffix == ".mbox" else _ids_in(target)


def _fetch_cmd(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "pop3doctor", "fetch", "--delete", "--json", *args]


def _check_invariants(disk: Path, server_box: Path, delivered: set[str]) -> None:
    on_disk = Counter(_disk_ids(disk))
    dupes = [mid for mid, n in on_disk.items() if n > 1]
    assert not dupes, f"stored twice: {dupes[:3]}"
    on_server = set(_ids_in(server_box))
    lost = delivered - on_server - set(on_disk)
    assert not lost, f"lost: {sorted(lost)[:3]}"


def _pending_rows(state_dir: Path) -> int:
    total = 0
    for path in state_dir.glob("*.sqlite3"):
        db = sqlite3.connect(path)
        try:
            # A run killed on its very first start can leave the database file
            # before its schema (the next run creates it): nothing is pending then.
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages'").fetchone():
                total += db.execute("SELECT count(*) FROM messages WHERE status = 'pending'").fetchone()[0]
        finally:
            db.close()
    return total


def _wait_for_lock_holder(state_dir: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and proc.poll() is None:
        for lock in state_dir.glob("*.lock") if state_dir.is_dir() else ():
            try:
                if lock.read_text().strip() == str(proc.pid):
                    return
            except OSError:
                pass
        time.sleep(0.005)


@pytest.mark.parametrize("kind", ["maildir", "mbox"])
def test_sigkill_at_random_points_then_a_normal_run(dovecot: DovecotServer, tmp_path: Path, kind: str) -> None:
    seed = int(os.environ.get("P3D_CRASH_SEED", time.time_ns() % 10**6))
    rng = random.Random(seed)
    print(f"seed={seed}")
    dovecot.clear()
    delivered: set[str] = set()
    counter = 0

    def refill(n: int) -> None:
        nonlocal counter
        msgs = [make_message(counter + i, rng.randint(1500, 60_000)) for i in range(n)]
        counter += n
        dovecot.deliver(msgs)
        delivered.update(message_id(m) for m in msgs)

    refill(150)
    disk = tmp_path / ("Maildir" if kind == "maildir" else "inbox.mbox")
    args = ["--host", dovecot.host, "--port", str(dovecot.pop3s_port), "--security", "ssl",
            "--ca-file", str(dovecot.ca_file), "--user", dovecot.user, "--password-env", "P3D_PW",
            f"--{kind}", str(disk), "--state", str(tmp_path / "state")]
    env = {**os.environ, "P3D_PW": dovecot.password}
    kills = finished = pending_left = 0
    # Bounded by runs, not by time (tests assert no timings): a run that keeps
    # finishing before the kill would otherwise loop for ever.
    for _run in range(KILLS * 4):
        if kills >= KILLS:
            break
        proc = subprocess.Popen(_fetch_cmd(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Python start-up takes ~0.5 s and is not interesting: wait until the
        # run holds the account lock (it writes its pid there), then kill at
        # a random point of the work: reconcile, login, RETR, place, DELE, QUIT.
        _wait_for_lock_holder(tmp_path / "state", proc)
        time.sleep(rng.uniform(0.0, 0.35))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:
            finished += 1
        proc.communicate()
        pending_left += _pending_rows(tmp_path / "state")
        _check_invariants(disk, dovecot.maildir(), delivered)
        if dovecot.maildir_count() < 100:
            refill(150)
    assert kills >= KILLS, f"only {kills} of {KILLS} runs could be killed mid-work ({finished} finished first)"

    done = subprocess.run(_fetch_cmd(args), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # pending_left counts kills that landed between "pending" and "delivered"
    # (informational: where a kill lands is random).
    print(f"kills={kills} finished={finished} pending_left={pending_left} messages={len(delivered)} "
          f"last run: {summary}")
    assert sorted(_disk_ids(disk)) == sorted(delivered)  # exactly once each
    if kind == "mbox":  # and the file is a well-formed mbox
        assert sorted(str(m["Message-ID"]) for m in mailbox.mbox(disk, create=False)) == sorted(delivered)
    assert dovecot.maildir_count() == 0


def test_drop_mid_retr_then_a_normal_run(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 4000 + 500 * i) for i in range(12)]
    ids = sorted(message_id(m) for m in msgs)
    ca = tmp_path / "ca.pem"
    disk = tmp_path / "Maildir"
    common = ["--user", "alice", "--password-env", "P3D_PW", "--maildir", str(disk),
              "--state", str(tmp_path / "state"), "--ca-file", str(ca), "--security", "ssl", "--host", "127.0.0.1"]
    env = {**os.environ, "P3D_PW": LAB_PASSWORD}
    with LabServer("drop-mid-retr", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        lab.write_ca(ca)
        port = lab.tls_port
        dropped = subprocess.run(_fetch_cmd([*common, "--port", str(port)]), env=env, capture_output=True,
                                 text=True, timeout=60)
    assert dropped.returncode == 1, dropped.stderr
    error = json.loads(dropped.stdout)["error"]
    assert (error["cause"], error["stage"]) == ("connection-dropped", "retrieve")
    assert _ids_in(disk) == [] and list((disk / "tmp").iterdir()) == []  # no partial message anywhere

    with LabServer("healthy", messages=msgs, ca=trustme_ca, tls_port=port).run_in_thread() as lab:
        done = subprocess.run(_fetch_cmd([*common, "--port", str(port)]), env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert all(m.deleted for m in lab.mailbox)
    assert sorted(_ids_in(disk)) == ids
