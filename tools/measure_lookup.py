#!/usr/bin/env python3
"""How long the bundled provider tables cost a fresh ``pop3doctor``: import, first lookup, whole command.

    python tools/measure_lookup.py [--runs N] [--src DIR] EMAIL...

Each run is a new interpreter (the tables load lazily, once per process), so
the figures are what a user's ``pop3doctor discover`` pays.  ``--src`` puts
another source tree first on ``PYTHONPATH`` (e.g. an older commit unpacked
with ``git archive <commit> src | tar -x -C /tmp/old``) to compare before
and after.  Byte-compiled files are kept under a temporary
``PYTHONPYCACHEPREFIX`` so that compiling the sources is not counted (an
installed package ships them compiled).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

_PROBE = """
import sys, time
t0 = time.perf_counter()
from pop3doctor.discovery import parse_address, providers
t1 = time.perf_counter()
report = providers.lookup(parse_address(sys.argv[1]))
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000, report.answered)
"""


def _run(args: list[str], env: dict[str, str]) -> str:
    """Run this Python with ``args`` (our own fixed argv plus the address to look up); its stdout."""
    done = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    return done.stdout


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} ms (min {min(values):.2f}, max {max(values):.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("emails", nargs="+", metavar="EMAIL")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--src", help="source tree to measure instead of the installed package")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="measure-lookup-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        if args.src:
            env["PYTHONPATH"] = args.src
        for email in args.emails:
            _run(["-c", _PROBE, email], env)  # compiles the sources into the cache
            imports: list[float] = []
            lookups: list[float] = []
            walls: list[float] = []
            answered = ""
            for _ in range(args.runs):
                out = _run(["-c", _PROBE, email], env).split()
                imports.append(float(out[0]))
                lookups.append(float(out[1]))
                answered = out[2]
                start = time.perf_counter()
                _run(["-m", "pop3doctor", "discover", email, "--source", "provider", "--json"], env)
                walls.append((time.perf_counter() - start) * 1000)
            print(f"{email} (answered: {answered}), {args.runs} runs")
            print(f"  import pop3doctor.discovery:        {_summary(imports)}")
            print(f"  first lookup (load tables, answer): {_summary(lookups)}")
            print(f"  discover --source provider --json:  {_summary(walls)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
