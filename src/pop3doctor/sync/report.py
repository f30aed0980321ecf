"""The outcome of fetching one account: counts, failures, the cause of a stop.

Front ends render it (text in ja/en, or `FetchReport.to_json`); exit codes
come from `FetchReport.exit_code`.  Nothing here ever holds a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pop3doctor.i18n import Lang, Msg, catalog
from pop3doctor.knowledge.causes import CAUSE_CODES, get_cause

_t = catalog("sync")

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_FAILED = 2
EXIT_USAGE = 64

#: Stages in which a failure means nothing could be fetched at all.
_BEFORE_MAILBOX = frozenset({"lock", "prepare", "connect", "login"})


@dataclass(frozen=True, slots=True)
class Note:
    """Something the user should know that is not a failure (e.g. no UIDL on the server)."""

    code: str
    msg: Msg


NO_UIDL = Note("uidl-unavailable", _t.NOTE_UIDL_UNAVAILABLE)
ONLY_NEW_BASELINE = Note("only-new-baseline", _t.NOTE_ONLY_NEW_BASELINE)
RECOVERED = Note("recovered", _t.NOTE_RECOVERED)
DUPLICATE_UIDL = Note("duplicate-uidl", _t.NOTE_DUPLICATE_UIDL)


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
    failed: list[FailedMessage] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    #: Why the run stopped early: a cause code from the knowledge catalogue,
    #: or "locked" / "local-storage" (local conditions with their own text).
    stop_cause: str | None = None
    stop_stage: str | None = None
    stop_detail: str | None = None
    elapsed_s: float = 0.0
    #: host, port, security, user: fills the cause catalogue's placeholders.
    settings: dict[str, object] = field(default_factory=dict)

    def stop(self, cause: str, stage: str, detail: str) -> None:
        self.stop_cause, self.stop_stage, self.stop_detail = cause, stage, detail

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
        if self.stop_cause == "local-storage" and self.fetched == 0 and self.recovered == 0:
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
        if self.stop_cause in CAUSE_CODES:
            return get_cause(self.stop_cause).title(lang)
        return self.stop_cause

    def to_json(self, lang: Lang) -> dict[str, object]:
        return {
            "account": self.account,
            "destination": self.destination,
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
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
            "failed": [{"msgnum": f.msgnum, "uid": f.uid, "cause": f.cause, "detail": f.detail} for f in self.failed],
            "notes": [{"code": n.code, "message": n.msg(lang)} for n in self.notes],
            "error": None
            if self.stop_cause is None
            else {
                "cause": self.stop_cause,
                "stage": self.stop_stage,
                "message": self.stop_message(lang),
                "detail": self.stop_detail,
            },
            "elapsed_s": round(self.elapsed_s, 3),
        }
