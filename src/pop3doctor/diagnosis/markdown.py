"""The support report: a redacted Markdown document a user can send to their provider.

Built only from the `Report` (which holds no password) and the client's
redacted transcript excerpts, so nothing secret can reach it.  Every text that
may come from the server or the user (titles, settings, evidence, transcript)
goes through `pop3doctor.escaping`: controls shown as escapes, Markdown
specials escaped, code spans and fences longer than any backtick run inside.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pop3doctor import __version__
from pop3doctor.diagnosis.model import Report
from pop3doctor.diagnosis.text import STAGE_NAMES, STATUS_WORDS, VERDICTS
from pop3doctor.escaping import json_text, md_code, md_fence, md_text, visible
from pop3doctor.i18n import Lang, catalog

_t = catalog("diagnosis")


def render_markdown(report: Report, lang: Lang) -> str:
    data = report.to_dict(lang)
    out: list[str] = [f"# {_t.REPORT_HEAD(lang)}", ""]
    out.append(f"- {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} · pop3doctor {__version__}")
    out.append(f"- {_t.REPORT_NOTE(lang)}")
    out += ["", f"## {_t.REPORT_SETTINGS(lang)}", ""]
    for key, value in data["settings"].items():
        out.append(f"- {key}: {md_code(str(value))}")
    out += ["", f"## {_t.REPORT_RESULT(lang)}", "", f"**{VERDICTS[report.verdict](lang)}**"]
    if data["cause"]:
        out.append(f"- cause: {md_code(data['cause'])} — {md_text(data['title'] or '')}")
    primary = report.primary
    if primary is not None:
        if primary.explanation:
            out += ["", md_text(primary.explanation(lang))]
        out += ["", f"### {_t.REPORT_FIX(lang)}", ""]
        out += [f"{i}. {md_text(step(lang))}" for i, step in enumerate(primary.remedy, 1)]
    if data["suggested_settings"]:
        out += ["", f"### {_t.REPORT_SUGGESTED(lang)}", ""]
        out += [f"- {k}: {md_code(str(v))}" for k, v in data["suggested_settings"].items()]
    out += ["", f"## {_t.REPORT_STEPS(lang)}", "", "| | stage | result | ms |", "|---|---|---|---|"]
    for f in report.findings:
        if f.stage == "summary":
            continue
        title = md_text(f.title(lang))
        out.append(f"| {STATUS_WORDS[f.status](lang)} | {STAGE_NAMES[f.stage](lang)} | {title} | {f.elapsed_ms:.0f} |")
    out += ["", f"## {_t.REPORT_DETAILS(lang)}", ""]
    for f in report.findings:
        if f.stage == "summary" or (not f.evidence and not f.transcript):
            continue
        evidence = json_text(f.evidence, indent=2, default=str)
        out += [f"### {f.stage}", "", *md_fence(evidence.split("\n"), "json")]
        if f.transcript:
            out += ["", *md_fence([visible(line) for line in f.transcript])]
        out.append("")
    return "\n".join(out) + "\n"
