"""Build reflection sequences (ReflectionCoder) with any model and our execution engine.

For every problem the model is driven through a dialogue:

1. **Reflection instruction** (`ReflectionPrompts.instruction`): solve with the interpreter.
   The model answers with analysis text and one code block (solution + its own ``assert``
   tests). Whatever follows the first code block is dropped: the interpreter speaks next.
2. The block runs in the sandbox (`execute_step`: the script, then the **public** tests);
   the interpreter's real output becomes the execution block.
3. Failed: the model is shown that output (`reflect_feedback`) and answers with a
   reflection and a fixed block, which runs again — up to ``max_rounds`` code blocks in
   all, stopping at the first that passes.
4. **Re-answer instruction** restating the problem: the model gives its final one-off
   answer (text + code), which is judged on the problem's judged tests (`Judge.judge`);
   a pass judged inside the untrusted process counts only with ``trust_in_child``
   (`motcoder.scoring.metrics.counts_as_passed`; ``final_trust`` records how it was judged).

The stored sample (`ReflectionSample`, type ``reflection``) is the four-message dialogue:
instruction → the sequence (text, code, execution, text, code, execution, ...) →
re-answer instruction → final answer. The feedback turns only steer the model; they are
not part of the sample.

Batching and resume (the pattern of `motcoder.solvers.self_reflection`): up to
``batch_size`` dialogues in flight are sent to the model together whatever their stage,
those already under way first; their code runs in parallel on the sandbox workers. A
finished dialogue is appended at once to ``sequences.jsonl`` (keyed by task id) with its
outcome, so a kill loses only the dialogues in flight and ``resume`` skips every stored
one. Failed final answers are stored too; ``keep_failed`` only decides whether they go
into the training file ``reflection.jsonl``, which is rewritten from the store at the end
(so it may change on resume). An empty final answer is never exported (it is not a valid
sample); the summary counts it.
"""

from __future__ import annotations

import os
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from motcoder.datagen.reflection_execution import Execution, execute_step
from motcoder.datagen.reflection_prompts import ReflectionPrompts, load_reflection_prompts
from motcoder.datagen.reflection_schema import (
    Block,
    Message,
    ReflectionSample,
    blocks_to_markdown,
    parse_sample,
    split_blocks,
)
from motcoder.models.base import GenerationRequest, LanguageModel, Output
from motcoder.problems.model import Problem
from motcoder.problems.samples import Sample
from motcoder.runs import VOLATILE_KEYS, RunDir, atomic_writer, json_dumps, write_json
from motcoder.sandbox.executors import ExecutorOptions, open_sandbox
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.pool import SandboxConfig
from motcoder.sandbox.recording_cache import RecordingCache
from motcoder.scoring.evaluate import EvalOptions
from motcoder.scoring.metrics import counts_as_passed
from motcoder.solvers.base import derive_seed, generate_checked, program_from

SEQUENCES = "sequences.jsonl"     # every finished dialogue with its outcome (the store)
DATA = "reflection.jsonl"         # the training samples (schema only), rewritten at the end

# Settings that do not change what is generated (free to change on resume).
REFLECT_VOLATILE = frozenset(VOLATILE_KEYS | {"keep_failed", "batch_size", "concurrency",
                                              "max_retries", "device", "dtype"})


class ReflectError(ValueError):
    """Input that cannot be turned into reflection sequences; the message says why."""


@dataclass
class ReflectSettings:
    """What decides the sequences a run builds (stored in its config)."""

    max_rounds: int = 3
    keep_failed: bool = False
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int | None = 0
    evaluation: EvalOptions = field(default_factory=EvalOptions)

    def __post_init__(self) -> None:
        if self.max_rounds < 1:
            raise ReflectError(f"--max-rounds must be at least 1, got {self.max_rounds}")

    def to_config(self) -> dict[str, Any]:
        config = asdict(self)
        config["evaluation"] = self.evaluation.to_config()
        return config


# ----------------------------------------------------------------------------- parsing


