"""``pop3doctor web``: serve the local check page on 127.0.0.1 and open it in the browser."""

from __future__ import annotations

import webbrowser

import click

from pop3doctor.i18n import resolve_lang


@click.command("web")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="port (0 = any free port)")
@click.option("--no-browser", is_flag=True, help="do not open the page in the default browser")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="extra CA certificates (PEM)")
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=8.0, show_default=True, help="connect timeout, s")
@click.option("--dns-server", "dns_servers", multiple=True, metavar="IP[:PORT]", help="use this DNS server")
@click.option("--lang", type=click.Choice(["ja", "en"]), help="言語 / language of this terminal's messages")
def command(
    port: int, no_browser: bool, ca_file: str | None, timeout: float, dns_servers: tuple[str, ...], lang: str | None
) -> None:
    """ブラウザーで使えるチェック画面を開きます（このパソコンの中だけで動きます）。
    Open the check page in your browser (it runs on this computer only)."""
    # Imported here so the other commands work where the web extras
    # (starlette, uvicorn, jinja2) are not installed.
    from pop3doctor.web.app import create_app
    from pop3doctor.web.runs import RunOptions
    from pop3doctor.web.server import bind_loopback, serve_forever, url_of
    from pop3doctor.web.text import SERVING

    language = resolve_lang(lang)
    try:
        sock = bind_loopback(port)
    except OSError as exc:
        raise click.ClickException(f"127.0.0.1:{port}: {exc.strerror}") from exc
    url = url_of(sock)
    app = create_app(RunOptions(ca_file=ca_file, timeout=timeout, nameservers=dns_servers))

    def started() -> None:
        click.echo(SERVING(language, url=url))
        if not no_browser:
            webbrowser.open(url)

    serve_forever(app, sock, on_started=started)
