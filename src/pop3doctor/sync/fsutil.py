"""Small durability helpers: fsync of files and directories."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (a rename, link or create inside it) durable.

    POSIX only makes a rename durable once the directory itself is fsynced
    (ext4 with ``data=ordered`` usually gets it right anyway, but XFS, btrfs
    and power cuts do not promise it).  Windows cannot open directories for
    fsync; there ``MoveFileEx`` semantics are what we get.
    """
    if sys.platform == "win32":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path, mode: int = 0o700) -> None:
    """``mkdir -p`` that also fsyncs each parent whose entries changed."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=mode)
        except FileExistsError:
            continue
        fsync_dir(directory.parent)
