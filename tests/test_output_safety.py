"""Server text cannot take over a terminal, a Markdown report or the web page (issue 12, item 5).

A hostile server on loopback (tests/support/hostile_output.py) puts NUL, ESC,
CSI and OSC 8 sequences, a bidi override, C1 controls, rich markup and
Markdown/HTML into its greeting or into every ``-ERR``.  The real commands run
against it; everything a person reads must show those characters as escapes
(``\\x1b``), never contain them raw, and never interpret the markup, while
``--json`` decodes back to exactly what the server sent.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from markdown_it import MarkdownIt

from pop3doctor.web import RunOptions, create_app
from pop3doctor.web.server import serve_in_thread
from support.dns_server import LocalDnsServer
from support.hostile_output import HostileServer, diagnose_args, fetch_args, run_cli
from support.https_server import LocalWebServer, Route

# Controls first, then markup: the diagnosis shows only the first 80 characters in titles
# (and takes a leading "[...]" for an RFC 2449 response code).
HOSTILE = (
    "\x00 \x1b[31mRED\x1b[0m \u202egnp.exe \x1b]8;;http://evil.example/o\x07click\x1b]8;;\x07 [bold]B[/bold] "
    "[link=http://evil.example/r]L[/link] **md** [md](http://evil.example/m) <b>h</b> "
    "\x1b[2J \u2066iso\u2069 \x9b0m \x7f \x08\r end"
)
HOSTILE_BYTES = HOSTILE.encode()


def raw_controls(text: str) -> list[str]:
    """Every character of ``text`` that acts instead of showing (a newline is fine)."""
    return sorted(
        {f"U+{ord(c):04X}" for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")}
    )


def assert_safe(text: str, where: str) -> None:
    assert raw_controls(text) == [], f"raw control characters in {where}"


def assert_shown(text: str, where: str) -> None:
    """The hostile characters are there as escapes a person can read (and report)."""
    for escape in ("\\x00", "\\x1b[31mRED", "\\x1b]8;;http://evil.example/o\\x07click", "\\u202egnp.exe"):
        assert escape in text, f"{escape!r} not shown in {where}"


# -- the escaping itself -------------------------------------------------------------------


def _unescape(text: str) -> str:
    """Read `visible`'s escapes back (what a reader of the escaped text can do)."""

    def one(match: re.Match[str]) -> str:
        backslashes, code = match.group(1), match.group(2)
        literal = "\\" * (len(backslashes) // 2)
        return literal + (code if len(backslashes) % 2 == 0 else chr(int(code[1:], 16)))

    return re.sub(r"(\\+)(x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})", one, text)


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE,
        "C:\\mail\\box\\new",
        "\\x1b literal, \\\x1b escaped, trailing \\",
        "\\\\u202e \\\u202e \\t\t \\xZZ \\u12",
        "日本語の応答 \u200b\U000e0001 ok",
    ],
)
def test_visible_escapes_every_control_and_reads_back_exactly(text: str) -> None:
    from pop3doctor.escaping import visible  # here: the other tests run on code without it

    shown = visible(text)
    assert_safe(shown, "visible()")
    assert _unescape(shown) == text
    # A backslash that cannot be read as an escape stays as it is.
    assert visible("C:\\Users\\report\\new\\x.md") == "C:\\Users\\report\\new\\x.md"
    assert visible("plain +OK ready 日本語") == "plain +OK ready 日本語"


# -- diagnose: terminal, --json, --report ------------------------------------------------


async def test_diagnose_terminal_shows_greeting_controls_as_escapes() -> None:
    async with HostileServer(greeting=b"+OK " + HOSTILE_BYTES) as server:
        code, out, err = await run_cli(*diagnose_args(server))
    assert code == 2, out + err
    assert_safe(out, "diagnose stdout")
    assert_safe(err, "diagnose stderr")
    assert_shown(out, "diagnose stdout")
    # Rich markup in the server's text is shown, not obeyed.
    assert "[bold]B[/bold]" in out


def _findings_texts(report: dict[str, Any]) -> list[str]:
    texts = [json.dumps(f["evidence"], ensure_ascii=False) for f in report["findings"]]
    return texts + [line for f in report["findings"] for line in f["transcript"]]


@pytest.mark.parametrize("where", ["greeting", "err"])
async def test_diagnose_json_is_valid_escaped_and_faithful(where: str) -> None:
    if where == "greeting":
        server = HostileServer(greeting=b"+OK " + HOSTILE_BYTES)
    else:
        server = HostileServer(err=HOSTILE_BYTES, login=True)
    async with server:
        code, out, err = await run_cli(*diagnose_args(server, "plain", "--json"))
    assert code == 2, out + err
    assert_safe(out, "--json")
    report = json.loads(out)
    by_stage = {f["stage"]: f for f in report["findings"]}
    if where == "greeting":
        assert by_stage["greeting"]["evidence"]["greeting"] == "+OK " + HOSTILE
    # The transcript keeps the server's line as sent (it used to replace controls by U+FFFD).
    transcript = [line for f in report["findings"] for line in f["transcript"]]
    assert any(line.startswith("S: ") and line.endswith(HOSTILE) for line in transcript), transcript


