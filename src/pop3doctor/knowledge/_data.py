"""Reading the package's own TOML data files (and nothing else)."""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any


def load(name: str) -> dict[str, Any]:
    """Parse ``knowledge/data/<name>`` shipped inside the package.

    Raises ``FileNotFoundError`` for a missing file and ``tomllib.TOMLDecodeError``
    for a malformed one: both are packaging bugs, never user input.
    """
    text = resources.files("pop3doctor.knowledge").joinpath("data", name).read_text("utf-8")
    return tomllib.loads(text)