@dataclass
class Step:
    """One round of a sequence: the model's text and code, and what running the code showed."""

    text: str
    code: str
    execution: str | None = None    # None: no code, nothing ran
    passed: bool = False

    def blocks(self) -> list[Block]:
        blocks = [Block("text", self.text)] if self.text else []
        if self.code:
            blocks.append(Block("code", self.code))
        if self.execution is not None:
            blocks.append(Block("execution", self.execution))
        return blocks


def parse_step(answer: str) -> Step:
    """The text before the first code block, and that block; the rest of the answer is
    dropped (it would be the model guessing the interpreter's output)."""
    texts: list[str] = []
    for block in split_blocks(answer):
        if block.type == "code":
            if block.content.strip():
                return Step("\n\n".join(texts), block.content)
            continue
        texts.append(block.content)
    return Step("\n\n".join(texts), "")


def step_turn(step: Step) -> dict[str, str]:
    """The assistant turn the model is shown for its own step (its answer as kept)."""
    return {"role": "assistant", "content": blocks_to_markdown(
        [b for b in step.blocks() if b.type != "execution"])}


def final_blocks(answer: str) -> list[Block]:
    """The final answer's text and code blocks (one empty text block for an empty answer)."""
    return [b for b in split_blocks(answer) if b.content.strip()] or [Block("text", "")]


def assemble_sample(instruction: str, steps: Sequence[Step], reanswer: str,
                    final_answer: str) -> ReflectionSample:
    """The four-message ``reflection`` sample of a finished dialogue. It validates unless
    the final answer is empty (`usable`)."""
    sequence = [b for s in steps for b in s.blocks()] or [Block("text", "")]
    return ReflectionSample([
        Message("user", [Block("text", instruction)]),
        Message("assistant", sequence),
        Message("user", [Block("text", reanswer)]),
        Message("assistant", final_blocks(final_answer)),
    ], "reflection")


def usable(sample: ReflectionSample) -> bool:
    """Whether the sample can be training data: its final answer holds text or code."""
    return any(b.content.strip() for b in sample.final_answer)


# ----------------------------------------------------------------------------- the dialogue


@dataclass
class _Dialogue:
    problem: Problem
    instruction: str
    chat: list[dict[str, str]]
    steps: list[Step] = field(default_factory=list)
    final: str | None = None          # the final answer, once given
    prompt_tokens: int = 0
    completion_tokens: int = 0
    truncated: int = 0                # answers that hit max_new_tokens


def sequence_key(record: dict[str, Any]) -> tuple[str]:
    """The store key of a finished dialogue: its task id."""
    return (str(record["task_id"]),)


