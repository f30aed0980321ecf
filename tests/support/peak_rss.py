"""Run the real ``pop3doctor`` command in a child process; measure its wall time and peak RSS.

The peak comes from the kernel: ``os.wait4`` returns the child's own rusage,
whose ``ru_maxrss`` is its high-water mark of resident memory (KiB on Linux),
so no sampling can miss a short spike.  A child still running after
``kill_after`` seconds is killed (SIGKILL): the result then says so, and the
test that expected a bounded run fails with the figures in hand.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mib: float
    killed: bool  # still running at kill_after: the run was not bounded

    def __str__(self) -> str:
        return (
            f"exit {self.returncode}, {self.wall_s:.1f} s, peak RSS {self.peak_rss_mib:.0f} MiB"
            + (" (killed: did not end)" if self.killed else "")
            + f"\nstdout: {self.stdout[-1500:]}\nstderr: {self.stderr[-1500:]}"
        )


def run_measured(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    kill_after: float = 120.0,
    sigint_after: float | None = None,
) -> Measured:
    """``python -m pop3doctor *args``; SIGINT after ``sigint_after`` seconds when given."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pop3doctor", *args],
            env={**os.environ, "COLUMNS": "200", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
        killed = threading.Event()

        def watchdog() -> None:
            if sigint_after is not None and not done.wait(sigint_after):
                os.kill(proc.pid, signal.SIGINT)
            if not done.wait(kill_after - (sigint_after or 0)):
                killed.set()
                os.kill(proc.pid, signal.SIGKILL)

        done = threading.Event()
        dog = threading.Thread(target=watchdog, daemon=True)
        dog.start()
        _, status, usage = os.wait4(proc.pid, 0)
        done.set()
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        dog.join()
        out.seek(0)
        err.seek(0)
        return Measured(
            returncode=proc.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            wall_s=wall,
            peak_rss_mib=usage.ru_maxrss / 1024,
            killed=killed.is_set(),
        )


async def run_measured_async(args: list[str], **kwargs: object) -> Measured:
    """`run_measured` in a thread, so a server in the test's event loop keeps serving."""
    return await asyncio.to_thread(run_measured, args, **kwargs)  # type: ignore[arg-type]
