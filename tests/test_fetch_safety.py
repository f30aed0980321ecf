"""fetch safety against hostile servers and broken local storage (issue 12).

- a server that lists one UIDL for two different messages: both are saved,
  neither is deleted, and a second run saves nothing twice;
- a full disk (a small tmpfs), a read-only Maildir, a Maildir path under a
  plain file: no partial file is left, and "nothing could be stored" is exit 2.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import trustme

from pop3doctor.endpoint import Endpoint, Security
from pop3doctor.lab import LabServer
from pop3doctor.lab.faults import Conn
from pop3doctor.lab.scenarios import get_scenario
from pop3doctor.lab.server import LAB_PASSWORD
from pop3doctor.sync.engine import Account, FetchOptions, fetch_account
from pop3doctor.sync.maildir import MaildirStore
from support.messages import make_message, message_id


def _account(lab: LabServer, ca: Path) -> Account:
    lab.write_ca(ca)
    return Account(Endpoint("127.0.0.1", lab.tls_port, Security.SSL, "alice", ca_file=str(ca)))


def _ids(root: Path) -> list[str]:
    return sorted(message_id(p.read_bytes()) for p in (root / "new").iterdir())


async def _uidl_of_1_for_2(conn: Conn, verb: str, args: list[str]) -> bool:
    """UIDL as a server that derives it from the headers: message 2 gets message 1's id."""
    first = conn.message("1")
    if verb != "UIDL" or first is None:
        return False
    lines, n = ["+OK"], 1
    while (message := conn.message(str(n))) is not None:
        uid = first.uid if n == 2 else message.uid
        if not args or args == [str(n)]:
            lines.append(f"{n} {uid}")
        n += 1
    if args:
        await conn.send_line("+OK " + lines[1] if len(lines) > 1 else "-ERR no such message")
        return True
    for line in [*lines, "."]:
        await conn.send_line(line)
    return True


def _duplicate_uidl_lab(msgs: list[bytes], ca: trustme.CA, **kwargs: object) -> LabServer:
    scenario = dataclasses.replace(get_scenario("healthy"), name="dup-uidl", on_transaction=_uidl_of_1_for_2)
    return LabServer(scenario, messages=msgs, ca=ca, **kwargs)  # type: ignore[arg-type]


async def test_two_messages_with_one_uidl_are_both_saved_and_neither_deleted(
    trustme_ca: trustme.CA, tmp_path: Path
) -> None:
    msgs = [make_message(i, 2000 + 100 * i) for i in range(3)]
    store = MaildirStore(tmp_path / "M")
    delete = FetchOptions(delete="delete")
    async with _duplicate_uidl_lab(msgs, trustme_ca) as lab:
        account = _account(lab, tmp_path / "ca.pem")
        first = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s", delete)
        assert [m.deleted for m in lab.mailbox] == [False, False, True]
        assert (first.fetched, first.deleted, first.duplicate_uidl, first.exit_code) == (3, 1, 2, 0)
        assert "duplicate-uidl" in [n.code for n in first.notes]
    assert _ids(tmp_path / "M") == sorted(message_id(m) for m in msgs)

    # The next session: both still there with the same shared UIDL; nothing is saved twice.
    async with _duplicate_uidl_lab(msgs[:2], trustme_ca, tls_port=account.endpoint.port) as lab:
        again = await fetch_account(account, LAB_PASSWORD, store, tmp_path / "s", delete)
        assert (again.fetched, again.deleted, again.duplicate_uidl_already_saved) == (0, 0, 2)
        assert [m.deleted for m in lab.mailbox] == [False, False]
    assert _ids(tmp_path / "M") == sorted(message_id(m) for m in msgs)


