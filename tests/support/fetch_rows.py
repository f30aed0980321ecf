"""Fetch rows of the server matrix (issue 13): keep, keep, new, delete -- compared with mpop.

One harness for every server fixture that has the `MatrixServer` attributes
(``name``, ``host``, ``user``, ``password``, ``ca_file``, ``ports``; the Dovecot
fixture's ``pop3_port``/``pop3s_port`` stand in for ``ports``) and a
``deliver(list[bytes])`` method.  :func:`fetch_sequence_matches_mpop` runs the
same sequence twice against the same server, once with ``python -m pop3doctor
fetch`` and once with mpop (Debian's ``mpop``), each with a state of its own and
starting from an empty mailbox with the same bytes delivered:

1. deliver :func:`first_batch` (CRLF, lines starting with ``.`` and ``From ``,
   8-bit bodies, an empty body, ~1 MB, no final newline, a long line, LF-only);
   keep: every message stored once, all still on the server;
2. keep again: nothing stored, nothing stored before is changed;
3. deliver :func:`second_batch`; keep (pop3doctor with ``--only-new``, mpop's
   ``only_new`` is on): exactly the new ones stored;
4. deliver :func:`third_batch`; delete: exactly those stored, the server empty.

Then each message as pop3doctor stored it must be byte-equal to mpop's copy,
and both must be the delivered message (LF line ends; mboxrd-quoted in mbox)
once the headers the *server* added are removed (`SERVER_HEADERS`).

Why the two tools run one after the other, not interleaved: the delete step
empties the mailbox, so the second tool's delete step would find nothing.  The
same bytes are delivered again for the second tool instead; headers the server
adds at delivery (Cyrus: a session id, a date) then differ between the two
copies, which is why they are removed before comparing -- and only they: every
other byte must be the delivered message's.

What each tool adds, and how it is removed:

* mpop runs with ``received_header off``.  Its default prepends a Received
  field, and to write it mpop looks up the server address's name (PTR): for
  127.0.0.2 that query went to the system resolver (benchmarks/server.py), and
  these tests use loopback only.  So nothing is removed from mpop's Maildir
  files.  pop3doctor adds nothing to a Maildir file either.
* mbox (both mboxrd): the ``From `` separator line each tool writes (pop3doctor
  ``From MAILER-DAEMON <date>``, mpop ``From <envelope sender> <date>``) and the
  empty line that ends each message are removed; the quoting (``>From ``) stays,
  so the quoted bytes are compared as stored.
"""

from __future__ import annotations

import json
import os
import poplib
import re
import secrets
import shutil
import ssl
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from support.messages import make_message, message_id

MPOP = shutil.which("mpop")

Kind = Literal["maildir", "mbox"]
Mode = Literal["keep", "new", "delete"]

#: Header fields each server adds to a message it stores or serves, by
#: ``MatrixServer.name``; removed (wherever they are in the header section)
#: before comparing.  Decided by looking at what mpop stored from each:
#:
#: * dovecot: none.  The fixture's ``deliver`` writes the bytes into the
#:   Maildir as they are, and Dovecot's POP3 serves the file unchanged (only
#:   LF -> CRLF on the wire, and the CRLF before the final "." when the
#:   message had no final line end).
#: * cyrus: ``deliver`` goes through LMTP, and lmtpd prepends ``Return-Path:
#:   <pop3doctor-test@cyrus.test>`` (the delivering account), ``Received: from
#:   deliver ([unix socket]) by cyrus.test (Cyrus 3.6.1-...) with LMTPA; <date>``
#:   (three lines), ``X-Cyrus-Session-Id: cyrus.test-<time>-<pid>-...`` and
#:   ``X-Sieve: CMU Sieve 3.0``.  (It would also add ``Date:`` to a message
#:   without one; every test message has its own.)
#:
#: A server not listed is expected to add nothing; if it does, the comparison
#: with the delivered message fails and names the fields it added.
SERVER_HEADERS: dict[str, tuple[str, ...]] = {
    "dovecot": (),
    "cyrus": ("Return-Path", "Received", "X-Cyrus-Session-Id", "X-Sieve"),
    # Mailutils serves each mbox message with an X-UIDL field it adds (its UIDs
    # live in the mbox); observed in what mpop stored, not in what was delivered.
    "mailutils": ("X-UIDL",),
}


