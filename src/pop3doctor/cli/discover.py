"""``pop3doctor discover EMAIL``: find the POP3 settings for an address, and say where they came from.

Exit status: 0 settings found, 2 none found or the provider offers no POP,
64 usage error (e.g. not an e-mail address).
"""

from __future__ import annotations

import asyncio
import sys

import click
from rich.console import Console
from rich.markup import escape

from pop3doctor.cli.console import make_console
from pop3doctor.discovery import (
    AddressError,
    AutoconfigEndpoints,
    Candidate,
    DiscoveryConfig,
    DiscoveryResult,
    GuessPorts,
    Source,
    UsernameForm,
    discover,
    parse_address,
)
from pop3doctor.discovery import messages as m
from pop3doctor.discovery.autoconfig import DEFAULT_ISPDB_URL
from pop3doctor.endpoint import Endpoint
from pop3doctor.escaping import json_text
from pop3doctor.i18n import Lang, resolve_lang

EXIT_FOUND = 0
EXIT_NOT_FOUND = 2


def run_discovery(email: str, config: DiscoveryConfig) -> DiscoveryResult:
    """Synchronous entry for CLI commands; raises `AddressError` for a malformed address."""
    address = parse_address(email)
    return asyncio.run(discover(address, config))


def candidate_line(candidate: Candidate, lang: Lang) -> str:
    security = m.SECURITY_NAMES[candidate.security.value](lang)
    user = candidate.username or m.ACCOUNT_ID_USER(lang)
    tags = [m.SOURCE_NAMES[candidate.source.value](lang), m.CONFIDENCE_NAMES[candidate.confidence.value](lang)]
    if candidate.verified:
        tags.append(m.VERIFIED(lang))
    return f"{candidate.host}:{candidate.port} {security}, {user}  [{', '.join(tags)}]"


def render(console: Console, result: DiscoveryResult, lang: Lang) -> None:
    """The chosen settings first, then alternatives, warnings and what each source did."""
    console.print(f"[bold]{escape(m.TITLE(lang, email=result.email))}[/bold]")
    console.print()
    chosen = result.chosen
    if chosen is not None:
        console.print(f"[bold green]{escape(m.CHOSEN(lang))}[/bold green]")
        user = chosen.username
        if chosen.username_form is UsernameForm.ACCOUNT_ID:
            user = m.ACCOUNT_ID_USER(lang)
        elif chosen.username_form is UsernameForm.UNKNOWN:
            user = f"{user} {m.UNKNOWN_USER_NOTE(lang)}"
        rows = [
            (m.FIELD_SERVER, chosen.host),
            (m.FIELD_PORT, str(chosen.port)),
            (m.FIELD_SECURITY, m.SECURITY_NAMES[chosen.security.value](lang)),
            (m.FIELD_USER, user),
            (
                m.FIELD_SOURCE,
                f"{m.SOURCE_NAMES[chosen.source.value](lang)} ({m.CONFIDENCE_NAMES[chosen.confidence.value](lang)})"
                + (f", {m.VERIFIED(lang)}" if chosen.verified else ""),
            ),
        ]
        for label, value in rows:
            console.print(f"  {escape(label(lang))}: [bold]{escape(value)}[/bold]")
        console.print(f"  [dim]{escape(chosen.evidence)}[/dim]")
    elif result.pop_offered is False:
        console.print(f"[bold red]{escape(m.NO_POP(lang))}[/bold red]")
    else:
        console.print(f"[bold red]{escape(m.NOTHING_FOUND(lang))}[/bold red]")
    if result.alternatives:
        console.print()
        console.print(f"[bold]{escape(m.ALTERNATIVES(lang))}[/bold]")
        for candidate in result.alternatives:
            console.print(f"  - {escape(candidate_line(candidate, lang))}")
    if result.warnings:
        console.print()
        console.print(f"[bold yellow]{escape(m.WARNINGS(lang))}[/bold yellow]")
        for warning in result.warnings:
            console.print(f"  [yellow]⚠[/yellow] {escape(warning.text(lang))}")
            if warning.url:
                console.print(f"    [dim]{escape(warning.url)}[/dim]")
    console.print()
    console.print(f"[bold]{escape(m.SOURCES(lang))}[/bold]")
    for report in result.sources:
        name = m.SOURCE_NAMES[report.source.value](lang)
        status = m.STATUS_NAMES[report.status.value](lang)
        console.print(f"  {escape(name)}: {escape(status)}  [dim]{report.elapsed_ms:.0f} ms[/dim]")
        for detail in report.detail:
            console.print(f"    [dim]{escape(detail(lang))}[/dim]")


