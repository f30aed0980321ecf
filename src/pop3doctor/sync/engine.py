"""Fetch one account into a store: the steps, the batching, the deletion rule.

`fetch_account` is the whole job for one account; it never raises for
network, server or disk trouble -- those end up in the returned
`FetchReport` with a cause code -- so a front end can render any outcome.

Local conditions have named stops (`pop3doctor.sync.errors`): a damaged
state is refused (``state-damaged``) unless ``rebuild_state`` is set, which
sets the file aside and matches the server's messages against what the
destination already holds (`pop3doctor.sync.rebuild`); a state that cannot
be written stops the run before any DELE (``state-unwritable``); an mbox that
another program keeps locked is reported before connecting (``mbox-locked``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pop3doctor.client import Pop3Client
from pop3doctor.endpoint import Endpoint
from pop3doctor.errors import Pop3DoctorError, ServerError
from pop3doctor.knowledge.evidence import cause_for_refused_login
from pop3doctor.net.errors import NetError
from pop3doctor.net.timeouts import Timeouts
from pop3doctor.protocol.errors import LocalProtocolError
from pop3doctor.sync.causes import cause_for
from pop3doctor.sync.errors import MboxLocked, StateDamaged, StateUnwritable
from pop3doctor.sync.lock import FileLock, LockBusy
from pop3doctor.sync.mbox import LOCK_WAIT_SECONDS
from pop3doctor.sync.rebuild import ContentIndex, content_index, staged_digest
from pop3doctor.sync.report import (
    DUPLICATE_UIDL,
    NO_UIDL,
    ONLY_NEW_BASELINE,
    RECOVERED,
    FailedMessage,
    FetchReport,
    SavedElsewhere,
)
from pop3doctor.sync.state import Known, Pending, UidlState
from pop3doctor.sync.store import MessageWriter, Staged, Store

DeleteMode = Literal["keep", "delete", "after-days"]

#: A batch is placed (and its state committed) after this many messages or
#: octets, whichever comes first: few enough that a crash re-fetches little,
#: many enough that the two commits and one directory fsync per batch cost
#: little next to the per-message file fsync.
BATCH_MESSAGES = 32
BATCH_OCTETS = 16 * 1024 * 1024


@dataclass(frozen=True)
class Account:
    """Where and as whom to fetch (``endpoint``), and how to reach it; ``name`` labels reports."""

    endpoint: Endpoint
    timeouts: Timeouts = field(default_factory=Timeouts)
    name: str | None = None
    nameservers: list[str] | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.endpoint.user}@{self.endpoint.host}"

    @property
    def state_key(self) -> str:
        """A file-name-safe key for user and host.

        Not the port or security mode: switching from 995 to STARTTLS on 110
        reaches the same mailbox, and a new state would fetch it all again.
        """
        ident = f"{self.endpoint.user}@{self.endpoint.host.lower()}"
        safe = "".join(c if c.isalnum() or c in "@.-_" else "_" for c in ident)[:80]
        return f"{safe}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class FetchOptions:
    delete: DeleteMode = "keep"
    delete_after_days: float = 0.0
    only_new: bool = False
    max_size: int | None = None
    dry_run: bool = False
    window: int | None = None  # None: the client's default (pipelined when offered)
    batch_messages: int = BATCH_MESSAGES
    batch_octets: int = BATCH_OCTETS
    #: A damaged state: set it aside and rebuild it from the destination (else refuse).
    rebuild_state: bool = False
    #: Fetch again the messages the state says were delivered to another destination.
    refetch: bool = False
    #: Seconds to wait for another program's mbox lock (before connecting, and per append).
    lock_wait: float = LOCK_WAIT_SECONDS


class Progress(Protocol):
    def start(self, messages: int, octets: int) -> None: ...

    def advance(self, octets: int) -> None: ...

    def message_done(self) -> None: ...


#: Told once when the mbox lock is still busy after `LOCK_NOTICE_AFTER` seconds: (who holds it, how long we wait).
LockWaitNotice = Callable[[MboxLocked, float], None]
LOCK_NOTICE_AFTER = 0.5
_LOCK_POLL = 0.1


class _NoProgress:
    def start(self, messages: int, octets: int) -> None:
        pass

    def advance(self, octets: int) -> None:
        pass

    def message_done(self) -> None:
        pass


def state_paths(state_dir: Path, account: Account) -> tuple[Path, Path]:
    """The account's (database, lock file) paths under ``state_dir``."""
    return state_dir / f"{account.state_key}.sqlite3", state_dir / f"{account.state_key}.lock"


