"""``pop3doctor explain TEXT``: what a pasted server reply or error message means.

Thin front end over `pop3doctor.knowledge.explain`: no network, no protocol
logic.  Exit status 0 when the text was classified, 1 when it was not.
"""

from __future__ import annotations

import shlex

import click

from pop3doctor.cli.client_steps import client_option, print_steps, steps_payload
from pop3doctor.cli.console import make_console
from pop3doctor.escaping import json_text
from pop3doctor.i18n import Lang, catalog, resolve_lang
from pop3doctor.knowledge.causes import get_cause
from pop3doctor.knowledge.client_steps import program_for_client
from pop3doctor.knowledge.explain import ClientPart, Explanation, explain

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


# A pasted reply starts with "-ERR", which click would read as an option: unknown
# options are kept as text, and several words are joined, so quoting is optional.
@click.command(
    "explain",
    # No "-h": inside a pasted "-ERR ... https://..." click would read the h as -h.
    context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]},
)
@click.argument("text", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--lang", type=click.Choice(["ja", "en"]), default=None, help="ja or en.")
@client_option
def command(text: tuple[str, ...], as_json: bool, lang: str | None, client: str | None = None) -> None:
    """サーバーの応答やメールソフトのエラー文の意味を説明します。
    Explain a server reply or a mail program's error message."""
    language = resolve_lang(lang)
    result = explain(" ".join(text))
    program = chosen_program(result, client)
    if as_json:
        click.echo(json_text(_payload(result, language, program)))
    else:
        _print_text(result, language, program)
    raise SystemExit(0 if result.cause is not None else 1)
