"""Rebuilding a damaged state from the destination: which server message is already there.

``fetch --rebuild-state`` sets the damaged state file aside and downloads the
server's messages once more, through the normal writers; each staged message
is then compared with the destination's content, and one that is already
there is recorded as delivered at its existing place instead of being stored
a second time.  Compared is the SHA-256 of the bytes exactly as the store
writes them (LF line ends; mbox: mboxrd-quoted, without the ``From_`` line,
whose date differs per delivery), so only messages this tool stored match
byte for byte; anything else is treated as new mail.

`content_index` reads the whole destination once (O(size), only in a rebuild).
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from pathlib import Path

_BLOCK = 1 << 20

#: digest -> the store targets (as the state records them) holding that content.
ContentIndex = dict[str, list[str]]


def content_index(kind: str, location: Path) -> ContentIndex:
    """The destination's messages by content digest."""
    return _maildir_index(location) if kind == "maildir" else _mbox_index(location)


def staged_digest(kind: str, path: Path) -> str:
    """The digest of a staged message file, comparable with `content_index`'s keys."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        if kind == "mbox":
            file.readline()  # the From_ line
        while block := file.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _maildir_index(root: Path) -> ContentIndex:
    index: ContentIndex = defaultdict(list)
    for sub in ("new", "cur"):
        try:
            names = sorted(os.listdir(root / sub))
        except OSError:
            continue
        for name in names:
            if name.startswith("."):
                continue
            path = root / sub / name
            try:
                digest = staged_digest("maildir", path)
            except OSError:
                continue
            # The state's targets are new/NAME; reconciliation finds cur/NAME:2,FLAGS from it.
            index[digest].append(f"new/{name.split(':', 1)[0]}")
    return dict(index)


def _mbox_index(path: Path) -> ContentIndex:
    """Each message of an mbox: a ``From `` line at the start or after an empty line, up to the next."""
    index: ContentIndex = defaultdict(list)
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        return {}
    with file:
        start: int | None = None
        body = whole = hashlib.sha256()  # without / with the From_ line
        offset = 0
        previous_empty = True

        def close_region() -> None:
            if start is not None:
                index[body.hexdigest()].append(f"{start}:{offset - start}:{whole.hexdigest()}")

        for line in file:
            if line.startswith(b"From ") and previous_empty:
                close_region()
                start, body, whole = offset, hashlib.sha256(), hashlib.sha256(line)
            elif start is not None:
                body.update(line)
                whole.update(line)
            offset += len(line)
            previous_empty = line == b"\n"
        close_region()
    return dict(index)
