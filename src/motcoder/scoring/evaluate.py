"""Evaluate samples of a benchmark in a run directory: judge, store verdicts, summarize.

The stage behind ``motcoder evaluate`` (and, later, the evaluation step of ``motcoder run``):

1. every problem that has samples must have tests for the verdict (else a clear error,
   before anything runs);
2. samples already judged in ``results.jsonl`` are skipped (resume); the others are judged
   in parallel — as many threads as twice the sandbox's workers, so that servers are never
   idle while the harness compares or replays — and each verdict is appended to
   ``results.jsonl`` as soon as it is known;
3. ``summary.json`` is written from all verdicts of the file.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

from motcoder.problems.model import Problem
from motcoder.problems.samples import Sample
from motcoder.runs import RunDir
from motcoder.sandbox.executors import ExecutorOptions, judge_threads, open_sandbox
from motcoder.sandbox.judge import Judge, NoTestsError
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import SandboxConfig
from motcoder.sandbox.recording_cache import RecordingCache
from motcoder.sandbox.verdict import Verdict
from motcoder.scoring.metrics import MetricsError, summarize

RESULTS = "results.jsonl"


@dataclass
class EvalOptions:
    """Everything that changes verdicts or their scores (stored in the run's config and
    checked on resume)."""

    limits: Limits = field(default_factory=Limits)
    early_stop: bool = True
    judge: list[str] | None = None  # visibilities deciding the verdict; None: the problem's
    stdout_mode: str = "tokens"
    float_tol: float = 1e-6
    # Count passes judged inside the untrusted process (`counts_as_passed`): it changes the
    # scores, not the verdicts, and is stored with the rest so that a resume keeps it.
    trust_in_child: bool = False

    def to_config(self) -> dict[str, Any]:
        config = asdict(self)
        if not self.trust_in_child:  # the default: runs made before the option still resume
            del config["trust_in_child"]
        return config


def verdict_key(record: dict[str, Any]) -> tuple[str, int, int]:
    return (record["task_id"], record["sample_index"], record.get("round", 0))


def final_attempts(verdicts: Iterable[Verdict], up_to: int | None = None) -> list[Verdict]:
    """Per (task, sample), the verdict of its last round (at most ``up_to``): what a
    multi-round solver would answer if stopped after that round. Single-round runs: all."""
    last: dict[tuple[str, int], Verdict] = {}
    for v in verdicts:
        if up_to is not None and v.round > up_to:
            continue
        key = (v.task_id, v.sample_index)
        if key not in last or v.round > last[key].round:
            last[key] = v
    return list(last.values())


def trust_in_child_of(config: Mapping[str, Any]) -> bool:
    """The ``trust_in_child`` setting a run was scored with, from its ``config.json``
    (``options`` of `motcoder evaluate`, ``evaluation`` of `motcoder run`); False when
    absent."""
    options = config.get("options") or config.get("evaluation") or {}
    return bool(isinstance(options, Mapping) and options.get("trust_in_child", False))


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_has_tests(problems: Iterable[Problem], judge: list[str] | None) -> None:
    empty = [p.id for p in problems if not p.judged_tests(judge)]
    if empty:
        shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        raise NoTestsError(
            f"{len(empty)} problem(s) have no tests for the verdict: {shown}. A problem "
            "without tests cannot be judged; remove it or add tests to the data file"
        )


ProgressFn = Callable[[Verdict], None]


def judge_samples(
    judge: Judge,
    problems: dict[str, Problem],
    samples: Sequence[Sample],
    on_verdict: Callable[[Verdict], None],
    threads: int,
) -> None:
    """Judge ``samples`` in parallel; call ``on_verdict`` in this thread as each finishes."""
    pending: set[Future[Verdict]] = set()
    todo = iter(samples)
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="judge") as pool:
        try:
            for sample in todo:
                pending.add(pool.submit(judge.judge, problems[sample.task_id], sample))
                if len(pending) >= threads * 4:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        on_verdict(future.result())
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_verdict(future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            # Ctrl-C (or any failure) must not wait for the programs still running: ending
            # the sandbox ends them, and their threads return at once.
            judge.sandbox.close()
            raise


def check_ks(samples_per_task: Mapping[str, int], ks: Sequence[int] | None) -> None:
    """Fail before judging (or generating) when pass@k cannot be computed for some k."""
    if not ks:
        return
    if any(k < 1 for k in ks):
        raise MetricsError(f"k must be at least 1, got {sorted(ks)}")
    fewest = min(samples_per_task.values(), default=0)
    too_big = [k for k in ks if k > fewest]
    if too_big:
        raise MetricsError(
            f"pass@{too_big[0]} cannot be computed: some problem has only {fewest} sample(s); "
            f"generate at least {max(too_big)} samples per problem or ask for k <= {fewest}"
        )


def evaluate(
    problems: Sequence[Problem],
    samples: Sequence[Sample],
    run: RunDir,
    options: EvalOptions,
    *,
    ks: Sequence[int] | None = None,
    config: dict[str, Any] | None = None,
    resume: bool = False,
    sandbox_config: SandboxConfig | None = None,
    executor: ExecutorOptions | None = None,
    hide: Sequence[str] = (),
    on_start: Callable[[int, int], None] | None = None,
    on_verdict: ProgressFn | None = None,
) -> dict[str, Any]:
    """Judge the samples not yet in the run's results, then write and return the summary.

    Everything that can be checked before judging is checked before anything is written;
    then ``config`` (when given) is stored in the run directory, or compared with the stored
    one when ``resume``. ``hide``: extra paths (the benchmark file, ...) programs must not be
    able to read; the run directory and the usual data caches are always hidden.
    ``executor``: where programs run (default: this machine; see `open_sandbox`).
    """
    by_id = {p.id: p for p in problems}
    sampled = [by_id[i] for i in dict.fromkeys(s.task_id for s in samples)]
    check_has_tests(sampled, options.judge)
    check_ks(Counter(s.task_id for s in samples if s.round == 0), ks)
    if config is not None:
        run.start(config, resume=resume)
    store = run.store(RESULTS, key=verdict_key)
    todo = [s for s in samples if s.key not in store]
    if on_start:
        on_start(len(samples), len(samples) - len(todo))
    config = sandbox_config or SandboxConfig()
    config.hide = list(dict.fromkeys(
        [*config.hide, *hide, os.path.abspath(run.path)]))
    layers: dict[str, str] = {}
    try:
        if todo:
            with open_sandbox(config, executor) as sandbox:
                layers = sandbox.layers
                judge = Judge(sandbox, options.limits, stdout_mode=options.stdout_mode,
                              float_tol=options.float_tol, early_stop=options.early_stop,
                              judge=options.judge, cache=RecordingCache.default())
                judge.prepare([by_id[i] for i in dict.fromkeys(s.task_id for s in todo)])

                def record(verdict: Verdict) -> None:
                    store.append(verdict.to_dict())
                    if on_verdict:
                        on_verdict(verdict)

                judge_samples(judge, by_id, todo, record, threads=judge_threads(sandbox))
        verdicts = [Verdict.from_dict(r) for r in store.records()]
    finally:
        store.close()
    wanted = {s.key for s in samples}
    verdicts = [v for v in verdicts if (v.task_id, v.sample_index, v.round) in wanted]
    difficulties = {p.id: p.difficulty for p in sampled}
    trust = options.trust_in_child
    summary = summarize(final_attempts(verdicts), difficulties, ks, trust)
    rounds = sorted({v.round for v in verdicts})
    if len(rounds) > 1:
        summary["rounds"] = {
            str(r): summarize(final_attempts(verdicts, up_to=r), difficulties, ks, trust)
            for r in rounds
        }
    if layers:
        summary["isolation"] = layers
    run.write_json(run.SUMMARY, summary)
    return summary
