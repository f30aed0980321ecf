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
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pop3doctor.cli.explain import command as explain_command
from pop3doctor.knowledge.causes import CAUSE_CODES
from pop3doctor.knowledge.classify import classify_response

CORPUS = Path(__file__).parent / "data" / "server_replies"
LINES: list[dict[str, Any]] = [
    json.loads(line)
    for part in sorted(CORPUS.glob("*.jsonl"))
    for line in part.read_text(encoding="utf-8").splitlines()
    if line
]
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
    assert classify_response(entry["line"], stage=entry["stage"]) == entry["cause"]
    result = CliRunner().invoke(explain_command, ["--json", entry["line"]])
    assert json.loads(result.output)["cause"] == entry.get("explain_cause", entry["cause"]), result.output
