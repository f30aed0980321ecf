"""Diagnosis objects as the page's server-sent events: plain JSON with both languages.

Every text goes out in Japanese and English at once, so the page can switch
language without running the checks again.  Nothing here decides anything:
verdict, cause, remedy and suggested settings are the diagnosis's own.
"""

from __future__ import annotations

from typing import Any

from pop3doctor.diagnosis.markdown import render_markdown
from pop3doctor.diagnosis.model import STAGES, Finding, Report, Settings
from pop3doctor.diagnosis.text import SECURITY_LABELS, STAGE_NAMES, STATUS_WORDS, VERDICTS
from pop3doctor.escaping import visible
from pop3doctor.i18n import LANGS, Msg
from pop3doctor.web.text import UI

Bilingual = dict[str, str]


def both(msg: Msg) -> Bilingual:
    # Server text inside (a greeting in a finding's title) shows its controls as escapes.
    return {lang: visible(msg(lang), keep_newlines=True) for lang in LANGS}


#: The stages shown as a checklist before they run (the summary is the verdict, not a step).
CHECKLIST: tuple[str, ...] = tuple(s for s in STAGES if s != "summary")


def stage_names() -> dict[str, Bilingual]:
    return {stage: both(STAGE_NAMES[stage]) for stage in CHECKLIST}


def settings_event(settings: Settings, source: Msg, notes: tuple[Msg, ...] = ()) -> dict[str, Any]:
    """The settings about to be checked, where they came from, and discovery's notes on them."""
    return {
        "settings": settings_rows(settings.host, settings.port, settings.security, settings.user),
        "raw": settings.public(),
        "source": both(source),
        "notes": [both(note) for note in notes],
    }


def settings_rows(host: str, port: int, security: str, user: str) -> list[dict[str, Any]]:
    """Rows of a "settings to enter" table, labelled as mail programs label them."""
    label = SECURITY_LABELS.get(security)
    host, user = visible(host), visible(user)  # typed by the user or found by discovery: shown, not obeyed
    return [
        {"key": "host", "label": both(UI["row_host"]), "value": {"ja": host, "en": host}},
        {"key": "port", "label": both(UI["row_port"]), "value": {"ja": str(port), "en": str(port)}},
        {
            "key": "security",
            "label": both(UI["row_security"]),
            "value": both(label) if label else {"ja": security, "en": security},
        },
        {"key": "user", "label": both(UI["row_user"]), "value": {"ja": user, "en": user}},
        {"key": "password", "label": both(UI["row_password"]), "value": both(UI["row_password_value"])},
    ]


def finding_event(finding: Finding) -> dict[str, Any]:
    return {
        "stage": finding.stage,
        "status": finding.status.value,
        "status_word": both(STATUS_WORDS[finding.status]),
        "title": both(finding.title),
        "cause": finding.cause,
        "elapsed_ms": round(finding.elapsed_ms),
    }


def done_event(report: Report) -> dict[str, Any]:
    """The verdict: cause, explanation, fix steps, the settings to enter, and the support report."""
    primary = report.primary
    data: dict[str, Any] = {
        "verdict": report.verdict,
        "verdict_text": both(VERDICTS[report.verdict]),
        "cause": report.cause,
        "cause_title": both(primary.title) if primary else None,
        "explanation": both(primary.explanation) if primary and primary.explanation else None,
        "remedy": [both(step) for step in primary.remedy] if primary else [],
        "report": {lang: render_markdown(report, lang) for lang in LANGS},
    }
    s = report.settings
    if report.suggested is not None:
        g = report.suggested
        rows = settings_rows(g.host, g.port, g.security, g.user)
        checked = s.public()
        for row in rows:
            # Mark what differs from the settings checked: that is what to change.
            row["changed"] = row["key"] in checked and g.public()[row["key"]] != checked[row["key"]]
        data["enter"] = {
            "kind": "suggested",
            "heading": both(UI["enter_suggested"]),
            "rows": rows,
            "raw": g.public(),
            "changed_word": both(UI["changed"]),
        }
    else:
        kind = "verified" if report.verdict != "problem" else "checked"
        data["enter"] = {
            "kind": kind,
            "heading": both(UI[f"enter_{kind}"]),
            "rows": settings_rows(s.host, s.port, s.security, s.user),
            "raw": s.public(),
        }
    return data


def error_event(message: Msg, field: str | None = None) -> dict[str, Any]:
    """A run that could not check anything; ``field`` names the form field to fill in."""
    return {"message": both(message), "field": field}
