"""The support report: a redacted Markdown document a user can send to their provider.

Built only from the `Report` (which holds no password) and the client's
redacted transcript excerpts, so nothing secret can reach it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pop3doctor import __version__
from pop3doctor.diagnosis.model import Report
from pop3doctor.diagnosis.text import STAGE_NAMES, STATUS_WORDS, VERDICTS
from pop3doctor.i18n import Lang, catalog

_t = catalog("diagnosis")


def render_markdown(report: Report, lang: Lang) -> str:
    data = report.to_dict(lang)
    out: list[str] = [f"# {_t.REPORT_HEAD(lang)}", ""]
    out.append(f"- {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} · pop3doctor {__version__}")
    out.append(f"- {_t.REPORT_NOTE(lang)}")
    out += ["", f"## {_t.REPORT_SETTINGS(lang)}", ""]
    for key, value in data["settings"].items():
        out.append(f"- {key}: `{value}`")
    out += ["", f"## {_t.REPORT_RESULT(lang)}", "", f"**{VERDICTS[report.verdict](lang)}**"]
    if data["cause"]:
        out.append(f"- cause: `{data['cause']}` — {data['title'] or ''}")
    primary = report.primary
    if primary is not None:
        if primary.explanation:
            out += ["", primary.explanation(lang)]
        out += ["", f"### {_t.REPORT_FIX(lang)}", ""]
        out += [f"{i}. {step(lang)}" for i, step in enumerate(primary.remedy, 1)]
    if data["suggested_settings"]:
        out += ["", f"### {_t.REPORT_SUGGESTED(lang)}", ""]
        out += [f"- {k}: `{v}`" for k, v in data["suggested_settings"].items()]
    out += ["", f"## {_t.REPORT_STEPS(lang)}", "", "| | stage | result | ms |", "|---|---|---|---|"]
    for f in report.findings:
        if f.stage == "summary":
            continue
        title = f.title(lang).replace("|", "\\|")
        out.append(f"| {STATUS_WORDS[f.status](lang)} | {STAGE_NAMES[f.stage](lang)} | {title} | {f.elapsed_ms:.0f} |")
    out += ["", f"## {_t.REPORT_DETAILS(lang)}", ""]
    for f in report.findings:
        if f.stage == "summary" or (not f.evidence and not f.transcript):
            continue
        evidence = json.dumps(f.evidence, ensure_ascii=False, indent=2, default=str)
        out += [f"### {f.stage}", "", "```json", evidence, "```"]
        if f.transcript:
            out += ["", "```", *f.transcript, "```"]
        out.append("")
    return "\n".join(out) + "\n"
