"""Ctrl-C while the command is still starting (imports), issue 12.

Python raises KeyboardInterrupt wherever the main thread is; before the click
group had loaded, nothing caught it and the user saw a traceback (about one
early Ctrl-C in three, measured).  Here the signal is delivered exactly while
a chosen module is being imported -- a meta-path hook that signals the process
when the import starts -- so the moment is the same on every run.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_RUN = """
import os, runpy, signal, sys

WHEN = sys.argv[1]

class _SignalOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == WHEN:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, _SignalOnImport())
sys.argv = ["pop3doctor", *sys.argv[2:]]
runpy.run_module("pop3doctor", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "module",
    [
        "click",  # the group's own imports, before any handler of ours existed
        "pop3doctor.i18n",  # the message catalogs
        "rich.progress",  # fetch's imports, inside click's handling already
    ],
)
def test_ctrl_c_during_start_up_ends_quietly_with_130(module: str, tmp_path: object) -> None:
    args = [sys.executable, "-c", _RUN, module, "fetch", "--lang", "en", "--host", "127.0.0.1",
            "--user", "u", "--maildir", str(tmp_path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert "Traceback" not in done.stderr
    assert "Interrupted (Ctrl-C)." in done.stderr
