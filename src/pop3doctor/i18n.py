"""Two languages for every user-facing message: Japanese and English.

The locale picks the default (LC_ALL, then LC_MESSAGES, then LANG, as POSIX
orders them); ``--lang`` overrides it.  Messages are pairs: a `Msg` cannot be
built without both texts.

The program's own texts live in catalogs, ``pop3doctor/messages/<area>.toml``
(one ``[NAME]`` table with ``ja`` and ``en`` per message), read with
`catalog`.  Loading a catalog checks every entry, so the pairing guarantee
holds for them too: an entry without both texts, or whose two texts name
different ``{placeholders}``, makes loading fail, naming the file and entry.
"""

from __future__ import annotations

import os
import re
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

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


# --- catalogs --------------------------------------------------------------------

#: Entry and group names are upper case, so they never shadow `Catalog`'s own
#: attributes (``area``, ``group`` ...), and areas are plain file names.
_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_AREA = re.compile(r"[a-z][a-z0-9_]*")


class CatalogError(ValueError):
    """A message catalog that breaks the rules: a packaging bug, never user input."""


class Catalog:
    """The messages of one area: ``catalog("cli").NEED_HOST`` is a `Msg`.

    An entry is a table with exactly ``ja`` and ``en``; a group is a table of
    entries under free-form keys (``[SECURITY_NAMES.ssl]``), read with `group`
    as a read-only mapping: for labels chosen by a value (a security, a source).
    """

    __slots__ = ("_entries", "_groups", "area", "source")

    def __init__(
        self, area: str, source: str, entries: Mapping[str, Msg], groups: Mapping[str, Mapping[str, Msg]]
    ) -> None:
        self.area = area
        self.source = source  # the file name errors quote
        self._entries = dict(entries)
        # Plain dicts inside (a catalog deep-copies; a mappingproxy does not), read-only views outside.
        self._groups = {name: dict(members) for name, members in groups.items()}

    def __getattr__(self, name: str) -> Msg:
        if name.startswith("_"):  # a slot not yet set (copy, pickle): no recursion through msg()
            raise AttributeError(name)
        return self.msg(name)

    def msg(self, name: str) -> Msg:
        """The entry ``name``; AttributeError (naming area and entry) when there is none."""
        try:
            return self._entries[name]
        except KeyError:
            kind = "a group (use .group())" if name in self._groups else "no such message"
            raise AttributeError(f"message catalog {self.area!r} ({self.source}): {name}: {kind}") from None

    def group(self, name: str) -> Mapping[str, Msg]:
        try:
            return MappingProxyType(self._groups[name])
        except KeyError:
            raise KeyError(f"message catalog {self.area!r} ({self.source}): no group {name}") from None

    @property
    def entries(self) -> Mapping[str, Msg]:
        return MappingProxyType(self._entries)

    @property
    def groups(self) -> Mapping[str, Mapping[str, Msg]]:
        return MappingProxyType({name: MappingProxyType(members) for name, members in self._groups.items()})

    def __repr__(self) -> str:
        return f"<Catalog {self.area!r}: {len(self._entries)} entries, {len(self._groups)} groups>"


@cache
def catalog(area: str) -> Catalog:
    """The catalog ``pop3doctor/messages/<area>.toml``, checked, loaded once."""
    if not _AREA.fullmatch(area):
        raise CatalogError(f"not a catalog area name: {area!r}")
    source = f"messages/{area}.toml"
    try:
        text = resources.files("pop3doctor").joinpath("messages", f"{area}.toml").read_text("utf-8")
    except FileNotFoundError:
        raise CatalogError(f"{source}: no such message catalog") from None
    return parse_catalog(text, area=area, source=source)


def parse_catalog(text: str, *, area: str, source: str) -> Catalog:
    """Check and load catalog text; `CatalogError` names ``source`` and the entry."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CatalogError(f"{source}: not valid TOML: {e}") from None
    entries: dict[str, Msg] = {}
    groups: dict[str, dict[str, Msg]] = {}
    for name, value in raw.items():
        where = f"{source}: [{name}]"
        if not _NAME.fullmatch(name):
            raise CatalogError(f"{where}: names are UPPER_CASE (letters, digits, _)")
        if not isinstance(value, dict):
            raise CatalogError(f"{where}: must be a table with ja and en")
        if "ja" in value or "en" in value:
            entries[name] = _entry(value, where)
        elif value:
            groups[name] = {key: _entry(member, f"{source}: [{name}.{key}]") for key, member in value.items()}
        else:
            raise CatalogError(f"{where}: empty table (an entry needs ja and en)")
    return Catalog(area, source, entries, groups)


def placeholders(text: str) -> frozenset[str]:
    """The ``{field}`` names a text fills (``{n:>3}`` counts as ``n``); ValueError if malformed."""
    return frozenset(field for _, field, _, _ in string.Formatter().parse(text) if field is not None)


def _entry(value: Any, where: str) -> Msg:
    if not isinstance(value, dict):
        raise CatalogError(f"{where}: must be a table with ja and en")
    extra = sorted(set(value) - {"ja", "en"})
    if extra:
        raise CatalogError(f"{where}: unknown key(s) {', '.join(extra)} (only ja and en)")
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text:
            raise CatalogError(f"{where}: needs a non-empty {lang} text")
    try:
        ja, en = placeholders(value["ja"]), placeholders(value["en"])
    except ValueError as e:
        raise CatalogError(f"{where}: malformed {{placeholder}}: {e}") from None
    if ja != en:
        raise CatalogError(
            f"{where}: ja and en fill different placeholders (ja {sorted(ja)}, en {sorted(en)})"
        )
    return Msg(value["ja"], value["en"])
