"""The `motcoder` command line: thin Typer commands that parse, call a layer, and print.

Errors a user can cause (bad files, unknown ids, unreachable hub, bad flags) end in one
clear message and exit status 2, without a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="motcoder",
    help="Train and evaluate code-generation LLMs on hard programming problems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
convert_app = typer.Typer(help="Convert benchmark files between formats.", no_args_is_help=True)
app.add_typer(convert_app, name="convert")

console = Console(stderr=True)
out = Console()

BENCHMARK_HELP = "humaneval, mbpp, mbpp-sanitized, apps, codecontests, or a problem FILE"


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    from motcoder.problems.errors import ProblemLoadError
    from motcoder.problems.samples import SampleError
    from motcoder.runs import JsonlError, RunDirError
    from motcoder.sandbox.judge import NoTestsError
    from motcoder.sandbox.pool import SandboxError
    from motcoder.scoring.metrics import MetricsError

    return (ProblemLoadError, SampleError, JsonlError, RunDirError, NoTestsError, MetricsError,
            SandboxError, FileNotFoundError)


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


@app.command()
def evaluate(
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL: ours (task_id + code), "
                                 "EvalPlus (task_id + solution) or human-eval (task_id + "
                                 "completion)."),
    out_dir: Path = typer.Option(..., "--out", help="Run directory for verdicts and summary."),
    benchmark: str = typer.Option("humaneval", "--benchmark", "-b", help=BENCHMARK_HELP),
    data: Path | None = typer.Option(None, "--data", help="Local data file for a named "
                                        "benchmark (instead of the hub)."),
    split: str | None = typer.Option(None, help="Split (default: the benchmark's test "
                                        "split)."),
    difficulty: str | None = typer.Option(None, help="Comma-separated difficulties."),
    ids: str | None = typer.Option(None, help="Comma-separated task ids."),
    limit: int | None = typer.Option(None, min=0, help="Only the first N problems."),
    all_tests: bool = typer.Option(False, "--all-tests", help="Run every test even after a "
                                   "failure (needed for the test pass rate)."),
    judge: str | None = typer.Option(None, help="Visibilities that decide the verdict, "
                                        "e.g. 'private' (default: the benchmark's own)."),
    workers: int = typer.Option(os.cpu_count() or 1, min=1, help="Sandbox workers."),
    cpu_limit: float = typer.Option(4.0, min=0.01, help="CPU seconds per test (when the "
                                    "problem sets none)."),
    memory_mb: int = typer.Option(1024, min=16, help="Memory limit per program, MB."),
    time_scale: float = typer.Option(1.0, min=0.01, help="Multiply problem-provided time "
                                     "limits."),
    scale_from_reference: float | None = typer.Option(
        None, min=0.01, help="Limit = max(1 s, F x CPU time of the reference solution)."),
    stdout_mode: str = typer.Option("tokens", help="tokens | lines | exact"),
    float_tol: float = typer.Option(1e-6, min=0.0, help="Tolerance for decimal outputs."),
    k: str | None = typer.Option(None, "--k", help="Comma-separated k for pass@k."),
    resume: bool = typer.Option(False, "--resume", help="Continue a run in --out."),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Judge a samples file in the sandbox: verdicts, summary.json and a table."""
    from motcoder.problems.registry import load_problems
    from motcoder.problems.samples import read_samples
    from motcoder.runs import RunDir
    from motcoder.sandbox.limits import Limits
    from motcoder.sandbox.pool import SandboxConfig
    from motcoder.scoring.evaluate import EvalOptions, file_digest
    from motcoder.scoring.evaluate import evaluate as run_evaluation
    from motcoder.scoring.tables import summary_table

    if stdout_mode not in ("tokens", "lines", "exact"):
        raise _fail(f"--stdout-mode must be tokens, lines or exact, got {stdout_mode!r}")
    try:
        ks = [int(x) for x in _split_list(k) or []] or None
    except ValueError:
        raise _fail(f"--k must be comma-separated integers, got {k!r}") from None
    judged = _split_list(judge)
    if judged and any(v not in ("public", "private", "generated") for v in judged):
        raise _fail(f"--judge takes public, private and/or generated, got {judge!r}")
    try:
        limits = Limits(cpu_seconds=cpu_limit, memory_mb=memory_mb, time_scale=time_scale,
                        scale_from_reference=scale_from_reference)
        options = EvalOptions(limits=limits, early_stop=not all_tests, judge=judged,
                              stdout_mode=stdout_mode, float_tol=float_tol)
        everything = load_problems(benchmark, path=data, split=split)
        selected = load_problems(benchmark, path=data, split=split,
                                 difficulty=_split_list(difficulty), ids=_split_list(ids),
                                 limit=limit) if (difficulty or ids or limit is not None) \
            else everything
        all_samples = read_samples(str(samples), {p.id: p for p in everything})
        chosen = {p.id for p in selected}
        picked = [s for s in all_samples if s.task_id in chosen]
        if not picked:
            raise _fail(f"{samples}: no sample belongs to the {len(selected)} selected "
                        "problem(s)")
        skipped = len(all_samples) - len(picked)
        config = {"command": "evaluate", "benchmark": benchmark,
                  "data": str(data) if data else None, "split": split,
                  "difficulty": difficulty, "ids": ids, "limit": limit,
                  "samples": str(samples), "samples_sha256": file_digest(str(samples)),
                  "options": options.to_config(), "workers": workers}
        hide = [str(p.resolve()) for p in (samples, data) if p is not None]
        if Path(benchmark).is_file():
            hide.append(str(Path(benchmark).resolve()))
        summary = _run_with_progress(
            lambda on_start, on_verdict: run_evaluation(
                selected, picked, RunDir(out_dir), options, ks=ks, config=config,
                resume=resume, sandbox_config=SandboxConfig(workers=workers), hide=hide,
                on_start=on_start, on_verdict=on_verdict),
            progress)
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; verdicts so far are in {out_dir}/results.jsonl — "
                    "continue with the same command and --resume", code=130) from None
    if skipped:
        console.print(f"{skipped} sample(s) of problems outside the selection were skipped")
    out.print(summary_table(summary, title=escape(f"{benchmark} — {out_dir}")))
    console.print(escape(f"verdicts: {out_dir}/results.jsonl   summary: {out_dir}/summary.json"))


