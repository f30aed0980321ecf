"""Tables on stdout and figures as JSON.

Ratios are of median wall-clock times: ``t/ours`` above 1 means slower than
pop3doctor, ``t/raw`` is how far a tool stays from the raw pipelined read
(1.00 = at the limit).  MB are 10^6 octets of stored message data.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import ssl
import sys
from pathlib import Path
from typing import Any, TextIO

from benchmarks.external import tool_versions
from benchmarks.model import Target
from benchmarks.runner import Result
from benchmarks.server import Workload


@dataclasses.dataclass
class WorkloadReport:
    workload: Workload
    target: Target
    rounds: int
    results: list[Result]
    ours: str  # the tool ratios are taken against
    scratch: str  # where Maildirs and state were written
    limit: str = "raw"

    def _median_of(self, name: str) -> float | None:
        return next((r.median for r in self.results if r.tool.name == name), None)

    def figures(self, result: Result) -> dict[str, Any]:
        median, best = result.median, result.best
        ours, limit = self._median_of(self.ours), self._median_of(self.limit)
        return {
            "tool": result.tool.name,
            "delivery": result.tool.delivery,
            "note": result.tool.note,
            "skipped": result.skipped,
            "error": result.error,
            "times_s": [round(t, 4) for t in result.times],
            "median_s": _round(median),
            "min_s": _round(best),
            "messages_per_s": _round(self.workload.messages / median, 1) if median else None,
            "mb_per_s": _round(self.workload.octets / 1e6 / median, 2) if median else None,
            "ratio_to_ours": _round(median / ours, 3) if median and ours else None,
            "ratio_to_raw": _round(median / limit, 3) if median and limit else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "workload": self.workload.name,
            "messages": self.workload.messages,
            "size": self.workload.size,
            "octets": self.workload.octets,
            "rounds": self.rounds,
            "server": f"{self.target.host}:{self.target.port} (Dovecot, POP3S)",
            "ratios_against": {"ours": self.ours, "limit": self.limit},
            "scratch": self.scratch,
            "scratch_fs": filesystem_type(self.scratch),
            "tools": [self.figures(r) for r in self.results],
        }

    def print_table(self, out: TextIO) -> None:
        print(file=out)
        print(
            f"== {self.workload.name}: {self.workload.describe()}, {self.rounds} round(s) alternating, "
            f"Dovecot POP3S {self.target.host}:{self.target.port}, keep mode",
            file=out,
        )
        print(f"   Maildirs and state in {self.scratch} ({filesystem_type(self.scratch)})", file=out)
        header = ("tool", "delivery", "median s", "min s", "msg/s", "MB/s", f"t/{self.ours}", f"t/{self.limit}")
        rows: list[tuple[str, ...]] = []
        notes: list[str] = []
        for result in self.results:
            f = self.figures(result)
            if result.skipped is not None:
                rows.append((f["tool"], f["delivery"], "skipped", "", "", "", "", ""))
                notes.append(f"{f['tool']}: skipped: {result.skipped}")
            elif result.error is not None:
                rows.append((f["tool"], f["delivery"], "FAILED", "", "", "", "", ""))
                notes.append(f"{f['tool']}: FAILED: {result.error}")
            else:
                rows.append(
                    (
                        f["tool"],
                        f["delivery"],
                        f"{f['median_s']:.3f}",
                        f"{f['min_s']:.3f}",
                        f"{f['messages_per_s']:.0f}",
                        f"{f['mb_per_s']:.1f}",
                        _ratio(f["ratio_to_ours"]),
                        _ratio(f["ratio_to_raw"]),
                    )
                )
                if result.tool.note:
                    notes.append(f"{f['tool']}: {result.tool.note}")
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            cells = [c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
            print("  ".join(cells).rstrip(), file=out)
        for note in notes:
            print(f"  - {note}", file=out)


def filesystem_type(path: str) -> str:
    """The type of the file system holding ``path`` (longest mount point in /proc/mounts)."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    real = os.path.realpath(path)
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1]
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": _cpu_model(),
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "platform": platform.platform(),
        "loadavg_start": load_average(),
    }
    info.update(tool_versions())
    return info


def load_average() -> str:
    """1/5/15-minute load averages: other work on the machine makes the figures noisy."""
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine(info: dict[str, Any], out: TextIO) -> None:
    print("machine:", file=out)
    for key, value in info.items():
        print(f"  {key}: {value}", file=out)


def print_legend(out: TextIO, info: dict[str, Any]) -> None:
    print(f"\nload average: {info.get('loadavg_start')} at start, {info.get('loadavg_end')} at end", file=out)
    print(
        "median/min: wall-clock seconds per run, connect to QUIT (external tools: process start to exit);\n"
        "t/<ours>: median time relative to ours (>1 = slower); t/raw: relative to the raw pipelined read,\n"
        "the limit (1.00 = at the limit). msg/s and MB/s from the median; MB = 10^6 octets of stored mail.",
        file=out,
    )
