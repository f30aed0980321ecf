"""The reply corpus (tests/data/server_replies/*.jsonl, issue 14) and how the diagnosis reads a line.

Shared by tests/test_server_replies.py and ``python -m benchmarks.wordings``,
so the coverage report counts exactly what the test checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from pop3doctor.cli.explain import command as explain_command
from pop3doctor.errors import AuthError, ServerError
from pop3doctor.knowledge.classify import classify_response
from pop3doctor.knowledge.evidence import cause_for_server_error
from pop3doctor.protocol.codes import parse_status_line

CORPUS = Path(__file__).resolve().parent.parent / "data" / "server_replies"
#: Login commands: the client raises AuthError for their refusal (client.py).
LOGIN_COMMANDS = {"PASS", "APOP", "AUTH"}
#: "any": a reply a server gives to whatever comes next; the corpus stage says where it was seen.
ANY_AT = {"login": "login", "mailbox": "stat", "retrieval": "retr", "greeting": "greeting"}


def load(corpus: Path = CORPUS) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for part in sorted(corpus.glob("*.jsonl"))
        for line in part.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def diagnosis_error(entry: dict[str, Any]) -> ServerError:
    """The error the client raises for this line, as the diagnosis receives it (stage = the command)."""
    status = parse_status_line(entry["line"])
    if status is None or status.ok:
        raise ValueError(f"not an -ERR line: {entry['line']!r}")
    verb = entry["command"].split()[0].upper()
    if verb in ("GREETING", "(CONNECT)"):
        return ServerError("greeting", None, status)
    if verb == "ANY":
        stage = ANY_AT[entry["stage"]]
        return (AuthError if stage == "login" else ServerError)(stage, None, status)
    if verb == "USER":
        return AuthError("user", "USER x", status)
    if verb in LOGIN_COMMANDS:
        return AuthError("login", verb, status)
    return ServerError(verb.lower(), verb, status)


def explain_json(line: str) -> str | None:
    """The cause ``pop3doctor explain --json LINE`` prints (the real command, in process)."""
    result = CliRunner().invoke(explain_command, ["--json", line])
    cause: str | None = json.loads(result.output)["cause"]
    return cause


@dataclass(frozen=True)
class Verdict:
    """What the diagnosis and explain make of one corpus line, against what it should be."""

    entry: dict[str, Any]
    diagnosis: str | None  # cause_for_server_error; for a cause-less line, what the wording alone claims
    explained: str | None

    @property
    def right(self) -> bool:
        return self.diagnosis == self.entry["cause"] and self.explained == self.entry.get(
            "explain_cause", self.entry["cause"]
        )


def judge(entry: dict[str, Any]) -> Verdict:
    error = diagnosis_error(entry)
    if entry["cause"] is None:
        # No knowledge may claim a meaning for it; the diagnosis then says only its stage's default.
        stage = "login" if isinstance(error, AuthError) else error.stage
        diagnosis = classify_response(error.status.text, code=error.status.code, stage=stage)
    else:
        diagnosis = cause_for_server_error(error)
    return Verdict(entry, diagnosis, explain_json(entry["line"]))