async def header_uid(client: Pop3Client, msgnum: int, size: int) -> str:
    """A stand-in unique id when the server has no UIDL: hash of ``TOP n 0`` and the size."""
    headers = await client.top(msgnum, 0)
    digest = hashlib.sha256(headers.replace(b"\r\n", b"\n") + b"\0" + str(size).encode())
    return "hdr:" + digest.hexdigest()


async def fetch_account(
    account: Account,
    password: str,
    store: Store,
    state_dir: Path,
    options: FetchOptions | None = None,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.time,
    on_lock_wait: LockWaitNotice | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> FetchReport:
    """Fetch ``account`` into ``store``; the outcome (never an exception) is the report.

    ``on_stage`` is told each stage as the run enters it (connect, login,
    list, retrieve, delete, quit).  A cancellation (Ctrl-C) is the one thing
    that propagates; what the stage then was tells the front end what it
    means -- in "quit" the server may already commit this run's deletions.
    """
    options = options or FetchOptions()
    started = time.monotonic()
    report = FetchReport(account=account.label, destination=str(store.location), dry_run=options.dry_run)
    report.lock_wait = options.lock_wait
    report.settings = account.endpoint.public()
    db_path, lock_path = state_paths(state_dir, account)
    lock = FileLock(lock_path)
    if not options.dry_run:
        try:
            lock.acquire()
        except LockBusy:
            report.stop("locked", "lock", str(lock_path))
            return report
        except OSError as exc:
            # The lock file lives beside the state: a read-only or full state directory.
            report.stop(StateUnwritable.code, "state", exc.strerror or str(exc), path=str(lock_path))
            report.elapsed_s = time.monotonic() - started
            return report
    try:
        opened = _open_state(db_path, store, options, report, clock)
        if opened is not None:
            state, index = opened
            with state:
                run = _Run(account, password, store, state, options, progress or _NoProgress(), clock, report, on_stage)
                run.index = index
                run.on_lock_wait = on_lock_wait
                await run.go()
    except (StateDamaged, StateUnwritable) as exc:
        report.stop(exc.code, "state", exc.why, path=str(exc.path))
    except OSError as exc:
        report.stop("local-storage", "prepare", _os_detail(exc))
    finally:
        lock.release()
        report.elapsed_s = time.monotonic() - started
    return report


def _open_state(
    db_path: Path, store: Store, options: FetchOptions, report: FetchReport, clock: Callable[[], float]
) -> tuple[UidlState, ContentIndex | None] | None:
    """The open state, and (after a rebuild) the destination's content index; None when refused."""
    try:
        return UidlState(db_path, readonly=options.dry_run, destination_has_mail=store.has_mail()).open(), None
    except StateDamaged as exc:
        if not options.rebuild_state or options.dry_run:
            report.stop(exc.code, "state", exc.why, path=str(exc.path))
            return None
        damaged = exc
    report.state_set_aside = str(UidlState(db_path).set_aside(clock()))
    report.state_damage = damaged.why
    index = content_index(store.kind, store.location)
    return UidlState(db_path).open(), index


def _os_detail(exc: OSError) -> str:
    return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")


def content_key(uid: str, digest: str) -> str:
    """The state key of a message whose UIDL the server gives to others too: uid and content."""
    return "dup:" + hashlib.sha256(f"{uid}\0{digest}".encode()).hexdigest()


class _Sink:
    """The `MessageSink` for one RETR: feeds the store's writer and the progress bar.

    With ``ambiguous`` (the server lists the message's UIDL for other
    messages too) the wire bytes are hashed, and the message is recorded
    under `content_key` -- or dropped when that content is already saved.
    """

    def __init__(self, run: _Run, writer: MessageWriter, ambiguous: bool = False) -> None:
        self.run = run
        self.writer = writer
        self.hash = hashlib.sha256() if ambiguous else None

    def write(self, data: bytes) -> None:
        self.writer.write(data)
        if self.hash is not None:
            self.hash.update(data)
        self.run.progress.advance(len(data))

    def close(self) -> None:
        self.writer.close()
        staged = self.writer.staged
        if staged is not None and self.hash is not None:
            staged = self.run.rekey(staged, content_key(staged.uid, self.hash.hexdigest()))
        if staged is not None:
            self.run.staged(staged)
        self.run.progress.message_done()

    def abort(self) -> None:
        self.writer.abort()


class _Run:
    def __init__(
        self,
        account: Account,
        password: str,
        store: Store,
        state: UidlState,
        options: FetchOptions,
        progress: Progress,
        clock: Callable[[], float],
        report: FetchReport,
        on_stage: Callable[[str], None] | None = None,
    ) -> None:
        self.account = account
        self.password = password
        self.store = store
        self.state = state
        self.options = options
        self.progress = progress
        self.clock = clock
        self.report = report
        self.on_stage = on_stage
        self.batch: list[Staged] = []
        self.batch_octets = 0
        self.uids: Mapping[int, str] = {}
        self.sizes: Mapping[int, int] = {}
        #: Message numbers whose UIDL the server also lists for another message.
        self.ambiguous: set[int] = set()
        #: Content keys of ambiguous messages staged in this run.
        self.claimed_keys: set[str] = set()
        self.seen_at = clock()
        #: Where this run delivers, as recorded per message in the state.
        self.destination = str(store.location.expanduser().resolve())
        #: Set after a state rebuild: the destination's messages by content.
        self.index: ContentIndex | None = None
        #: Messages found already in the destination during a rebuild, to record in the next flush.
        self.adopted: list[Pending] = []
        self.on_lock_wait: LockWaitNotice | None = None

    # ---- the steps ---------------------------------------------------------------------

    async def go(self) -> None:
        if not self.options.dry_run:
            self.store.prepare()
            try:
                await self._wait_for_lock()
                self._reconcile()  # takes the lock too (mbox): another program may have been quicker
            except MboxLocked as exc:
                self._stop_locked(exc, "lock")
                return
        client = Pop3Client.from_endpoint(
            self.account.endpoint, timeouts=self.account.timeouts, nameservers=self.account.nameservers
        )
        stage = self._enter("connect")
        try:
            await client.connect()
            stage = self._enter("login")
            auth = self.account.endpoint.auth
            # The mail program's own method: "auto" is the normal password (issue 13 item 1).
            await client.login(self.account.endpoint.user, self.password, mechanism=None if auth == "auto" else auth)
            stage = self._enter("list")
            to_fetch = await self._plan(client)
            stage = self._enter("retrieve")
            if to_fetch and not self.options.dry_run:
                await client.retrieve_many(
                    to_fetch, self._open_sink, window=self.options.window, on_error=self._on_error, listed=self.sizes
                )
            self._flush()
            stage = self._enter("delete")
            deletable = self._deletable()
            if self.options.dry_run:
                self.report.would_delete = len(deletable)
                deletable = []
            accepted = await client.dele_many(deletable) if deletable else []
            # Told before QUIT is written (no await in between): from here on
            # an interrupt cannot promise that the server deletes nothing.
            stage = self._enter("quit")
            await client.quit()
            # QUIT's +OK is the server's promise that the deletions are done.
            if accepted:
                self.report.deleted = len(accepted)  # done on the server even if the next write fails
                self.state.mark_deleted({self.uids[n] for n in accepted}, self.clock())
        except LocalProtocolError:
            # Our own misuse of the protocol is a bug to show, not a verdict about the server.
            self._salvage()
            raise
        except (StateDamaged, StateUnwritable) as exc:
            # No DELE, no QUIT: nothing is deleted whose delivery the state could not record.
            self._salvage()
            self.report.stop(exc.code, stage, exc.why, path=str(exc.path))
        except MboxLocked as exc:
            self._salvage()
            self._stop_locked(exc, stage)
        except Pop3DoctorError as exc:
            self._salvage()
            cause = cause_for(exc, stage)
            if stage == "login":
                cause = cause_for_refused_login(cause, self.account.endpoint.auth)
            self.report.stop(cause, stage, _detail(exc))
        except OSError as exc:
            self._salvage()
            self.report.stop("local-storage", stage, _os_detail(exc))
        except BaseException:
            # Cancelled or interrupted (Ctrl-C): keep what is complete.
            self._salvage()
            raise
        finally:
            await client.aclose()

    async def _wait_for_lock(self) -> None:
        """Before connecting: wait (polling, so Ctrl-C cancels at once) until the store's lock is free."""
        started = time.monotonic()
        wait = self.options.lock_wait
        told = False
        while (locked := self.store.probe_lock()) is not None:
            waited = time.monotonic() - started
            if waited >= wait:
                raise MboxLocked(locked.path, wait, locked.kind, locked.holder)
            if not told and waited >= LOCK_NOTICE_AFTER and self.on_lock_wait is not None:
                self.on_lock_wait(locked, wait)
                told = True
            await asyncio.sleep(min(_LOCK_POLL, wait - waited))

    def _stop_locked(self, exc: MboxLocked, stage: str) -> None:
        self.report.stop(
            exc.code, stage, str(exc), path=str(exc.path), kind=exc.kind, holder=exc.holder or "", seconds=exc.waited
        )

    def _enter(self, stage: str) -> str:
        if self.on_stage is not None:
            self.on_stage(stage)
        return stage

    def _reconcile(self) -> None:
        """Settle the pending rows a killed run left (see `pop3doctor.sync`)."""
        pending = self.state.pending()
        if not pending:
            return
        present = self.store.reconcile(pending)
        if present:
            self.state.mark_delivered(present, self.clock())
            self.report.recovered = len(present)
            self.report.notes.append(RECOVERED)
        absent = [p.uid for p in pending if p.uid not in present]
        if absent:
            self.state.forget(absent)

    async def _plan(self, client: Pop3Client) -> list[int]:
        """UIDL (one listing), compare with the state, and decide what to fetch."""
        uids: Mapping[int, str] | None = await client.uidl()
        sizes: Mapping[int, int] | None = None
        if uids is None:
            sizes = await client.list()
            self.report.uid_source = "header-hash"
            self.report.notes.append(NO_UIDL)
            uids = {n: await header_uid(client, n, size) for n, size in sorted(sizes.items())}
        else:
            self.report.uid_source = "uidl"
        self.uids = uids
        self.report.on_server = len(uids)
        new = self._new_messages(uids)
        self.report.new = len(new)
        if not new:
            return []
        if sizes is None:
            sizes = await client.list()
        if self.options.max_size is not None:
            limit = self.options.max_size
            big = [n for n in new if sizes.get(n, 0) > limit]
            self.report.skipped_too_large = len(big)
            new = [n for n in new if sizes.get(n, 0) <= limit]
        self.sizes = sizes
        self.report.would_fetch = len(new)
        self.progress.start(len(new), sum(sizes.get(n, 0) for n in new))
        return new

    def _new_messages(self, uids: Mapping[int, str]) -> list[int]:
        """The message numbers to fetch, and the ``--only-new`` baseline.

        A UIDL the server lists for several messages (RFC 1939 says it must
        not; some servers hash the headers only) cannot tell them apart: each
        such message is fetched by number every run, saved once per content
        (`content_key`) and never deleted.
        """
        counts = Counter(uids.values())
        self.ambiguous = {n for n, uid in uids.items() if counts[uid] > 1}
        if self.ambiguous:
            self.report.duplicate_uidl = len(self.ambiguous)
            self.report.notes.append(DUPLICATE_UIDL)
        known = self.state.known()
        new: list[int] = []
        elsewhere: dict[str, list[Known]] = {}
        for msgnum in sorted(uids):
            entry = known.get(uids[msgnum])
            if msgnum in self.ambiguous:
                if entry is None or entry.status != "skipped":
                    new.append(msgnum)
            elif entry is None:
                new.append(msgnum)
            elif self._delivered_elsewhere(entry):
                if self.options.refetch:
                    new.append(msgnum)
                    self.report.refetched += 1
                else:
                    elsewhere.setdefault(entry.destination or "", []).append(entry)
        self.report.saved_elsewhere = sorted(
            (
                SavedElsewhere(dest, len(entries), max((e.delivered_at or e.first_seen) for e in entries))
                for dest, entries in elsewhere.items()
            ),
            key=lambda saved: (-saved.count, saved.destination),
        )
        if self.options.only_new and not known and new and self.index is None:
            # --only-new on the account's first run: what is there now is the
            # baseline, recorded as seen and never fetched (nor deleted).  Not
            # after a rebuild: the state is empty then, but the account is not new.
            self.report.marked_seen = len(new)
            self.report.notes.append(ONLY_NEW_BASELINE)
            if not self.options.dry_run:
                self.state.mark_skipped(sorted({uids[n] for n in new}), self.seen_at)
            new = []
        return new

    def _delivered_elsewhere(self, entry: Known) -> bool:
        """Delivered by an earlier run to another destination (rows of schema 1 name none: not counted)."""
        return entry.status == "delivered" and entry.destination is not None and entry.destination != self.destination

    def _open_sink(self, msgnum: int) -> _Sink:
        writer = self.store.open_writer(self.uids[msgnum], self.sizes.get(msgnum))
        return _Sink(self, writer, ambiguous=msgnum in self.ambiguous)

    def rekey(self, staged: Staged, key: str) -> Staged | None:
        """``staged`` under its content key, or None (file removed) when that content is saved already."""
        entry = self.state.known_one(key)
        if key in self.claimed_keys or (entry is not None and entry.status == "delivered"):
            self.store.discard([staged])
            self.report.duplicate_uidl_already_saved += 1
            return None
        self.claimed_keys.add(key)
        return dataclasses.replace(staged, uid=key)

    def _on_error(self, msgnum: int, error: ServerError) -> None:
        self.report.failed.append(
            FailedMessage(msgnum, self.uids.get(msgnum), cause_for(error, "retrieve"), str(error.status))
        )
        self.progress.message_done()

    def staged(self, staged: Staged) -> None:
        if self.index is not None and self._adopt(staged):
            return
        self.batch.append(staged)
        self.batch_octets += staged.length
        if len(self.batch) >= self.options.batch_messages or self.batch_octets >= self.options.batch_octets:
            self._flush()

    def _adopt(self, staged: Staged) -> bool:
        """Rebuild: if the destination holds this content already, record it there and drop the copy."""
        assert self.index is not None
        targets = self.index.get(staged_digest(self.store.kind, staged.path))
        if not targets:
            return False
        self.store.discard([staged])
        self.adopted.append(Pending(staged.uid, targets.pop(0), staged.size, self.destination))
        if len(self.adopted) >= self.options.batch_messages:
            self._flush()
        return True

    def _flush(self) -> None:
        """Place the batch: pending rows, then files, then delivered rows."""
        adopted, self.adopted = self.adopted, []
        if adopted:
            # Already durable in the destination: one row each, straight to delivered.
            self.state.mark_pending(adopted, self.seen_at)
            self.state.mark_delivered([a.uid for a in adopted], self.clock())
            self.report.rebuilt += len(adopted)
        batch, self.batch, self.batch_octets = self.batch, [], 0
        if not batch:
            return
        pending: list[Pending] = []

        def record(items: list[Pending]) -> None:
            items = [dataclasses.replace(item, destination=self.destination) for item in items]
            self.state.mark_pending(items, self.seen_at)
            pending.extend(items)

        try:
            self.store.place(batch, record)
        except BaseException:
            # Part of the batch may be in place: settle it now, as the next
            # run would, then let the error stop the run.
            if pending:
                present = self.store.reconcile(pending)
                if present:
                    self.state.mark_delivered(present, self.clock())
                    self.report.fetched += len(present)
                self.state.forget([p.uid for p in pending if p.uid not in present])
            self.store.discard(batch)
            raise
        self.state.mark_delivered([s.uid for s in batch], self.clock())
        self.report.fetched += len(batch)
        self.report.fetched_octets += sum(s.length for s in batch)

    def _salvage(self) -> None:
        """After an error: place what arrived completely; it is good mail."""
        try:
            self._flush()
        except Exception:  # noqa: S110 - the first error is the one to report
            pass

    def _deletable(self) -> list[int]:
        """Messages to DELE: durably delivered, and old enough for ``after-days``."""
        mode = self.options.delete
        if mode == "keep":
            return []
        cutoff = self.clock() - self.options.delete_after_days * 86400 if mode == "after-days" else float("inf")
        known = self.state.known()
        result = []
        for msgnum, uid in sorted(self.uids.items()):
            if msgnum in self.ambiguous:
                continue  # its UIDL does not say which message is on disk
            entry = known.get(uid)
            if entry is not None and entry.status == "delivered" and entry.first_seen <= cutoff:
                result.append(msgnum)
        return result


def _detail(exc: BaseException) -> str:
    """A one-line, secret-free description (server status lines are redacted by the client)."""
    if isinstance(exc, ServerError):
        return str(exc.status)
    if isinstance(exc, NetError):
        return f"{exc.code}: {exc}"
    return f"{type(exc).__name__}: {exc}"
