"""``pop3doctor explain TEXT``: what a pasted server reply or error message means.

Thin front end over `pop3doctor.knowledge.explain`: no network, no protocol
logic.  The text comes as arguments, from ``--file PATH`` (a pasted log: its most
telling line is explained, and named) or on standard input.  Exit status 0 when
the text was classified, 1 when it was not, 64 when there is no text, 66 when
the file cannot be read.
"""

from __future__ import annotations

import shlex
import sys
from typing import BinaryIO

import click

from pop3doctor.cli.client_steps import client_option, print_steps, steps_payload
from pop3doctor.cli.console import make_console
from pop3doctor.cli.options import CannotRead
from pop3doctor.escaping import json_text, visible
from pop3doctor.i18n import Lang, catalog, resolve_lang
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.client_steps import program_for_client
from pop3doctor.knowledge.explain import MAX_PASTE_CHARS, ClientPart, Explanation, PasteReading, explain_paste

_t = catalog("cli")


def diagnose_command(part: ClientPart, lang: Lang) -> str:
    """The ``pop3doctor diagnose`` line to run, with the server name the message quoted."""
    host = shlex.quote(part.host) if part.host else f"<{_t.EXPLAIN_HOST_PLACEHOLDER(lang)}>"
    return f"pop3doctor diagnose --host {host} --user <{_t.EXPLAIN_USER_PLACEHOLDER(lang)}>"


def chosen_program(result: Explanation, client: str | None) -> str | None:
    """--client wins; otherwise the program the pasted message identified, if we have steps for it."""
    if client is not None:
        return client
    return program_for_client(result.client.client) if result.client is not None else None


def _payload(result: Explanation, lang: Lang, program: str | None = None) -> dict[str, object]:
    cause = result.cause
    if cause is None:
        return {"cause": None, "title": None, "remedy": [_t.EXPLAIN_ADVICE(lang)], "source": None}
    info = get_cause(cause)
    payload: dict[str, object] = {
        "cause": cause,
        "title": info.title(lang),
        "remedy": info.remedy_text(lang),
        "source": result.matched_pattern_source,
    }
    part = result.client
    if part is not None:
        payload["client"] = part.client
        payload["client_name"] = part.client_name.text(lang)
        payload["candidates"] = [{"cause": c, "title": get_cause(c).title(lang)} for c in part.candidates]
        payload["check"] = part.check.text(lang) if part.check is not None else None
        payload["command"] = diagnose_command(part, lang)
    return payload | steps_payload(cause, program, lang)


def _print_text(result: Explanation, language: Lang, program: str | None = None) -> None:
    console = make_console()
    if result.cause is None:
        console.print(f"[bold yellow]{_t.EXPLAIN_UNKNOWN(language)}[/]")
        console.print(_t.EXPLAIN_ADVICE(language), markup=False)
        return
    part = result.client
    if part is not None:
        console.print(f"[bold]{_t.EXPLAIN_CLIENT(language)}:[/] ", end="")
        console.print(part.client_name.text(language), markup=False)
    info = get_cause(result.cause)
    console.print(f"[bold]{_t.CAUSE(language)}:[/] ", end="")
    console.print(f"{info.title(language)} ({result.cause})", markup=False)
    console.print(info.explanation_text(language), markup=False)
    if part is not None and len(part.candidates) > 1:
        console.print(f"[bold]{_t.EXPLAIN_CANDIDATES(language)}:[/]")
        for number, candidate in enumerate(part.candidates, 1):
            console.print(f"  {number}. {get_cause(candidate).title(language)} ({candidate})", markup=False)
    if part is not None and part.check is not None:
        console.print(f"[bold]{_t.EXPLAIN_CHECK(language)}:[/] ", end="")
        console.print(part.check.text(language), markup=False)
    console.print(f"[bold]{_t.WHAT_TO_DO(language)}:[/]")
    for number, step in enumerate(info.remedy_text(language), 1):
        console.print(f"  {number}. {step}", markup=False)
    print_steps(console, result.cause, program, language)
    if part is not None:
        console.print(f"[bold]{_t.EXPLAIN_RUN(language)}:[/]")
        console.print(f"  {diagnose_command(part, language)}", markup=False)
    if result.matched_pattern_source:
        console.print(f"[dim]{_t.EXPLAIN_SOURCE(language)}:[/] ", end="")
        console.print(result.matched_pattern_source, markup=False, style="dim")


