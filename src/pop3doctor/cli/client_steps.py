"""``--client NAME`` of diagnose and explain: the steps in the user's own mail program.

Thin: the steps come from `pop3doctor.knowledge.client_steps`; this module only
picks the program, prints the steps under the remedy and adds them to JSON.
"""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from pop3doctor.i18n import Lang, catalog
from pop3doctor.knowledge.client_steps import PROGRAM_IDS, programs, settings_for, steps_for

_t = catalog("cli")

#: The option itself, shared by diagnose and explain.
client_option = click.option(
    "--client",
    "client",
    type=click.Choice(PROGRAM_IDS),
    default=None,
    help="メールソフト / your mail program: show where to change the setting in it ("
    + ", ".join(PROGRAM_IDS)
    + ")",
)


def print_steps(console: Console, cause: str | None, program: str | None, lang: Lang) -> None:
    """Under the remedy: the program's steps for the settings the cause changes (nothing if none)."""
    if program is None or cause is None or not settings_for(cause):
        return
    name = programs()[program].name(lang)
    steps = steps_for(cause, program)
    console.print(_t.CLIENT_STEPS(lang, program=name) + ":", style="bold", markup=False, highlight=False)
    if not steps:
        console.print("  " + _t.CLIENT_STEPS_NONE(lang, program=name), markup=False, highlight=False)
    for number, found in enumerate(steps, 1):
        console.print(f"  {number}. {found(lang)}", markup=False, highlight=False)


def steps_payload(cause: str | None, program: str | None, lang: Lang) -> dict[str, Any]:
    """The JSON keys for the program's steps: ``client_program`` and ``client_steps`` (empty without one)."""
    if program is None:
        return {}
    steps = steps_for(cause, program) if cause else []
    return {"client_program": program, "client_steps": [found(lang) for found in steps]}
