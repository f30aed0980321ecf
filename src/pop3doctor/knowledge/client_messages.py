"""A mail program's own error text -> the program, candidate causes and the separating check.

Pure data lookup over ``data/client_messages.toml``: no network, no I/O beyond
reading the package's data file once.  Messages are tried in file order and the
first wording that matches wins, so the file puts specific texts (Outlook's
0x800CCC0E with socket error 10061) before generic ones (bare 0x800CCC0E).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from pop3doctor.i18n import Lang
from pop3doctor.knowledge._data import load

#: Languages a wording may be in; "any" is a code the same in every language.
LANGUAGES = ("en", "ja", "any")
# DOTALL: a pasted dialog spans lines, and the Outlook rules look ahead for the
# code and the socket error number anywhere in it.
_FLAGS = re.IGNORECASE | re.DOTALL
# Where a dialog names the server when its wording has no (?P<host>) wildcard:
# Outlook's "Server: 'pop.example.com'" and "Task 'pop.example.com - Receiving'".
_QUOTED_SERVER = re.compile(
    r"(?:\bServer|サーバー)\s*:\s*'(?P<a>[^'\s]+)'|(?:\bTask|タスク)\s*'(?P<b>[^'\s]+) - (?:Receiving|受信中)'",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Wording:
    """One real text of a message: its regex, the language, where it is from, one sample."""

    lang: str
    regex: re.Pattern[str]
    source: str
    sample: str


@dataclass(frozen=True, slots=True)
class Check:
    """A text in ja and en: the one check that tells candidate causes apart, or a program's name."""

    id: str
    ja: str
    en: str

    def text(self, lang: Lang) -> str:
        return self.ja if lang == "ja" else self.en


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """One error of one mail program; ``causes`` most likely first."""

    id: str
    client: str
    causes: tuple[str, ...]
    check: Check | None
    wordings: tuple[Wording, ...]


@dataclass(frozen=True, slots=True)
class ClientMatch:
    """A matched message, the wording that matched and the server name it quoted, if any."""

    message: ClientMessage
    wording: Wording
    host: str | None


@cache
def _raw() -> dict[str, Any]:
    return load("client_messages.toml")


def _texts(table: str) -> dict[str, Check]:
    return {str(k): Check(str(k), str(v["ja"]), str(v["en"])) for k, v in _raw()[table].items()}


@cache
def client_names() -> dict[str, Check]:
    """Client id -> the program's name as shown to the user, in ja and en."""
    return _texts("client")


@cache
def checks() -> dict[str, Check]:
    """Check id -> its ja/en text."""
    return _texts("check")


def _parse(raw: dict[str, Any]) -> ClientMessage:
    check_id = raw.get("check")
    wordings = tuple(
        Wording(str(w["lang"]), re.compile(str(w["regex"]), _FLAGS), str(w["source"]), str(w["sample"]))
        for w in raw["wording"]
    )
    return ClientMessage(
        id=str(raw["id"]),
        client=str(raw["client"]),
        causes=tuple(str(c) for c in raw["causes"]),
        check=checks()[str(check_id)] if check_id is not None else None,
        wordings=wordings,
    )


@cache
def all_messages() -> tuple[ClientMessage, ...]:
    """Every client message in priority order (first match wins)."""
    return tuple(_parse(m) for m in _raw()["message"])


@cache
def _server_said() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(str(raw["regex"]), _FLAGS) for raw in _raw()["server_said"])


def quoted_reply(text: str) -> str | None:
    """The server reply a program's message quotes ("Mail server X responded: ..."), or None.

    Thunderbird quotes the reply's text without its ``-ERR``, so the generic
    status-line search cannot find it; the [[server_said]] regexes can.
    """
    for regex in _server_said():
        found = regex.search(text)
        if found is not None:
            return found.group("reply").strip()
    return None


def match_client_message(text: str) -> ClientMatch | None:
    """The first client message whose wording occurs in *text*, or None."""
    for message in all_messages():
        for wording in message.wordings:
            found = wording.regex.search(text)
            if found is not None:
                host = found.groupdict().get("host") or _quoted_server(text)
                return ClientMatch(message, wording, host.rstrip(".:") if host else None)
    return None


def _quoted_server(text: str) -> str | None:
    found = _QUOTED_SERVER.search(text)
    if found:
        return found.group("a") or found.group("b")
    # Thunderbird names the server where it quotes the reply ("Mail server X responded: ...").
    for regex in _server_said():
        said = regex.search(text)
        if said is not None and said.groupdict().get("host"):
            return said.group("host")
    return None
