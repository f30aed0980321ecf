"""The outcome of fetching one account: counts, failures, the cause of a stop.

Front ends render it (text in ja/en, or `FetchReport.to_json`); exit codes
come from `FetchReport.exit_code`.  Nothing here ever holds a password.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from pop3doctor.i18n import Lang, Msg, catalog
from pop3doctor.knowledge.causes import CAUSE_CODES, get_cause

_t = catalog("sync")

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FAILED = 2
EXIT_USAGE = 64

#: Stages in which a failure means nothing could be fetched at all.
_BEFORE_MAILBOX = frozenset({"lock", "state", "prepare", "connect", "login"})

#: Local stops with their own text (`FetchReport.stop_message`), not knowledge causes.
STATE_DAMAGED = "state-damaged"
STATE_UNWRITABLE = "state-unwritable"
MBOX_LOCKED = "mbox-locked"

#: What the run came to, in one word (``outcome`` in JSON):
#: "fetched" -- at least one message saved (or found saved, in a rebuild);
#: "no-new-messages" -- the mailbox was read and nothing needed fetching;
#: "nothing-fetched" -- something was to be fetched, or the run stopped before
#: it could tell, and nothing was saved; "dry-run" -- nothing was meant to be saved.
Outcome = Literal["fetched", "no-new-messages", "nothing-fetched", "dry-run"]


@dataclass(frozen=True, slots=True)
class Note:
    """Something the user should know that is not a failure (e.g. no UIDL on the server)."""

    code: str
    msg: Msg


NO_UIDL = Note("uidl-unavailable", _t.NOTE_UIDL_UNAVAILABLE)
ONLY_NEW_BASELINE = Note("only-new-baseline", _t.NOTE_ONLY_NEW_BASELINE)
RECOVERED = Note("recovered", _t.NOTE_RECOVERED)
DUPLICATE_UIDL = Note("duplicate-uidl", _t.NOTE_DUPLICATE_UIDL)


@dataclass(frozen=True, slots=True)
class SavedElsewhere:
    """Messages on the server that an earlier run delivered to another destination."""

    destination: str
    count: int
    last_at: float  # Unix time of the latest such delivery

    def last_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.last_at))


@dataclass(slots=True)
class FailedMessage:
    msgnum: int
    uid: str | None
    cause: str
    detail: str  # the server's status line or a short error, never a secret


@dataclass
class FetchReport:
    account: str
    destination: str
    dry_run: bool = False
    uid_source: str | None = None  # "uidl" | "header-hash"
    on_server: int = 0
    new: int = 0
    fetched: int = 0
    fetched_octets: int = 0
    skipped_too_large: int = 0
    marked_seen: int = 0
    recovered: int = 0
    deleted: int = 0
    would_fetch: int = 0
    would_delete: int = 0
    #: Messages whose UIDL the server lists for another message too: fetched
    #: by number, saved once per content, never deleted.
    duplicate_uidl: int = 0
    #: Of those, how many had content already saved (nothing written).
    duplicate_uidl_already_saved: int = 0
    #: Delivered earlier to another destination and fetched again (``--refetch``).
    refetched: int = 0
    #: Delivered earlier to another destination, not fetched again (the hint names them).
    saved_elsewhere: list[SavedElsewhere] = field(default_factory=list)
    #: After a state rebuild: messages found already in the destination (not stored again).
    rebuilt: int = 0
    #: Where the damaged state file was moved (``--rebuild-state``), and why it was damaged.
    state_set_aside: str | None = None
    state_damage: str | None = None
    #: ``--lock-wait`` of the run, for the mbox-locked message.
    lock_wait: float = 0.0
    failed: list[FailedMessage] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Why the run stopped early: a cause code from the knowledge catalogue,
    #: or "locked" / "local-storage" (local conditions with their own text).
    stop_cause: str | None = None
    stop_stage: str | None = None
    stop_detail: str | None = None
    #: Named fields of a local stop's text (path, holder ...).
    stop_fields: dict[str, object] = field(default_factory=dict)
    elapsed_s: float = 0.0
    #: host, port, security, user: fills the cause catalogue's placeholders.
    settings: dict[str, object] = field(default_factory=dict)

    def stop(self, cause: str, stage: str, detail: str, **fields: object) -> None:
        self.stop_cause, self.stop_stage, self.stop_detail = cause, stage, detail
        self.stop_fields = fields

    @property
    def outcome(self) -> Outcome:
        if self.dry_run:
            return "dry-run"
        if self.fetched or self.recovered or self.rebuilt:
            return "fetched"
        # A clean run that read the mailbox, left nothing behind on purpose and saved nothing:
        # everything there was had been fetched before (or was only recorded as seen).
        clean = self.stop_cause is None and not self.failed and self.uid_source is not None
        return "no-new-messages" if clean and not self.skipped_too_large else "nothing-fetched"

    @property
    def exit_code(self) -> int:
        """0 all done; 2 could not fetch at all; 1 anything in between.

        "Could not fetch at all": the run stopped before reaching the mailbox
        (lock, local preparation, connection, login), or the destination was
        unusable (a local-storage stop: read-only, full, not a directory)
        before a single message was stored.
        """
        if self.stop_cause is not None and self.stop_stage in _BEFORE_MAILBOX:
            return EXIT_FAILED
        # The state could not keep its record: whatever was saved, the user must act.
        if self.stop_cause in (STATE_DAMAGED, STATE_UNWRITABLE):
            return EXIT_FAILED
        if self.stop_cause in ("local-storage", MBOX_LOCKED) and self.fetched == 0 and self.recovered == 0:
            return EXIT_FAILED
        if self.stop_cause is not None or self.failed:
            return EXIT_PARTIAL
        return EXIT_OK

    def stop_message(self, lang: Lang) -> str | None:
        """The stop reason as one line in ``lang`` (title of the cause), or None."""
        if self.stop_cause is None:
            return None
        if self.stop_cause == "locked":
            return _t.STOP_LOCKED(lang, path=self.stop_detail)
        if self.stop_cause == "local-storage":
            return _t.STOP_LOCAL_STORAGE(lang, detail=self.stop_detail)
        fields = self.stop_fields
        if self.stop_cause == STATE_DAMAGED:
            return _t.STOP_STATE_DAMAGED(lang, path=fields.get("path"), why=self.stop_detail, dest=self.destination)
        if self.stop_cause == STATE_UNWRITABLE:
            return _t.STOP_STATE_UNWRITABLE(lang, path=fields.get("path"), why=self.stop_detail)
        if self.stop_cause == MBOX_LOCKED:
            return _t.STOP_MBOX_LOCKED(
                lang, path=fields.get("path"), seconds=f"{self.lock_wait:g}", holder=self.lock_holder(lang)
            )
        if self.stop_cause in CAUSE_CODES:
            return get_cause(self.stop_cause).title(lang)
        return self.stop_cause

    def lock_holder(self, lang: Lang) -> str:
        """Who may hold the mbox lock, in words (from the stop's fields)."""
        fields = self.stop_fields
        if fields.get("kind") == "dotlock":
            lock = f"{fields.get('path')}.lock"
            return _t.MBOX_LOCK_HOLDER_DOTLOCK(lang, path=lock, holder=fields.get("holder") or "?")
        return _t.MBOX_LOCK_HOLDER_FCNTL(lang)

    def to_json(self, lang: Lang) -> dict[str, object]:
        return {
            "account": self.account,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "outcome": self.outcome,
            "uid_source": self.uid_source,
            "on_server": self.on_server,
            "new": self.new,
            "fetched": self.fetched,
            "fetched_octets": self.fetched_octets,
            "skipped_too_large": self.skipped_too_large,
            "marked_seen": self.marked_seen,
            "recovered": self.recovered,
            "deleted": self.deleted,
            "would_fetch": self.would_fetch,
            "would_delete": self.would_delete,
            "duplicate_uidl": self.duplicate_uidl,
            "duplicate_uidl_already_saved": self.duplicate_uidl_already_saved,
            "refetched": self.refetched,
            "saved_elsewhere": [
                {"destination": s.destination, "count": s.count, "last_delivered_at": round(s.last_at, 3)}
                for s in self.saved_elsewhere
            ],
            "rebuilt": self.rebuilt,
            "state_set_aside": self.state_set_aside,
            "failed": [{"msgnum": f.msgnum, "uid": f.uid, "cause": f.cause, "detail": f.detail} for f in self.failed],
            "notes": [{"code": n.code, "message": n.msg(lang)} for n in self.notes],
            "error": None
            if self.stop_cause is None
            else {
                "cause": self.stop_cause,
                "stage": self.stop_stage,
                "message": self.stop_message(lang),
                "detail": self.stop_detail,
                **{k: v for k, v in self.stop_fields.items() if k in ("path", "kind", "holder")},
            },
            "elapsed_s": round(self.elapsed_s, 3),
        }