@dataclass(frozen=True)
class FetchRow:
    """One fetch row: a server fixture, one of its ports with its security, and a store kind."""

    fixture: str  # the pytest fixture giving the server
    port: str  # a key of the server's ports: "pop3", "pop3s"
    security: Literal["starttls", "ssl"]
    kind: Kind

    @property
    def id(self) -> str:
        return f"{self.fixture}-{self.port}-{self.security}-{self.kind}"


# ---- the server, as far as the harness needs it --------------------------------------


@dataclass(frozen=True)
class FetchServer:
    name: str
    host: str
    user: str
    password: str
    ca_file: str
    ports: Mapping[str, int]
    deliver: Callable[[list[bytes]], object]


def fetch_server(server: Any) -> FetchServer:
    """A server fixture seen through the `MatrixServer` attributes (Dovecot's own names fill in)."""
    ports = getattr(server, "ports", None)
    if ports is None:
        ports = {"pop3": server.pop3_port, "pop3s": server.pop3s_port}
    name = getattr(server, "name", None) or type(server).__name__.removesuffix("Server").lower()
    return FetchServer(
        name, server.host, server.user, server.password, str(server.ca_file), dict(ports), server.deliver
    )


def _pop(server: FetchServer, row: FetchRow) -> poplib.POP3:
    """A logged-in stdlib POP3 session (the harness's own look at the mailbox)."""
    ctx = ssl.create_default_context(cafile=server.ca_file)
    port = server.ports[row.port]
    pop: poplib.POP3
    if row.security == "ssl":
        pop = poplib.POP3_SSL(server.host, port, context=ctx, timeout=15)
    else:
        pop = poplib.POP3(server.host, port, timeout=15)
        pop.stls(ctx)
    pop.user(server.user)
    pop.pass_(server.password)
    return pop


def on_server(server: FetchServer, row: FetchRow) -> int:
    """How many messages the mailbox holds (STAT)."""
    pop = _pop(server, row)
    try:
        return pop.stat()[0]
    finally:
        pop.quit()


def empty_mailbox(server: FetchServer, row: FetchRow) -> None:
    """DELE every message (a row that failed midway may have left some)."""
    pop = _pop(server, row)
    try:
        for n in range(1, pop.stat()[0] + 1):
            pop.dele(n)
    finally:
        pop.quit()


# ---- the messages -----------------------------------------------------------------------


def _msg(index: int, tag: str, body: bytes, *, subject: str = "fetch row") -> bytes:
    head = (
        f"From: Sender <sender@example.test>\r\n"
        f"To: Alice <alice@example.test>\r\n"
        f"Subject: {subject} {index}\r\n"
        f"Date: Thu, 03 Dec 2026 06:00:{index % 60:02d} +0000\r\n"
        f"Message-ID: <row-{tag}-{index}-{secrets.token_hex(6)}@example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
    ).encode("ascii")
    return head + body


def first_batch(tag: str) -> list[bytes]:
    """The varied messages of step 1 (about 1.1 MB in all)."""
    from_lines = (
        b"From the first body line, which starts with From\r\n"
        b"From here: a line an mbox reader would take for a separator\r\n"
        b">From already quoted once\r\n"
        b">>From quoted twice\r\n"
        b"From\r\n"  # no space after: not a separator, never quoted
        b" From indented\r\n"
        b"\r\n"
        b"From after an empty line\r\n"
    )
    eight_bit = (
        "UTF-8: こんにちは、世界。Grüße, café, naïve — “quotes”\r\n".encode()
        + b"Latin-1, not UTF-8: caf\xe9 na\xefve \xa9 \xff\xfe\r\n"
        + b"Shift_JIS: \x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\r\n"
        + b"ISO-2022-JP: \x1b$B$3$s$K$A$O\x1b(B\r\n"
    )
    dots = b".\r\n..\r\n...\r\n.leading dot\r\n..two leading dots\r\n. a dot and a space\r\n"
    return [
        make_message(0, 2048),  # CRLF, "." / ".." lines, UTF-8 8bit (support/messages.py)
        _msg(1, tag, from_lines),
        _msg(2, tag, eight_bit),
        _msg(3, tag, b""),  # empty body: the header section and its empty line only
        make_message(4, 1_000_000),  # ~1 MB
        _msg(5, tag, b"first line\r\n" + dots + b"the last line has no line end"),
        _msg(6, tag, b"A long line: " + b"y" * 20_000 + b"\r\nshort line\r\n"),
        _msg(7, tag, b"trailing empty lines\r\n\r\n\r\n"),
        # LF line ends, as an MTA writes a Maildir file; POP3 serves CRLF.
        _msg(8, tag, b"LF only\r\nFrom an LF body\r\n.dot\r\n").replace(b"\r\n", b"\n"),
    ]