@pytest.mark.parametrize("where", ["greeting", "err"])
async def test_markdown_report_shows_escapes_and_renders_no_server_markup(where: str, tmp_path: Path) -> None:
    if where == "greeting":
        server = HostileServer(greeting=b"+OK " + HOSTILE_BYTES)
    else:
        server = HostileServer(err=HOSTILE_BYTES, login=True)
    report = tmp_path / "support.md"
    async with server:
        code, out, err = await run_cli(*diagnose_args(server, "plain", "--report", str(report)))
    assert code == 2, out + err
    markdown = report.read_text(encoding="utf-8")
    assert_safe(markdown, "the Markdown report")
    assert_shown(markdown, "the Markdown report")
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert "evil.example" in html  # the text is there...
    assert 'href="http://evil.example' not in html  # ...but never as a link
    assert "<b>h</b>" not in html and "<strong>md</strong>" not in html
    assert_safe(out + err, "diagnose output")


# -- fetch: the per-message detail line and the stop detail --------------------------------


@pytest.mark.parametrize("login", [True, False], ids=["retr-error", "login-error"])
async def test_fetch_details_show_escapes_and_json_is_faithful(login: bool, tmp_path: Path) -> None:
    async with HostileServer(err=HOSTILE_BYTES, login=login) as server:
        code, out, err = await run_cli(*fetch_args(server, tmp_path / "text"))
        json_code, json_out, json_err = await run_cli(*fetch_args(server, tmp_path / "json", "--json"))
    assert code == json_code == (1 if login else 2), out + err
    for text, where in ((out, "stdout"), (err, "stderr"), (json_out, "--json"), (json_err, "--json stderr")):
        assert_safe(text, f"fetch {where}")
    assert_shown(out + err, "fetch output")
    assert "[bold]B[/bold]" in out + err
    summary = json.loads(json_out)
    detail = summary["failed"][0]["detail"] if login else summary["error"]["detail"]
    assert detail.endswith(" " + HOSTILE)


# -- the web page's event stream -----------------------------------------------------------


async def test_web_events_show_escapes(tmp_path: Path) -> None:
    async with HostileServer(greeting=b"+OK " + HOSTILE_BYTES) as server:
        with serve_in_thread(create_app(RunOptions(timeout=2.0))) as url:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                html = (await client.get("/")).text
                tokens = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]+)">', html))
                form = {
                    **tokens,
                    "email": "alice@example.jp",
                    "password": "not-a-secret",
                    "host": server.host,
                    "port": str(server.port),
                    "security": "plain",
                    "user": "alice",
                }
                started = (await client.post("/api/check", data=form)).json()
                raw: list[str] = []
                async with client.stream("GET", started["events"]) as response:
                    async for line in response.aiter_lines():
                        raw.append(line)
                        if line.startswith("data: ") and raw[-2] in ("event: done", "event: failed"):
                            break
    stream = "\n".join(raw)
    assert_safe(stream, "the event stream")
    events = [json.loads(line[6:]) for line in raw if line.startswith("data: ")]
    shown = json.dumps(events, ensure_ascii=False)
    assert_safe(shown, "the texts the page shows")
    greeting = [e for e in events if e.get("stage") == "greeting"]
    assert greeting, events
    assert "\\x1b[31mRED" in greeting[0]["title"]["en"]
    reports = [e["report"]["en"] for e in events if "report" in e]
    assert reports and "\\x1b[31mRED" in reports[0]


# -- discover: what an autoconfig file says ------------------------------------------------

AUTOCONFIG_XML = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <incomingServer type="pop3">
      <hostname>pop.example.test</hostname><port>995</port><socketType>SSL</socketType>
      <username>\u202egnp.exe\u0085 [bold]B[/bold] %EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
  </emailProvider>
</clientConfig>
"""


@pytest.mark.parametrize("as_json", [False, True], ids=["terminal", "json"])
async def test_discover_shows_autoconfig_text_escaped(as_json: bool, tmp_path: Path) -> None:
    """XML cannot carry ESC or NUL, but it can carry a bidi override and C1 controls."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    names = ["autoconfig.example.test", "example.test"]
    routes = {"autoconfig.example.test/mail/config-v1.1.xml": Route(body=AUTOCONFIG_XML.encode())}
    with LocalDnsServer({name: {"A": ["127.0.0.1"]} for name in names}) as dns:
        with LocalWebServer(routes, ca, names=names) as web:
            code, out, err = await run_cli(
                "discover", "alice@example.test", "--lang", "en", "--dns-server", dns.nameserver,
                "--ca-file", str(ca_file), "--source", "autoconfig", "--ispdb-url", "", "--no-http",
                "--https-port", str(web.https_port), "--timeout", "5", *(["--json"] if as_json else []),
            )
    assert code == 0, out + err
    assert_safe(out + err, "discover output")
    if as_json:
        assert json.loads(out)["chosen"]["username"] == "\u202egnp.exe\u0085 [bold]B[/bold] alice"
    else:
        assert "\\u202egnp.exe\\x85 [bold]B[/bold] alice" in out


# -- what the user typed, quoted back in a usage error -------------------------------------


async def test_usage_error_quotes_the_argument_escaped() -> None:
    code, out, err = await run_cli("discover", "taro\x1b]8;;http://evil.example/\x07\u202egro.elpmaxe", "--lang", "en")
    assert code == 64, out + err
    assert_safe(out + err, "the usage error")
    assert "taro\\x1b]8;;http://evil.example/\\x07\\u202egro.elpmaxe" in err


async def test_report_path_is_printed_as_given_not_as_markup(tmp_path: Path) -> None:
    report = tmp_path / "[red]support[bold].md"
    async with HostileServer() as server:
        code, out, err = await run_cli(*diagnose_args(server, "plain", "--report", str(report)))
    assert code == 2, out + err
    assert report.exists()
    assert str(report) in out
