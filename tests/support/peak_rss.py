"""Run the real ``pop3doctor`` command in a child process; measure its wall time and peak RSS.

The peak comes from the kernel: ``os.wait4`` returns the child's own rusage,
whose ``ru_maxrss`` is its high-water mark of resident memory (KiB on Linux),
so no sampling can miss a short spike.  A child still running after
``kill_after`` seconds is killed (SIGKILL): the result then says so, and the
test that expected a bounded run fails with the figures in hand.

Why a small launcher in between: Linux carries the *parent's* memory high-water
mark into a child's ``ru_maxrss`` at exec (the old address space's peak is
recorded there), so a child of a pytest process grown to 260 MiB reported 260
MiB whatever it used itself, and the bound depended on test order.  The
launcher, a fresh small Python, forks the measured command, waits for it and
hands back its rusage: the command's figure then carries only the launcher's
~10 MiB.  Signals go to the process group, as a terminal's Ctrl-C does.
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


#: Forks and execs ``argv[2:]``, waits, and writes "<exit code> <ru_maxrss KiB>" to fd ``argv[1]``.
_LAUNCHER = """
import os, signal, sys
fd, argv = int(sys.argv[1]), sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the measured command
_, status, usage = os.wait4(pid, 0)
os.write(fd, f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}".encode())
"""


def run_measured(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    kill_after: float = 120.0,
    sigint_after: float | None = None,
) -> Measured:
    """``python -m pop3doctor *args``; SIGINT after ``sigint_after`` seconds when given."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        report_r, report_w = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, str(report_w), sys.executable, "-m", "pop3doctor", *args],
                env={**os.environ, "COLUMNS": "200", **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                pass_fds=(report_w,),
                start_new_session=True,  # its own process group, for the signals below
            )
        finally:
            os.close(report_w)
        killed = threading.Event()

        def watchdog() -> None:
            if sigint_after is not None and not done.wait(sigint_after):
                os.killpg(proc.pid, signal.SIGINT)
            if not done.wait(kill_after - (sigint_after or 0)):
                killed.set()
                os.killpg(proc.pid, signal.SIGKILL)

        done = threading.Event()
        dog = threading.Thread(target=watchdog, daemon=True)
        dog.start()
        with os.fdopen(report_r, "rb") as report:
            figures = report.read().split()  # empty when the launcher was killed
        proc.wait()
        done.set()
        wall = time.monotonic() - start
        dog.join()
        out.seek(0)
        err.seek(0)
        returncode, maxrss_kib = (int(figures[0]), int(figures[1])) if len(figures) == 2 else (proc.returncode, 0)
        return Measured(
            returncode=returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            wall_s=wall,
            peak_rss_mib=maxrss_kib / 1024,
            killed=killed.is_set(),
        )


async def run_measured_async(args: list[str], **kwargs: object) -> Measured:
    """`run_measured` in a thread, so a server in the test's event loop keeps serving."""
    return await asyncio.to_thread(run_measured, args, **kwargs)  # type: ignore[arg-type]