class _ExplainCommand(click.Command):
    """``-h`` as the first argument is help; anywhere else it is part of the pasted text.

    click cannot have ``-h`` as a help option here: with unknown options kept as
    text, a pasted word such as ``-hold`` inside "-ERR ..." would be split into
    short options and its ``h`` would print the help instead.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args[:1] == ["-h"]:
            click.echo(ctx.get_help(), color=ctx.color)
            ctx.exit(0)
        return super().parse_args(ctx, args)


def _decode(data: bytes) -> str:
    """A pasted log's bytes as text: UTF-16 with its BOM (Notepad's "Unicode"), UTF-8, or
    Shift_JIS (cp932, what older Japanese Windows programs write); else UTF-8 with
    replacement characters, so a stray byte never stops the explanation."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _read_limited(stream: BinaryIO) -> bytes:
    # Only the end of a huge log is explained (MAX_PASTE_CHARS): keep at most that much
    # in memory (4 bytes a character bounds any encoding read here).
    limit = 4 * MAX_PASTE_CHARS
    kept = b""
    while chunk := stream.read(1 << 20):
        kept = (kept + chunk)[-limit:]
    return kept


def _read_input(text: tuple[str, ...], file: str | None, lang: Lang) -> tuple[str, str]:
    """The text to explain and where it came from (worded for the user): usage error 64
    when there is none, 66 when the file cannot be read."""
    if text and file is not None:
        raise click.UsageError(_t.EXPLAIN_TEXT_AND_FILE(lang))
    if file == "-":
        return _decode(_read_limited(sys.stdin.buffer)), _t.EXPLAIN_STDIN(lang)
    if file is not None:
        try:
            with open(file, "rb") as stream:
                data = _read_limited(stream)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CannotRead(_t.EXPLAIN_CANNOT_READ(lang, path=visible(file), reason=reason)) from None
        return _decode(data), visible(file)
    if text == ("-",) or (not text and not _stdin_is_terminal()):
        return _decode(_read_limited(sys.stdin.buffer)), _t.EXPLAIN_STDIN(lang)
    if not text:
        raise click.UsageError(_t.EXPLAIN_NEED_TEXT(lang))
    return " ".join(text), _t.EXPLAIN_ARGUMENT(lang)


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


def _line_numbers(lines: tuple[int, ...]) -> str:
    if len(lines) > 1 and lines == tuple(range(lines[0], lines[-1] + 1)):
        return f"{lines[0]}-{lines[-1]}"
    return ", ".join(map(str, lines))


def _read_note(reading: PasteReading, source: str, lang: Lang) -> str | None:
    if not reading.lines:
        return None
    message = _t.EXPLAIN_READ if len(reading.lines) == 1 else _t.EXPLAIN_READ_MANY
    return message(lang, source=source, lines=_line_numbers(reading.lines))


# A pasted reply starts with "-ERR", which click would read as an option: unknown
# options are kept as text, and several words are joined, so quoting is optional.
@click.command(
    "explain",
    cls=_ExplainCommand,
    # "-h" only as the first argument (_ExplainCommand): inside a pasted "-ERR ..." it is text.
    context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]},
)
@click.argument("text", nargs=-1)
@click.option("--file", "file", metavar="PATH", default=None,
              help="貼り付けたログのファイル / read a pasted log from PATH (its most telling line is explained).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--lang", type=click.Choice(["ja", "en"]), default=None, help="ja or en.")
@client_option
@click.pass_context
def command(
    ctx: click.Context, text: tuple[str, ...], file: str | None, as_json: bool, lang: str | None,
    client: str | None = None,
) -> None:
    """サーバーの応答やメールソフトのエラー文の意味を説明します。
    Explain a server reply or a mail program's error message.

    テキストは引数、--file、標準入力（"-" または パイプ）で渡せます。
    The text comes as arguments, from --file PATH, or on standard input ("-" or a pipe).
    """
    if text == ("-h",):  # "explain --lang ja -h": nothing else to explain, so help was meant
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit(0)
    language = resolve_lang(lang)
    pasted, source = _read_input(text, file, language)
    if not pasted.strip():
        raise click.UsageError(_t.EXPLAIN_EMPTY(language, source=source))
    reading = explain_paste(pasted)
    result = reading.explanation
    program = chosen_program(result, client)
    note = _read_note(reading, source, language)
    if as_json:
        payload = _payload(result, language, program)
        if reading.lines:
            payload["read"] = {"lines": list(reading.lines), "text": reading.text}
        click.echo(json_text(payload))
    else:
        if note is not None:
            console = make_console()
            console.print(f"[dim]{note}:[/] ", end="")
            console.print(visible(reading.text), markup=False, style="dim")
        _print_text(result, language, program)
    raise SystemExit(0 if result.cause is not None else 1)
