"""``pop3doctor exporter``: serve Prometheus probes of POP3 servers (blackbox_exporter style).

Thin: parse the options, load accounts.toml, bind, serve.  What a probe does
and which metrics it writes live in `pop3doctor.exporter`.
"""

from __future__ import annotations

from pathlib import Path

import click

from pop3doctor.i18n import catalog, resolve_lang

_t = catalog("exporter")


@click.command("exporter")
@click.option(
    "--listen",
    default="127.0.0.1:9199",
    show_default=True,
    metavar="ADDRESS:PORT",
    help="listen here only (IPv6 as [::1]:9199; port 0 = any free port)",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="accounts.toml (as for fetch): enables module=account&account=NAME",
)
@click.option(
    "--ca-file", type=click.Path(exists=True, dir_okay=False), help="extra CA certificates (PEM) for pop3_probe"
)
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=8.0, show_default=True, help="per-phase timeout, s")
@click.option(
    "--probe-timeout",
    type=click.FloatRange(1, 600),
    default=30.0,
    show_default=True,
    help="longest a probe may take, s (the scrape's X-Prometheus-Scrape-Timeout-Seconds shortens it)",
)
@click.option(
    "--max-concurrent",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="probes running at once; more wait for a free slot",
)
@click.option(
    "--min-login-interval",
    type=click.FloatRange(0, 86400),
    default=60.0,
    show_default=True,
    help="an account logs in at most once in this many seconds; scrapes in between get the last result",
)
@click.option("--dns-server", "dns_servers", multiple=True, metavar="IP[:PORT]", help="use this DNS server")
@click.option("--lang", type=click.Choice(["ja", "en"]), help="言語 / language of this terminal's messages")
def command(
    listen: str,
    config_path: Path | None,
    ca_file: str | None,
    timeout: float,
    probe_timeout: float,
    max_concurrent: int,
    min_login_interval: float,
    dns_servers: tuple[str, ...],
    lang: str | None,
) -> None:
    """Prometheus 用に POP3 サーバーを調べます（/probe?target=ホスト:ポート&module=pop3_probe）。
    Serve Prometheus probes of POP3 servers (/probe?target=host:port&module=pop3_probe)."""
    # Imported here: the other commands need neither prometheus_client nor the web stack.
    from pop3doctor.exporter.app import Exporter, ExporterOptions, create_app
    from pop3doctor.exporter.listen import ListenError, bind, is_loopback, parse_listen, url_of
    from pop3doctor.sync.config import ConfigError, load_config
    from pop3doctor.web.guard import LOOPBACK_NAMES
    from pop3doctor.web.server import serve_forever

    language = resolve_lang(lang)
    try:
        accounts = load_config(config_path) if config_path is not None else []
    except ConfigError as exc:
        raise click.UsageError(_t.BAD_CONFIG(language, problem=exc.msg(language))) from None
    try:
        sock = bind(parse_listen(listen))
    except ListenError as exc:
        raise click.UsageError(exc.msg(language)) from None
    options = ExporterOptions(
        ca_file=ca_file,
        timeout=timeout,
        nameservers=list(dns_servers) or None,
        max_concurrent=max_concurrent,
        probe_timeout=probe_timeout,
        min_login_interval=min_login_interval,
        # On loopback, only loopback names: a web page the admin's browser opens
        # must not reach the exporter by DNS rebinding.  Elsewhere Prometheus
        # uses whatever name the admin gave it.
        allowed_hosts=LOOPBACK_NAMES if is_loopback(sock) else None,
    )
    app = create_app(Exporter(options, accounts))
    url = url_of(sock)
    serve_forever(app, sock, on_started=lambda: click.echo(_t.SERVING(language, url=url)))
