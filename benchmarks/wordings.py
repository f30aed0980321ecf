"""``python -m benchmarks.wordings``: how well the reply knowledge reads the corpus (issue 14).

Reads every line of tests/data/server_replies/*.jsonl and classifies it twice,
as the diagnosis does (`cause_for_server_error` on the error the client raises
for the line's command) and as ``pop3doctor explain --json`` does (no command
known), exactly as tests/test_server_replies.py checks, then prints lines per
server, per cited source (repository or web site) and per cause, with the share
classified right and every line that was not.

Exit status 0 when every line gets its cause both ways, 1 otherwise.
``--json`` prints the same figures as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import testsupport  # noqa: F401  (puts tests/ on sys.path)
from support.replies import CORPUS, Verdict, judge, load


def source_name(source: str) -> str:
    """The repository (owner/name) or web site a citation points at; the first one when several are cited."""
    found = []
    for m in re.finditer(r"https?://(?:www\.)?github\.com/([\w.-]+/[\w.-]+)|https?://(?:www\.)?([^/\s]+)", source):
        found.append((m.start(), m.group(1) or m.group(2)))
    for m in re.finditer(r"(?<![\w./-])([\w.-]+/[\w.-]+)(?=[:@][\w./-])", source):
        if not source[max(0, m.start() - 8) : m.start()].endswith(("//", "tests/")):
            found.append((m.start(), m.group(1)))
    return min(found)[1] if found else source.split(";")[0].strip()[:60]


def summary(verdicts: list[Verdict]) -> dict[str, Any]:
    def table(key: Any) -> dict[str, dict[str, int]]:
        rows: dict[str, dict[str, int]] = defaultdict(lambda: {"lines": 0, "right": 0})
        for v in verdicts:
            row = rows[key(v)]
            row["lines"] += 1
            row["right"] += v.right
        return dict(sorted(rows.items(), key=lambda kv: (-kv[1]["lines"], kv[0])))

    right = sum(v.right for v in verdicts)
    return {
        "lines": len(verdicts),
        "right": right,
        "share_right": right / len(verdicts) if verdicts else 0.0,
        "servers": table(lambda v: v.entry["server"]),
        "sources": table(lambda v: source_name(v.entry["source"])),
        "causes": table(lambda v: str(v.entry["cause"])),
        "wrong": [
            {
                "server": v.entry["server"],
                "line": v.entry["line"],
                "expected": v.entry["cause"],
                "diagnosis": v.diagnosis,
                "explain": v.explained,
            }
            for v in verdicts
            if not v.right
        ],
    }


def _print_table(title: str, rows: dict[str, dict[str, int]]) -> None:
    print(f"\n{title} ({len(rows)})")
    width = max((len(k) for k in rows), default=10)
    for name, row in rows.items():
        print(f"  {name:<{width}}  {row['lines']:>4} lines  {row['right'] / row['lines']:>6.1%} right")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wordings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of *.jsonl reply lines")
    args = parser.parse_args(argv)
    figures = summary([judge(e) for e in load(args.corpus)])
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=1))
    else:
        print(
            f"{figures['lines']} reply lines, {len(figures['servers'])} servers/providers, "
            f"{len(figures['sources'])} cited sources: {figures['right']} classified right "
            f"({figures['share_right']:.1%}) by the diagnosis and by explain"
        )
        _print_table("per server or provider", figures["servers"])
        _print_table("per cited source", figures["sources"])
        _print_table("per cause", figures["causes"])
        if figures["wrong"]:
            print(f"\nnot classified right ({len(figures['wrong'])})")
            for w in figures["wrong"]:
                print(
                    f"  {w['server']}: {w['line']!r}: want {w['expected']}, "
                    f"diagnosis {w['diagnosis']}, explain {w['explain']}"
                )
    return 0 if not figures["wrong"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head: the reader has what it wanted
        sys.exit(0)
