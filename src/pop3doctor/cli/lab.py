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

from pop3doctor.i18n import Lang, Msg, resolve_lang
from pop3doctor.lab import SCENARIOS, LabServer
from pop3doctor.lab.options import LabOptions

#: Fixed default ports, so written instructions ("port 10110") stay true; both
#: are above 1024 (no root needed) and echo the standard 110 / 995.
DEFAULT_PORT = 10110
DEFAULT_TLS_PORT = 10995

_HEADER = Msg("pop3doctor ラボ: シナリオ「{name}」 — {description}",
              "pop3doctor lab: scenario \"{name}\" — {description}")
_HOST = Msg("  サーバー名: {hostname}（接続先 {host}、証明書はこの名前で有効）",
            "  server name: {hostname} (listening on {host}; the certificate is for this name)")
_PLAIN = Msg("  POP3（STARTTLS/STLS）: ポート {port}", "  POP3 with STLS (STARTTLS): port {port}")
_PLAIN_CLOSED = Msg("  POP3（平文ポート）: 閉じています（このシナリオ）",
                    "  POP3 plain port: closed (this scenario)")
_TLS = Msg("  POP3 over SSL/TLS: ポート {port}", "  POP3 over SSL/TLS: port {port}")
_USER = Msg("  user: {user}", "  user: {user}")
_PASSWORD = Msg("  password: {password}（ラボ専用の公開パスワード）",
                "  password: {password} (the lab's published password)")
_CA = Msg("  CA ファイル: {path}（証明書を検証するにはこれを信頼してください）",
          "  CA file: {path} (trust it to verify the certificate)")
_EXPECT = Msg("  診断で期待される原因コード: {cause}", "  expected diagnosis cause: {cause}")
_STOP = Msg("Ctrl-C で停止します。", "Press Ctrl-C to stop.")
_STOPPED = Msg("ラボを停止しました。", "Lab stopped.")
_NOT_LOOPBACK = Msg(
    "警告: {host} はループバックではありません。ほかのコンピューターからこの"
    "（故障を再現する）サーバーに接続できます。",
    "Warning: {host} is not a loopback address; other computers can reach this "
    "(deliberately faulty) server.",
)
_START_FAILED = Msg("ラボを起動できませんでした（{host}）: {error}",
                    "Could not start the lab ({host}): {error}")
_LIST_HEAD = Msg("シナリオ一覧（--scenario NAME で指定）:",
                 "Scenarios (choose with --scenario NAME):")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the name "localhost"."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _list(lang: Lang) -> None:
    click.echo(_LIST_HEAD(lang))
    width = max(map(len, SCENARIOS))
    for name, scenario in SCENARIOS.items():
        click.echo(f"  {name:<{width}}  {scenario.description(lang)}")


def _banner(lab: LabServer, lang: Lang, ca_path: Path) -> None:
    sc = lab.scenario
    click.echo(_HEADER(lang, name=sc.name, description=sc.description(lang)))
    click.echo(_HOST(lang, hostname=lab.hostname, host=lab.host))
    if lab.port is None:
        click.echo(_PLAIN_CLOSED(lang))
    else:
        click.echo(_PLAIN(lang, port=lab.port))
    click.echo(_TLS(lang, port=lab.tls_port))
    click.echo(_USER(lang, user=lab.user))
    click.echo(_PASSWORD(lang, password=lab.password))
    click.echo(_CA(lang, path=ca_path))
    click.echo(_EXPECT(lang, cause=sc.expected_cause))
    click.echo(_STOP(lang))


async def _serve(lab: LabServer, lang: Lang, ca_path: Path) -> None:
    """Serve until Ctrl-C (KeyboardInterrupt) or SIGTERM (a service manager)."""
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with lab:
        lab.write_ca(ca_path)
        _banner(lab, lang, ca_path)
        await stop.wait()
    click.echo(_STOPPED(lang))


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
        click.echo(_NOT_LOOPBACK(language, host=host), err=True)
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
        click.echo(_STOPPED(language))
    except OSError as exc:
        error = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        raise click.ClickException(_START_FAILED(language, host=host, error=error)) from None
