"""Per-account UIDL state: which messages are safely on disk, and since when.

One SQLite database per account, in WAL mode with ``synchronous=FULL``: a
commit is on stable storage when `commit` returns (with NORMAL, WAL may lose
the last commits on power loss, and we send DELE on the strength of them).
Each batch of messages costs two small transactions (see `pop3doctor.sync`),
never a rewrite of the whole state, so a run killed at any point loses at
most the batch in flight, and that batch is reconciled on the next run.

Rows (``messages``):

- ``uid``: the server's UIDL, or ``hdr:<sha256>`` when the server has no UIDL;
- ``status``: ``pending`` (the store is placing it at ``target``; not yet
  known to be there), ``delivered`` (durably on disk), ``skipped`` (seen
  and deliberately not fetched, e.g. ``--only-new`` on a first run);
- ``first_seen``: Unix time the uid was first listed by a run that recorded
  it (``--delete-after-days`` counts from here);
- ``target``: where the store put it (Maildir ``new/NAME``; mbox
  ``offset:length:sha256``), for reconciliation;
- ``deleted_at``: when a QUIT committed its deletion on the server;
- ``destination``: the store it went to (absolute path of the Maildir or
  mbox; NULL in rows of schema 1), so that a run into another folder can
  say where the mail already is instead of reporting a silent "0 fetched".

Damage (see `pop3doctor.sync.errors`): `UidlState.open` refuses a file that
is not SQLite, fails ``PRAGMA quick_check``, or -- when the caller says its
destination already holds mail -- is empty or has no schema, because
starting over from it would store every message a second time.  A new state
is built under a temporary name and renamed into place, so a crash never
leaves an empty file behind that would later look like a damaged one.
Every SQLite failure to write (read-only directory, disk full, I/O error)
is a `StateUnwritable`.

Concurrency: the caller holds the account's `FileLock` for the whole run, so
only one process ever writes a given database; SQLite's own locking is not
relied on for that (its exclusive mode would only lock at the first write,
after the network work has started).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pop3doctor.sync.errors import StateDamaged, StateUnwritable
from pop3doctor.sync.fsutil import fsync_dir

Status = Literal["pending", "delivered", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    uid TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'skipped')),
    first_seen REAL NOT NULL,
    delivered_at REAL,
    target TEXT,
    size INTEGER,
    deleted_at REAL,
    destination TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

SCHEMA_VERSION = "2"

#: Schema version -> the statements that bring a state of that version one step up.
_MIGRATIONS: dict[str, tuple[str, ...]] = {
    "1": ("ALTER TABLE messages ADD COLUMN destination TEXT",),
}

#: The first 16 bytes of every SQLite 3 database file.
_SQLITE_MAGIC = b"SQLite format 3\x00"

#: SQLite result codes (``sqlite3.Error.sqlite_errorname``) that say the file's
#: content is bad; the others (READONLY, FULL, IOERR, CANTOPEN, PERM ...) say
#: the disk would not take a write.
_DAMAGE_ERRORS = frozenset({"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_CORRUPT_INDEX", "SQLITE_CORRUPT_SEQUENCE"})


@dataclass(frozen=True, slots=True)
class Known:
    """What the state says about one uid."""

    status: Status
    first_seen: float
    target: str | None
    destination: str | None = None
    delivered_at: float | None = None


@dataclass(frozen=True, slots=True)
class Pending:
    uid: str
    target: str
    size: int | None
    destination: str | None = None


class UidlState:
    """The state database of one account.  Use as a context manager.

    ``readonly`` opens an existing database without changing it (``--dry-run``);
    a missing database then reads as empty.
    """

    def __init__(self, path: Path, *, readonly: bool = False, destination_has_mail: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        #: The caller's destination already holds mail: an empty state is damage then.
        self.destination_has_mail = destination_has_mail
        self._db: sqlite3.Connection | None = None

    # ---- life cycle ------------------------------------------------------------------

    def open(self) -> UidlState:
        """Open (creating, checking, migrating) the database; raises `StateDamaged` / `StateUnwritable`."""
        try:
            return self._open()
        except BaseException:
            self.close()  # a refused file is moved aside next: no connection may hold it
            raise

    def _open(self) -> UidlState:
        empty = self._check_file()
        if self.readonly:
            if self.path.exists() and not empty:
                with _named_errors(self.path):
                    db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None)
                    self._db = db
                    _quick_check(db, self.path)
            return self
        if empty:
            self._create()
        with _named_errors(self.path):
            db = sqlite3.connect(self.path, isolation_level=None)
            self._db = db
            _quick_check(db, self.path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._migrate(db)
        return self

    def _check_file(self) -> bool:
        """Whether the file is missing or empty (to be created); raises `StateDamaged` for a foreign or empty one."""
        try:
            with open(self.path, "rb") as file:
                head = file.read(100)
        except FileNotFoundError:
            return True
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        if head and not head.startswith(_SQLITE_MAGIC):
            raise StateDamaged(self.path, "not an SQLite database")
        if len(head) < 100 and head:
            raise StateDamaged(self.path, "truncated SQLite header")
        if not head or not self._has_schema():
            if self.destination_has_mail:
                raise StateDamaged(self.path, "empty, but the destination already holds mail")
            return True
        return False

    def _has_schema(self) -> bool:
        with _named_errors(self.path):
            db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None)
            try:  # a bad page here raises; `open` runs the full quick_check next
                row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
            finally:
                db.close()
        return row is not None

    def _create(self) -> None:
        """A new, empty database at `path`: built aside, fsynced, renamed into place."""
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        building = parent / f".{self.path.name}.new-{os.getpid()}"
        try:
            with _named_errors(building):
                db = sqlite3.connect(building, isolation_level=None)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.executescript(_SCHEMA)
                    db.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
                finally:
                    db.close()  # the last connection: the WAL is checkpointed into the file
            with open(building, "rb+") as file:
                os.fsync(file.fileno())
            for stale in _side_files(self.path):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            os.replace(building, self.path)
            fsync_dir(parent)
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        finally:
            for leftover in (building, *_side_files(building)):
                with contextlib.suppress(OSError):
                    leftover.unlink()

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.executescript(_SCHEMA)  # tables a very old file may lack
        row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        version = "1" if row is None else row[0]
        while version in _MIGRATIONS:
            with _transaction(db):
                for statement in _MIGRATIONS[version]:
                    db.execute(statement)
                version = str(int(version) + 1)
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema', ?)", (version,))
        if version != SCHEMA_VERSION:
            raise StateDamaged(self.path, f"schema version {version} is not one this pop3doctor knows")

    def set_aside(self, now: float | None = None) -> Path:
        """Move the (damaged) file and its WAL/SHM aside as ``NAME.damaged-TIMESTAMP``; returns the new name."""
        self.close()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            for source in (self.path, *_side_files(self.path)):
                if source.exists():
                    os.replace(source, aside.with_name(aside.name + source.name[len(self.path.name) :]))
            fsync_dir(self.path.parent)
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        return aside

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            db.close()

    def __enter__(self) -> UidlState:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("state is not open")
        return self._db

    def _write(self) -> sqlite3.Connection:
        if self.readonly:
            raise RuntimeError("state opened read-only")
        return self._conn

    # ---- reading ---------------------------------------------------------------------

    def known(self) -> dict[str, Known]:
        """Every recorded uid (one query: a 100k-message mailbox is one scan)."""
        if self._db is None:
            return {}
        rows = self._read("SELECT uid, status, first_seen, target, destination, delivered_at FROM messages")
        return {uid: Known(status, first, target, dest, at) for uid, status, first, target, dest, at in rows}

    def known_one(self, uid: str) -> Known | None:
        """What the state says about ``uid`` alone (one indexed lookup)."""
        if self._db is None:
            return None
        rows = self._read(
            "SELECT status, first_seen, target, destination, delivered_at FROM messages WHERE uid = ?", (uid,)
        )
        return None if not rows else Known(*rows[0])

    def pending(self) -> list[Pending]:
        if self._db is None:
            return []
        rows = self._read("SELECT uid, target, size, destination FROM messages WHERE status = 'pending' ORDER BY uid")
        return [Pending(uid, target or "", size, dest) for uid, target, size, dest in rows]

    def is_empty(self) -> bool:
        if self._db is None:
            return True
        return not self._read("SELECT 1 FROM messages LIMIT 1")

    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """All rows of one query; a page that turns out corrupt mid-run is `StateDamaged`."""
        with _named_errors(self.path):
            return self._conn.execute(sql, args).fetchall()

    # ---- writing (each method is one transaction) ------------------------------------

    def mark_pending(self, items: Iterable[Pending], now: float) -> None:
        """Record that the store is about to place these messages at their targets."""
        self._each(
            "INSERT INTO messages(uid, status, first_seen, target, size, destination) "
            "VALUES (?, 'pending', ?, ?, ?, ?) "
            "ON CONFLICT(uid) DO UPDATE SET status = 'pending', target = excluded.target, size = excluded.size, "
            "destination = excluded.destination",
            [(p.uid, now, p.target, p.size, p.destination) for p in items],
        )

    def mark_delivered(self, uids: Iterable[str], now: float) -> None:
        self._each("UPDATE messages SET status = 'delivered', delivered_at = ? WHERE uid = ?", [(now, u) for u in uids])

    def forget(self, uids: Iterable[str]) -> None:
        """Drop pending rows whose message did not reach the disk (it will be fetched again)."""
        self._each("DELETE FROM messages WHERE uid = ? AND status = 'pending'", [(u,) for u in uids])

    def mark_skipped(self, uids: Iterable[str], now: float) -> None:
        self._each(
            "INSERT OR IGNORE INTO messages(uid, status, first_seen) VALUES (?, 'skipped', ?)", [(u, now) for u in uids]
        )

    def mark_deleted(self, uids: Iterable[str], now: float) -> None:
        self._each("UPDATE messages SET deleted_at = ? WHERE uid = ?", [(now, u) for u in uids])

    def _each(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        """``sql`` once per row, all in one transaction."""
        db = self._write()
        with _named_errors(self.path):
            with _transaction(db):
                db.executemany(sql, rows)


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        elif self.db.in_transaction:
            # A failed COMMIT (disk full) may already have rolled back.
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")


def _side_files(path: Path) -> tuple[Path, Path]:
    """SQLite's WAL and shared-memory files of the database at ``path``."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _quick_check(db: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA quick_check`` (page structure, no index-content scan): O(size), milliseconds for 100k rows."""
    rows = db.execute("PRAGMA quick_check").fetchall()
    if [tuple(r) for r in rows] != [("ok",)]:
        raise StateDamaged(path, "quick_check: " + "; ".join(str(r[0]) for r in rows[:3]))


@contextlib.contextmanager
def _named_errors(path: Path) -> Iterator[None]:
    """SQLite's exceptions as the two named state errors: bad content vs. a disk that refuses writes."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        name = getattr(exc, "sqlite_errorname", "")
        if name in _DAMAGE_ERRORS or (not name and not isinstance(exc, sqlite3.OperationalError)):
            raise StateDamaged(path, str(exc)) from exc
        raise StateUnwritable(path, str(exc)) from exc