class SequenceBuilder:
    """Drives dialogues through the model and the judge; yields finished records."""

    def __init__(self, model: LanguageModel, judge: Judge, settings: ReflectSettings,
                 prompts: ReflectionPrompts | None = None, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise ReflectError(f"batch size must be at least 1, got {batch_size}")
        self.model = model
        self.judge = judge
        self.settings = settings
        self.prompts = prompts or load_reflection_prompts()
        self.batch_size = batch_size

    def _start(self, problem: Problem) -> _Dialogue:
        instruction = self.prompts.instruction(problem)
        return _Dialogue(problem, instruction, [{"role": "user", "content": instruction}])

    def _stage(self, dialogue: _Dialogue) -> str:
        """``sequence`` (another step is due) or ``reanswer`` (the last step passed, or
        ``max_rounds`` answers were given)."""
        steps = dialogue.steps
        if steps and (steps[-1].passed or len(steps) >= self.settings.max_rounds):
            return "reanswer"
        return "sequence"

    def _request(self, dialogue: _Dialogue) -> GenerationRequest:
        s = self.settings
        return GenerationRequest(
            messages=dialogue.chat, temperature=s.temperature, top_p=s.top_p,
            max_new_tokens=s.max_new_tokens,
            seed=derive_seed(s.seed, dialogue.problem.id, len(dialogue.chat)))

    def _advance(self, dialogue: _Dialogue, output: Output) -> bool:
        """Take the model's answer; True when the dialogue is finished."""
        if output.finish_reason == "length":
            dialogue.truncated += 1
        if self._stage(dialogue) == "reanswer":
            dialogue.final = output.text
            return True
        step = parse_step(output.text)
        turn = step_turn(step)
        if step.code:
            execution: Execution = execute_step(self.judge, dialogue.problem, step.code)
            step.execution, step.passed = execution.text, execution.passed
            follow = None if execution.passed else self.prompts.feedback(execution.text)
        else:
            follow = self.prompts.no_code()
        dialogue.steps.append(step)
        dialogue.chat = [*dialogue.chat, turn]
        if self._stage(dialogue) == "reanswer":
            follow = self.prompts.reanswer(dialogue.problem)
            if step.execution is not None:
                follow = f"{self.prompts.result(step.execution)}\n\n{follow}"
        dialogue.chat.append({"role": "user", "content": follow or ""})
        return False

    def _record(self, dialogue: _Dialogue) -> dict[str, Any]:
        problem = dialogue.problem
        final = dialogue.final or ""
        code, _ = program_from(problem, final)
        verdict = self.judge.judge(problem, Sample(task_id=problem.id, code=code))
        sample = assemble_sample(dialogue.instruction, dialogue.steps,
                                 self.prompts.reanswer(problem), final)
        steps = dialogue.steps
        return {
            "task_id": problem.id, "source": problem.source, "difficulty": problem.difficulty,
            "rounds": len(steps), "executions": sum(s.execution is not None for s in steps),
            "sequence_passed": bool(steps) and steps[-1].passed,
            "final_passed": counts_as_passed(verdict, self.settings.evaluation.trust_in_child),
            "final_status": verdict.status, "final_trust": verdict.trust,
            "final_reason": verdict.reason, "final_code": code,
            "prompt_tokens": dialogue.prompt_tokens,
            "completion_tokens": dialogue.completion_tokens, "truncated": dialogue.truncated,
            "usable": usable(sample), **sample.to_dict(),
        }

    def run(self, problems: Sequence[Problem], done: set[str],
            emit: Callable[[dict[str, Any]], None]) -> int:
        """Build the sequences of ``problems`` not in ``done``; ``emit`` each finished
        record at once. Returns how many were emitted."""
        fresh = deque(p for p in problems if p.id not in done)
        continuing: list[_Dialogue] = []
        emitted = 0
        with ThreadPoolExecutor(max_workers=self.judge.sandbox.workers) as pool:
            while continuing or fresh:
                batch = continuing[:self.batch_size]
                continuing = continuing[self.batch_size:]
                while len(batch) < self.batch_size and fresh:
                    batch.append(self._start(fresh.popleft()))
                completions = generate_checked(self.model, [self._request(d) for d in batch])
                for dialogue, completion in zip(batch, completions, strict=True):
                    dialogue.prompt_tokens += completion.prompt_tokens
                    dialogue.completion_tokens += completion.outputs[0].tokens
                finished = list(pool.map(self._advance, batch,
                                         [c.outputs[0] for c in completions]))
                records = list(pool.map(self._record, [d for d, f in zip(batch, finished,
                                                                         strict=True) if f]))
                for record in records:
                    emit(record)
                    emitted += 1
                continuing += [d for d, f in zip(batch, finished, strict=True) if not f]
        return emitted


# ----------------------------------------------------------------------------- the run


def check_problems(problems: Sequence[Problem], judge: list[str] | None,
                   where: str) -> tuple[list[Problem], list[str]]:
    """The problems that can be judged (judged tests present) and the ids of the others."""
    judged = [p for p in problems if p.judged_tests(judge)]
    skipped = [p.id for p in problems if not p.judged_tests(judge)]
    if not problems:
        raise ReflectError(f"{where}: no problems selected — check the file and the "
                           "--split/--ids/--limit filters")
    if not judged:
        raise ReflectError(f"{where}: none of the {len(problems)} selected problem(s) has "
                           "tests to judge a final answer on")
    return judged, skipped


def summarize(records: Sequence[dict[str, Any]], keep_failed: bool) -> dict[str, Any]:
    """Counts of a run's finished sequences (``keep_failed`` decides the export)."""
    passed = sum(bool(r["final_passed"]) for r in records)
    failed = len(records) - passed
    kept = sum(exported(r, keep_failed) and not r["final_passed"] for r in records)
    rounds = Counter(int(r["rounds"]) for r in records)
    return {
        "built": len(records),
        "passed": passed,
        "failed": failed,
        "failed_kept": kept,
        "failed_dropped": failed - kept,
        "empty_final_answers": sum(not r.get("usable", True) for r in records),
        "exported": sum(exported(r, keep_failed) for r in records),
        "sequence_passed": sum(bool(r["sequence_passed"]) for r in records),
        "rounds_histogram": {str(k): rounds[k] for k in sorted(rounds)},
        "truncated_answers": sum(int(r.get("truncated", 0)) for r in records),
        "tokens": {"prompt": sum(int(r["prompt_tokens"]) for r in records),
                   "completion": sum(int(r["completion_tokens"]) for r in records)},
    }


def exported(record: dict[str, Any], keep_failed: bool) -> bool:
    """Whether a stored sequence goes into the training file: a passing final answer, or
    with ``keep_failed`` any final answer that is not empty."""
    return bool(record["final_passed"] or (keep_failed and record.get("usable", True)))


def export_samples(records: Sequence[dict[str, Any]], path: Any, keep_failed: bool) -> int:
    """Write the training file: the samples (schema fields only) of the kept records,
    atomically (a temporary file, then a rename). Returns how many."""
    kept = [parse_sample(r, f"{SEQUENCES} ({r['task_id']})").to_dict()
            for r in records if exported(r, keep_failed)]
    with atomic_writer(path) as fh:
        fh.writelines(json_dumps(sample) + "\n" for sample in kept)
    return len(kept)


def build_sequences(
    problems: Sequence[Problem],
    model: LanguageModel,
    run: RunDir,
    settings: ReflectSettings,
    *,
    config: dict[str, Any] | None = None,
    resume: bool = False,
    prompts: ReflectionPrompts | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    executor: ExecutorOptions | None = None,
    hide: Sequence[str] = (),
    where: str = "the data",
    on_start: Callable[[int, int], None] | None = None,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Build what the run still lacks; write ``reflection.jsonl`` and ``summary.json``;
    return the summary.

    ``config`` (when given) is checked against the stored one on ``resume`` and written
    (keys in `REFLECT_VOLATILE` may differ). ``on_start(total, done)`` is called once the
    work is known, ``on_record(record)`` after each stored sequence. ``executor``: where the
    programs run (default: this machine; see `open_sandbox`).
    """
    options = settings.evaluation
    usable, skipped = check_problems(problems, options.judge, where)
    if config is not None:
        run.start(config, resume=resume, volatile=REFLECT_VOLATILE)
    started = time.monotonic()
    written = 0
    with run.store(SEQUENCES, key=sequence_key) as store:
        done = {key[0] for key in store.keys()}
        if on_start:
            on_start(len(usable), sum(p.id in done for p in usable))
        todo = [p for p in usable if p.id not in done]
        if todo:
            sandbox_config = SandboxConfig(workers=workers or os.cpu_count() or 1)
            sandbox_config.hide = list(dict.fromkeys(
                [*hide, os.path.abspath(run.path)]))
            with open_sandbox(sandbox_config, executor) as sandbox:
                judge = Judge(sandbox, options.limits, stdout_mode=options.stdout_mode,
                              float_tol=options.float_tol, early_stop=options.early_stop,
                              judge=options.judge, cache=RecordingCache.default())
                judge.prepare(todo)

                def emit(record: dict[str, Any]) -> None:
                    store.append(record)
                    if on_record:
                        on_record(record)

                builder = SequenceBuilder(model, judge, settings, prompts, batch_size)
                written = builder.run(todo, done, emit)
        records = [r for r in store.records() if r["task_id"] in {p.id for p in usable}]
    exported = export_samples(records, run.file(DATA), settings.keep_failed)
    elapsed = time.monotonic() - started
    summary = {
        **summarize(records, settings.keep_failed),
        "keep_failed": settings.keep_failed,
        "max_rounds": settings.max_rounds,
        "problems": len(usable),
        "skipped_no_tests": skipped,
        "this_session": {"sequences": written, "seconds": round(elapsed, 3)},
        "files": {"sequences": SEQUENCES, "data": DATA},
    }
    assert summary["exported"] == exported
    write_json(run.file(RunDir.SUMMARY), summary)
    return summary
