"""Filling ``{name}`` placeholders in remedy text when some values are unknown.

Remedies are written with the concrete value in mind ("change the port to
{suggested_port}").  A caller does not always know every value (``explain``
has only a pasted line), and ``str.format`` would raise ``KeyError``.  Here a
missing value becomes a phrase that still reads as an instruction ("the
number in your provider's guide"), so the sentence stays useful.  Names with
no phrase are left as ``{name}`` so a missing translation is visible, not
silently dropped.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from pop3doctor.i18n import Lang, Msg

# What to say when the value is unknown, per language.  Written to fit where
# the placeholder sits in causes.toml (usually inside 「」 or quotes).
_FALLBACKS: dict[str, dict[Lang, str]] = {
    "host": {"ja": "設定した受信メールサーバー名", "en": "the incoming server name you set"},
    "port": {"ja": "設定したポート番号", "en": "the port you set"},
    "security": {"ja": "設定した暗号化方法", "en": "the security you set"},
    "user": {"ja": "設定したユーザー名", "en": "the user name you set"},
    "suggested_port": {
        "ja": "プロバイダーが案内している番号（通常は 995）",
        "en": "the number in your provider's guide (usually 995)",
    },
    "suggested_security": {
        "ja": "プロバイダーが案内している方法（通常は SSL/TLS）",
        "en": "what your provider's guide says (usually SSL/TLS)",
    },
    "suggested_host": {
        "ja": "プロバイダーが案内しているサーバー名",
        "en": "the server name in your provider's guide",
    },
    # The server's LOGIN-DELAY when CAPA announced one (RFC 2449 s6.5); otherwise
    # the commonest value seen (the lab and Cyrus's popminpoll examples use 15 min).
    "login_delay": {
        "ja": "サーバーが求める間隔（わからない場合は 15 分）",
        "en": "the interval the server requires (15 minutes if unsure)",
    },
    "suggested_user": {
        "ja": "プロバイダーが案内している形式",
        "en": "the form in your provider's guide",
    },
}


def _text(value: object, lang: Lang) -> str:
    return value(lang) if isinstance(value, Msg) else str(value)


def login_delay_phrase(seconds: int) -> Msg:
    """An announced LOGIN-DELAY as the interval a user sets ("15 分" / "15 minutes")."""
    if seconds < 60:
        return Msg(f"{seconds} 秒", f"{seconds} second{'s' if seconds != 1 else ''}")
    minutes = -(-seconds // 60)  # rounded up: a shorter interval would still be refused
    return Msg(f"{minutes} 分", f"{minutes} minute{'s' if minutes != 1 else ''}")


class _Filler(dict[str, str]):
    """A mapping for ``format_map`` that never raises for a missing key."""

    def __init__(self, values: Mapping[str, object], lang: Lang) -> None:
        # A `Msg` value is a phrase with a wording per language ("1 分" / "1 minute").
        super().__init__({k: _text(v, lang) for k, v in values.items() if v is not None})
        self._lang = lang

    def __missing__(self, key: str) -> str:
        fallback = _FALLBACKS.get(key)
        return fallback[self._lang] if fallback else "{" + key + "}"


def fill(template: str, values: Mapping[str, object], lang: Lang) -> str:
    """Substitute ``{name}`` fields from *values*; unknown or ``None`` ones get a phrase.

    Only plain ``{name}`` fields are supported (no attribute access, indexing or
    format specs), which is all the data files use; anything else is returned
    untouched rather than raising, so bad data cannot crash a report.
    """
    try:
        return template.format_map(_Filler(values, lang))
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


def field_names(template: str) -> set[str]:
    """The placeholder names used in *template* (for data validation)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


KNOWN_FIELDS = frozenset(_FALLBACKS)