def second_batch(tag: str) -> list[bytes]:
    return [make_message(10, 3000), _msg(11, tag, b"From the second batch\r\n.\r\n"), make_message(12, 40_000)]


def third_batch(tag: str) -> list[bytes]:
    return [_msg(20, tag, b"From the third batch, fetched in delete mode\r\n"), make_message(21, 5000)]


# ---- what a tool stored -------------------------------------------------------------------


def read_maildir(root: Path) -> dict[str, bytes]:
    """File name (``new/NAME``, ``cur/NAME``) -> bytes of every message in the Maildir."""
    out = {}
    for sub in ("new", "cur"):
        if not (root / sub).is_dir():
            continue
        for path in sorted((root / sub).iterdir()):
            out[f"{sub}/{path.name}"] = path.read_bytes()
    return out


_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mboxrd file, each without its ``From `` line and the empty line after it.

    In mboxrd every body line starting with ``From `` is quoted, so every
    such line left is a separator.
    """
    if not data:
        return []
    assert data.startswith(b"From "), data[:80]
    starts = [m.start() for m in _SEPARATOR.finditer(data)]
    messages = []
    for begin, end in zip(starts, [*starts[1:], len(data)], strict=True):
        chunk = data[begin:end]
        body = chunk[chunk.index(b"\n") + 1 :]
        assert body.endswith(b"\n\n"), f"an mbox message must end with its line end and an empty line: {body[-80:]!r}"
        messages.append(body[:-1])
    return messages


def stored(kind: Kind, target: Path) -> list[bytes]:
    """Every message a tool stored in ``target``, without the tool's own mbox separators."""
    if kind == "maildir":
        return list(read_maildir(target).values())
    return split_mbox(target.read_bytes()) if target.exists() else []


def _snapshot(kind: Kind, target: Path) -> Any:
    """What must never change once stored: the Maildir's files, or the mbox's bytes so far."""
    if kind == "maildir":
        return read_maildir(target)
    return target.read_bytes() if target.exists() else b""


def _unchanged(kind: Kind, before: Any, after: Any) -> bool:
    if kind == "maildir":
        return all(after.get(name) == data for name, data in before.items())
    return bool(after.startswith(before))


# ---- the expected bytes --------------------------------------------------------------------

_FIELD_NAME = re.compile(rb"^([!-9;-~]+):")
_QUOTE = re.compile(rb"^(>*From )", re.MULTILINE)


def header_fields(message: bytes) -> tuple[list[bytes], bytes]:
    """An LF message's header fields (each with its continuation lines) and the rest (from the empty line)."""
    end = message.find(b"\n\n")
    head, rest = (message, b"") if end < 0 else (message[: end + 1], message[end + 1 :])
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields, rest


def field_name(field: bytes) -> str:
    match = _FIELD_NAME.match(field)
    return match.group(1).decode("ascii").lower() if match else ""


def without_server_headers(message: bytes, names: Sequence[str]) -> bytes:
    """``message`` without the header fields called ``names`` (case-insensitive)."""
    drop = {n.lower() for n in names}
    fields, rest = header_fields(message)
    return b"".join(f for f in fields if field_name(f) not in drop) + rest


