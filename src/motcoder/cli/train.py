"""Training commands (`motcoder train ...`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from motcoder.cli.common import (
    BASE_MODEL,
    MAX_STEPS,
    SET,
    TRAIN_OUT,
    app,
    console,
    fail,
    out,
    user_errors,
)

train_app = typer.Typer(help="Fine-tune models (supervised fine-tuning on MoT and normal "
                        "data).", no_args_is_help=True)
app.add_typer(train_app, name="train")


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"training data — loss on responses via {report['loss_mask']} masks, "
                        f"{report['layout']}, max length {report['max_length']}")
    for column in ("source", "read", "weighted", "after ratio", "too long (dropped)",
                   "trained"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for source, read in report["read"].items():
        table.add_row(escape(source), str(read), str(report["after_weights"].get(source, 0)),
                      str(report["after_ratio"].get(source, 0)),
                      str(report["dropped_overlength"].get(source, 0)),
                      str(report["trained"].get(source, 0)))
    styles = ", ".join(f"{k} {v}" for k, v in sorted(report["styles"].items()))
    table.caption = f"styles: {styles}; rows for the trainer: {report['rows']}; longest " \
                    f"sample: {report['longest']} tokens"
    return table


@train_app.command("sft")
def sft(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML/JSON settings file "
                                       "(see configs/sft/)."),
    model: str | None = BASE_MODEL,
    data: list[str] | None = typer.Option(None, "--data", help="Training data PATH[:WEIGHT] "
                                          "(chat or Alpaca JSONL, or hf:ORG/NAME); repeat for "
                                          "a mixture. Replaces the config's data."),
    out_dir: Path | None = TRAIN_OUT,
    layout: str | None = typer.Option(None, help="one-step | two-step"),
    max_steps: int | None = MAX_STEPS,
    overrides: list[str] | None = SET,
    dry_run: bool = typer.Option(False, "--dry-run", help="Load and mix the data, print the "
                                 "report and the trainer arguments, do not train."),
) -> None:
    """Supervised fine-tuning (MoT instruction tuning) with TRL's SFTTrainer.

    The result, OUT/final, is a full model + tokenizer: motcoder run --model hf:OUT/final.
    """
    from motcoder.training.settings import TrainingError, load_settings

    try:
        settings = load_settings(config, overrides or [], model=model, data=data or None,
                                 out=str(out_dir) if out_dir is not None else None,
                                 layout=layout, max_steps=max_steps)
        if dry_run:
            from motcoder.training.sft import prepare

            prepared = prepare(settings)
            out.print(_report_table(prepared.report.to_dict()))
            out.print_json(json.dumps(prepared.config_kwargs, default=str))
            return
        from motcoder.training.sft import train_sft

        def on_prepared(prepared: Any) -> None:
            console.print(_report_table(prepared.report.to_dict()))
            console.print(f"base model: {escape(prepared.base)}   run directory: "
                          f"{escape(settings.out)}")

        final = train_sft(settings, on_prepared=on_prepared)
    except (TrainingError, *user_errors()) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; checkpoints so far are in {settings.out} — run the same "
                   "command again to resume from the last one", code=130) from None
    marker = final / "motcoder-training.json"
    summary = json.loads(marker.read_text()) if marker.is_file() else {}
    if summary:
        console.print(f"steps: {summary['global_step']}   loss: {summary['first_loss']} → "
                      f"{summary['last_loss']}   time: {summary['seconds']} s")
    out.print(f"final model: {escape(str(final))}   (use it: motcoder run --model "
              f"hf:{escape(str(final))})")
