"""The lab's maildrop: a generated sample mailbox with stable unique-ids.

Contract:

- Every message is held in RFC 1939 wire form (CRLF line ends, ending with
  CRLF) *before* byte-stuffing; ``size`` is that form's octet count, which is
  what RFC 1939 section 11 says LIST and STAT report.
- ``uid`` is fixed when the mailbox is made and never changes, so UIDL is
  stable across sessions (RFC 1939 section 7); it is built from the message's
  position and a digest of its bytes, uses only 0x21-0x7E, and is at most 70
  characters.
- Deletion is a maildrop fact only after a session's QUIT (UPDATE state):
  sessions mark, `Maildrop.commit` removes.  Removed messages stay in
  ``messages`` with ``deleted=True`` so tests can see what happened.
- A `GeneratedMessage` is produced line by line on demand, so a 30 MB message
  costs no memory.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.header import Header

#: How many wire lines a streamed chunk holds: large enough that writes are
#: efficient, small enough that a chunk is a few kilobytes.
_LINES_PER_CHUNK = 64


def to_wire(data: bytes) -> bytes:
    """Return ``data`` with CRLF line ends and a final CRLF (RFC 1939 wire form)."""
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def stuff(block: bytes) -> bytes:
    """Byte-stuff a block of whole lines (RFC 1939 section 3: a line starting
    with "." gets one more "." in front)."""
    if block.startswith(b"."):
        block = b"." + block
    return block.replace(b"\r\n.", b"\r\n..")


def _make_uid(index: int, digest_source: bytes) -> str:
    return f"{index:06d}.{hashlib.sha256(digest_source).hexdigest()[:24]}"


@dataclass(eq=False)
class StoredMessage:
    """A message held in memory in wire form."""

    data: bytes
    uid: str
    deleted: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self) -> Iterator[bytes]:
        """The message as blocks of whole lines (unstuffed)."""
        yield self.data


@dataclass(eq=False)
class GeneratedMessage:
    """A message of exactly ``size`` octets, produced on demand.

    The body is base64-looking text of 76 characters a line (RFC 2045's
    limit), so no line starts with "." and no byte-stuffing is needed; the
    last line is shortened so the total is exact.
    """

    size: int
    uid: str
    headers: bytes
    deleted: bool = False
    _line: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.size < len(self.headers) + 4:
            raise ValueError("generated message is smaller than its headers")
        seed = hashlib.sha256(self.uid.encode()).digest()
        self._line = base64.b64encode(seed * 2)[:76] + b"\r\n"

    @property
    def data(self) -> bytes:
        """The whole message; only for small sizes (tests), never used to serve."""
        return b"".join(self.chunks())

    def chunks(self) -> Iterator[bytes]:
        yield self.headers
        remaining = self.size - len(self.headers)
        full = len(self._line)
        block = self._line * _LINES_PER_CHUNK
        while remaining >= len(block) + 3:
            yield block
            remaining -= len(block)
        while remaining > full + 2:
            yield self._line
            remaining -= full
        # 3 to full + 2 octets left: one last line of 1 to 78 characters + CRLF
        # (78 is over RFC 2045's 76 but far below RFC 5322's 998).
        text = self._line[:-2]
        yield (text + text)[: remaining - 2] + b"\r\n"


LabMessage = StoredMessage | GeneratedMessage


class Maildrop:
    """The messages of the one lab user, plus the RFC 1939 exclusive lock."""

    def __init__(self, messages: Iterable[LabMessage]) -> None:
        self.messages: list[LabMessage] = list(messages)
        self.locked = False

    @classmethod
    def from_bytes(cls, raw: Iterable[bytes]) -> Maildrop:
        stored = []
        for index, data in enumerate(raw, 1):
            wire = to_wire(data)
            stored.append(StoredMessage(wire, _make_uid(index, wire)))
        return cls(stored)

    def live(self) -> list[LabMessage]:
        """Messages a new session sees (those not deleted by an earlier QUIT)."""
        return [m for m in self.messages if not m.deleted]

    def commit(self, marked: Iterable[LabMessage]) -> None:
        """UPDATE state: remove the messages a session marked with DELE."""
        for message in marked:
            message.deleted = True


def top_blocks(message: LabMessage, body_lines: int) -> Iterator[bytes]:
    """The header, the blank line and the first ``body_lines`` body lines."""
    in_body = False
    left = body_lines
    for chunk in message.chunks():
        out: list[bytes] = []
        for line in chunk.split(b"\r\n")[:-1]:
            if in_body:
                if left == 0:
                    break
                left -= 1
            elif line == b"":
                in_body = True
            out.append(line + b"\r\n")
        if out:
            yield b"".join(out)
        if in_body and left == 0:
            return


def generated_message(index: int, size: int) -> GeneratedMessage:
    """A large message (for the large-message scenario) of exactly ``size`` octets."""
    uid = _make_uid(index, f"generated:{size}".encode())
    headers = to_wire(
        b"Return-Path: <archive@example.jp>\n"
        b"From: Archive Service <archive@example.jp>\n"
        b"To: alice@example.jp\n"
        b"Subject: Scanned documents (large attachment)\n"
        b"Date: Mon, 03 Jun 2024 09:00:00 +0900\n"
        b"Message-ID: <large-" + str(size).encode() + b"@lab.example.jp>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: application/octet-stream; name=\"scan.pdf\"\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n"
    )
    return GeneratedMessage(size=size, uid=uid, headers=headers)


def _mime_header(text: str, charset: str) -> str:
    return Header(text, charset).encode()


def sample_messages() -> list[bytes]:
    """A small realistic mailbox: English, Japanese (ISO-2022-JP and UTF-8),
    multipart, and lines that start with "." so byte-stuffing is exercised."""
    return [_lunch_ascii(), _minutes_iso2022jp(), _order_utf8(), _report_multipart()]


def _lunch_ascii() -> bytes:
    """Plain US-ASCII with lines of ".", ".." and ". " (byte-stuffing)."""
    return (
        b"Return-Path: <bob@example.com>\n"
        b"From: Bob Example <bob@example.com>\n"
        b"To: Alice <alice@example.jp>\n"
        b"Subject: Lunch on Friday?\n"
        b"Date: Fri, 31 May 2024 12:01:00 +0000\n"
        b"Message-ID: <lunch-1@example.com>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=us-ascii\n"
        b"\n"
        b"Hi Alice,\n\n"
        b"Are you free for lunch on Friday?\n"
        b".\n"
        b"..two dots start this line\n"
        b". one dot and a space\n"
        b"-- \nBob\n"
    )


def _minutes_iso2022jp() -> bytes:
    """Japanese in ISO-2022-JP (headers MIME-encoded), with a line of only "."."""
    jis_subject = _mime_header("会議の議事録について", "iso-2022-jp")
    jis_from = _mime_header("山田 太郎", "iso-2022-jp")
    jis_body = (
        "アリス様\n\nお疲れさまです。山田です。\n"
        "昨日の会議の議事録をお送りします。\n.\n"
        "（上の行はピリオドだけの行です）\n\nよろしくお願いします。\n"
    ).encode("iso-2022-jp")
    return (
        b"Return-Path: <yamada@example.co.jp>\n"
        b"From: " + jis_from.encode() + b" <yamada@example.co.jp>\n"
        b"To: alice@example.jp\n"
        b"Subject: " + jis_subject.encode() + b"\n"
        b"Date: Sat, 01 Jun 2024 10:15:00 +0900\n"
        b"Message-ID: <minutes-20240601@example.co.jp>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\n"
        b"Content-Transfer-Encoding: 7bit\n"
        b"\n" + jis_body
    )


def _order_utf8() -> bytes:
    """Japanese in UTF-8: base64 body, RFC 2047 B-encoded headers."""
    utf8_body = base64.encodebytes(
        "受信テストです。\n絵文字なし、UTF-8 の本文です。\n".encode()
    )
    return (
        b"Return-Path: <noreply@shop.example.jp>\n"
        b"From: =?UTF-8?B?" + base64.b64encode("ショップ".encode()) + b"?= "
        b"<noreply@shop.example.jp>\n"
        b"To: alice@example.jp\n"
        b"Subject: =?UTF-8?B?" + base64.b64encode("ご注文ありがとうございます".encode()) + b"?=\n"
        b"Date: Sun, 02 Jun 2024 08:30:00 +0900\n"
        b"Message-ID: <order-42@shop.example.jp>\n"
        b"MIME-Version: 1.0\n"
        b"Content-Type: text/plain; charset=UTF-8\n"
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + utf8_body
    )


def _report_multipart() -> bytes:
    """multipart/mixed with a binary attachment and a line starting with "..."."""
    attachment = base64.encodebytes(bytes(range(256)) * 4)
    return (
        b"Return-Path: <carol@example.org>\n"
        b"From: Carol <carol@example.org>\n"
        b"To: alice@example.jp\n"
        b"Subject: Report attached\n"
        b"Date: Sun, 02 Jun 2024 23:59:59 -0700\n"
        b"Message-ID: <report-7@example.org>\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="=-lab-boundary"\n'
        b"\n"
        b"--=-lab-boundary\n"
        b"Content-Type: text/plain; charset=us-ascii\n"
        b"\n"
        b"The report is attached.\n"
        b"...and this line starts with three dots.\n"
        b"\n"
        b"--=-lab-boundary\n"
        b'Content-Type: application/octet-stream; name="report.bin"\n'
        b"Content-Transfer-Encoding: base64\n"
        b"\n" + attachment + b"--=-lab-boundary--\n"
    )
