"""State database, lock, Maildir and mbox stores, including crash reconciliation."""

from __future__ import annotations

import hashlib
import mailbox
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pop3doctor.sync.lock import FileLock, LockBusy
from pop3doctor.sync.maildir import MaildirStore
from pop3doctor.sync.mbox import MboxStore
from pop3doctor.sync.state import Pending, UidlState
from pop3doctor.sync.store import Staged, Store

MSG = b"From: a@example.com\r\nSubject: hi\r\n\r\nFrom here on\r\n>From there\r\nbye\r\n"


def _write(store: Store, uid: str, data: bytes = MSG, chunk: int = 7) -> Staged:
    writer = store.open_writer(uid, len(data))
    for i in range(0, len(data), chunk):
        writer.write(data[i : i + chunk])
    writer.close()
    assert writer.staged is not None
    return writer.staged


# ---- state ---------------------------------------------------------------------------


def test_state_is_wal_and_records_pending_then_delivered(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    with UidlState(path) as state:
        state.mark_pending([Pending("u1", "new/a", 10), Pending("u2", "new/b", 20)], now=100.0)
        state.mark_delivered(["u1"], now=101.0)
        known = state.known()
    assert known["u1"].status == "delivered" and known["u1"].first_seen == 100.0
    assert known["u2"].status == "pending" and known["u2"].target == "new/b"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    with UidlState(path) as state:
        assert [p.uid for p in state.pending()] == ["u2"]
        state.forget(["u2", "u1"])  # forget only drops pending rows
        assert set(state.known()) == {"u1"}


def test_readonly_state_of_missing_file_is_empty_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none" / "s.sqlite3"
    with UidlState(path, readonly=True) as state:
        assert state.known() == {}
        assert state.is_empty()
    assert not path.parent.exists()


def test_lock_excludes_a_second_process_and_dies_with_its_holder(tmp_path: Path) -> None:
    lock_path = tmp_path / "acct.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl,os,sys,time; fd=os.open(sys.argv[1],os.O_RDWR|os.O_CREAT);"
            "fcntl.flock(fd,fcntl.LOCK_EX); print('held',flush=True); time.sleep(60)",
            str(lock_path),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(LockBusy):
            FileLock(lock_path).acquire()
    finally:
        holder.kill()  # SIGKILL: no cleanup code runs in the holder
        holder.wait()
    with FileLock(lock_path):
        pass


# ---- Maildir -------------------------------------------------------------------------


def test_maildir_delivers_lf_message_into_new(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Mail")
    store.prepare()
    staged = _write(store, "u1")
    assert staged.path.parent.name == "tmp"
    recorded: list[Pending] = []
    store.place([staged], recorded.extend)
    assert recorded == [Pending("u1", f"new/{staged.path.name}", len(MSG))]
    files = os.listdir(tmp_path / "Mail" / "new")
    assert files == [staged.path.name]
    assert os.listdir(tmp_path / "Mail" / "tmp") == []
    assert (tmp_path / "Mail" / "new" / files[0]).read_bytes() == MSG.replace(b"\r\n", b"\n")
    # Maildir spec name: SECONDS.PID_SEQ.HOST
    seconds, rest = files[0].split(".", 1)
    assert seconds.isdigit() and rest.startswith(f"{os.getpid()}_")
    msgs = list(mailbox.Maildir(tmp_path / "Mail", create=False))
    assert msgs[0]["Subject"] == "hi"


def test_maildir_abort_leaves_nothing(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Mail")
    store.prepare()
    writer = store.open_writer("u1", None)
    writer.write(b"partial")
    writer.abort()
    assert os.listdir(tmp_path / "Mail" / "tmp") == []


def test_maildir_reconcile_after_kill_between_link_and_delivered(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "Mail")
    store.prepare()
    placed = _write(store, "placed")
    moved = _write(store, "moved-to-cur")
    lost = _write(store, "never-linked")
    pending = [
        Pending("placed", f"new/{placed.path.name}", None),
        Pending("moved-to-cur", f"new/{moved.path.name}", None),
        Pending("never-linked", f"new/{lost.path.name}", None),
    ]
    # What a run killed after "link" of two messages leaves behind:
    os.link(placed.path, tmp_path / "Mail" / "new" / placed.path.name)
    os.rename(moved.path, tmp_path / "Mail" / "cur" / (moved.path.name + ":2,S"))  # a reader moved it
    assert store.reconcile(pending) == {"placed", "moved-to-cur"}
    assert os.listdir(tmp_path / "Mail" / "tmp") == []  # leftovers cleaned


# ---- mbox ----------------------------------------------------------------------------


def test_mbox_appends_mboxrd_and_python_mailbox_reads_it_back(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    path.write_bytes(b"From old Thu Jan  1 00:00:00 2024\nSubject: old\n\nbody\n")  # no blank line at end
    store = MboxStore(path)
    store.prepare()
    batch = [_write(store, "u1"), _write(store, "u2", MSG.replace(b"hi", b"second"))]
    recorded: list[Pending] = []
    store.place(batch, recorded.extend)
    data = path.read_bytes()
    for item, staged in zip(recorded, batch, strict=True):
        offset, length, sha = item.target.split(":")
        region = data[int(offset) : int(offset) + int(length)]
        assert hashlib.sha256(region).hexdigest() == sha == staged.sha256
        assert region.startswith(b"From MAILER-DAEMON ")
    assert b"\n>From here on\n>>From there\n" in data
    box = mailbox.mbox(path, create=False)
    assert [m["Subject"] for m in box] == ["old", "hi", "second"]
    assert [p.name for p in tmp_path.iterdir()] == ["inbox"]  # staging files and dot-lock gone


def test_mbox_failed_append_is_truncated_back(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    store = MboxStore(path)
    store.prepare()
    _ = store.place([_write(store, "u0")], lambda items: None)
    before = path.read_bytes()
    good = _write(store, "u1")
    gone = Staged("u2", tmp_path / "missing-staging-file", 10, "0" * 64, None)
    with pytest.raises(FileNotFoundError):
        store.place([good, gone], lambda items: None)
    assert path.read_bytes() == before


def test_mbox_reconcile_keeps_complete_and_cuts_partial_tail(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    store = MboxStore(path)
    store.prepare()
    recorded: list[Pending] = []
    store.place([_write(store, "a"), _write(store, "b")], recorded.extend)
    full = path.read_bytes()
    # Simulate a kill in the middle of appending "b": cut the file inside it.
    offset_b = int(recorded[1].target.split(":")[0])
    with open(path, "r+b") as f:
        f.truncate(offset_b + 5)
    assert store.reconcile(recorded) == {"a"}
    assert path.read_bytes() == full[:offset_b]


def test_mbox_dotlock_of_dead_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "inbox"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (tmp_path / "inbox.lock").write_text(f"{dead.stdout.strip()} {socket.gethostname()}\n")
    store = MboxStore(path)
    store.prepare()
    store.place([_write(store, "u1")], lambda items: None)
    assert path.read_bytes().startswith(b"From MAILER-DAEMON ")
    assert not (tmp_path / "inbox.lock").exists()
