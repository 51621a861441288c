"""What every `motcoder` command shares: consoles, option definitions, error handling,
progress bars and result tables."""

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


@app.callback()
def _global_options(
    allow_weaker_sandbox: bool = typer.Option(
        False, "--allow-weaker-sandbox",
        help="Run programs even when an isolation layer is missing on this machine (see "
             "`motcoder sandbox-info`); without it such a sandbox refuses to start."),
) -> None:
    """Train and evaluate code-generation LLMs on hard programming problems."""
    if allow_weaker_sandbox:
        from motcoder.sandbox.pool import ALLOW_WEAKER_ENV

        os.environ[ALLOW_WEAKER_ENV] = "1"  # read by every SandboxConfig made in this run


convert_app = typer.Typer(help="Convert benchmark files between formats.", no_args_is_help=True)
app.add_typer(convert_app, name="convert")

console = Console(stderr=True)
out = Console()

# ----------------------------------------------------------------------------- shared options
# One definition each, used by every command that takes the option.
BENCHMARK = typer.Option("humaneval", "--benchmark", "-b", help="humaneval, humaneval-plus, "
                         "mbpp, mbpp-sanitized, mbpp-plus, apps, codecontests, or a problem "
                         "FILE.")
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
TRUST_IN_CHILD = typer.Option(False, "--trust-in-child", help="Count as passes the verdicts "
                              "judged inside the untrusted process (assertion tests whose "
                              "calls cannot be recorded; a program can forge them). Default: "
                              "counted and reported, never as passes.")
K = typer.Option(None, "--k", help="Comma-separated k for pass@k.")
RESUME = typer.Option(False, "--resume", help="Continue the run in --out.")
PROGRESS = typer.Option(True, "--progress/--no-progress")
MODEL = typer.Option("embedded", "--model", "-m", help="embedded | hf:ID_OR_DIR | "
                     "gguf:FILE | vllm:ID | openai:http://HOST:PORT/v1#MODEL")
DEVICE = typer.Option("auto", help="auto | cpu | cuda (local models).")
DTYPE = typer.Option("auto", help="auto | float32 | bfloat16 | float16 (local models).")
BATCH_SIZE = typer.Option(16, min=1, help="Requests per model call.")
SOLVER = typer.Option("direct", help="direct | self_reflection")
STYLE = typer.Option("normal", help="normal | mot | mot-given-modules | reflectioncoder "
                     "(ReflectionCoder's own evaluation protocol, for its checkpoints)")
ROUNDS = typer.Option(5, min=0, help="self_reflection: most times the model is asked again "
                      "after its first answer (answers are rounds 0..R).")
PROMPTS = typer.Option(None, "--prompts", help="Directory of prompt templates overriding "
                       "ours (same file names).")
N = typer.Option(1, "--n", "-n", min=1, help="Samples per problem.")
TEMPERATURE = typer.Option(0.0, min=0.0, help="0 = greedy.")
TOP_P = typer.Option(1.0, min=0.0, max=1.0)
MAX_NEW_TOKENS = typer.Option(512, min=1)
SEED = typer.Option(0, help="Base seed; each request's seed derives from it.")
# scale-out on Ray (optional extra): runtime options, never part of a run's stored config
EXECUTOR = typer.Option("local", "--executor", help="Where programs run: local (this "
                        "machine's fork-servers) | ray (fork-servers on every node of a Ray "
                        "cluster; needs motcoder\\[ray]).")
RAY_WORKERS = typer.Option(None, "--ray-workers", min=1, help="--executor ray: N one-server "
                           "sandbox actors spread over the nodes (default: one actor per "
                           "node with as many fork-servers as its CPUs).")
GENERATOR = typer.Option("local", "--generator", help="Where the model runs: local (this "
                         "process) | ray (--replicas copies on a Ray cluster, each batch "
                         "shared among them; needs motcoder\\[ray]).")
REPLICAS = typer.Option(None, "--replicas", min=1, help="--generator ray: model replicas "
                        "(default: one per node, or per --replica-gpus GPUs).")
REPLICA_GPUS = typer.Option(0.0, "--replica-gpus", min=0.0, help="--generator ray: GPUs "
                            "per replica (e.g. 1 for vllm: models; 0 = CPU).")
RAY_ADDRESS = typer.Option(None, "--ray-address", help="Ray cluster: auto (the one `ray "
                           "start` runs on this machine) | HOST:PORT (default: a private "
                           "local instance, or $RAY_ADDRESS).")
# training commands (train sft | reflection | verifier | mucode)
BASE_MODEL = typer.Option(None, "--model", "-m", help="Base model: embedded | hf:ID_OR_DIR | "
                          "gguf:FILE (overrides the config).")
