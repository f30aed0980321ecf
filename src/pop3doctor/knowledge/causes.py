"""Cause codes with their explanation and remedy, in Japanese and English.

The data lives in ``data/causes.toml``; this module turns it into frozen
`Cause` objects once, at first use.  Cause codes are stable identifiers that
appear in JSON output: never rename one, only add.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
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
#: Points of the diagnosis where a failure is read (the ``alternatives`` and
#: ``override.at`` values; causes.toml's header says what each means).
POINTS = ("greeting", "implicit-tls", "starttls", "login", "login-withheld")
#: Conditions an ``override`` may name; the diagnosis decides whether one holds.
CONDITIONS = ("token-sasl-only",)


@dataclass(frozen=True)
class Override:
    """Report ``becomes`` instead, at the points ``at``, when the condition ``when`` holds."""

    when: str
    becomes: str
    at: frozenset[str]


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
    #: Points where a failure with this cause first probes other port/security settings.
    alternatives: frozenset[str] = frozenset()
    override: Override | None = None

    def probes_alternatives(self, point: str) -> bool:
        """Whether a failure with this cause, read at ``point``, starts the alternatives probe."""
        return point in self.alternatives

    def reported_as(self, point: str, holding: Collection[str]) -> str:
        """The code to report for this cause read at ``point``, given the conditions ``holding`` there."""
        rule = self.override
        if rule is not None and point in rule.at and rule.when in holding:
            return rule.becomes
        return self.code

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
        alternatives=_points(raw.get("alternatives", []), f"{code}.alternatives"),
        override=_override(raw.get("override"), code),
    )


def _points(raw: Any, where: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(p in POINTS for p in raw):
        raise ValueError(f"causes.toml: {where}: a list of points out of {POINTS}, got {raw!r}")
    return frozenset(raw)


def _override(raw: Any, code: str) -> Override | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("when") not in CONDITIONS or not isinstance(raw.get("becomes"), str):
        raise ValueError(f"causes.toml: {code}.override needs 'when' (one of {CONDITIONS}), 'becomes' and 'at'")
    return Override(raw["when"], raw["becomes"], _points(raw.get("at"), f"{code}.override.at"))


@cache
def _causes() -> Mapping[str, Cause]:
    data = load("causes.toml")
    causes = {code: _parse(code, raw) for code, raw in data.items()}
    for cause in causes.values():
        if cause.override is not None and cause.override.becomes not in causes:
            raise ValueError(f"causes.toml: {cause.code}.override becomes unknown cause {cause.override.becomes!r}")
    return MappingProxyType(causes)


def all_causes() -> dict[str, Cause]:
    """Every cause by code, in the order of the data file (a fresh dict each call)."""
    return dict(_causes())


def get_cause(code: str) -> Cause:
    """The cause for *code*; ``KeyError`` for an unknown code."""
    return _causes()[code]


CAUSE_CODES: frozenset[str] = frozenset(_causes())
