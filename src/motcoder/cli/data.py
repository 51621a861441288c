"""Data commands (`motcoder data ...`): MoT transformation, assessment statistics, export
and decontamination of training data."""

from __future__ import annotations

import typer

from motcoder.cli.common import app

data_app = typer.Typer(help="Build training data: MoT transformation, statistics, export, "
                       "decontamination.", no_args_is_help=True)
app.add_typer(data_app, name="data")
