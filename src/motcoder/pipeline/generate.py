"""Generation into a run directory: a solver's attempts appended to ``samples.jsonl``.

Each attempt is written (and flushed) as soon as the solver yields it, keyed by
(task_id, sample_index, round); on resume the attempts already in the file are handed to the
solver as ``done``, so nothing is generated twice and nothing written is lost. A kill loses
at most the batch in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from motcoder.models.base import LanguageModel
from motcoder.problems.model import Problem
from motcoder.problems.records import write_jsonl
from motcoder.problems.samples import Sample
from motcoder.runs import RunDir
from motcoder.solvers.base import Attempt, Solver, attempt_key


@dataclass
class Sampling:
    """How many answers and how they are sampled (part of a run's config)."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int | None = 0


def generate(
    problems: Sequence[Problem],
    model: LanguageModel,
    solver: Solver,
    run: RunDir,
    sampling: Sampling,
    *,
    on_start: Callable[[int], None] | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
) -> list[Attempt]:
    """Generate what is missing from the run's ``samples.jsonl``; return every attempt."""
    with run.store(RunDir.SAMPLES, key=attempt_key) as store:
        done = [Attempt.from_dict(r) for r in store.records()]
        if on_start:
            on_start(len(done))
        for attempt in solver.solve(list(problems), model, n=sampling.n,
                                    temperature=sampling.temperature, top_p=sampling.top_p,
                                    max_new_tokens=sampling.max_new_tokens, seed=sampling.seed,
                                    done=done):
            store.append(attempt.to_dict())
            if on_attempt:
                on_attempt(attempt)
        return [Attempt.from_dict(r) for r in store.records()]


def attempts_to_samples(problems: Sequence[Problem], attempts: Sequence[Attempt]) -> list[Sample]:
    """The attempts of the selected problems as samples to judge (their code is already the
    complete program: `motcoder.solvers.base.program_from`)."""
    by_id = {p.id for p in problems}
    return [Sample(task_id=a.task_id, code=a.code,
                   sample_index=a.sample_index, round=a.round,
                   metadata={"finish_reason": a.finish_reason})
            for a in attempts if a.task_id in by_id]


EVALPLUS_SAMPLES = "samples.evalplus.jsonl"


def write_evalplus_samples(problems: Sequence[Problem], samples: Sequence[Sample],
                           path: str | Path) -> int:
    """Function-completion samples in EvalPlus' format (``task_id`` + ``solution``: the whole
    program), one per (task, sample) at its last round, so `evalplus.evaluate --samples`
    can cross-check our verdicts. Written whole (it is rebuilt from ``samples.jsonl`` after
    every run). Returns how many were written; stdin/stdout problems are left out."""
    calls = {p.id for p in problems if p.entry_point}
    last: dict[tuple[str, int], Sample] = {}
    for s in samples:
        key = (s.task_id, s.sample_index)
        if s.task_id in calls and (key not in last or s.round > last[key].round):
            last[key] = s
    records = [{"task_id": s.task_id, "solution": s.code} for _, s in sorted(
        last.items(), key=lambda item: (item[0][1], item[0][0]))]
    if records:
        write_jsonl(path, records)
    return len(records)
