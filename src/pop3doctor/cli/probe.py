"""``pop3doctor probe HOST``: what every POP3 port of a server shows, without a login.

For help desks and server admins: the greeting, CAPA before and after STLS,
TLS version and cipher, the certificate (names, issuer, days left, trusted or
why not), whether a password could be sent in clear, RFC 2449 response codes.
The counterpart of mpop's ``--serverinfo``, for every port at once.  Only
CAPA, STLS and QUIT are ever sent: no user name, no password.

Exit status: 0 every probed port answered POP3 (with working TLS where
asked), 1 some did, 2 none did (or the name could not be looked up), 64
usage error.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping

import click
from rich.console import Console
from rich.markup import escape

from pop3doctor.cli.console import make_console
from pop3doctor.cli.options import check_host
from pop3doctor.diagnosis.serverinfo import DEFAULT_TARGETS, CertReport, PortReport, ServerInfo, probe_server
from pop3doctor.endpoint import DEFAULT_PORTS, Security
from pop3doctor.escaping import json_text
from pop3doctor.i18n import Lang, Msg, catalog, resolve_lang
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.net.resolve import parse_nameserver

_t = catalog("probe")
_SECURITY_NAMES = _t.group("SECURITY_NAMES")
_TIMING_NAMES = _t.group("TIMING_NAMES")

EXIT_ALL_OK = 0
EXIT_SOME_OK = 1
EXIT_NONE_OK = 2

#: A certificate this close to its end is shown as a warning (a renewal is due).
CERT_WARN_DAYS = 30


def exit_code(info: ServerInfo) -> int:
    """0 when every probed port answered POP3, 2 when none did, 1 otherwise (the shared contract)."""
    if info.all_ok:
        return EXIT_ALL_OK
    return EXIT_SOME_OK if info.any_ok else EXIT_NONE_OK


def plan(
    port: int | None, security: str | None, *, ssl_port: int, starttls_port: int, only: bool
) -> tuple[list[tuple[int, Security]], list[int]]:
    """The targets to probe and the ports whose mode must be found by probing.

    The standard pair (``ssl_port``/SSL, ``starttls_port``/STARTTLS) always,
    unless ``only``; then the one given: with ``security``, in that mode (its
    standard port when no ``port``); a standard port alone in its standard
    mode; any other port alone in whichever mode it speaks.
    """
    targets: list[tuple[int, Security]] = []
    auto: list[int] = []
    if not only or (port is None and security is None):
        targets += [(ssl_port, Security.SSL), (starttls_port, Security.STARTTLS)]
    if security is not None:
        mode = Security(security)
        if port is None:
            port = {Security.SSL: ssl_port}.get(mode, starttls_port)
        targets.append((port, mode))
    elif port is not None:
        standard = {ssl_port: Security.SSL, starttls_port: Security.STARTTLS, **_standard_modes()}
        if port in standard:
            targets.append((port, standard[port]))
        else:
            auto.append(port)
    return list(dict.fromkeys(targets)), auto


def _standard_modes() -> dict[int, Security]:
    return {DEFAULT_PORTS[Security.SSL]: Security.SSL, DEFAULT_PORTS[Security.STARTTLS]: Security.STARTTLS}


# --- text output ---------------------------------------------------------------------


def _cause_title(code: str) -> Msg:
    try:
        return get_cause(code).title
    except KeyError:
        return Msg(code, code)


def _cert_line(cert: CertReport, lang: Lang) -> tuple[str, str]:
    """The certificate in one line, and the rich style it deserves."""
    date = cert.not_after[:10]
    parts = [_t.CERT_NAMES(lang, names=", ".join(cert.subject_names) or "-")]
    parts.append(_t.CERT_INTERCEPTED(lang, product=cert.intercepted_by) if cert.intercepted_by
                 else _t.CERT_ISSUER(lang, issuer=cert.issuer))
    if cert.self_signed:
        parts.append(_t.CERT_SELF_SIGNED(lang))
    if cert.days_left >= 0:
        parts.append(_t.CERT_VALID_UNTIL(lang, date=date, days=int(cert.days_left)))
    else:
        parts.append(_t.CERT_EXPIRED_AGO(lang, date=date, days=int(-cert.days_left) or 1))
    if cert.trusted:
        parts.append(_t.CERT_TRUSTED(lang))
    else:
        why = _cause_title(cert.trust_error or "cert-untrusted")(lang)
        parts.append(_t.CERT_NOT_TRUSTED(lang, why=why))
    style = "red" if not cert.trusted else ("yellow" if cert.days_left < CERT_WARN_DAYS else "")
    return " / ".join(parts), style


def _versions(versions: Mapping[str, bool | None], lang: Lang) -> str:
    marks = {True: _t.VERSION_ACCEPTED, False: _t.VERSION_REFUSED, None: _t.VERSION_UNKNOWN}
    return ", ".join(f"{name} {marks[accepted](lang)}" for name, accepted in versions.items())


def _capa_text(capa: list[str] | None, lang: Lang) -> str:
    return "  ".join(capa) if capa is not None else _t.CAPA_REFUSED(lang)


def _times(timings: Mapping[str, float], lang: Lang) -> str:
    names = _TIMING_NAMES
    return ", ".join(
        f"{names[key](lang) if key in names else key} {value:.0f} ms" for key, value in timings.items()
    )


def _row(console: Console, label: Msg, value: str, lang: Lang, style: str = "") -> None:
    shown = f"[{style}]{escape(value)}[/{style}]" if style else escape(value)
    console.print(f"    {escape(label(lang))}: {shown}")


def render_port(console: Console, report: PortReport, lang: Lang) -> None:
    head = f"{report.port} {_SECURITY_NAMES[report.security.value](lang)}"
    if report.ok:
        console.print(f"[green]✔[/green] [bold]{escape(head)}[/bold]  {escape(_t.PORT_OK(lang))}")
    else:
        cause = report.cause or "retrieval-failed"
        title = _cause_title(cause)(lang)
        console.print(f"[red]✖[/red] [bold]{escape(head)}[/bold]  {escape(title)}  [dim]({escape(cause)})[/dim]")
    if report.cause == "port-expects-tls" and report.address is None:
        console.print(f"    [dim]{escape(_t.PORT_STOPPED(lang))}[/dim]")
        return
    if report.address is not None:
        _row(console, _t.FIELD_ADDRESS, report.address, lang)
    if report.greeting is not None:
        _row(console, _t.FIELD_GREETING, report.greeting, lang)
    if report.tls_version is not None:
        _row(console, _t.FIELD_TLS, f"{report.tls_version}, {report.cipher or '-'}", lang)
    if report.tls_versions is not None:
        _row(console, _t.FIELD_TLS_VERSIONS, _versions(report.tls_versions, lang), lang)
    if report.cert is not None:
        text, style = _cert_line(report.cert, lang)
        _row(console, _t.FIELD_CERT, text, lang, style)
    # CAPA and what follows from it only where a POP3 server greeted (not an IMAP banner, not -ERR).
    pop3 = report.greeting is not None and report.greeting[:3].upper() == "+OK"
    if pop3:
        before = _t.FIELD_CAPA if report.security is Security.SSL else _t.FIELD_CAPA_BEFORE
        _row(console, before, _capa_text(report.capa, lang), lang)
    if report.capa_after_tls is not None:
        _row(console, _t.FIELD_CAPA_AFTER, _capa_text(report.capa_after_tls, lang), lang)
    if pop3:
        if report.security is Security.SSL:
            clear, style = _t.CLEAR_LOGIN_ENCRYPTED(lang), ""
        elif report.plaintext_login_possible:
            clear, style = _t.CLEAR_LOGIN_POSSIBLE(lang), "yellow"
        else:
            clear, style = _t.CLEAR_LOGIN_NOT_OFFERED(lang), "green"
        _row(console, _t.FIELD_CLEAR_LOGIN, clear, lang, style)
        _row(console, _t.FIELD_RESP_CODES, (_t.YES if report.response_codes else _t.NO)(lang), lang)
    if report.error is not None and not report.ok:
        detail = _detail(report.error, report.greeting)
        if detail:
            _row(console, _t.FIELD_DETAIL, detail, lang, "dim")
    if report.timings_ms:
        _row(console, _t.FIELD_TIMES, _times(report.timings_ms, lang), lang, "dim")


def _detail(error: Mapping[str, object], greeting: str | None) -> str:
    """The technical line under a failure: the error code and what the library or server said.

    What only repeats the greeting shown just above is left out.
    """
    keys = ("error", "reason", "library_reason", "verify_message", "server_said", "detail")
    values = [str(error[k]) for k in keys if error.get(k) not in (None, "")]
    return ", ".join(v for v in values if not (greeting and greeting in v))


def recommended(info: ServerInfo) -> PortReport | None:
    """What a mail program should use: implicit TLS first (RFC 8314), then STARTTLS; never plain."""
    order = {Security.SSL: 0, Security.STARTTLS: 1}
    working = [p for p in info.ports if p.ok and p.security in order]
    return min(working, key=lambda p: (order[p.security], p.port)) if working else None


def render(console: Console, info: ServerInfo, lang: Lang) -> None:
    console.print(f"[bold]{escape(_t.TITLE(lang, host=info.host))}[/bold]")
    if info.addresses:
        console.print(f"[dim]{escape(_t.ADDRESSES(lang, addresses=', '.join(info.addresses)))}[/dim]")
    console.print(f"[dim]{escape(_t.CHECKED_AT(lang, when=info.checked_at))}[/dim]")
    console.print()
    if info.cause is not None:
        message = _t.HOST_FAILED(lang, title=_cause_title(info.cause)(lang), cause=info.cause)
        console.print(f"[bold red]{escape(message)}[/bold red]")
        return
    for report in info.ports:
        render_port(console, report, lang)
    console.print()
    ok = sum(1 for p in info.ports if p.ok)
    if info.all_ok:
        summary, style = _t.SUMMARY_ALL(lang, total=len(info.ports)), "bold green"
    elif ok:
        summary, style = _t.SUMMARY_SOME(lang, ok=ok, total=len(info.ports)), "bold yellow"
    else:
        summary, style = _t.SUMMARY_NONE(lang), "bold red"
    console.print(f"[{style}]{escape(summary)}[/{style}]")
    best = recommended(info)
    if best is not None:
        text = _t.SUMMARY_RECOMMEND(lang, port=best.port, security=_SECURITY_NAMES[best.security.value](lang))
        console.print(f"[cyan]{escape(text)}[/cyan]")


# --- the command -----------------------------------------------------------------------


def _check_dns_servers(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    for spec in value:
        try:
            parse_nameserver(spec)
        except ValueError:
            raise click.BadParameter(_t.BAD_DNS_SERVER(resolve_lang(ctx.params.get("lang")), value=spec)) from None
    return value


@click.command("probe")
@click.option(
    "--lang", type=click.Choice(["ja", "en"]), is_eager=True, help="言語 / language (default: from the locale)"
)
@click.argument("host", callback=check_host)
@click.option("--port", "-p", type=click.IntRange(1, 65535), help="also probe this port (besides 995 and 110)")
@click.option(
    "--security",
    type=click.Choice(["ssl", "starttls", "plain"]),
    help="the mode for --port (default: its standard mode, or whichever the port speaks)",
)
@click.option("--only", is_flag=True, help="probe only --port/--security, not 995 and 110 as well")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=8.0, show_default=True, help="per step, s")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="extra CA certificates (PEM)")
@click.option(
    "--dns-server", "dns_servers", multiple=True, metavar="IP[:PORT]", callback=_check_dns_servers,
    help="use this DNS server",
)
@click.option(
    "--tls-versions", is_flag=True,
    help="also find which TLS versions (1.0-1.3) each TLS port accepts (one more connection per version)",
)
@click.option("--json", "as_json", is_flag=True, help="machine-readable result (schema pop3doctor.probe/1)")
# Where the standard ports are: test hooks (the lab and Dovecot listen on free ports).
@click.option("--pop3s-port", type=click.IntRange(1, 65535), default=DEFAULT_TARGETS[0][0], hidden=True)
@click.option("--pop3-port", type=click.IntRange(1, 65535), default=DEFAULT_TARGETS[1][0], hidden=True)
def command(
    lang: str | None,
    host: str,
    port: int | None,
    security: str | None,
    only: bool,
    timeout: float,
    ca_file: str | None,
    dns_servers: tuple[str, ...],
    tls_versions: bool,
    as_json: bool,
    pop3s_port: int,
    pop3_port: int,
) -> None:
    """サーバーの全 POP3 ポートを、ログインせずに調べます（証明書・暗号化・CAPA など）。
    Show what every POP3 port of a server offers, without logging in (certificate, TLS, CAPA ...)."""
    language = resolve_lang(lang)
    targets, auto = plan(port, security, ssl_port=pop3s_port, starttls_port=pop3_port, only=only)
    info = asyncio.run(
        probe_server(
            host, targets, timeout=timeout, ca_file=ca_file, nameservers=list(dns_servers) or None,
            auto_ports=auto, tls_versions=tls_versions,
        )
    )
    if as_json:
        sys.stdout.write(json_text(info.to_dict(), indent=2) + "\n")
    else:
        render(make_console(), info, language)
    sys.exit(exit_code(info))
