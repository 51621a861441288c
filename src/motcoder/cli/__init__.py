"""The `motcoder` command line: thin Typer commands that parse, call a layer, and print.

Errors a user can cause (bad files, unknown ids, unreachable hub or server, missing model,
bad flags) end in one clear message and exit status 2, without a traceback. The commands
live in one module per group; importing them registers them on `app`.
"""

from __future__ import annotations

# Importing a command module registers its commands.
from motcoder.cli import (  # noqa: F401
    analyze,
    core,
    data,
    experiment,
    mucode,
    mucode_train,
    reflection,
    report,
    train,
)
from motcoder.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    app()
