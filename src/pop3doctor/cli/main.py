"""The ``pop3doctor`` command: a thin click group; each sub-command lives in its own module."""

from __future__ import annotations

import importlib
import sys

import click

from pop3doctor import __version__
from pop3doctor.cli.options import EXIT_USAGE

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pop3doctor")
def cli() -> None:
    """pop3doctor: POP3 受信トラブルの原因と直し方を調べます。
    Finds out why POP3 receiving fails and what to change."""


for _name in _COMMANDS:
    cli.add_command(importlib.import_module(f"pop3doctor.cli.{_name}").command)


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
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
