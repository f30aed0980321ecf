"""Alternating timed runs and their figures.

Tools take turns round by round (a b c d, a b c d, ...) so that drift --
a CPU warming up, page cache, a neighbour process -- hits all of them alike.
Only ``Run.go`` is timed; preparing fresh state, checking that every message
arrived, and cleaning up are not.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TextIO

from benchmarks.model import Target, Tool, ToolFailed


@dataclasses.dataclass
class Result:
    """One tool's figures for one workload."""

    tool: Tool
    times: list[float] = dataclasses.field(default_factory=list)
    error: str | None = None

    @property
    def skipped(self) -> str | None:
        return self.tool.missing

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None

    @property
    def best(self) -> float | None:
        return min(self.times) if self.times and self.error is None else None


def alternate(
    target: Target, tools: list[Tool], rounds: int, scratch_root: Path, log: TextIO = sys.stderr
) -> list[Result]:
    """Run every available tool ``rounds`` times, alternating; a tool that fails is dropped."""
    results = [Result(tool) for tool in tools]
    for number in range(1, rounds + 1):
        for result in results:
            if result.skipped is not None or result.error is not None:
                continue
            try:
                elapsed = _timed_run(result.tool, target, scratch_root)
            except ToolFailed as exc:
                result.error = str(exc)
                print(f"  {target.workload} round {number}/{rounds}: {result.tool.name} FAILED", file=log)
                continue
            result.times.append(elapsed)
            print(
                f"  {target.workload} round {number}/{rounds}: {result.tool.name:<17} {elapsed:8.3f} s",
                file=log,
                flush=True,
            )
    return results


def _timed_run(tool: Tool, target: Target, scratch_root: Path) -> float:
    scratch = Path(tempfile.mkdtemp(prefix=f"{tool.name.replace(' ', '-')}-", dir=scratch_root))
    try:
        run = tool.prepare(target, scratch)
        try:
            # Garbage left by the previous contender must not be collected on this one's clock.
            gc.collect()
            start = time.perf_counter()
            run.go()
            elapsed = time.perf_counter() - start
            got = run.check()
        finally:
            run.cleanup()
    except ToolFailed:
        raise
    except Exception as exc:
        # Any other error (TLS, protocol, a bug) ends this tool's runs, not the benchmark.
        raise ToolFailed(target.redact(f"{tool.name}: {exc!r}")) from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if got != target.messages:
        raise ToolFailed(f"{tool.name}: {got} of {target.messages} messages arrived")
    return elapsed
