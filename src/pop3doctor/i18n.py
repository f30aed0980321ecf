"""Two languages for every user-facing message: Japanese and English.

The locale picks the default (LC_ALL, then LC_MESSAGES, then LANG, as POSIX
orders them); ``--lang`` overrides it.  Messages are pairs, never keys into a
catalogue that could be missing a translation: a `Msg` cannot be built without
both texts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Lang = Literal["ja", "en"]
LANGS: tuple[Lang, ...] = ("ja", "en")


def detect_lang(env: Mapping[str, str] | None = None) -> Lang:
    """Return "ja" when the locale says Japanese, otherwise "en"."""
    env = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def resolve_lang(lang: str | None, env: Mapping[str, str] | None = None) -> Lang:
    """``--lang`` wins when given; otherwise the locale decides."""
    if lang in LANGS:
        return lang
    return detect_lang(env)


@dataclass(frozen=True, slots=True)
class Msg:
    """A message in both languages; ``format`` fills ``{name}`` fields in both."""

    ja: str
    en: str

    def __call__(self, lang: Lang, /, **fields: object) -> str:
        text = self.ja if lang == "ja" else self.en
        return text.format(**fields) if fields else text

    def format(self, **fields: object) -> Msg:
        return Msg(self.ja.format(**fields), self.en.format(**fields))
