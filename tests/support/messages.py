"""Realistic test messages for real-server and client tests.

Every message is an RFC 5322 message with CRLF line endings, a unique
``Message-ID: <msg-{index}-{random}@{domain}>``, a Japanese subject encoded per
RFC 2047 and a UTF-8 ``text/plain`` body sent as 8bit.  The body deliberately
contains lines that start with ``.`` -- including a line that is exactly ``.``
and one that is exactly ``..`` -- so every transfer exercises POP3
dot-stuffing (RFC 1939 section 3), which is where byte-exactness bugs hide.

Size contract: ``make_message(i, size)`` returns *exactly* ``size`` bytes when
``size`` is at least :func:`minimum_size` (about 600 bytes); below that it
returns the smallest complete message (headers plus the special lines),
``minimum_size() - 3`` bytes.  The body is made of one fixed 64 KiB block repeated, so a 50 MB
message costs one 50 MB buffer (the block is shared, not copied per line) and
:func:`write_large_message` streams it to a file without building it in memory.
"""

from __future__ import annotations

import email.utils
import os
import re
import secrets
from base64 import b64encode
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

CRLF = b"\r\n"

# A body line is kept well under 998 octets (RFC 5322 2.1.1) and under
# poplib's 2048-byte line limit, so stdlib clients can read every message.
_FILLER_LINE_LEN = 76

_JA_SUBJECT = "テストメッセージ"  # "test message"
_JA_SENDER = "送信 太郎"  # a typical Japanese display name

# Lines chosen to hit the dot-stuffing cases: a lone ".", a lone "..", a line
# that starts with "." and one with "..", plus non-ASCII text and an empty line.
_SPECIAL_LINES: tuple[bytes, ...] = (
    "こんにちは。POP3 の受信テストです。".encode(),
    b".",
    b"..",
    b".leading dot line (must be dot-stuffed on the wire)",
    b"..two leading dots",
    b"",
    "日本語の行：メールは正しく届きましたか？".encode(),
    b"Plain ASCII line with trailing text. End.",
)


def _rfc2047(text: str) -> str:
    """Encode ``text`` as one RFC 2047 encoded-word (UTF-8, base64)."""
    return "=?UTF-8?B?" + b64encode(text.encode()).decode("ascii") + "?="


def _headers(index: int, domain: str) -> bytes:
    token = secrets.token_hex(8)
    date = email.utils.format_datetime(datetime.now(UTC).replace(microsecond=0))
    lines = [
        f"From: {_rfc2047(_JA_SENDER)} <sender@{domain}>",
        f"To: Alice <alice@{domain}>",
        f"Subject: {_rfc2047(f'{_JA_SUBJECT} {index}')}",
        f"Date: {date}",
        f"Message-ID: <msg-{index}-{token}@{domain}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "",  # end of header section
    ]
    return CRLF.join(line.encode("ascii") for line in lines) + CRLF


def _block() -> bytes:
    """A ~64 KiB run of complete CRLF lines mixing special and filler lines."""
    out = bytearray()
    n = 0
    while len(out) < 64 * 1024:
        for special in _SPECIAL_LINES:
            out += special + CRLF
        for _ in range(8):
            n += 1
            text = f"filler line {n:06d} "
            out += (text + "x" * (_FILLER_LINE_LEN - len(text))).encode("ascii") + CRLF
    return bytes(out)


_BLOCK = _block()
# Every message, however small, starts its body with all the special lines.
_FIRST_LINE = b"".join(line + CRLF for line in _SPECIAL_LINES)


def minimum_size(domain: str = "example.test") -> int:
    """Smallest size for which :func:`make_message` can hit ``size`` exactly (about 600 bytes)."""
    return len(_headers(0, domain)) + len(_FIRST_LINE) + 3  # + shortest pad line "x\r\n"


def _pad_line(length: int) -> bytes:
    """One ASCII line of exactly ``length`` bytes including its CRLF (length >= 3)."""
    return b"x" * (length - 2) + CRLF


def iter_message_chunks(index: int, size: int, *, domain: str = "example.test") -> Iterator[bytes]:
    """Yield the message of :func:`make_message` as chunks (most are one shared block).

    Concatenating the chunks gives the whole message; the total length obeys
    the size contract in the module docstring.
    """
    head = _headers(index, domain)
    yield head
    yield _FIRST_LINE
    remaining = size - len(head) - len(_FIRST_LINE)
    if remaining < 3:
        # Too small to pad exactly: still a complete message ending in CRLF.
        return
    while remaining - len(_BLOCK) >= 3:
        yield _BLOCK
        remaining -= len(_BLOCK)
    # The tail: whole lines from the block, then one pad line that makes the
    # total exact.  Cutting only after a CRLF means no UTF-8 character is split;
    # the cut leaves at least 3 bytes so the pad line ("x...\r\n") fits.
    cut = _BLOCK.rfind(CRLF, 0, remaining - 3)
    tail = _BLOCK[: cut + 2] if cut >= 0 else b""
    yield tail
    yield _pad_line(remaining - len(tail))


def make_message(index: int, size: int = 2048, *, domain: str = "example.test") -> bytes:
    """Return a complete CRLF message of ``size`` bytes (see the size contract)."""
    return b"".join(iter_message_chunks(index, size, domain=domain))


def write_large_message(
    path: str | os.PathLike[str], size: int, *, index: int = 0, domain: str = "example.test"
) -> Path:
    """Stream a message of ``size`` bytes to ``path`` without holding it in memory."""
    target = Path(path)
    with target.open("wb") as fh:
        for chunk in iter_message_chunks(index, size, domain=domain):
            fh.write(chunk)
    return target


_MESSAGE_ID_RE = re.compile(rb"^message-id:[ \t]*((?:[^\r\n]|\r\n[ \t])*)", re.IGNORECASE | re.MULTILINE)


def message_id(msg: bytes) -> str:
    """Return the Message-ID of ``msg`` with its angle brackets, e.g. ``<msg-3-ab..@example.test>``.

    Only the header section is searched; folded header lines are unfolded.
    Raises ``ValueError`` when the header is missing.
    """
    end = msg.find(b"\r\n\r\n")
    if end < 0:
        end = msg.find(b"\n\n")
    header = msg if end < 0 else msg[: end + 2]
    match = _MESSAGE_ID_RE.search(header)
    if match is None:
        raise ValueError("message has no Message-ID header")
    return re.sub(rb"\r\n[ \t]+", b" ", match.group(1)).decode("ascii", "replace").strip()
