"""Server text made safe for each output: terminal, Markdown, HTML page, JSON.

A hostile (or just broken) server can put anything into a greeting or an
``-ERR`` line: NUL, ESC and CSI sequences that recolour or clear a terminal,
OSC 8 links that hide a URL behind harmless words, bidi overrides that make
``exe.txt`` read as ``txt.exe``.  Such text is kept as received (the JSON
report stays faithful) and made *visible* where a person reads it:

- `visible` writes every control and invisible format character as an
  escape (``\\x1b``, ``\\u202e``); it is lossless: a backslash that would make
  a literal ``\\x1b`` in the server's text look like an escape is doubled, every
  other backslash is left alone (``C:\\mail`` stays readable);
- `json_text` is `json.dumps` whose output never holds a raw control, bidi
  or format character (JSON already escapes C0; DEL, C1 and the rest are
  written as ``\\uXXXX`` too), so decoding gives back the exact text;
- `md_text`, `md_code` and `md_fence` inline server text into Markdown
  without it turning into markup, leaving a code span or closing a fence.

The HTML page is autoescaped by Jinja2 and its script sets ``textContent``;
the events it is sent apply `visible` to every text.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from typing import Any

#: Unicode categories that render as nothing (or act on the terminal / the text
#: direction) rather than as a glyph: controls, format characters (bidi
#: overrides and isolates, zero-width ones), line/paragraph separators, and
#: lone surrogates (undecodable bytes kept by ``surrogateescape``).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@lru_cache(maxsize=4096)
def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def _escape(ch: str) -> str:
    # Always the numeric form (no "\\r"): then only a backslash before "x" + 2,
    # "u" + 4 or "U" + 8 hex digits can be mistaken for an escape ("C:\\report" is not).
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_LOOKS_ESCAPED = re.compile(r"x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}")


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every control/format character written as a readable escape.

    Lossless: a run of backslashes is doubled only where it would otherwise
    read as (part of) an escape -- before an escaped character, or before
    text that looks like one (a literal ``\\x1b``); every other backslash is
    left alone.  ``keep_newlines`` leaves ``\\n`` as a line break (our own
    multi-line messages on a terminal); ``\\r``, which would overwrite the
    start of the line, is always escaped.
    """
    if text.isprintable() and "\\" not in text:
        return text  # the common case: nothing to do

    def escaped(ch: str) -> bool:
        return _unsafe(ch) and not (keep_newlines and ch == "\n")

    out: list[str] = []
    i, end = 0, len(text)
    while i < end:
        ch = text[i]
        if ch != "\\":
            out.append(_escape(ch) if escaped(ch) else ch)
            i += 1
            continue
        run_end = i
        while run_end < end and text[run_end] == "\\":
            run_end += 1
        ambiguous = run_end < end and (escaped(text[run_end]) or _LOOKS_ESCAPED.match(text, run_end) is not None)
        out.append("\\" * ((run_end - i) * (2 if ambiguous else 1)))
        i = run_end
    return "".join(out)


def has_unsafe(text: str) -> bool:
    """True when ``text`` holds a character `visible` would escape (``\\n`` included)."""
    return any(_unsafe(ch) for ch in text)


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # astral: a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _json_escape_unsafe(match: re.Match[str]) -> str:
    return _json_escape(match) if _unsafe(match.group()) else match.group()


# Candidates only: everything but printable ASCII and the newlines of ``indent``
# (outside strings; inside them JSON has already escaped every C0 character).
_NOT_PLAIN_ASCII = re.compile(r"[^\n\x20-\x7e]")


def json_text(data: Any, **kwargs: Any) -> str:
    """`json.dumps` (UTF-8 text kept readable) with no raw control or format character.

    Outside strings `json.dumps` writes only ASCII structure and spaces, so any
    unsafe character is inside a string, where ``\\uXXXX`` is a valid escape.
    """
    text = json.dumps(data, ensure_ascii=False, **kwargs)
    return _NOT_PLAIN_ASCII.sub(_json_escape_unsafe, text)


# Characters that start inline markup in CommonMark/GFM (``|`` ends a table cell,
# ``&`` starts a character reference such as ``&#x202e;``), and a backslash
# before ASCII punctuation (the only place CommonMark reads it as an escape).
# Other punctuation stays as it is, so the report's Markdown source reads well.
_MD_INLINE = re.compile(r"\\(?=[!-/:-@\[-`{-~])|[`*_\[\]<>|~&]")
# What turns a line into a heading, list item, quote or rule when it starts one.
_MD_LINE_START = re.compile(r"^(\s*)([#=+-]|\d+(?=[.)]))")


def md_text(text: str) -> str:
    """Server text inlined in Markdown prose or a table cell: visible, and no markup."""
    shown = _MD_INLINE.sub(lambda m: "\\" + m.group(), visible(text))
    return _MD_LINE_START.sub(_escape_line_start, shown, count=1)


def _escape_line_start(match: re.Match[str]) -> str:
    indent, marker = match.groups()
    # "1." is a list item only with its "." or ")": escape that, not the number.
    return indent + (marker + "\\" if marker.isdigit() else "\\" + marker)


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def md_code(text: str) -> str:
    """``text`` as an inline code span whose delimiter no backtick run inside can close."""
    shown = visible(text)
    fence = "`" * (_longest_backtick_run(shown) + 1)
    # A space on each side when the text starts or ends with a backtick (CommonMark strips one).
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def md_fence(lines: list[str], info: str = "") -> list[str]:
    """``lines`` (already made visible) as a fenced block no line inside can close."""
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in lines), default=0) + 1)
    return [fence + info, *lines, fence]
