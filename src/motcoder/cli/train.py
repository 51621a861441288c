"""Training commands (`motcoder train ...`)."""

from __future__ import annotations

import typer

from motcoder.cli.common import app

train_app = typer.Typer(help="Fine-tune models (supervised fine-tuning on MoT and normal "
                        "data).", no_args_is_help=True)
app.add_typer(train_app, name="train")
