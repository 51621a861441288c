"""Self-reflection (MoTCoder §4.4): answer, run on the public tests, show the failure, retry.

For every sample of every problem:

1. round 0: the first answer to the style's prompt;
2. its extracted code runs on the problem's **public** tests only
   (``judge.run_tests(problem, code, problem.public_tests, early_stop=False)``);
3. if every public test passes, the sample is finished; otherwise the answer and a feedback
   turn (`render_feedback`: the failing public inputs, expected outputs, what the program
   printed, the error text) are appended to the chat and the model answers again.

``rounds`` (default 5, as in the paper) is the most times the model is asked again after
its first answer: answers are numbered ``0 .. rounds`` (round 0 is the first answer), and
``rounds=0`` is plain one-shot solving with the public results recorded.

Private and generated tests are never run here and never reach a prompt: the judge is only
given ``problem.public_tests``, and the feedback renderer ignores outcomes of any other
visibility. A problem without public tests cannot give feedback: its samples stop after
round 0. Every round is yielded as its own `Attempt` (with ``round``, ``public_passed``,
``public_total`` and the ``feedback`` that followed), so accuracy after each round can be
computed later by judging each round's code on the private tests (`latest_attempts`).

Batching: up to ``batch_size`` open conversations are sent to the model together, whatever
their round; conversations that need another round go first in the next batch, new ones
fill the rest. Public tests of a batch run in parallel on the judge's sandbox workers.
Resume: pass the attempts already written as ``done``; finished samples are skipped and an
unfinished one continues from its last attempt's chat and feedback.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.models.base import GenerationRequest, LanguageModel, Output
from motcoder.problems.model import Problem, Test
from motcoder.prompts.render import assistant_turn, render_feedback, render_prompt
from motcoder.prompts.templates import Templates, resolve_templates
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.verdict import WRONG_ANSWER, TestOutcome
from motcoder.solvers.base import (
    Attempt,
    as_attempts,
    derive_seed,
    generate_checked,
    latest_attempts,
    next_round_chat,
    program_from,
)
from motcoder.solvers.direct import ModulesArg, check_modules


@dataclass
class _Conversation:
    problem: Problem
    sample_index: int
    round: int
    messages: list[dict[str, str]]


@dataclass
class _Checked:
    code: str
    outcomes: list[TestOutcome] | None   # None: not run (no public tests)
    feedback: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


def observe_stdout(judge: Judge, problem: Problem, code: str, test: Test) -> str | None:
    """What ``code`` prints on the stdin of a public stdio ``test`` (for "got" in feedback).

    The judge's verdict does not carry the program's output, so the program is run once more
    under the same limits. None when it cannot be run.
    """
    limits = judge.limits
    cpu = limits.cpu_for(problem)
    try:
        raw = judge.sandbox.run({"mode": "stdio", "code": code, "stdin": test.input}, cpu=cpu,
                                wall=limits.wall_for(cpu), mem_mb=limits.memory_for(problem),
                                out_mb=limits.output_mb)
    except Exception:  # noqa: BLE001 - feedback without "got" is still feedback
        return None
    return raw.stdout.decode("utf-8", errors="replace")


def run_public(judge: Judge, problem: Problem, code: str) -> list[TestOutcome] | None:
    """The outcomes of ``code`` on the problem's **public** tests only (every test run, no
    early stop); ``[]`` for a program without code; None when there are no public tests."""
    public = problem.public_tests
    if not public:
        return None
    if not code.strip():
        return []
    outcomes, _ = judge.run_tests(problem, code, public, early_stop=False)
    return outcomes


def public_feedback(judge: Judge, problem: Problem, code: str, outcomes: list[TestOutcome], *,
                    templates: Templates, cases: int = 2, show_output: bool = True) -> str:
    """The feedback turn's text for ``code`` given its public ``outcomes`` (`run_public`):
    the failing public cases (with what the program printed on stdio tests when
    ``show_output``), that there was no code, or that every public test passed."""
    public = problem.public_tests
    observed: dict[int, str] = {}
    if show_output and code.strip():
        failing = [o for o in outcomes if o.status == WRONG_ANSWER
                   and public[o.index].kind == "stdio"][:cases]
        for outcome in failing:
            got = observe_stdout(judge, problem, code, public[outcome.index])
            if got is not None:
                observed[outcome.index] = got
    turn = render_feedback(problem, code, outcomes, templates=templates, observed=observed,
                           max_cases=cases)
    return turn[0]["content"]


class SelfReflectionSolver:
    """Multi-turn solving with execution feedback from the public tests."""

    name = "self-reflection"

    def __init__(
        self,
        judge: Judge,
        style: str = "normal",
        *,
        rounds: int = 5,
        templates: Templates | str | Path | None = None,
        modules: ModulesArg = None,
        examples: bool = False,
        batch_size: int = 32,
        feedback_cases: int = 2,
        show_output: bool = True,
        stop: list[str] | None = None,
    ) -> None:
        if rounds < 0:
            raise ValueError(f"rounds must be 0 or more, got {rounds}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.judge = judge
        self.style = style
        self.rounds = rounds
        self.templates = resolve_templates(templates)
        self.modules = modules
        self.examples = examples
        self.batch_size = batch_size
        self.feedback_cases = feedback_cases
        self.show_output = show_output
        self.stop = list(stop or [])

    # ------------------------------------------------------------------ checking one answer
    def check(self, problem: Problem, code: str, round_: int) -> _Checked:
        """Run ``code`` on the public tests; the feedback turn when another round follows."""
        outcomes = run_public(self.judge, problem, code)
        if outcomes is None:
            return _Checked(code, None, None)
        if round_ >= self.rounds or (code.strip() and all(o.passed for o in outcomes)):
            return _Checked(code, outcomes, None)
        feedback = public_feedback(self.judge, problem, code, outcomes,
                                   templates=self.templates, cases=self.feedback_cases,
                                   show_output=self.show_output)
        return _Checked(code, outcomes, feedback)

    # ------------------------------------------------------------------ resume
    def _conversations(
        self, problems: list[Problem], n: int, done: list[Attempt]
    ) -> tuple[list[_Conversation], list[_Conversation]]:
        latest = latest_attempts(done)
        continuing, fresh = [], []
        for problem in problems:
            first: list[dict[str, str]] | None = None
            for index in range(n):
                last = latest.get((problem.id, index))
                if last is None:
                    if first is None:
                        modules = self.modules.get(problem.id) if self.modules else None
                        first = render_prompt(problem, self.style, modules=modules,
                                              templates=self.templates, examples=self.examples)
                    fresh.append(_Conversation(problem, index, 0, list(first)))
                elif not last.final:
                    continuing.append(_Conversation(problem, index, last.round + 1,
                                                    next_round_chat(last)))
        return continuing, fresh

    # ------------------------------------------------------------------ the loop
    def solve(
        self,
        problems: list[Problem],
        model: LanguageModel,
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        seed: int | None = None,
        done: Iterable[Attempt | Mapping[str, Any]] = (),
    ) -> Iterator[Attempt]:
        check_modules(problems, self.style, self.modules)
        continuing, fresh_list = self._conversations(problems, n, as_attempts(done))
        fresh = deque(fresh_list)
        with ThreadPoolExecutor(max_workers=self.judge.sandbox.workers) as pool:
            while continuing or fresh:
                batch = continuing[:self.batch_size]
                continuing = continuing[self.batch_size:]
                while len(batch) < self.batch_size and fresh:
                    batch.append(fresh.popleft())
                requests = [
                    GenerationRequest(messages=c.messages, n=1, temperature=temperature,
                                      top_p=top_p, max_new_tokens=max_new_tokens,
                                      stop=self.stop,
                                      seed=derive_seed(seed, c.problem.id, c.sample_index,
                                                       c.round))
                    for c in batch
                ]
                completions = generate_checked(model, requests)
                outputs = [c.outputs[0] for c in completions]
                checks = pool.map(self._check_output, batch, outputs)
                for conv, completion, output, checked in zip(batch, completions, outputs,
                                                             checks, strict=True):
                    attempt = self._attempt(conv, output, completion.prompt_tokens, checked)
                    yield attempt
                    if not attempt.final:
                        continuing.append(_Conversation(
                            conv.problem, conv.sample_index, conv.round + 1,
                            [*conv.messages, assistant_turn(output.text),
                             {"role": "user", "content": checked.feedback or ""}]))

    def _check_output(self, conv: _Conversation, output: Output) -> _Checked:
        code, metadata = program_from(conv.problem, output.text)
        checked = self.check(conv.problem, code, conv.round)
        checked.metadata.update(metadata)
        return checked

    def _attempt(self, conv: _Conversation, output: Output, prompt_tokens: int,
                 checked: _Checked) -> Attempt:
        outcomes = checked.outcomes
        passed = None if outcomes is None else sum(o.passed for o in outcomes)
        total = None if outcomes is None else len(conv.problem.public_tests)
        metadata: dict[str, Any] = dict(checked.metadata)
        if outcomes:
            metadata["public_statuses"] = [o.status for o in outcomes]
        return Attempt(
            task_id=conv.problem.id, sample_index=conv.sample_index, round=conv.round,
            messages=conv.messages, completion=output.text, code=checked.code,
            style=self.style, solver=self.name, prompt_tokens=prompt_tokens,
            completion_tokens=output.tokens, finish_reason=output.finish_reason,
            public_passed=passed, public_total=total, feedback=checked.feedback,
            final=checked.feedback is None, metadata=metadata,
        )
