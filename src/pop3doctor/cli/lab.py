"""``pop3doctor lab``: serve a lab scenario on loopback until Ctrl-C, or list them."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import tempfile
from pathlib import Path
from typing import Any

import click

from pop3doctor.i18n import Lang, catalog, resolve_lang
from pop3doctor.lab import SCENARIOS, LabServer
from pop3doctor.lab.options import LabOptions

_t = catalog("cli")

#: Fixed default ports, so written instructions ("port 10110") stay true; both
#: are above 1024 (no root needed) and echo the standard 110 / 995.
DEFAULT_PORT = 10110
DEFAULT_TLS_PORT = 10995


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _list(lang: Lang) -> None:
    click.echo(_t.LAB_LIST_HEAD(lang))
    width = max(map(len, SCENARIOS))
    for name, scenario in SCENARIOS.items():
        click.echo(f"  {name:<{width}}  {scenario.description(lang)}")


def _banner(lab: LabServer, lang: Lang, ca_path: Path) -> None:
    sc = lab.scenario
    click.echo(_t.LAB_HEADER(lang, name=sc.name, description=sc.description(lang)))
    click.echo(_t.LAB_HOST(lang, hostname=lab.hostname, host=lab.host))
    if lab.port is None:
        click.echo(_t.LAB_PLAIN_CLOSED(lang))
    else:
        click.echo(_t.LAB_PLAIN(lang, port=lab.port))
    click.echo(_t.LAB_TLS(lang, port=lab.tls_port))
    click.echo(_t.LAB_USER(lang, user=lab.user))
    click.echo(_t.LAB_PASSWORD(lang, password=lab.password))
    click.echo(_t.LAB_CA(lang, path=ca_path))
    click.echo(_t.LAB_EXPECT(lang, cause=sc.expected_cause))
    click.echo(_t.LAB_STOP(lang))


async def _serve(lab: LabServer, lang: Lang, ca_path: Path) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt) or SIGTERM (a service manager)."""
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with lab:
        lab.write_ca(ca_path)
        _banner(lab, lang, ca_path)
        await stop.wait()
    click.echo(_t.LAB_STOPPED(lang))


@click.command("lab")
@click.option("--scenario", "scenario_name", type=click.Choice(list(SCENARIOS)),
              default="healthy", show_default=True, help="シナリオ / scenario")
@click.option("--list", "list_only", is_flag=True, help="シナリオ一覧 / list the scenarios")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="POP3 (STLS) port; 0 = any free port")
@click.option("--tls-port", type=click.IntRange(0, 65535), default=DEFAULT_TLS_PORT,
              show_default=True, help="POP3 over SSL/TLS port; 0 = any free port")
@click.option("--ca-out", type=click.Path(dir_okay=False, writable=True),
              help="CA 証明書の保存先 / write the lab CA (PEM) here")
@click.option("--listen", default=None,
              help="待ち受けアドレス（既定 127.0.0.1）/ address to listen on (default 127.0.0.1)")
@click.option("--greeting-delay", type=float, default=None,
              help="slow-greeting: 秒数（既定: あいさつしない）/ seconds (default: never)")
@click.option("--banner", type=click.Choice(["imap", "smtp", "http"]), default=None,
              help="not-pop3: 応答するプロトコル / which protocol answers")
@click.option("--large-size", type=click.IntRange(1024), default=None,
              help="large-message: バイト数 / octets")
@click.option("--lang", type=click.Choice(["ja", "en"]), default=None, help="ja or en.")
def command(
    scenario_name: str,
    list_only: bool,
    port: int,
    tls_port: int,
    ca_out: str | None,
    listen: str | None,
    greeting_delay: float | None,
    banner: str | None,
    large_size: int | None,
    lang: str | None,
) -> None:
    """故障を再現する POP3 サーバーを起動します。
    Runs a POP3 server that fails on purpose, the way real servers fail."""
    language = resolve_lang(lang)
    if list_only:
        _list(language)
        return
    host = listen or "127.0.0.1"
    if not is_loopback(host):
        click.echo(_t.LAB_NOT_LOOPBACK(language, host=host), err=True)
    options: dict[str, Any] = {}
    if greeting_delay is not None:
        options["greeting_delay"] = greeting_delay
    if banner is not None:
        options["not_pop3_banner"] = banner
    if large_size is not None:
        options["large_size"] = large_size
    LabOptions.from_kwargs(options)  # fail on a bad option before binding
    lab = LabServer(scenario_name, host=host, port=port, tls_port=tls_port, **options)
    ca_path = Path(ca_out) if ca_out else Path(tempfile.gettempdir()) / "pop3doctor-lab-ca.pem"
    try:
        asyncio.run(_serve(lab, language, ca_path))
    except KeyboardInterrupt:
        click.echo(_t.LAB_STOPPED(language))
    except OSError as exc:
        error = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        raise click.ClickException(_t.LAB_START_FAILED(language, host=host, error=error)) from None
