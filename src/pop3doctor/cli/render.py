"""Terminal rendering of diagnosis findings with rich (one line per stage as it completes)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from pop3doctor.diagnosis.model import Finding, Report, Status
from pop3doctor.diagnosis.text import SECURITY_LABELS, STAGE_NAMES, SUGGESTION, VERDICTS
from pop3doctor.i18n import Lang, catalog

_t = catalog("cli")

_ICONS = {
    Status.PASS: "[green]✔[/green]",
    Status.WARN: "[yellow]⚠[/yellow]",
    Status.FAIL: "[red]✖[/red]",
    Status.SKIP: "[dim]・[/dim]",
}


def render_finding(console: Console, finding: Finding, lang: Lang) -> None:
    if finding.stage == "summary":
        return
    name = STAGE_NAMES[finding.stage](lang)
    console.print(
        f"{_ICONS[finding.status]} [bold]{escape(name)}[/bold]  {escape(finding.title(lang))}"
        f"  [dim]{finding.elapsed_ms:.0f} ms[/dim]"
    )


def render_verdict(console: Console, report: Report, lang: Lang) -> None:
    console.print()
    style = {"ok": "bold green", "warning": "bold yellow", "problem": "bold red"}[report.verdict]
    console.print(f"[{style}]{escape(VERDICTS[report.verdict](lang))}[/{style}]")
    primary = report.primary
    if primary is not None:
        console.print(f"[bold]{_t.CAUSE(lang)}:[/bold] {escape(primary.title(lang))}  [dim]({primary.cause})[/dim]")
        if primary.explanation:
            console.print(escape(primary.explanation(lang)))
        if primary.remedy:
            console.print(f"[bold]{_t.FIX(lang)}:[/bold]")
            for i, step in enumerate(primary.remedy, 1):
                console.print(f"  {i}. {escape(step(lang))}")
    if report.suggested is not None:
        s = report.suggested
        console.print()
        console.print(
            "[bold cyan]"
            + escape(
                SUGGESTION(lang, host=s.host, port=s.port, security=SECURITY_LABELS[s.security](lang), user=s.user)
            )
            + "[/bold cyan]"
        )
