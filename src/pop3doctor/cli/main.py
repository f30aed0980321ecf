"""The ``pop3doctor`` command: a thin click group; each sub-command lives in its own module.

`main` is also the last line of defence: whatever a command raises reaches
the user as one short ja/en sentence and a documented exit code, never as a
traceback (``--debug`` adds the traceback on stderr for a bug report).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Any

import click

from pop3doctor import __version__
from pop3doctor.cli.interrupt import interrupted_lines
from pop3doctor.cli.options import EX_SOFTWARE, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_USAGE
from pop3doctor.escaping import has_unsafe, visible
from pop3doctor.i18n import Lang, catalog, resolve_lang

_t = catalog("cli")

# Sub-command modules, each exposing a click command named ``command``.  Listed
# here rather than discovered so a missing module is an import error, not a
# silently absent command.
_COMMANDS: list[str] = [
    "explain",
    "fetch",
    "diagnose",
    "check",
    "demo",
    "lab",
    "web",
    "discover",
    "probe",
    "exporter",
]


@dataclass
class _Run:
    """What the group's options said, for `main` to read after the command has ended."""

    debug: bool = False


_run = _Run()


class _ReaderGone(Exception):
    """stdout's reader went away (a `BrokenPipeError` in a command), carried past click.

    click's ``main`` swallows EPIPE itself and exits 1, which means "warnings
    only" for diagnose; this is not an OSError, so it passes click untouched.
    """


class _LazyGroup(click.Group):
    """Imports a sub-command's module only when that command runs (or help lists it):
    ``fetch`` need not load the web server, discovery's HTTP client or the lab."""

    # Both: the group's own --help is printed while its context is made, a
    # sub-command's output (and its --help) while the group invokes it.
    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BrokenPipeError as exc:
            raise _ReaderGone() from exc

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _ReaderGone() from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"pop3doctor.cli.{cmd_name}").command
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pop3doctor")
@click.option(
    "--debug",
    is_flag=True,
    help="内部エラーの詳細（トレースバック）を表示 / on an internal error, print its traceback to stderr",
)
def cli(debug: bool) -> None:
    """pop3doctor: POP3 受信トラブルの原因と直し方を調べます。
    Finds out why POP3 receiving fails and what to change."""
    _run.debug = debug


def main() -> None:
    sys.exit(_exit_code(sys.argv[1:]))


def _exit_code(args: list[str]) -> int:
    """Run the command line; the process's exit code, whatever happened."""
    try:
        try:
            code = _command(args)
        except _ReaderGone:
            raise BrokenPipeError from None
        finally:
            # Flushed here, not at interpreter exit, so that a reader that went
            # away (``| head``) is seen below and not as "Exception ignored".
            sys.stdout.flush()
    except BrokenPipeError:
        # Nobody reads our output any more: nothing to tell them.  Point stdout
        # at /dev/null so the interpreter's own final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _command(args: list[str]) -> int:
    # Usage errors exit 64 (sysexits EX_USAGE) rather than click's 2, because 2
    # means "problem found" for diagnose.
    try:
        returned = cli.main(args, prog_name="pop3doctor", standalone_mode=False)
    except SystemExit as exc:  # the commands end with sys.exit(their code)
        if isinstance(exc.__context__, BrokenPipeError):
            # rich's Console exits 1 when stdout's reader is gone (`Console.on_broken_pipe`).
            raise _ReaderGone() from None
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.UsageError as exc:
        _shown(exc).show()
        return EXIT_USAGE
    except click.ClickException as exc:
        _shown(exc).show()
        return exc.exit_code
    except click.Abort as exc:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        say_interrupted(args, exc.__cause__)
        return EXIT_INTERRUPTED
    except _ReaderGone:
        raise  # `_exit_code` handles it
    except Exception as exc:
        # Anything else is a bug of ours: every failure of the server, the
        # network or the user's input has a named error and its own message.
        _internal_error(args, exc)
        return EX_SOFTWARE
    # click returns ``ctx.exit``'s code (--help, --version: 0) or the command's value (None).
    return returned if isinstance(returned, int) else 0


def _internal_error(args: list[str], exc: Exception) -> None:
    """The short ja/en note for an unexpected exception; the traceback only with --debug.

    Only the exception's type is named without --debug: its text may carry
    server-provided bytes or a path the user did not ask to see.
    """
    lang = _lang(args)
    if _run.debug:
        traceback.print_exception(exc, file=sys.stderr)
        click.echo(_t.INTERNAL_ERROR_DEBUG(lang, kind=type(exc).__name__), err=True)
    else:
        click.echo(_t.INTERNAL_ERROR(lang, kind=type(exc).__name__), err=True)


def _lang(args: list[str]) -> Lang:
    """The language ``--lang`` or the locale asks for, read from the raw arguments
    (the command's own parsing may be what failed)."""
    lang_arg = next((a.split("=", 1)[1] for a in args if a.startswith("--lang=")), None)
    if "--lang" in args and args.index("--lang") + 1 < len(args):
        lang_arg = args[args.index("--lang") + 1]
    return resolve_lang(lang_arg if lang_arg in ("ja", "en") else None)


def _shown(exc: click.ClickException) -> click.ClickException:
    """``exc`` with the argument it quotes made visible (a pasted address may hold ESC or a bidi override)."""
    # Only when something needs escaping: click already quotes some values with repr().
    if has_unsafe(exc.message.replace("\n", "")):
        # click types ``message`` Final; it is a plain attribute that format_message reads.
        setattr(exc, "message", visible(exc.message, keep_newlines=True))  # noqa: B010
    return exc


def say_interrupted(args: list[str], cause: BaseException | None) -> None:
    """The Ctrl-C message, in the language ``--lang`` or the locale asks for."""
    lang = _lang(args)
    for line in interrupted_lines(lang, args, cause):
        click.echo(line, err=True)
