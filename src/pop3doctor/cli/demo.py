"""``pop3doctor demo``: diagnose built-in lab scenarios, offline, to show what pop3doctor does.

Each case starts a lab server in-process on free loopback ports (nothing
leaves this machine), points the real diagnosis at it with the settings a
user might have typed, and shows the verdict and the fix.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.rule import Rule

from pop3doctor.cli.console import make_console
from pop3doctor.cli.render import render_finding, render_verdict
from pop3doctor.diagnosis.model import Report, Settings
from pop3doctor.diagnosis.runner import diagnose
from pop3doctor.endpoint import Security
from pop3doctor.i18n import Lang, Msg, catalog, resolve_lang
from pop3doctor.lab import LabServer
from pop3doctor.lab.scenarios import get_scenario

_t = catalog("cli")


@dataclass(frozen=True)
class DemoCase:
    scenario: str
    port: str  # "tls" or "plain": which lab port the imagined mail program uses
    security: Security
    headline: Msg | None = None  # defaults to the scenario's description


CASES = (
    DemoCase("healthy", "tls", Security.SSL),
    DemoCase("wrong-password", "tls", Security.SSL),
    DemoCase(
        "healthy",
        "plain",
        Security.SSL,
        Msg(
            "設定ミス: SSL/TLS なのに平文用のポートを指定している",
            "Wrong settings: SSL/TLS chosen, but the port is the plain-text one",
        ),
    ),
    DemoCase("app-password-required", "tls", Security.SSL),
    DemoCase("cert-expired", "tls", Security.SSL),
    DemoCase("mailbox-in-use", "tls", Security.SSL),
)


async def _run_case(console: Console, case: DemoCase, n: int, lang: Lang, workdir: Path) -> str:
    headline = case.headline or get_scenario(case.scenario).description
    console.print(Rule(escape(_t.DEMO_CASE(lang, n=n, total=len(CASES), headline=headline(lang)))))
    async with LabServer(case.scenario) as lab:
        ca = workdir / f"lab-ca-{n}.pem"
        lab.write_ca(str(ca))
        port = lab.tls_port if case.port == "tls" or lab.port is None else lab.port
        settings = Settings(lab.host, port, case.security, lab.user, ca_file=str(ca), timeout=3)
        shown = _t.DEMO_SETTINGS(lang, host=lab.host, port=port, security=case.security, user=lab.user)
        console.print(f"[dim]{escape(shown)}[/dim]")
        report = Report(settings)
        extra = tuple(p for p in (lab.tls_port, lab.port) if p is not None)
        async for finding in diagnose(settings, lab.password, extra_ports=extra, report=report):
            render_finding(console, finding, lang)
        render_verdict(console, report, lang)
        console.print()
        return report.verdict


async def _demo(lang: Lang) -> list[str]:
    console = make_console()
    console.print(f"[bold]{escape(_t.DEMO_INTRO(lang))}[/bold]")
    console.print()
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="pop3doctor-demo-") as tmp:
        for n, case in enumerate(CASES, 1):
            verdicts.append(await _run_case(console, case, n, lang, Path(tmp)))
    console.print(escape(_t.DEMO_DONE(lang)))
    return verdicts


@click.command("demo")
@click.option("--lang", type=click.Choice(["ja", "en"]), help="言語 / language (default: from the locale)")
def command(lang: str | None) -> None:
    """練習用サーバーでよくあるトラブルを再現して診断します（オフライン）。
    Diagnose common failures reproduced by the built-in lab server (offline)."""
    verdicts = asyncio.run(_demo(resolve_lang(lang)))
    # The demo itself succeeded when the healthy case was healthy and the others were caught.
    sys.exit(0 if verdicts[0] == "ok" and all(v != "ok" for v in verdicts[1:]) else 1)
