"""Experiment commands (`motcoder experiment ...`): whole studies in one command."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from motcoder.cli.common import (
    PROGRESS,
    RESUME,
    WORKERS,
    Bars,
    app,
    console,
    fail,
    out,
    user_errors,
)

experiment_app = typer.Typer(help="Run whole studies (training + evaluation) in one command.",
                             no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")


@experiment_app.command("mot-ablation")
def mot_ablation(
    config: Path = typer.Option(..., "--config", "-c", help="Experiment config (YAML/JSON): "
                                "model, normal_data, mot_data, train, eval. See "
                                "configs/experiments/."),
    out_dir: Path = typer.Option(..., "--out", help="Experiment directory."),
    resume: bool = RESUME, workers: int = WORKERS, progress: bool = PROGRESS,
) -> None:
    """Train normal-FT and MoT-FT from one base model and evaluate base, normal-FT and MoT-FT
    on the same problems (pass@k per difficulty + all)."""
    from motcoder.pipeline.ablation import AblationHooks, read_settings, run_ablation
    from motcoder.pipeline.run import Progress
    from motcoder.scoring.tables import comparison_table

    try:
        settings = read_settings(config)
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        with Bars(progress) as bars:
            hooks = AblationHooks(
                step=lambda name: console.print(f"[bold]{escape(name)}[/]"),
                run_progress=lambda arm: Progress(
                    generation_start=bars.start(f"{arm}: generating"), attempt=bars.attempt,
                    judging_start=bars.start(f"{arm}: judging"), verdict=bars.verdict))
            summaries = run_ablation(settings, out_dir, resume=resume, workers=workers,
                                     hooks=hooks)
    except (*user_errors(), ValueError) as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; continue with: motcoder experiment mot-ablation --config "
                   f"{config} --out {out_dir} --resume", code=130) from None
    k = (settings.eval.ks or [1])[0]
    out.print(comparison_table(summaries, k, title=f"pass@{k} % — {escape(str(out_dir))}"))
    console.print(f"comparison: {escape(str(out_dir))}/ablation.md")
