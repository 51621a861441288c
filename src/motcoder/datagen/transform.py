"""MoT instruction transformation: a teacher model rewrites reference solutions, each rewrite
is assessed in the sandbox and appended to the run's ``rewrites.jsonl``.

Work items are (problem, reference solution index), at most ``max_solutions`` per problem.
Each item is asked in round 0; a rejected answer is asked again (a fresh sample: another
seed, and ``retry_temperature``) in the next round, until accepted or ``rounds`` rounds are
done. The pipeline keeps ``concurrency`` generation calls in flight (each of
``batch_size`` requests: 1 for an HTTP server, which batches by itself; more for a local
model) and judges the answers on a thread pool over the sandbox workers while the next
ones are generated. Every assessed rewrite is appended at once, so a kill loses only the
answers in flight; `transform` on the same run directory with ``resume=True`` asks for
exactly what is missing: items without a record, and next rounds of rejected ones.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

from motcoder.datagen.assess import Assessment, Assessor
from motcoder.datagen.records import REWRITES, Rewrite, latest_rounds, rewrite_key
from motcoder.datagen.stats import group_counts
from motcoder.datagen.teacher_prompts import (
    STYLES,
    TeacherPrompts,
    load_teacher_prompts,
    teacher_messages,
)
from motcoder.models.base import Completion, GenerationRequest, LanguageModel
from motcoder.problems.model import Problem
from motcoder.runs import VOLATILE_KEYS, RunDir
from motcoder.sandbox.executors import ExecutorOptions, judge_threads, open_sandbox
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.pool import SandboxConfig
from motcoder.sandbox.recording_cache import RecordingCache
from motcoder.scoring.evaluate import EvalOptions
from motcoder.solvers.base import derive_seed, generate_checked

# Settings that change throughput or accounting, not the rewrites (free to change on resume).
# ``model`` is the spec (a server URL may change between a run and its resumption); the
# teacher's identity is checked through ``teacher`` (the model name) instead.
TRANSFORM_VOLATILE = frozenset(VOLATILE_KEYS | {"concurrency", "batch_size", "price_in",
                                                "price_out", "max_retries", "device", "dtype",
                                                "model"})


class DatagenError(ValueError):
    """Input that cannot be transformed; the message names the file or field and the fix."""


@dataclass
class TransformSettings:
    """Everything that decides which rewrites a run asks for and how they are judged."""

    style: str = "mot"
    max_solutions: int = 100
    rounds: int = 1
    temperature: float = 0.0
    retry_temperature: float = 0.8
    top_p: float = 1.0
    max_new_tokens: int = 2048
    seed: int | None = 0
    evaluation: EvalOptions = field(default_factory=EvalOptions)

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise DatagenError(f"--style must be one of {', '.join(STYLES)}, got "
                               f"{self.style!r}")
        if self.max_solutions < 1:
            raise DatagenError(f"--max-solutions must be at least 1, got {self.max_solutions}")
        if self.rounds < 1:
            raise DatagenError(f"--rounds must be at least 1, got {self.rounds}")

    def temperature_for(self, round_: int) -> float:
        return self.temperature if round_ == 0 else self.retry_temperature

    def to_config(self) -> dict[str, Any]:
        config = asdict(self)
        config["evaluation"] = self.evaluation.to_config()
        return config


@dataclass
class Item:
    """One reference solution to rewrite."""

    problem: Problem
    solution_index: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.problem.id, self.solution_index)

    @property
    def reference(self) -> str:
        return self.problem.solutions[self.solution_index]


@dataclass
class Plan:
    """The items of a run, and the problems left out (with why)."""

    items: list[Item]
    no_solutions: list[str]
    no_tests: list[str]


def plan_items(problems: Sequence[Problem], settings: TransformSettings,
               judge: list[str] | None = None, where: str = "the data") -> Plan:
    """Up to ``max_solutions`` items per problem; problems without reference solutions or
    without tests are left out, and an error is raised when nothing is left."""
    items: list[Item] = []
    no_solutions: list[str] = []
    no_tests: list[str] = []
    for problem in problems:
        references = [i for i, s in enumerate(problem.solutions) if s.strip()]
        if not references:
            no_solutions.append(problem.id)
            continue
        if not problem.judged_tests(judge):
            no_tests.append(problem.id)
            continue
        items += [Item(problem, i) for i in references[:settings.max_solutions]]
    if not items:
        if not problems:
            raise DatagenError(f"{where}: no problems selected — check the file and the "
                               "--split/--difficulty/--ids/--limit filters")
        if no_solutions and not no_tests:
            raise DatagenError(
                f"{where}: none of the {len(problems)} selected problem(s) has a reference "
                "solution (field 'solutions'); the transformation rewrites reference "
                "solutions — use a training split or a file whose records list solutions")
        raise DatagenError(
            f"{where}: none of the {len(problems)} selected problem(s) has both a reference "
            f"solution (field 'solutions': {len(no_solutions)} without) and tests to check a "
            f"rewrite against (field 'input_output' in APPS files: {len(no_tests)} without)")
    return Plan(items, no_solutions, no_tests)


@dataclass
class Work:
    item: Item
    round: int


RecordFn = Callable[[Rewrite, bool], None]   # (rewrite, final for its reference solution)


def _request(work: Work, settings: TransformSettings,
             prompts: TeacherPrompts | None) -> GenerationRequest:
    item = work.item
    return GenerationRequest(
        messages=teacher_messages(item.problem, item.reference, settings.style, prompts),
        temperature=settings.temperature_for(work.round), top_p=settings.top_p,
        max_new_tokens=settings.max_new_tokens,
        seed=derive_seed(settings.seed, item.problem.id, item.solution_index, work.round))


def _record(work: Work, settings: TransformSettings, request: GenerationRequest,
            completion: Completion, assessment: Assessment) -> Rewrite:
    output = completion.outputs[0]
    problem = work.item.problem
    return Rewrite(
        task_id=problem.id, solution_index=work.item.solution_index, round=work.round,
        source=problem.source, style=settings.style, status=assessment.status,
        reason=assessment.reason, message=assessment.message, answer=output.text,
        program=assessment.program, failed_test=assessment.failed_test,
        tests_passed=assessment.tests_passed, tests_total=assessment.tests_total,
        prompt_tokens=completion.prompt_tokens, completion_tokens=output.tokens,
        finish_reason=output.finish_reason, temperature=request.temperature,
        seed=request.seed, difficulty=problem.difficulty)


def pending_work(items: Sequence[Item], done: Sequence[Rewrite],
                 rounds: int) -> tuple[list[Work], int]:
    """What is left to ask: items without a rewrite (round 0) and items whose last rewrite
    was rejected with rounds to spare (next round). Also how many items are finished."""
    latest = latest_rounds(done)
    todo: list[Work] = []
    finished = 0
    for item in items:
        last = latest.get(item.key)
        if last is None:
            todo.append(Work(item, 0))
        elif not last.accepted and last.round + 1 < rounds:
            todo.append(Work(item, last.round + 1))
        else:
            finished += 1
    return todo, finished


def cost_usd(prompt_tokens: int, completion_tokens: int, price_in: float,
             price_out: float) -> float:
    """Cost of the tokens at ``price_in`` / ``price_out`` per million tokens."""
    return (prompt_tokens * price_in + completion_tokens * price_out) / 1e6


def transform(
    problems: Sequence[Problem],
    model: LanguageModel,
    run: RunDir,
    settings: TransformSettings,
    *,
    config: dict[str, Any] | None = None,
    resume: bool = False,
    prompts: TeacherPrompts | None = None,
    concurrency: int = 8,
    batch_size: int = 1,
    workers: int | None = None,
    executor: ExecutorOptions | None = None,
    hide: Sequence[str] = (),
    price_in: float = 0.0,
    price_out: float = 0.0,
    where: str = "the data",
    on_start: Callable[[int, int], None] | None = None,
    on_record: RecordFn | None = None,
) -> dict[str, Any]:
    """Rewrite, assess and store what the run still lacks; write and return the summary.

    ``config`` (when given) is checked against the stored one on ``resume`` and written
    (keys in `TRANSFORM_VOLATILE` may differ). ``on_start(total_items, finished_items)``
    is called once the work is known; ``on_record(rewrite, final)`` after each rewrite is
    stored (``final``: its reference solution needs no further round). ``executor``: where
    the rewrites run (default: this machine; see `open_sandbox`).
    """
    if concurrency < 1 or batch_size < 1:
        raise DatagenError("concurrency and batch size must be at least 1")
    options = settings.evaluation
    prompts = prompts or load_teacher_prompts()
    plan = plan_items(problems, settings, options.judge, where)
    if config is not None:
        run.start(config, resume=resume, volatile=TRANSFORM_VOLATILE)
    started = time.monotonic()
    written = 0
    with run.store(REWRITES, key=rewrite_key) as store:
        done = [Rewrite.from_dict(r) for r in store.records()]
        todo, finished = pending_work(plan.items, done, settings.rounds)
        if on_start:
            on_start(len(plan.items), finished)
        if todo:
            sandbox_config = SandboxConfig(workers=workers or os.cpu_count() or 1)
            sandbox_config.hide = list(dict.fromkeys(
                [*hide, os.path.abspath(run.path)]))
            with open_sandbox(sandbox_config, executor) as sandbox:
                judge = Judge(sandbox, options.limits, stdout_mode=options.stdout_mode,
                              float_tol=options.float_tol, early_stop=True,
                              judge=options.judge, cache=RecordingCache.default())
                judge.prepare(list({w.item.problem.id: w.item.problem
                                    for w in todo}.values()))
                written = _pipeline(todo, model, Assessor(judge, options.trust_in_child),
                                    settings, prompts, store,
                                    concurrency, batch_size, judge_threads(sandbox), on_record)
        rewrites = [Rewrite.from_dict(r) for r in store.records()]
    elapsed = time.monotonic() - started
    counts = group_counts(rewrites)
    summary = {
        "style": settings.style,
        "counts": counts,
        "items": len(plan.items),
        "items_finished": len(_finished(plan.items, rewrites, settings.rounds)),
        "skipped_problems": {"no_solutions": plan.no_solutions, "no_tests": plan.no_tests},
        "tokens": {"prompt": counts["prompt_tokens"], "completion": counts["completion_tokens"],
                   "total": counts["prompt_tokens"] + counts["completion_tokens"]},
        "price_per_million": {"input": price_in, "output": price_out},
        "cost_usd": cost_usd(counts["prompt_tokens"], counts["completion_tokens"],
                             price_in, price_out),
        "this_session": {"rewrites": written, "seconds": round(elapsed, 3),
                         "rewrites_per_second": written / elapsed if elapsed > 0 else 0.0},
    }
    run.write_json(run.SUMMARY, summary)
    return summary


def _finished(items: Sequence[Item], rewrites: Sequence[Rewrite], rounds: int) -> list[Item]:
    latest = latest_rounds(rewrites)
    return [i for i in items if i.key in latest and (
        latest[i.key].accepted or latest[i.key].round + 1 >= rounds)]


def _pipeline(todo: list[Work], model: LanguageModel, assessor: Assessor,
              settings: TransformSettings, prompts: TeacherPrompts | None, store: Any,
              concurrency: int, batch_size: int, judge_threads: int,
              on_record: RecordFn | None) -> int:
    """Generate and assess ``todo`` (and the later rounds it leads to); return how many
    rewrites were stored."""
    queue = deque(todo)
    generating: dict[Future[list[Completion]], list[tuple[Work, GenerationRequest]]] = {}
    judging: dict[Future[Assessment], tuple[Work, GenerationRequest, Completion]] = {}
    written = 0
    gen_pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="teacher")
    judge_pool = ThreadPoolExecutor(max_workers=judge_threads, thread_name_prefix="assess")
    try:
        while queue or generating or judging:
            while queue and len(generating) < concurrency:
                batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
                pairs = [(w, _request(w, settings, prompts)) for w in batch]
                future = gen_pool.submit(generate_checked, model, [r for _, r in pairs])
                generating[future] = pairs
            finished, _ = wait([*generating, *judging], return_when=FIRST_COMPLETED)
            for future in finished:
                if future in generating:
                    pairs = generating.pop(future)
                    completions = future.result()  # a model error ends the run here
                    for (work, request), completion in zip(pairs, completions, strict=True):
                        job = judge_pool.submit(assessor.assess, work.item.problem,
                                                completion.outputs[0].text, settings.style)
                        judging[job] = (work, request, completion)
                    continue
                work, request, completion = judging.pop(future)  # type: ignore[arg-type]
                rewrite = _record(work, settings, request, completion, future.result())
                store.append(rewrite.to_dict())
                written += 1
                final = rewrite.accepted or work.round + 1 >= settings.rounds
                if not final:
                    queue.append(Work(work.item, work.round + 1))
                if on_record:
                    on_record(rewrite, final)
    finally:
        gen_pool.shutdown(wait=False, cancel_futures=True)
        judge_pool.shutdown(wait=True, cancel_futures=True)
    return written