TRAIN_OUT = typer.Option(None, "--out", help="Run directory (checkpoints, logs, final/). "
                         "Re-running resumes it.")
MAX_STEPS = typer.Option(None, help="Stop after N optimizer steps.")
SET = typer.Option(None, "--set", help="Any setting as KEY=VALUE (repeatable), e.g. --set "
                   "learning_rate=1e-4 --set lora.r=8.")


def fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def user_errors() -> tuple[type[BaseException], ...]:
    from motcoder.models.base import ModelError
    from motcoder.problems.errors import ProblemLoadError
    from motcoder.problems.samples import SampleError
    from motcoder.ray_cluster import RayUnavailable
    from motcoder.runs import JsonlError, RunDirError
    from motcoder.sandbox.judge import NoTestsError
    from motcoder.sandbox.pool import SandboxError
    from motcoder.scoring.metrics import MetricsError

    return (ProblemLoadError, SampleError, JsonlError, RunDirError, NoTestsError, MetricsError,
            SandboxError, ModelError, RayUnavailable, FileNotFoundError)


def split_list(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise fail(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def parse_ks(k: str | None) -> list[int] | None:
    try:
        return [int(x) for x in split_list(k) or []] or None
    except ValueError:
        raise fail(f"--k must be comma-separated integers, got {k!r}") from None


def eval_options(all_tests: bool, judge: str | None, cpu_limit: float, memory_mb: int,
                  time_scale: float, scale_from_reference: float | None, stdout_mode: str,
                  float_tol: float, trust_in_child: bool) -> Any:
    """The `EvalOptions` of the judging flags every judging command shares."""
    from motcoder.sandbox.limits import Limits
    from motcoder.scoring.evaluate import EvalOptions

    choice("--stdout-mode", stdout_mode, ("tokens", "lines", "exact"))
    judged = split_list(judge)
    if judged and any(v not in ("public", "private", "generated") for v in judged):
        raise fail(f"--judge takes public, private and/or generated, got {judge!r}")
    limits = Limits(cpu_seconds=cpu_limit, memory_mb=memory_mb, time_scale=time_scale,
                    scale_from_reference=scale_from_reference)
    return EvalOptions(limits=limits, early_stop=not all_tests, judge=judged,
                       stdout_mode=stdout_mode, float_tol=float_tol,
                       trust_in_child=trust_in_child)


def executor_options(executor: str, ray_address: str | None,
                     ray_workers: int | None) -> Any:
    """`ExecutorOptions` of --executor / --ray-address / --ray-workers."""
    from motcoder.ray_cluster import RayUnavailable
    from motcoder.sandbox.executors import EXECUTORS, ExecutorOptions

    choice("--executor", executor, EXECUTORS)
    if executor != "ray" and ray_workers is not None:
        raise fail("--ray-workers is for --executor ray")
    try:
        return ExecutorOptions(executor, ray_address=ray_address, ray_workers=ray_workers)
    except RayUnavailable as exc:
        raise fail(str(exc)) from None


def generator_options(generator: str, replicas: int | None, replica_gpus: float,
                      ray_address: str | None) -> Any:
    """`GeneratorOptions` of --generator / --replicas / --replica-gpus / --ray-address."""
    from motcoder.models.generators import GENERATORS, GeneratorOptions
    from motcoder.ray_cluster import RayUnavailable

    choice("--generator", generator, GENERATORS)
    if generator != "ray" and (replicas is not None or replica_gpus):
        raise fail("--replicas and --replica-gpus are for --generator ray")
    try:
        return GeneratorOptions(generator, replicas=replicas, replica_gpus=replica_gpus,
                                ray_address=ray_address)
    except RayUnavailable as exc:
        raise fail(str(exc)) from None


def default_out(command: str) -> Path:
    return Path("runs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}"


def print_summary(summary: dict[str, Any], title: str) -> None:
    from motcoder.scoring.tables import rounds_table, summary_table

    out.print(summary_table(summary, title=escape(title)))
    table = rounds_table(summary, title="accuracy after each round")
    if table is not None:
        out.print(table)


class Bars:
    """Progress bars with ETA on stderr (one per phase), or nothing with --no-progress."""

    def __init__(self, show: bool) -> None:
        self.show = show
        self.progress: Any = None
        self.task: Any = None
        self.passed = 0

    def __enter__(self) -> Bars:
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

    def advance(self, steps: int = 1, info: str | None = None) -> None:
        """Move the current bar on by ``steps`` (and replace its info text when given)."""
        if self.progress is not None and self.task is not None:
            fields = {} if info is None else {"info": info}
            self.progress.update(self.task, advance=steps, **fields)