def _sources(names: tuple[str, ...]) -> frozenset[Source]:
    return frozenset(Source(n) for n in names) if names else frozenset(Source)


@click.command("discover")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="machine-readable result (schema pop3doctor.discovery/1)")
@click.option("--lang", type=click.Choice(["ja", "en"]), help="言語 / language (default: from the locale)")
@click.option(
    "--timeout", type=click.FloatRange(0.1, 600), default=8.0, show_default=True,
    help="connect timeout, s (the whole discovery ends within about this)",
)
@click.option("--dns-server", "dns_servers", multiple=True, metavar="IP[:PORT]", help="use this DNS server")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="extra CA certificates (PEM)")
@click.option(
    "--ispdb-url", default=DEFAULT_ISPDB_URL, show_default=True, help="ISPDB base URL ('' to skip the ISPDB)"
)
@click.option("--no-http", is_flag=True, help="do not fall back to autoconfig over plain HTTP")
@click.option(
    "--source", "sources", multiple=True, type=click.Choice([s.value for s in Source]),
    help="only these sources (repeatable; default: all)",
)
@click.option("--all-sources", is_flag=True, help="wait for every source, even after a better one answered")
# Test hooks: where the autoconfig web servers and the guessed POP3 servers listen.
@click.option("--https-port", type=click.IntRange(1, 65535), default=443, hidden=True)
@click.option("--http-port", type=click.IntRange(1, 65535), default=80, hidden=True)
@click.option("--pop3s-port", type=click.IntRange(1, 65535), default=GuessPorts().ssl, hidden=True)
@click.option("--pop3-port", type=click.IntRange(1, 65535), default=GuessPorts().starttls, hidden=True)
def command(
    email: str,
    as_json: bool,
    lang: str | None,
    timeout: float,
    dns_servers: tuple[str, ...],
    ca_file: str | None,
    ispdb_url: str,
    no_http: bool,
    sources: tuple[str, ...],
    all_sources: bool,
    https_port: int,
    http_port: int,
    pop3s_port: int,
    pop3_port: int,
) -> None:
    """メールアドレスから POP3 の設定（サーバー・ポート・暗号化・ユーザー名）を調べます。
    Find the POP3 settings (server, port, security, user name) for an e-mail address."""
    language = resolve_lang(lang)
    config = DiscoveryConfig(
        timeout=timeout,
        nameservers=dns_servers,
        ca_file=ca_file,
        autoconfig=AutoconfigEndpoints(
            https_port=https_port, http_port=http_port, ispdb_url=ispdb_url or None, allow_http=not no_http
        ),
        guess_ports=GuessPorts(ssl=pop3s_port, starttls=pop3_port),
        sources=_sources(sources),
        exhaustive=all_sources,
    )
    try:
        result = run_discovery(email, config)
    except AddressError:
        raise click.UsageError(m.INVALID_ADDRESS(language, text=email)) from None
    if as_json:
        sys.stdout.write(json_text(result.to_dict(language), indent=2) + "\n")
    else:
        render(make_console(), result, language)
    sys.exit(EXIT_FOUND if result.chosen is not None else EXIT_NOT_FOUND)


def settings_for_diagnose(
    email: str,
    *,
    user: str | None,
    timeout: float,
    ca_file: str | None,
    dns_servers: tuple[str, ...],
    lang: Lang,
) -> Endpoint:
    """``pop3doctor diagnose EMAIL`` without --host: discovery's chosen endpoint.

    An explicit --user wins (the caller applies --port/--security).  When
    nothing is found (or the provider has no POP) the discovery report goes
    to stderr and the command exits with status 2.
    """
    try:
        result = run_discovery(email, DiscoveryConfig(timeout=timeout, nameservers=dns_servers, ca_file=ca_file))
    except AddressError:
        raise click.UsageError(m.INVALID_ADDRESS(lang, text=email)) from None
    console = make_console(stderr=True)
    chosen = result.chosen
    if chosen is None:
        render(console, result, lang)
        sys.exit(EXIT_NOT_FOUND)
    console.print(
        escape(
            m.USING_DISCOVERED(
                lang,
                email=result.email,
                host=chosen.host,
                port=chosen.port,
                security=m.SECURITY_NAMES[chosen.security.value](lang),
                source=m.SOURCE_NAMES[chosen.source.value](lang),
            )
        )
    )
    for warning in result.warnings:
        console.print(f"[yellow]⚠[/yellow] {escape(warning.text(lang))}")
    # The address itself when only the provider knows the user name: diagnose needs one.
    return chosen.to_endpoint(user or chosen.username or result.email)
