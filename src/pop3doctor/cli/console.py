"""The one place every command gets its rich Console from: output that a server cannot take over.

Server text (a greeting, an ``-ERR`` line, an error's message) reaches the
terminal inside findings, fetch details and discovery evidence.  Rather than
trusting every call site to escape it, `SafeConsole` makes every string it
renders visible (`pop3doctor.escaping.visible`): ESC, NUL, CSI and OSC
sequences, bidi overrides and other invisible characters are shown as
``\\x1b``-style escapes, never sent to the terminal.  Rich's own styling is
unaffected: it is added when segments are written, not carried in the text.

Rich markup is a separate matter: call sites print server text either with
``markup=False`` or through `rich.markup.escape`, so ``[bold]`` or
``[link=...]`` in it stays literal text.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from pop3doctor.escaping import visible


class SafeConsole(Console):
    """A Console whose every rendered string has its control and format characters escaped."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        # Our own messages may span lines; any other control character is escaped.
        return super().render_str(visible(text, keep_newlines=True), **kwargs)


def make_console(*, stderr: bool = False) -> Console:
    """The Console of a command: ``stderr`` for progress, errors and reports beside ``--json``.

    ``soft_wrap``: Japanese has no spaces for rich to break at; the terminal wraps
    it better.  ``highlight=False``: rich's number/URL colouring would style server
    text as if it meant something.
    """
    return SafeConsole(stderr=stderr, soft_wrap=True, highlight=False)