def expected(original: bytes, kind: Kind) -> bytes:
    """What a client must store of ``original``: LF line ends, a final line end (POP3 cannot
    say there was none), and in mbox every ``>*From `` line quoted with one more ``>``."""
    data = original.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    if kind == "mbox":
        data = _QUOTE.sub(rb">\1", data)
    return data


# ---- the two tools ---------------------------------------------------------------------------


def _need_mpop() -> str:
    if MPOP is None:
        message = "mpop is not installed (Debian package mpop)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MPOP


class Tool:
    """A fetcher with a state and a destination of its own under ``work``."""

    name = ""

    def __init__(self, server: FetchServer, row: FetchRow, work: Path) -> None:
        self.server = server
        self.row = row
        self.work = work
        work.mkdir(mode=0o700)
        self.target = work / ("Maildir" if row.kind == "maildir" else "inbox.mbox")

    def run(self, mode: Mode) -> str:
        """Fetch once in ``mode``; return the tool's output (for failure messages)."""
        raise NotImplementedError


class Pop3doctor(Tool):
    name = "pop3doctor"

    def run(self, mode: Mode) -> str:
        s, row = self.server, self.row
        dest = ["--maildir" if row.kind == "maildir" else "--mbox", str(self.target)]
        flags = {"keep": ["--keep"], "new": ["--keep", "--only-new"], "delete": ["--delete"]}[mode]
        argv = [
            sys.executable, "-m", "pop3doctor", "fetch",
            "--host", s.host, "--port", str(s.ports[row.port]), "--security", row.security,
            "--ca-file", s.ca_file, "--user", s.user, "--password-env", "P3D_ROW_PW",
            *dest, *flags, "--state", str(self.work / "state"), "--json", "--lang", "en",
        ]  # fmt: skip
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=120, env={**os.environ, "P3D_ROW_PW": s.password}
        )
        out = f"$ pop3doctor fetch {' '.join(flags)} -> {done.returncode}\n{done.stdout}{done.stderr}"
        assert done.returncode == 0, out
        summary = json.loads(done.stdout)
        assert summary["error"] is None, out
        return out


