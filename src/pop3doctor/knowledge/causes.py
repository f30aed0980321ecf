"""Cause codes with their explanation and remedy, in Japanese and English.

The data lives in ``data/causes.toml``; this module turns it into frozen
`Cause` objects once, at first use.  Cause codes are stable identifiers that
appear in JSON output: never rename one, only add.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

from pop3doctor.i18n import Lang, Msg
from pop3doctor.knowledge._data import load
from pop3doctor.knowledge.placeholders import fill

STAGES = ("network", "dns", "connect", "tls", "greeting", "login", "mailbox", "retrieval")
SEVERITIES = ("fail", "warn", "ok")
SETTINGS_HINTS = (
    "host", "port", "security", "user", "password", "account-web", "network", "none",
)


@dataclass(frozen=True)
class Cause:
    """One diagnosable cause.  ``remedy`` steps are in the order to try them."""

    code: str
    stage: str
    severity: str
    title: Msg
    explanation: Msg
    remedy: tuple[Msg, ...]
    settings_hint: str | None

    def remedy_text(self, lang: Lang, values: Mapping[str, object] | None = None) -> list[str]:
        """The remedy steps in *lang* with placeholders filled (missing ones get a phrase)."""
        return [fill(step(lang), values or {}, lang) for step in self.remedy]

    def explanation_text(self, lang: Lang, values: Mapping[str, object] | None = None) -> str:
        return fill(self.explanation(lang), values or {}, lang)


def _msg(raw: Any, where: str) -> Msg:
    if not isinstance(raw, dict) or not isinstance(raw.get("ja"), str) or not isinstance(
        raw.get("en"), str
    ):
        raise ValueError(f"causes.toml: {where} needs string 'ja' and 'en'")
    return Msg(ja=raw["ja"], en=raw["en"])


def _parse(code: str, raw: dict[str, Any]) -> Cause:
    stage, severity = raw.get("stage"), raw.get("severity")
    hint = raw.get("settings_hint")
    if stage not in STAGES:
        raise ValueError(f"causes.toml: {code}: unknown stage {stage!r}")
    if severity not in SEVERITIES or (severity == "ok") != (code == "ok"):
        raise ValueError(f"causes.toml: {code}: bad severity {severity!r}")
    if hint is not None and hint not in SETTINGS_HINTS:
        raise ValueError(f"causes.toml: {code}: unknown settings_hint {hint!r}")
    steps = raw.get("remedy")
    if not isinstance(steps, list) or not steps:
        raise ValueError(f"causes.toml: {code}: needs at least one remedy step")
    return Cause(
        code=code,
        stage=stage,
        severity=severity,
        title=_msg(raw.get("title"), f"{code}.title"),
        explanation=_msg(raw.get("explanation"), f"{code}.explanation"),
        remedy=tuple(_msg(s, f"{code}.remedy[{i}]") for i, s in enumerate(steps)),
        settings_hint=hint,
    )


@cache
def _causes() -> Mapping[str, Cause]:
    data = load("causes.toml")
    return MappingProxyType({code: _parse(code, raw) for code, raw in data.items()})


def all_causes() -> dict[str, Cause]:
    """Every cause by code, in the order of the data file (a fresh dict each call)."""
    return dict(_causes())


def get_cause(code: str) -> Cause:
    """The cause for *code*; ``KeyError`` for an unknown code."""
    return _causes()[code]


CAUSE_CODES: frozenset[str] = frozenset(_causes())
