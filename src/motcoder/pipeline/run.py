"""``motcoder run``: generate with a model, judge in the sandbox, summarize, report — one run
directory, resumable at any point.

Steps, each skipping what the directory already holds:

1. the settings are stored in ``config.json`` (or, on resume, checked against it);
2. the solver's attempts go to ``samples.jsonl`` (`motcoder.pipeline.generate`); for
   function-completion problems their final answers also go to ``samples.evalplus.jsonl``
   (EvalPlus' sample format, to cross-check with ``evalplus.evaluate``);
3. every attempt is judged on the judged tests into ``results.jsonl``
   (`motcoder.scoring.evaluate`); for multi-round solvers every round is judged, giving the
   accuracy after each round;
4. ``summary.json``, ``report.html`` and ``report.md`` are written
   (`motcoder.analysis.report_html`).

Solvers: ``direct``, ``self_reflection`` (MoTCoder) and ``best_of_n`` (μCode's multi-turn
Best-of-N search, `motcoder.solvers.best_of_n`; its settings are ``RunSettings.best_of_n``).
A ``best_of_n`` run follows the μCode protocol: the first turn shows the public tests, the
verdict uses only the hidden tests (``evaluation.judge`` defaults to private + generated),
each search is one sample (``sampling.n`` = searches), and the summary gains ``searches``:
accuracy per search, averaged over searches, and after each turn.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.analysis.report_html import write_reports
from motcoder.models.base import LanguageModel
from motcoder.models.generators import GeneratorOptions, open_model
from motcoder.pipeline.generate import (
    EVALPLUS_SAMPLES,
    Sampling,
    attempts_to_samples,
    generate,
    write_evalplus_samples,
)
from motcoder.problems.model import Problem
from motcoder.problems.registry import load_problems
from motcoder.runs import RunDir
from motcoder.sandbox.executors import ExecutorOptions, open_sandbox
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.pool import SandboxConfig
from motcoder.scoring.evaluate import EvalOptions, check_has_tests, check_ks, evaluate
from motcoder.solvers.base import Attempt, Solver
from motcoder.solvers.best_of_n import BestOfNSettings
from motcoder.solvers.multi_turn import MUCODE_JUDGE

SOLVERS = ("direct", "self_reflection", "best_of_n")
DEFAULT_LIMIT = 10  # the embedded HumanEval subset of a bare `motcoder run`


@dataclass
class RunSettings:
    """Everything that decides a run's results (stored in config.json)."""

    model: str = "embedded"
    benchmark: str = "humaneval"
    data: str | None = None
    split: str | None = None
    difficulty: list[str] | None = None
    ids: list[str] | None = None
    limit: int | None = DEFAULT_LIMIT
    solver: str = "direct"
    style: str = "normal"
    rounds: int = 5
    prompts: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    evaluation: EvalOptions = field(default_factory=EvalOptions)
    ks: list[int] | None = None
    best_of_n: BestOfNSettings | None = None  # solver "best_of_n" only (None in other runs)

    def __post_init__(self) -> None:
        if self.solver not in SOLVERS:
            raise ValueError(f"unknown solver {self.solver!r}: choose {' or '.join(SOLVERS)}")
        if self.rounds < 0:
            raise ValueError(f"rounds must be 0 or more, got {self.rounds}")
        if isinstance(self.best_of_n, dict):
            self.best_of_n = BestOfNSettings(**self.best_of_n)
        if self.solver != "best_of_n":
            if self.best_of_n is not None:
                raise ValueError("best_of_n settings are only used by solver 'best_of_n'")
            return
        self.best_of_n = self.best_of_n or BestOfNSettings()
        searches = self.best_of_n.searches
        if self.sampling.n not in (1, searches):
            raise ValueError(f"solver 'best_of_n' samples one answer per search: n must be "
                             f"the number of searches ({searches}), got {self.sampling.n}")
        self.sampling.n = searches
        if self.evaluation.judge is None:
            self.evaluation.judge = list(MUCODE_JUDGE)

    def to_config(self) -> dict[str, Any]:
        config = {"command": "run", **dataclasses.asdict(self),
                  "evaluation": self.evaluation.to_config()}
        if config["best_of_n"] is None:  # runs of other solvers keep their config.json as is
            del config["best_of_n"]
        return config


@dataclass
class Progress:
    """Callbacks a front end (the CLI's progress bars) can hook into; all optional."""

    generation_start: Callable[[int, int], None] | None = None  # (expected, already done)
    attempt: Callable[[Attempt], None] | None = None
    judging_start: Callable[[int, int], None] | None = None
    verdict: Callable[[Any], None] | None = None


def select_problems(settings: RunSettings) -> list[Problem]:
    return load_problems(settings.benchmark, path=settings.data, split=settings.split,
                         difficulty=settings.difficulty, ids=settings.ids,
                         limit=settings.limit)


