"""The benchmarks still run: a tiny ``python -m benchmarks`` completes and prints its table.

No timing is asserted here, ever: figures come from ``./dev bench`` on a
quiet machine.  These runs only prove every contender still fetches the whole
mailbox (the benchmark exits 1 when one does not) and is named in the table.
Like the Dovecot fixture, they skip where Dovecot cannot run -- and fail in CI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from support.dovecot import require_dovecot

ROOT = Path(__file__).resolve().parent.parent


def _bench(*args: str, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    require_dovecot()
    out_json = tmp_path / "figures.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", *args, "--json", str(out_json)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout, json.loads(out_json.read_text())


def _table_rows(stdout: str, workload: str) -> dict[str, str]:
    """Tool name -> its table row, for the table of ``workload``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"== {workload}:"))
    rows: dict[str, str] = {}
    for line in lines[start + 3 :]:
        if not line.strip() or line.startswith(("  -", "==")):
            break
        # The tool column is left-aligned and may hold one space ("pop3doctor fetch").
        name = line.split("  ")[0].strip()
        rows[name] = line
    return rows


def test_retrieve_benchmark_runs_every_tool(tmp_path: Path) -> None:
    stdout, figures = _bench("retrieve", "--messages", "20", "--rounds", "1", tmp_path=tmp_path)
    rows = _table_rows(stdout, "retrieve")
    assert set(rows) == {"pop3doctor", "poplib", "mpop", "raw"}
    # Each tool either ran or says why it was skipped; none failed.
    assert not any("FAILED" in row for row in rows.values()), stdout
    assert "nproc:" in stdout and "dovecot:" in stdout
    (workload,) = figures["workloads"]
    assert workload["messages"] == 20
    assert {t["tool"] for t in workload["tools"]} == set(rows)
    raw = next(t for t in workload["tools"] if t["tool"] == "raw")
    assert raw["ratio_to_raw"] == 1.0


def test_fetch_benchmark_runs_every_tool(tmp_path: Path) -> None:
    stdout, figures = _bench(
        "fetch",
        "--messages", "20", "--large-messages", "2", "--large-size", "300000", "--rounds", "1",
        tmp_path=tmp_path,
    )  # fmt: skip
    expected = {"pop3doctor fetch", "mpop", "fetchmail", "getmail6", "poplib", "raw"}
    for workload in ("fetch-small", "fetch-large"):
        rows = _table_rows(stdout, workload)
        assert set(rows) == expected, stdout
        assert not any("FAILED" in row for row in rows.values()), stdout
    assert [w["workload"] for w in figures["workloads"]] == ["fetch-small", "fetch-large"]