def _run_with_progress(job, show: bool):
    """Run ``job(on_start, on_verdict)`` under a progress bar with ETA."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if not show:
        return job(None, None)
    passed = {"n": 0}
    with Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("passed {task.fields[passed]}"), TimeElapsedColumn(),
                  TextColumn("ETA"), TimeRemainingColumn(), console=console,
                  transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task("judging", total=None, passed=0)

        def on_start(total: int, done: int) -> None:
            bar.update(task, total=total, completed=done)

        def on_verdict(verdict) -> None:
            passed["n"] += verdict.passed
            bar.update(task, advance=1, passed=passed["n"])

        return job(on_start, on_verdict)


@convert_app.command("codecontests")
def convert_codecontests(
    src: Path = typer.Argument(..., help="CodeContests file (.jsonl/.json/.parquet)."),
    dst: Path = typer.Argument(..., help="APPS-schema JSONL to write."),
) -> None:
    """CodeContests -> APPS-schema JSONL keeping public, private AND generated tests."""
    from motcoder.problems.convert import convert_codecontests as convert

    try:
        counts = convert(src, dst)
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    out.print(escape(f"wrote {dst}: {counts}"))


@app.command("sandbox-info")
def sandbox_info() -> None:
    """Show which isolation layers the execution engine can use on this machine."""
    from motcoder.sandbox.pool import Sandbox, SandboxConfig

    try:
        with Sandbox(SandboxConfig(workers=1)) as sandbox:
            layers = sandbox.layers
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    for name, state in layers.items():
        out.print(f"{name:>16}: {state}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
