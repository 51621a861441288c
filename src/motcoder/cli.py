"""The `motcoder` command line: thin Typer commands that parse, call a layer, and print.

Errors a user can cause (bad files, unknown ids, unreachable hub or server, missing model,
bad flags) end in one clear message and exit status 2, without a traceback.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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

# ----------------------------------------------------------------------------- shared options
# One definition each, used by every command that takes the option.
BENCHMARK = typer.Option("humaneval", "--benchmark", "-b", help="humaneval, mbpp, "
                         "mbpp-sanitized, apps, codecontests, or a problem FILE.")
DATA = typer.Option(None, "--data", help="Local data file for a named benchmark (instead of "
                    "the hub).")
SPLIT = typer.Option(None, help="Split (default: the benchmark's test split).")
DIFFICULTY = typer.Option(None, help="Comma-separated difficulties.")
IDS = typer.Option(None, help="Comma-separated task ids.")
ALL_TESTS = typer.Option(False, "--all-tests", help="Run every test even after a failure "
                         "(needed for the test pass rate).")
JUDGE = typer.Option(None, help="Visibilities that decide the verdict, e.g. 'private' "
                     "(default: the benchmark's own).")
WORKERS = typer.Option(os.cpu_count() or 1, min=1, help="Sandbox workers.")
CPU_LIMIT = typer.Option(4.0, min=0.01, help="CPU seconds per test (when the problem sets "
                         "none).")
MEMORY_MB = typer.Option(1024, min=16, help="Memory limit per program, MB.")
TIME_SCALE = typer.Option(1.0, min=0.01, help="Multiply problem-provided time limits.")
SCALE_FROM_REFERENCE = typer.Option(None, min=0.01, help="Limit = max(1 s, F x CPU time of "
                                    "the reference solution).")
STDOUT_MODE = typer.Option("tokens", help="tokens | lines | exact")
FLOAT_TOL = typer.Option(1e-6, min=0.0, help="Tolerance for decimal outputs.")
K = typer.Option(None, "--k", help="Comma-separated k for pass@k.")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out.")
PROGRESS = typer.Option(True, "--progress/--no-progress")
MODEL = typer.Option("embedded", "--model", "-m", help="embedded | hf:ID_OR_DIR | "
                     "gguf:FILE | vllm:ID | openai:http://HOST:PORT/v1#MODEL")
DEVICE = typer.Option("auto", help="auto | cpu | cuda (local models).")
DTYPE = typer.Option("auto", help="auto | float32 | bfloat16 | float16 (local models).")
BATCH_SIZE = typer.Option(16, min=1, help="Requests per model call.")
SOLVER = typer.Option("direct", help="direct | self_reflection")
STYLE = typer.Option("normal", help="normal | mot | mot-given-modules")
ROUNDS = typer.Option(5, min=0, help="self_reflection: most times the model is asked again "
                      "after its first answer (answers are rounds 0..R).")
PROMPTS = typer.Option(None, "--prompts", help="Directory of prompt templates overriding "
                       "ours (same file names).")
N = typer.Option(1, "--n", "-n", min=1, help="Samples per problem.")
TEMPERATURE = typer.Option(0.0, min=0.0, help="0 = greedy.")
TOP_P = typer.Option(1.0, min=0.0, max=1.0)
MAX_NEW_TOKENS = typer.Option(512, min=1)
SEED = typer.Option(0, help="Base seed; each request's seed derives from it.")


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    from motcoder.models.base import ModelError
    from motcoder.problems.errors import ProblemLoadError
    from motcoder.problems.samples import SampleError
    from motcoder.runs import JsonlError, RunDirError
    from motcoder.sandbox.judge import NoTestsError
    from motcoder.sandbox.pool import SandboxError
    from motcoder.scoring.metrics import MetricsError

    return (ProblemLoadError, SampleError, JsonlError, RunDirError, NoTestsError, MetricsError,
            SandboxError, ModelError, FileNotFoundError)


def _split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _fail(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _ks(k: str | None) -> list[int] | None:
    try:
        return [int(x) for x in _split_list(k) or []] or None
    except ValueError:
        raise _fail(f"--k must be comma-separated integers, got {k!r}") from None


def _eval_options(all_tests: bool, judge: str | None, cpu_limit: float, memory_mb: int,
                  time_scale: float, scale_from_reference: float | None, stdout_mode: str,
                  float_tol: float) -> Any:
    from motcoder.sandbox.limits import Limits
    from motcoder.scoring.evaluate import EvalOptions

    _choice("--stdout-mode", stdout_mode, ("tokens", "lines", "exact"))
    judged = _split_list(judge)
    if judged and any(v not in ("public", "private", "generated") for v in judged):
        raise _fail(f"--judge takes public, private and/or generated, got {judge!r}")
    limits = Limits(cpu_seconds=cpu_limit, memory_mb=memory_mb, time_scale=time_scale,
                    scale_from_reference=scale_from_reference)
    return EvalOptions(limits=limits, early_stop=not all_tests, judge=judged,
                       stdout_mode=stdout_mode, float_tol=float_tol)


def _default_out(command: str) -> Path:
    return Path("runs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}"


# ----------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    samples: Path = typer.Option(..., "--samples", help="Samples JSONL: ours (task_id + code), "
                                 "EvalPlus (task_id + solution) or human-eval (task_id + "
                                 "completion)."),
    out_dir: Path = typer.Option(..., "--out", help="Run directory for verdicts and summary."),
    benchmark: str = BENCHMARK, data: Path | None = DATA, split: str | None = SPLIT,
    difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = typer.Option(None, min=0, help="Only the first N problems."),
    all_tests: bool = ALL_TESTS, judge: str | None = JUDGE, workers: int = WORKERS,
    cpu_limit: float = CPU_LIMIT, memory_mb: int = MEMORY_MB, time_scale: float = TIME_SCALE,
    scale_from_reference: float | None = SCALE_FROM_REFERENCE, stdout_mode: str = STDOUT_MODE,
    float_tol: float = FLOAT_TOL, k: str | None = K, resume: bool = RESUME,
    progress: bool = PROGRESS,
) -> None:
    """Judge a samples file in the sandbox: verdicts, summary.json and a table."""
    from motcoder.problems.registry import load_problems
    from motcoder.problems.samples import read_samples
    from motcoder.runs import RunDir
    from motcoder.sandbox.pool import SandboxConfig
    from motcoder.scoring.evaluate import evaluate as run_evaluation
    from motcoder.scoring.evaluate import file_digest

    ks = _ks(k)
    options = _eval_options(all_tests, judge, cpu_limit, memory_mb, time_scale,
                            scale_from_reference, stdout_mode, float_tol)
    try:
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
        with _Bars(progress) as bars:
            summary = run_evaluation(
                selected, picked, RunDir(out_dir), options, ks=ks, config=config,
                resume=resume, sandbox_config=SandboxConfig(workers=workers), hide=hide,
                on_start=bars.start("judging"), on_verdict=bars.verdict)
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; verdicts so far are in {out_dir}/results.jsonl — "
                    "continue with the same command and --resume", code=130) from None
    if skipped:
        console.print(f"{skipped} sample(s) of problems outside the selection were skipped")
    _print_summary(summary, f"{benchmark} — {out_dir}")
    console.print(f"verdicts: {escape(str(out_dir))}/results.jsonl   "
                  f"summary: {escape(str(out_dir))}/summary.json")


# ----------------------------------------------------------------------------- run, generate
def _run_settings(model: str, benchmark: str, data: Path | None, split: str | None,
                  difficulty: str | None, ids: str | None, limit: int | None, solver: str,
                  style: str, rounds: int, prompts: Path | None, n: int, temperature: float,
                  top_p: float, max_new_tokens: int, seed: int, options: Any,
                  ks: list[int] | None) -> Any:
    from motcoder.pipeline.generate import Sampling
    from motcoder.pipeline.run import DEFAULT_LIMIT, SOLVERS, RunSettings

    _choice("--solver", solver, SOLVERS)
    _choice("--style", style, ("normal", "mot", "mot-given-modules"))
    if prompts is not None and not prompts.is_dir():
        raise _fail(f"--prompts {prompts}: not a directory of templates")
    if limit is None:  # the embedded demo runs on a small subset; anything else on all
        limit = DEFAULT_LIMIT if (model == "embedded" and benchmark == "humaneval"
                                  and data is None) else None
    return RunSettings(
        model=model, benchmark=benchmark, data=str(data) if data else None, split=split,
        difficulty=_split_list(difficulty), ids=_split_list(ids), limit=limit or None,
        solver=solver, style=style, rounds=rounds, prompts=str(prompts) if prompts else None,
        sampling=Sampling(n=n, temperature=temperature, top_p=top_p,
                          max_new_tokens=max_new_tokens, seed=seed),
        evaluation=options, ks=ks)


LIMIT_RUN = typer.Option(None, min=0, help="Only the first N problems (default: 10 for the "
                         "embedded model on embedded HumanEval, else all; 0 = all).")


@app.command("run")
def run_command(
    out_dir: Path | None = typer.Option(None, "--out", help="Run directory (default: "
                                        "runs/run-DATE-TIME)."),
    model: str = MODEL, benchmark: str = BENCHMARK, data: Path | None = DATA,
    split: str | None = SPLIT, difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = LIMIT_RUN, solver: str = SOLVER, style: str = STYLE,
    rounds: int = ROUNDS, prompts: Path | None = PROMPTS, n: int = N,
    temperature: float = TEMPERATURE, top_p: float = TOP_P,
    max_new_tokens: int = MAX_NEW_TOKENS, seed: int = SEED, batch_size: int = BATCH_SIZE,
    device: str = DEVICE, dtype: str = DTYPE, all_tests: bool = ALL_TESTS,
    judge: str | None = JUDGE, workers: int = WORKERS, cpu_limit: float = CPU_LIMIT,
    memory_mb: int = MEMORY_MB, time_scale: float = TIME_SCALE,
    scale_from_reference: float | None = SCALE_FROM_REFERENCE, stdout_mode: str = STDOUT_MODE,
    float_tol: float = FLOAT_TOL, k: str | None = K, resume: bool = RESUME,
    progress: bool = PROGRESS,
) -> None:
    """Generate with a model, judge in the sandbox, and report — in one run directory.

    With no arguments: the embedded model on 10 embedded HumanEval problems.
    """
    from motcoder.pipeline.run import Progress, run

    if resume and out_dir is None:
        raise _fail("--resume needs the --out directory of the run to continue")
    out_dir = out_dir or _default_out("run")
    options = _eval_options(all_tests, judge, cpu_limit, memory_mb, time_scale,
                            scale_from_reference, stdout_mode, float_tol)
    settings = _run_settings(model, benchmark, data, split, difficulty, ids, limit, solver,
                             style, rounds, prompts, n, temperature, top_p, max_new_tokens,
                             seed, options, _ks(k))
    console.print(f"run directory: {escape(str(out_dir))}")
    try:
        with _Bars(progress) as bars:
            summary = run(settings, out_dir, resume=resume, batch_size=batch_size,
                          workers=workers, model_options={"device": device, "dtype": dtype},
                          progress=Progress(generation_start=bars.start("generating"),
                                            attempt=bars.attempt,
                                            judging_start=bars.start("judging"),
                                            verdict=bars.verdict))
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail(f"interrupted; everything finished so far is in {out_dir} — continue "
                    f"with: motcoder run --out {out_dir} --resume (and the same settings)",
                    code=130) from None
    _print_summary(summary, f"{settings.model} on {settings.benchmark} — {out_dir}")
    console.print(f"report: {escape(str(out_dir))}/report.md")


@app.command("generate")
def generate_command(
    out_dir: Path = typer.Option(..., "--out", help="Run directory; samples go to "
                                 "samples.jsonl (judge them with `motcoder evaluate`)."),
    model: str = MODEL, benchmark: str = BENCHMARK, data: Path | None = DATA,
    split: str | None = SPLIT, difficulty: str | None = DIFFICULTY, ids: str | None = IDS,
    limit: int | None = LIMIT_RUN, style: str = STYLE, prompts: Path | None = PROMPTS,
    n: int = N, temperature: float = TEMPERATURE, top_p: float = TOP_P,
    max_new_tokens: int = MAX_NEW_TOKENS, seed: int = SEED, batch_size: int = BATCH_SIZE,
    device: str = DEVICE, dtype: str = DTYPE, resume: bool = RESUME, progress: bool = PROGRESS,
) -> None:
    """Generate samples (one turn) into --out/samples.jsonl."""
    from motcoder.models.registry import load_model
    from motcoder.pipeline.generate import generate
    from motcoder.pipeline.run import select_problems
    from motcoder.runs import RunDir
    from motcoder.scoring.evaluate import EvalOptions
    from motcoder.solvers.direct import DirectSolver

    settings = _run_settings(model, benchmark, data, split, difficulty, ids, limit, "direct",
                             style, 1, prompts, n, temperature, top_p, max_new_tokens, seed,
                             EvalOptions(), None)
    try:
        problems = select_problems(settings)
        run_dir = RunDir(out_dir)
        config = settings.to_config()
        config.update(command="generate", evaluation=None)
        run_dir.start(config, resume=resume)
        lm = load_model(model, device=device, dtype=dtype)
        try:
            with _Bars(progress) as bars:
                on_start = bars.start("generating")
                attempts = generate(
                    problems, lm, DirectSolver(style, templates=settings.prompts,
                                               batch_size=batch_size),
                    run_dir, settings.sampling,
                    on_start=lambda done: on_start(len(problems) * n, done),
                    on_attempt=bars.attempt)
        finally:
            lm.close()
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; continue with the same command and --resume",
                    code=130) from None
    console.print(f"{len(attempts)} samples in {escape(str(out_dir))}/samples.jsonl — judge "
                  f"them with: motcoder evaluate --samples {escape(str(out_dir))}/samples.jsonl"
                  f" --benchmark {escape(benchmark)} --out DIR")


# ----------------------------------------------------------------------------- serve
@app.command()
def serve(
    port: int = typer.Option(8000, min=1, max=65535),
    host: str = typer.Option("127.0.0.1", help="Loopback by default; anything else exposes "
                             "the model without authentication."),
    model: str = MODEL, device: str = DEVICE, dtype: str = DTYPE,
    batch_size: int = typer.Option(32, min=1, help="Most requests batched per model call."),
    batch_window_ms: float = typer.Option(5.0, min=0.0, help="How long to gather a batch."),
    served_model_name: str | None = typer.Option(None, help="Name reported by /v1/models."),
) -> None:
    """Serve a local model through an OpenAI-compatible HTTP API (/v1/chat/completions,
    /v1/completions, /v1/models)."""
    from motcoder.models.registry import load_model
    from motcoder.models.serve import serve as serve_model

    try:
        lm = load_model(model, device=device, dtype=dtype)
    except _user_errors() as exc:
        raise _fail(str(exc)) from None
    console.print(f"serving {escape(lm.name)} on http://{host}:{port}/v1")
    try:
        serve_model(lm, host, port, batch_size=batch_size, batch_window=batch_window_ms / 1000,
                    served_model_name=served_model_name)
    finally:
        lm.close()


# ----------------------------------------------------------------------------- small commands
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
    out.print(f"wrote {escape(str(dst))}: {counts}")


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


# ----------------------------------------------------------------------------- output
def _print_summary(summary: dict[str, Any], title: str) -> None:
    from motcoder.scoring.tables import rounds_table, summary_table

    out.print(summary_table(summary, title=escape(title)))
    table = rounds_table(summary, title="accuracy after each round")
    if table is not None:
        out.print(table)


class _Bars:
    """Progress bars with ETA on stderr (one per phase), or nothing with --no-progress."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.progress: Any = None
        self.task: Any = None
        self.passed = 0

    def __enter__(self) -> _Bars:
        if self.show:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=console, transient=not sys.stderr.isatty())
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def start(self, phase: str) -> Callable[[int, int], None] | None:
        if self.progress is None:
            return None

        def on_start(total: int, done: int) -> None:
            if self.task is not None:
                self.progress.update(self.task, visible=False)
            self.passed = 0
            self.task = self.progress.add_task(phase, total=max(total, done), completed=done,
                                               info="")

        return on_start

    def attempt(self, attempt: Any) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, advance=1 if attempt.round == 0 else 0,
                                 info=f"round {attempt.round + 1}" if attempt.round else "")

    def verdict(self, verdict: Any) -> None:
        if self.progress is not None and self.task is not None:
            self.passed += verdict.passed
            self.progress.update(self.task, advance=1, info=f"passed {self.passed}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
