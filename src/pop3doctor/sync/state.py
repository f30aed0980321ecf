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
- ``deleted_at``: when a QUIT committed its deletion on the server.

Concurrency: the caller holds the account's `FileLock` for the whole run, so
only one process ever writes a given database; SQLite's own locking is not
relied on for that (its exclusive mode would only lock at the first write,
after the network work has started).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

Status = Literal["pending", "delivered", "skipped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    uid TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'skipped')),
    first_seen REAL NOT NULL,
    delivered_at REAL,
    target TEXT,
    size INTEGER,
    deleted_at REAL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

SCHEMA_VERSION = "1"


@dataclass(frozen=True, slots=True)
class Known:
    """What the state says about one uid."""

    status: Status
    first_seen: float
    target: str | None


@dataclass(frozen=True, slots=True)
class Pending:
    uid: str
    target: str
    size: int | None


class UidlState:
    """The state database of one account.  Use as a context manager.

    ``readonly`` opens an existing database without changing it (``--dry-run``);
    a missing database then reads as empty.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._db: sqlite3.Connection | None = None

    # ---- life cycle ------------------------------------------------------------------

    def open(self) -> UidlState:
        if self.readonly:
            if self.path.exists():
                self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, isolation_level=None)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._db = db
        return self

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
        rows = self._db.execute("SELECT uid, status, first_seen, target FROM messages")
        return {uid: Known(status, first_seen, target) for uid, status, first_seen, target in rows}

    def known_one(self, uid: str) -> Known | None:
        """What the state says about ``uid`` alone (one indexed lookup)."""
        if self._db is None:
            return None
        row = self._db.execute("SELECT status, first_seen, target FROM messages WHERE uid = ?", (uid,)).fetchone()
        return None if row is None else Known(row[0], row[1], row[2])

    def pending(self) -> list[Pending]:
        if self._db is None:
            return []
        rows = self._db.execute("SELECT uid, target, size FROM messages WHERE status = 'pending' ORDER BY uid")
        return [Pending(uid, target or "", size) for uid, target, size in rows]

    def is_empty(self) -> bool:
        if self._db is None:
            return True
        return self._db.execute("SELECT 1 FROM messages LIMIT 1").fetchone() is None

    # ---- writing (each method is one transaction) ------------------------------------

    def mark_pending(self, items: Iterable[Pending], now: float) -> None:
        """Record that the store is about to place these messages at their targets."""
        self._each(
            "INSERT INTO messages(uid, status, first_seen, target, size) VALUES (?, 'pending', ?, ?, ?) "
            "ON CONFLICT(uid) DO UPDATE SET status = 'pending', target = excluded.target, size = excluded.size",
            [(p.uid, now, p.target, p.size) for p in items],
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
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
