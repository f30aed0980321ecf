"""The ``pop3doctor`` command: a thin click group; each sub-command lives in its own module."""

from __future__ import annotations

import importlib
import sys

import click

from pop3doctor import __version__
from pop3doctor.cli.interrupt import interrupted_lines
from pop3doctor.cli.options import EXIT_USAGE
from pop3doctor.i18n import catalog, resolve_lang

_t = catalog("cli")

# Sub-command modules, each exposing a click command named ``command``.  Listed
# here rather than discovered so a missing module is an import error, not a
# silently absent command.
_COMMANDS: list[str] = [
    "explain",
    "fetch",
    "diagnose",
    "demo",
    "lab",
    "web",
    "discover",
]


class _LazyGroup(click.Group):
    """Imports a sub-command's module only when that command runs (or help lists it):
    ``fetch`` need not load the web server, discovery's HTTP client or the lab."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in _COMMANDS:
            return None
        command: click.Command = importlib.import_module(f"pop3doctor.cli.{cmd_name}").command
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pop3doctor")
def cli() -> None:
    """pop3doctor: POP3 受信トラブルの原因と直し方を調べます。
    Finds out why POP3 receiving fails and what to change."""


def main() -> None:
    # Usage errors exit 64 (sysexits EX_USAGE) rather than click's 2, because 2
    # means "problem found" for diagnose.
    try:
        cli.main(standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:  # Ctrl-C (click turns KeyboardInterrupt into Abort)
        say_interrupted(sys.argv[1:], exc.__cause__)
        sys.exit(130)


def say_interrupted(args: list[str], cause: BaseException | None) -> None:
    """The Ctrl-C message, in the language ``--lang`` or the locale asks for."""
    lang_arg = next((a.split("=", 1)[1] for a in args if a.startswith("--lang=")), None)
    if "--lang" in args and args.index("--lang") + 1 < len(args):
        lang_arg = args[args.index("--lang") + 1]
    lang = resolve_lang(lang_arg)
    for line in interrupted_lines(lang, args, cause):
        click.echo(line, err=True)
