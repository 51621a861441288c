"""μCode commands: ``motcoder mucode table`` (single-turn / multi-turn / multi-turn BoN)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from motcoder.cli.common import (
    BATCH_SIZE,
    BENCHMARK,
    CPU_LIMIT,
    DATA,
    DEVICE,
    DTYPE,
    IDS,
    MAX_NEW_TOKENS,
    MEMORY_MB,
    PROGRESS,
    RESUME,
    SEED,
    SPLIT,
    TOP_P,
    TRUST_IN_CHILD,
    WORKERS,
    Bars,
    app,
    choice,
    console,
    eval_options,
    fail,
    out,
    split_list,
    user_errors,
)

mucode_app = typer.Typer(help="μCode: multi-turn code generation with Best-of-N search.",
                         no_args_is_help=True)
app.add_typer(mucode_app, name="mucode")


@mucode_app.command("table")
def table_command(
    out_dir: Path = typer.Option(..., "--out", help="Directory of the table and its runs."),
    models: list[str] = typer.Option(["embedded"], "--model", "-m", help="A model spec; "
                                     "repeat for more rows."),
    benchmark: str = BENCHMARK, data: Path | None = DATA, split: str | None = SPLIT,
    ids: str | None = IDS,
    limit: int | None = typer.Option(None, min=1, help="Only the first N problems."),
    candidates: int = typer.Option(5, "-N", "--candidates", min=1, help="BoN candidates "
                                   "per turn."),
    turns: int = typer.Option(3, "--turns", min=1, help="Most turns (multi-turn settings)."),
    select: str = typer.Option("pt", "--select", help="BoN rule: pt | lv | pt+lv | random."),
    searches: int = typer.Option(1, "--searches", min=1, help="BoN searches to average."),
    verifier: Path | None = typer.Option(None, "--verifier", help="Learned verifier "
                                         "(needed by --select lv / pt+lv)."),
    temperature: float = typer.Option(0.7, min=0.0, help="BoN sampling temperature (the "
                                      "N = 1 settings are greedy)."),
    top_p: float = TOP_P, max_new_tokens: int = MAX_NEW_TOKENS, seed: int = SEED,
    batch_size: int = BATCH_SIZE, device: str = DEVICE, dtype: str = DTYPE,
    workers: int = WORKERS, cpu_limit: float = CPU_LIMIT, memory_mb: int = MEMORY_MB,
    trust_in_child: bool = TRUST_IN_CHILD, resume: bool = RESUME, progress: bool = PROGRESS,
) -> None:
    """Accuracy on the hidden tests of every model in three settings: single-turn,
    multi-turn (N = 1) and multi-turn Best-of-N — one resumable `motcoder run` per cell."""
    from motcoder.pipeline.bon_table import TABLE_JSON, TABLE_MD, TableSettings, run_table
    from motcoder.pipeline.run import Progress
    from motcoder.solvers.best_of_n import RULES, VERIFIER_RULES

    choice("--select", select, RULES)
    if select in VERIFIER_RULES and verifier is None:
        raise fail(f"--select {select} needs a learned verifier: pass --verifier PATH")
    if verifier is not None and not verifier.exists():
        raise fail(f"--verifier {verifier}: no such file or directory")
    options = eval_options(False, None, cpu_limit, memory_mb, 1.0, None, "tokens", 1e-6,
                           trust_in_child)
    try:
        settings = TableSettings(
            models=list(models), benchmark=benchmark, data=str(data) if data else None,
            split=split, ids=split_list(ids), limit=limit, candidates=candidates,
            turns=turns, select=select, searches=searches,
            verifier=str(verifier.resolve()) if verifier else None, temperature=temperature,
            top_p=top_p, max_new_tokens=max_new_tokens, seed=seed, evaluation=options)
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        with Bars(progress) as bars:
            def cell_progress(model: str, column: str) -> Progress:
                return Progress(generation_start=bars.start(f"{model} {column}"),
                                attempt=bars.attempt,
                                judging_start=bars.start(f"{model} {column} judging"),
                                verdict=bars.verdict)

            result = run_table(settings, out_dir, resume=resume, batch_size=batch_size,
                               workers=workers,
                               model_options={"device": device, "dtype": dtype},
                               progress=cell_progress)
    except user_errors() as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        raise fail(f"interrupted; finished cells and records are in {out_dir} — continue "
                   "with the same command and --resume", code=130) from None
    from motcoder.pipeline.bon_table import table_rows

    header, rows = table_rows(result["cells"])
    table = Table(title=f"{benchmark}: accuracy % on the hidden tests")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    out.print(table)
    console.print(f"table: {escape(str(out_dir))}/{TABLE_JSON} and {TABLE_MD}")
