"""The reply corpus (tests/data/server_replies/*.jsonl, issue 14): real server lines with their cause.

One JSON object per distinct wording: the server and version, the command it
answers, the stage, the cause a user must be told, the line, and where it comes
from (observed on the wire from a real daemon in the server matrix, and the
server's source file at a commit).  Each line must get its cause from the
diagnosis's reply classifier and from ``pop3doctor explain --json`` alike --
except a line that means something only as the answer to one command
(``explain_cause`` / ``explain_why`` say what explain, which knows no command, gives).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pop3doctor.knowledge.causes import CAUSE_CODES
from support.replies import judge, load

LINES = load()
FIELDS = {"server", "version", "command", "stage", "cause", "line", "source"}
#: A line whose meaning needs the command it answers: what explain (no command known) says, and why.
EXPLAIN_FIELDS = {"explain_cause", "explain_why"}
#: A line that carries no diagnosis (``"cause": null``) says why in ``none_why``.
NONE_FIELDS = {"none_why"}


def test_corpus_is_well_formed_and_distinct() -> None:
    assert LINES
    for entry in LINES:
        if entry["cause"] is None:
            assert set(entry) == FIELDS | NONE_FIELDS and entry["none_why"].strip(), entry
        else:
            assert set(entry) in (FIELDS, FIELDS | EXPLAIN_FIELDS), entry
            assert entry["cause"] in CAUSE_CODES, entry
        assert entry["source"].strip() and entry["line"].startswith("-ERR"), entry
    assert len({e["line"] for e in LINES}) == len(LINES)  # one line per distinct wording


@pytest.mark.parametrize("entry", LINES, ids=[f"{e['server']}:{e['line'][:48]}" for e in LINES])
def test_the_diagnosis_and_explain_give_each_line_its_cause(entry: dict[str, Any]) -> None:
    verdict = judge(entry)
    assert verdict.diagnosis == entry["cause"], verdict
    assert verdict.explained == entry.get("explain_cause", entry["cause"]), verdict


def test_the_coverage_report_counts_every_line_per_server_source_and_cause() -> None:
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.wordings", "--json"], cwd=root, capture_output=True, text=True, timeout=120
    )
    figures = json.loads(out.stdout)
    assert figures["lines"] == len(LINES)
    for table in ("servers", "sources", "causes"):
        assert sum(row["lines"] for row in figures[table].values()) == len(LINES), table
    assert figures["servers"].keys() == {e["server"] for e in LINES}
    assert out.returncode == (0 if figures["right"] == len(LINES) else 1)
