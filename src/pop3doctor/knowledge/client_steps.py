"""Steps for the user's own mail program: where a setting is and what the program calls it.

Pure data lookup over ``data/client_steps.toml``.  A remedy says "set the
port"; these say "Thunderbird: open Account Settings > Server Settings and
correct "Port:"", in the program's own Japanese or English wording.

The data keeps one cell per program, setting and language, each with its
source; a cell no source showed is absent, never guessed.  A step is a `Msg`,
so `steps_for` offers only cells present in both languages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.i18n import LANGS, Lang, Msg
from pop3doctor.knowledge._data import load

#: The mail-program settings our remedies change (client_steps.toml's header says what each is).
SETTINGS = ("host", "port", "security", "user", "password", "auth", "leave-copy")


@dataclass(frozen=True, slots=True)
class Cell:
    """One setting of one program in one language: menu path, field label, choices, source."""

    program: str
    setting: str
    lang: Lang
    path: str
    label: str
    choices: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Program:
    """A mail program: its id, its name in ja/en, the client_messages ids that identify it."""

    id: str
    name: Msg
    clients: tuple[str, ...]


@cache
def _raw() -> dict[str, Any]:
    return load("client_steps.toml")


@cache
def programs() -> dict[str, Program]:
    """Program id -> `Program`, in the order of the data file."""
    return {
        str(pid): Program(str(pid), Msg(str(raw["ja"]), str(raw["en"])), tuple(str(c) for c in raw["clients"]))
        for pid, raw in _raw()["program"].items()
    }


PROGRAM_IDS: tuple[str, ...] = tuple(programs())


@cache
def cells() -> tuple[Cell, ...]:
    """Every cell of the data, program by program."""
    out: list[Cell] = []
    for program, settings in _raw()["step"].items():
        for setting, langs in settings.items():
            for lang, raw in langs.items():
                out.append(
                    Cell(
                        program=str(program),
                        setting=str(setting),
                        lang="ja" if lang == "ja" else "en",
                        path=str(raw["path"]),
                        label=str(raw["label"]),
                        choices=tuple(str(c) for c in raw.get("choices", ())),
                        source=str(raw["source"]),
                    )
                )
    return tuple(out)


def raw_langs() -> list[tuple[str, str, str]]:
    """(program, setting, language key) as written in the file, for the data tests."""
    return [(str(p), str(s), str(lang)) for p, ss in _raw()["step"].items() for s, ls in ss.items() for lang in ls]


@cache
def _index() -> dict[tuple[str, str, str], Cell]:
    return {(c.program, c.setting, c.lang): c for c in cells()}


@cache
def cause_settings() -> dict[str, tuple[str, ...]]:
    """Cause code -> the mail-program settings its remedy changes (only causes that change one)."""
    return {str(code): tuple(str(s) for s in settings) for code, settings in _raw()["causes"].items()}


def settings_for(cause: str) -> tuple[str, ...]:
    """The settings the remedy of *cause* changes; () when it changes none."""
    return cause_settings().get(cause, ())


def program_for_client(client: str) -> str | None:
    """The program whose steps fit a client_messages client id, or None (not one we have steps for)."""
    for program in programs().values():
        if client in program.clients:
            return program.id
    return None


def _text(cell: Cell, lang: Lang) -> str:
    template = _raw()["template"]
    choices = ""
    if cell.choices:
        choices = str(template[f"choices_{lang}"]).format(choices=" / ".join(cell.choices))
    name = programs()[cell.program].name(lang)
    return str(template[lang]).format(program=name, path=cell.path, label=cell.label, choices=choices)


def step(program: str, setting: str) -> Msg | None:
    """The step for one setting of *program*, or None when either language's cell is missing."""
    ja, en = (_index().get((program, setting, lang)) for lang in LANGS)
    if ja is None or en is None:
        return None
    return Msg(ja=_text(ja, "ja"), en=_text(en, "en"))


def steps_for(cause: str, program: str) -> list[Msg]:
    """The steps in *program* for the settings the remedy of *cause* changes, in their order.

    ``KeyError`` for an unknown program; [] when the cause changes no setting
    or the data has no two-language cell for it.
    """
    if program not in programs():
        raise KeyError(program)
    return [found for setting in settings_for(cause) if (found := step(program, setting)) is not None]


def programs_with_steps(setting: str) -> frozenset[str]:
    """The programs that have a step for *setting* in both languages."""
    return frozenset(p for p in programs() if step(p, setting) is not None)