class Mpop(Tool):
    name = "mpop"

    def __init__(self, server: FetchServer, row: FetchRow, work: Path) -> None:
        super().__init__(server, row, work)
        self.binary = _need_mpop()
        if row.kind == "maildir":
            for sub in ("new", "cur", "tmp"):
                (self.target / sub).mkdir(parents=True)
            delivery = f"delivery maildir {self.target}"
        else:
            delivery = f"delivery mbox {self.target}"
        # The password is read from a 0600 file by passwordeval: never in argv
        # or in the rc file, whatever characters it has.
        password_file = work / "password"
        password_file.touch(mode=0o600)
        password_file.write_text(server.password)
        self.rc = work / "mpoprc"
        self.rc.touch(mode=0o600)
        self.rc.write_text(
            "defaults\n"
            "tls on\n"
            f"tls_starttls {'on' if row.security == 'starttls' else 'off'}\n"
            f"tls_trust_file {server.ca_file}\n"
            # "user" is the mail programs' normal password.  mpop's own default picks
            # APOP whenever the greeting has a timestamp, and Mailutils, holding no APOP
            # secret, refuses it ("authentication failed (method APOP)", observed).
            "auth user\n"
            "timeout 30\n"
            "account row\n"
            f"host {server.host}\n"
            f"port {server.ports[row.port]}\n"
            f"user {server.user}\n"
            f"passwordeval cat {password_file}\n"
            f"{delivery}\n"
            f"uidls_file {work / 'uidls'}\n"
            "received_header off\n"
            "only_new on\n"
        )

    def run(self, mode: Mode) -> str:
        keep = "off" if mode == "delete" else "on"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.work), "LC_ALL": "C"}
        done = subprocess.run(
            [self.binary, "-C", str(self.rc), f"--keep={keep}", "row"],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        out = f"$ mpop --keep={keep} -> {done.returncode}\n{done.stdout}{done.stderr}"
        assert done.returncode == 0, out
        return out


# ---- the sequence ------------------------------------------------------------------------------


def _ids(messages: Sequence[bytes]) -> list[str]:
    return sorted(message_id(m) for m in messages)


def run_sequence(tool: Tool, server: FetchServer, batches: Sequence[list[bytes]]) -> dict[str, bytes]:
    """The four steps with one tool; Message-ID -> the bytes it stored (tool separators removed)."""
    row, kind = tool.row, tool.row.kind
    first, second, third = batches
    log: list[str] = []

    def step(mode: Mode, want_new: list[bytes], on_server_after: int) -> None:
        before = _snapshot(kind, tool.target)
        old = stored(kind, tool.target)
        log.append(tool.run(mode))
        now = stored(kind, tool.target)
        context = f"{tool.name} {row.id}, step {len(log)} ({mode}):\n" + "\n".join(log)
        assert _unchanged(kind, before, _snapshot(kind, tool.target)), f"stored mail was changed; {context}"
        assert len(now) - len(old) == len(want_new), f"stored {len(now) - len(old)}, want {len(want_new)}; {context}"
        assert _ids(now[len(old) :] if kind == "mbox" else _new_files(old, now)) == _ids(want_new), context
        assert on_server(server, row) == on_server_after, context

    empty_mailbox(server, row)
    server.deliver(first)
    step("keep", first, len(first))
    step("keep", [], len(first))
    server.deliver(second)
    step("new", second, len(first) + len(second))
    server.deliver(third)
    step("delete", third, 0)

    everything = stored(kind, tool.target)
    ids = [message_id(m) for m in everything]
    assert len(ids) == len(set(ids)) == sum(map(len, batches)), f"{tool.name}: a message stored twice: {ids}"
    return dict(zip(ids, everything, strict=True))


def _new_files(old: list[bytes], now: list[bytes]) -> list[bytes]:
    """Maildir: the messages in ``now`` that were not in ``old`` (as a multiset)."""
    rest = list(now)
    for data in old:
        rest.remove(data)
    return rest


@dataclass
class RowResult:
    messages: int
    octets: int
    server_headers: tuple[str, ...]


def fetch_sequence_matches_mpop(server_fixture: Any, row: FetchRow, tmp_path: Path) -> RowResult:
    """Run the row's sequence with pop3doctor and with mpop; assert every message was stored once
    by each, byte-equal between the two and to the delivered message (server headers removed)."""
    server = fetch_server(server_fixture)
    tag = secrets.token_hex(3)
    batches = [first_batch(tag), second_batch(tag), third_batch(tag)]
    originals = {message_id(m): m for batch in batches for m in batch}
    ours = run_sequence(Pop3doctor(server, row, tmp_path / "pop3doctor"), server, batches)
    theirs = run_sequence(Mpop(server, row, tmp_path / "mpop"), server, batches)
    assert sorted(ours) == sorted(theirs) == sorted(originals)

    names = SERVER_HEADERS.get(server.name, ())
    octets = 0
    for mid, original in originals.items():
        want = expected(original, row.kind)
        got_ours = without_server_headers(ours[mid], names)
        got_theirs = without_server_headers(theirs[mid], names)
        if got_theirs != want:
            added = _added_fields(original, theirs[mid])
            pytest.fail(
                f"{row.id}: mpop's copy of {mid} is not the delivered message once {names or 'no'} header "
                f"fields are removed; fields it has that were not delivered: {added} "
                f"(a server that adds fields needs its entry in SERVER_HEADERS)"
            )
        assert got_ours == got_theirs, _first_difference(mid, got_ours, got_theirs)
        octets += len(got_ours)
    return RowResult(len(originals), octets, names)


def _added_fields(original: bytes, got: bytes) -> list[str]:
    have = {field_name(f) for f in header_fields(expected(original, "maildir"))[0]}
    return sorted({field_name(f) for f in header_fields(got)[0]} - have)


def _first_difference(mid: str, ours: bytes, theirs: bytes) -> str:
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs, strict=False)) if a != b), min(len(ours), len(theirs)))
    return (
        f"{mid}: pop3doctor's bytes differ from mpop's at offset {at} (lengths {len(ours)}, {len(theirs)}): "
        f"pop3doctor {ours[max(0, at - 40) : at + 40]!r}, mpop {theirs[max(0, at - 40) : at + 40]!r}"
    )