@contextlib.contextmanager
def make_solver(settings: RunSettings, batch_size: int, workers: int,
                executor: ExecutorOptions | None = None) -> Iterator[Solver]:
    """The solver of the settings; self-reflection gets a sandbox for its public tests
    (on ``executor``: this machine by default)."""
    if settings.solver == "direct":
        from motcoder.solvers.direct import DirectSolver

        yield DirectSolver(settings.style, templates=settings.prompts, batch_size=batch_size)
        return
    if settings.solver == "best_of_n":
        with best_of_n_solver(settings, batch_size, workers, executor) as solver:
            yield solver
        return
    from motcoder.solvers.self_reflection import SelfReflectionSolver

    with open_sandbox(SandboxConfig(workers=workers), executor) as sandbox:
        judge = Judge(sandbox, settings.evaluation.limits)
        yield SelfReflectionSolver(judge, settings.style, rounds=settings.rounds,
                                   templates=settings.prompts, batch_size=batch_size)


@contextlib.contextmanager
def best_of_n_solver(settings: RunSettings, batch_size: int, workers: int,
                     executor: ExecutorOptions | None = None) -> Iterator[Solver]:
    """The Best-of-N solver with its sandbox (public tests) and, when asked, its verifier
    (loaded lazily: only ``lv`` / ``pt+lv`` runs need ``motcoder.training``)."""
    from motcoder.solvers.best_of_n import BestOfNSolver, load_scorer

    bon = settings.best_of_n
    assert bon is not None
    scorer = load_scorer(bon.verifier) if bon.verifier else None
    try:
        with open_sandbox(SandboxConfig(workers=workers), executor) as sandbox:
            judge = Judge(sandbox, settings.evaluation.limits)
            yield BestOfNSolver(judge, settings.style, candidates=bon.candidates,
                                turns=bon.turns, select=bon.select, scorer=scorer,
                                templates=settings.prompts, batch_size=batch_size)
    finally:
        close = getattr(scorer, "close", None)
        if callable(close):
            close()


def add_search_summary(run_dir: RunDir, summary: dict[str, Any], samples: list[Any],
                       trust_in_child: bool = False) -> dict[str, Any]:
    """Add accuracy per search / averaged over searches / per turn to ``summary.json``
    (``trust_in_child``: as `motcoder.scoring.metrics.counts_as_passed`)."""
    from motcoder.sandbox.verdict import Verdict
    from motcoder.scoring.evaluate import RESULTS, verdict_key
    from motcoder.scoring.searches import search_summary

    wanted = {s.key for s in samples}
    with run_dir.store(RESULTS, key=verdict_key) as store:
        verdicts = [Verdict.from_dict(r) for r in store.records()]
    summary["searches"] = search_summary(
        (v for v in verdicts if (v.task_id, v.sample_index, v.round) in wanted),
        trust_in_child)
    run_dir.write_json(run_dir.SUMMARY, summary)
    return summary


def expected_attempts(settings: RunSettings, problems: list[Problem]) -> int:
    """First-round attempts (later rounds depend on the answers)."""
    return len(problems) * settings.sampling.n


def run(
    settings: RunSettings,
    out: str | Path,
    *,
    resume: bool = False,
    model: LanguageModel | None = None,
    model_options: dict[str, Any] | None = None,
    batch_size: int = 16,
    workers: int | None = None,
    progress: Progress | None = None,
    executor: ExecutorOptions | None = None,
    generator: GeneratorOptions | None = None,
) -> dict[str, Any]:
    """Run (or continue) the job in ``out``; return the summary.

    ``executor`` / ``generator``: where programs and the model run (default: this machine;
    Ray for scale-out). Runtime choices like ``workers``: not stored in ``config.json``."""
    import os

    progress = progress or Progress()
    workers = workers or os.cpu_count() or 1
    problems = select_problems(settings)
    check_has_tests(problems, settings.evaluation.judge)
    # pass@k needs n samples per problem: refuse an impossible k before any generation
    check_ks({p.id: settings.sampling.n for p in problems}, settings.ks)
    run_dir = RunDir(out)
    run_dir.start(settings.to_config(), resume=resume)
    owned = model is None
    if model is None:
        model = open_model(settings.model, generator, **(model_options or {}))
    try:
        with make_solver(settings, batch_size, workers, executor) as solver:
            attempts = generate(problems, model, solver, run_dir, settings.sampling,
                                on_start=(lambda done: progress.generation_start(
                                    expected_attempts(settings, problems), done))
                                if progress.generation_start else None,
                                on_attempt=progress.attempt)
    finally:
        if owned:
            model.close()
    samples = attempts_to_samples(problems, attempts)
    write_evalplus_samples(problems, samples, run_dir.file(EVALPLUS_SAMPLES))
    summary = evaluate(problems, samples, run_dir, settings.evaluation, ks=settings.ks,
                       sandbox_config=SandboxConfig(workers=workers), executor=executor,
                       on_start=progress.judging_start, on_verdict=progress.verdict)
    if settings.solver == "best_of_n":
        summary = add_search_summary(run_dir, summary, samples,
                                     settings.evaluation.trust_in_child)
    write_reports([run_dir.path], run_dir.path,
                  title=f"motcoder run — {settings.model} on {settings.benchmark}")
    return summary

