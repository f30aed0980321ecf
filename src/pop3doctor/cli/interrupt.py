"""What Ctrl-C means, said in the user's language: the exception a command raises for it and the words.

click turns a KeyboardInterrupt into `click.Abort` and keeps the original as
``__cause__``; a command that knows more than "interrupted" raises a
`KeyboardInterrupt` subclass with the facts, and `interrupted_lines` words them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pop3doctor.i18n import Lang, catalog

_t = catalog("cli")


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fetch``.

    ``after_quit``: QUIT had already gone out, so the server may have
    committed the deletions of this run (only of messages saved on disk).
    Before QUIT the server deletes nothing of the session.
    """

    def __init__(self, *, after_quit: bool) -> None:
        super().__init__("fetch interrupted" + (" after QUIT" if after_quit else ""))
        self.after_quit = after_quit


class QuitWatch:
    """An ``on_stage`` observer for `fetch_account`: remembers whether any run reached QUIT."""

    def __init__(self) -> None:
        self.quit_sent = False

    def __call__(self, stage: str) -> None:
        if stage == "quit":
            self.quit_sent = True


def interrupted_lines(lang: Lang, args: Sequence[str], cause: BaseException | None) -> list[str]:
    """The lines to print for Ctrl-C; ``cause`` is what click's Abort was raised from."""
    lines = [_t.INTERRUPTED(lang)]
    if isinstance(cause, FetchInterrupted):
        lines.append((_t.FETCH_INTERRUPTED_AFTER_QUIT if cause.after_quit else _t.FETCH_INTERRUPTED)(lang))
    elif "fetch" in args:
        # Interrupted before fetch's own handler ran (start-up, option parsing):
        # nothing was connected yet, so certainly nothing was sent.
        lines.append(_t.FETCH_INTERRUPTED(lang))
    return lines
