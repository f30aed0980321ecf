"""fetch against the lab server: no UIDL (header-hash fallback), one message
refused by the server, a second run of the same account while one holds the lock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trustme

from pop3doctor.endpoint import Endpoint, Security
from pop3doctor.lab import LabServer
from pop3doctor.lab.faults import Conn
from pop3doctor.lab.scenarios import get_scenario
from pop3doctor.lab.server import LAB_PASSWORD
from pop3doctor.sync.engine import Account, FetchOptions, fetch_account, state_paths
from pop3doctor.sync.lock import FileLock
from pop3doctor.sync.maildir import MaildirStore
from support.messages import make_message, message_id


def _account(lab: LabServer, ca: Path) -> Account:
    lab.write_ca(ca)
    return Account(Endpoint("127.0.0.1", lab.tls_port, Security.SSL, "alice", ca_file=str(ca)))


def _ids(root: Path) -> list[str]:
    return sorted(message_id(p.read_bytes()) for p in (root / "new").iterdir())


async def _no_uidl(conn: Conn, verb: str, args: list[str]) -> bool:
    if verb == "UIDL":
        await conn.send_line("-ERR Unknown command: UIDL")
        return True
    return False


async def _refuse_second(conn: Conn, verb: str, args: list[str]) -> bool:
    if verb == "RETR" and args == ["2"]:
        await conn.send_line("-ERR [SYS/TEMP] Message is locked, try later")
        return True
    return False


async def test_without_uidl_messages_are_told_apart_by_header_hash(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 3000) for i in range(4)]
    scenario = dataclasses.replace(get_scenario("healthy"), name="no-uidl", on_transaction=_no_uidl)
    store = MaildirStore(tmp_path / "M")
    async with LabServer(scenario, messages=msgs, ca=trustme_ca) as lab:
        account = _account(lab, tmp_path / "ca.pem")
        first = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s")
        assert (first.uid_source, first.fetched, first.exit_code) == ("header-hash", 4, 0)
        assert [n.code for n in first.notes] == ["uidl-unavailable"]
        again = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s", FetchOptions(delete="delete"))
        assert (again.fetched, again.deleted) == (0, 4)
    assert _ids(tmp_path / "M") == sorted(message_id(m) for m in msgs)


async def test_a_refused_message_is_reported_kept_and_fetched_later(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 2500) for i in range(3)]
    scenario = dataclasses.replace(get_scenario("healthy"), name="refuse-2", on_transaction=_refuse_second)
    store = MaildirStore(tmp_path / "M")
    async with LabServer(scenario, messages=msgs, ca=trustme_ca) as lab:
        account = _account(lab, tmp_path / "ca.pem")
        report = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s", FetchOptions(delete="delete"))
        assert (report.fetched, report.deleted, report.exit_code) == (2, 2, 1)
        (failed,) = report.failed
        assert (failed.msgnum, failed.cause) == (2, "server-temporary-error")
        assert [m.deleted for m in lab.mailbox] == [True, False, True]  # the refused one stays
    async with LabServer("healthy", messages=[msgs[1]], ca=trustme_ca, tls_port=account.endpoint.port) as lab:
        later = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s", FetchOptions(delete="delete"))
        assert (later.fetched, later.exit_code) == (1, 0)
    assert _ids(tmp_path / "M") == sorted(message_id(m) for m in msgs)


async def test_second_run_of_the_same_account_is_refused_while_locked(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    async with LabServer("healthy", ca=trustme_ca) as lab:
        account = _account(lab, tmp_path / "ca.pem")
        _, lock_path = state_paths(tmp_path / "s", account)
        with FileLock(lock_path):
            report = await fetch_account(account, LAB_PASSWORD, MaildirStore(tmp_path / "M"), tmp_path / "s")
        assert (report.stop_cause, report.exit_code) == ("locked", 2)
        assert "Another fetch" in (report.stop_message("en") or "")
        assert lab.connections_seen == 0  # refused before touching the server