async def test_the_cli_says_the_duplicate_uidl_messages_were_kept(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    msgs = [make_message(i, 1500) for i in range(2)]
    async with _duplicate_uidl_lab(msgs, trustme_ca) as lab:
        lab.write_ca(tmp_path / "ca.pem")
        args = ["--host", "127.0.0.1", "--port", str(lab.tls_port), "--security", "ssl", "--user", "alice",
                "--ca-file", str(tmp_path / "ca.pem"), "--password-env", "P", "--maildir", str(tmp_path / "M"),
                "--state", str(tmp_path / "s"), "--delete"]
        outputs = []
        for extra in (["--lang", "en"], ["--json"]):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "pop3doctor", "fetch", *args, *extra,
                env={"P": LAB_PASSWORD, "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            outputs.append(out.decode())
        assert [m.deleted for m in lab.mailbox] == [False, False]
    assert "2 message(s) share their UIDL with another message" in outputs[0]
    report = json.loads(outputs[1])
    assert (report["fetched"], report["duplicate_uidl"], report["duplicate_uidl_already_saved"]) == (0, 2, 2)
    assert len(_ids(tmp_path / "M")) == 2


# --- a destination that is full, read-only or not a directory ----------------------------------

#: Runs inside ``unshare -m`` (a private mount namespace): mounts ``argv[1]``'s
#: file system, runs ``fetch`` with the rest of argv, and prints what fetch said
#: together with what is left in the Maildir (the mount dies with the namespace).
_IN_NAMESPACE = r"""
import json, os, subprocess, sys
mount, maildir, *fetch = sys.argv[1:]
subprocess.run(mount, shell=True, check=True)
done = subprocess.run([sys.executable, "-m", "pop3doctor", "fetch", *fetch], capture_output=True, text=True)
left = {sub: sorted(os.listdir(os.path.join(maildir, sub))) for sub in ("tmp", "new")
        if os.path.isdir(os.path.join(maildir, sub))}
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr, "left": left}))
"""


def _fetch_in_namespace(mount: str, maildir: Path, args: list[str]) -> dict[str, Any]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a private mount namespace)")
    done = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", _IN_NAMESPACE, mount, str(maildir), *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "P3D_PW": LAB_PASSWORD},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _cli_args(lab: LabServer, tmp_path: Path, maildir: Path, *extra: str) -> list[str]:
    lab.write_ca(tmp_path / "ca.pem")
    return ["--host", "127.0.0.1", "--port", str(lab.tls_port), "--security", "ssl", "--user", "alice",
            "--ca-file", str(tmp_path / "ca.pem"), "--password-env", "P3D_PW", "--maildir", str(maildir),
            "--state", str(tmp_path / "state"), "--json", "--delete", *extra]


@pytest.mark.parametrize(("sizes", "fetched", "code"), [((300_000,), 0, 2), ((20_000, 300_000), 1, 1)])
def test_disk_full_leaves_no_partial_file_in_tmp(
    trustme_ca: trustme.CA, tmp_path: Path, sizes: tuple[int, ...], fetched: int, code: int
) -> None:
    """A 256 KiB tmpfs: a 300 KB message hits ENOSPC mid-RETR (and again in the close's flush)."""
    small = tmp_path / "small"
    small.mkdir()
    msgs = [make_message(i, size) for i, size in enumerate(sizes)]
    with LabServer("healthy", messages=msgs, ca=trustme_ca).run_in_thread() as lab:
        args = _cli_args(lab, tmp_path, small / "M", "--window", "1")
        result = _fetch_in_namespace(f"mount -t tmpfs -o size=256k tmpfs {small}", small / "M", args)
        assert not any(m.deleted for m in lab.mailbox)
    report = json.loads(result["out"])
    assert (result["rc"], report["fetched"], report["error"]["cause"]) == (code, fetched, "local-storage")
    assert "No space left on device" in report["error"]["detail"]
    assert result["left"]["tmp"] == []  # no partial file
    assert len(result["left"]["new"]) == fetched


def test_read_only_maildir_and_maildir_under_a_file_both_exit_2(trustme_ca: trustme.CA, tmp_path: Path) -> None:
    maildir = tmp_path / "ro" / "M"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    (tmp_path / "plain").write_text("not a directory")
    with LabServer("healthy", messages=[make_message(0, 3000)], ca=trustme_ca).run_in_thread() as lab:
        ro = _fetch_in_namespace(
            f"mount --bind {maildir.parent} {maildir.parent} && mount -o remount,bind,ro {maildir.parent}",
            maildir, _cli_args(lab, tmp_path, maildir),
        )
        under_file = subprocess.run(
            [sys.executable, "-m", "pop3doctor", "fetch", *_cli_args(lab, tmp_path, tmp_path / "plain" / "M")],
            capture_output=True, text=True, timeout=60, env={**os.environ, "P3D_PW": LAB_PASSWORD},
        )
        assert not any(m.deleted for m in lab.mailbox)
    for rc, out in ((ro["rc"], ro["out"]), (under_file.returncode, under_file.stdout)):
        report = json.loads(out)
        assert (rc, report["fetched"], report["error"]["cause"], report["error"]["stage"]) == (
            2, 0, "local-storage", "prepare"
        )
    assert ro["left"] == {"tmp": [], "new": []}
