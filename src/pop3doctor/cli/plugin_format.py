"""The Monitoring Plugins interface, as pure values: states, threshold ranges, perfdata, the status line.

Written to the Monitoring Plugins development guidelines
(https://www.monitoring-plugins.org/doc/guidelines.html and the newer
github.com/monitoring-plugins/monitoring-plugin-guidelines), which Nagios,
Icinga 2, Naemon, Checkmk and Zabbix all read the same way:

- the exit code is the state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN;
- the first line of stdout is ``SERVICE STATE - text | perfdata``; everything
  after ``|`` up to the end of the line is performance data, so the text must
  never hold a ``|`` or a line break of its own;
- each perfdata item is ``'label'=value[UOM];[warn];[crit];[min];[max]``:
  the label must not contain ``=`` or ``'``; values are plain decimals in the
  C locale (no exponent, no ``,``); UOM is one of ``s`` (or ``ms``/``us``),
  ``%``, ``B`` (or ``KB`` ...), ``c``, or nothing for a plain number; warn and
  crit are range expressions in the value's unit;
- a range expression is ``[@][start:][end]``: start 0 may be left out, an
  empty end is +infinity, ``~`` is -infinity; the value alerts when it is
  *outside* start..end (ends included), or *inside* it with ``@``.

Nothing here does I/O, so the format is tested on its own.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

from pop3doctor.escaping import visible


class State(enum.IntEnum):
    """A plugin's verdict; its value is the exit code."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


def worst(*states: State) -> State:
    """The state to report when several apply.

    CRITICAL beats UNKNOWN beats WARNING beats OK, the order Checkmk uses for
    the worst of several states: a check that could not finish must not hide
    behind a mere warning, but a real CRITICAL finding stays CRITICAL.
    """
    rank = {State.OK: 0, State.WARNING: 1, State.UNKNOWN: 2, State.CRITICAL: 3}
    return max(states, key=rank.__getitem__, default=State.OK)


# --- range expressions ----------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"(?P<inside>@)?(?:(?P<start>~|{_NUMBER})?:)?(?P<end>{_NUMBER})?")


@dataclass(frozen=True)
class Range:
    """A guideline range expression: ``10`` alerts outside 0..10, ``@5:9`` inside 5..9."""

    start: float = 0.0
    end: float = math.inf
    inside: bool = False
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Range:
        """The range ``text`` says; `ValueError` when it is not one (or start > end)."""
        match = _RANGE.fullmatch(text.strip())
        # Rule 7 of the range definition: at least a start or an end.
        if match is None or (match["start"] is None and match["end"] is None):
            raise ValueError(f"not a range expression: {text!r}")
        start = -math.inf if match["start"] == "~" else float(match["start"] or 0)
        end = math.inf if match["end"] is None else float(match["end"])
        if start > end:
            raise ValueError(f"range start is above its end: {text!r}")
        return cls(start, end, bool(match["inside"]), text.strip())

    @classmethod
    def at_least(cls, minimum: float) -> Range:
        """Alert below ``minimum`` (``N:``): what a "days left" threshold means."""
        return cls(minimum, math.inf, False, f"{number(minimum)}:")

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __str__(self) -> str:
        return self.text


def check_range(value: float, warning: Range | None, critical: Range | None) -> State:
    """The state ``value`` earns against the two thresholds (critical first)."""
    if critical is not None and critical.alerts(value):
        return State.CRITICAL
    if warning is not None and warning.alerts(value):
        return State.WARNING
    return State.OK


# --- performance data -----------------------------------------------------------

#: The units a value may carry here: the guidelines' seconds, bytes, percent,
#: counter, and none (a plain count).
UNITS = ("s", "ms", "us", "B", "%", "c", "")


def number(value: float) -> str:
    """``value`` as the guidelines want it: decimal, C locale, never an exponent."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    # 6 decimals keep microseconds of a time in seconds; trailing zeros say nothing.
    return f"{value:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class PerfDatum:
    label: str
    value: float
    unit: str = ""
    warning: Range | None = None
    critical: Range | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if not self.label.strip() or "=" in self.label or "'" in self.label:
            raise ValueError(f"perfdata label must be non-blank, without = or ': {self.label!r}")
        if self.unit not in UNITS:
            raise ValueError(f"unit not allowed by the guidelines: {self.unit!r}")
        if not math.isfinite(self.value):
            raise ValueError(f"perfdata value must be finite: {self.value!r}")

    def __str__(self) -> str:
        fields = [
            str(self.warning or ""),
            str(self.critical or ""),
            "" if self.minimum is None else number(self.minimum),
            "" if self.maximum is None else number(self.maximum),
        ]
        # Trailing empty fields may be left out; the guidelines' own examples do.
        while fields and not fields[-1]:
            fields.pop()
        tail = "".join(f";{f}" for f in fields)
        return f"'{self.label}'={number(self.value)}{self.unit}{tail}"


# --- the status line ------------------------------------------------------------


def plugin_text(text: str) -> str:
    """``text`` fit for the human part of the status line: one line, no ``|``.

    Server text reaches the titles (a greeting, an -ERR line); a ``|`` in it
    would start the perfdata early and a line break would end the status line.
    Control characters are made visible, as on the terminal.
    """
    flat = " ".join(visible(text, keep_newlines=True).split())
    return flat.replace("|", "/")


def status_line(service: str, state: State, text: str, perfdata: list[PerfDatum]) -> str:
    """``SERVICE STATE - text | perf1 perf2`` (no ``|`` part when there is no perfdata)."""
    line = f"{service} {state.name} - {plugin_text(text)}"
    if perfdata:
        line += " | " + " ".join(str(p) for p in perfdata)
    return line
