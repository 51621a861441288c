"""μCode's multi-turn code environment, and rollouts in it for expert iteration.

The protocol (one *episode* per trajectory):

1. turn 1 shows the problem **and its public tests** (``render_prompt(..., examples=True)``);
2. the program extracted from each answer runs on the **public** tests only, in the sandbox;
3. the next user turn is the feedback on that run (the failing public cases with the error
   or what the program printed, or that there was no code);
4. the episode ends at the first answer that passes every public test, or after ``turns``
   answers (default 3);
5. success is decided afterwards on the **private** tests only (`MUCODE_JUDGE`); private
   and generated tests are never run while the episode is played and never reach a prompt.

Public / private split per benchmark (the problems' own visibilities; what the verdict uses
is ``EvalOptions.judge = ["private", "generated"]``, i.e. every hidden test and never a
public one):

* **MBPP** (and MBPP+): the first assert of ``test_list`` is public (shown in turn 1, run
  for feedback); the other asserts (and MBPP+'s extra tests) are private and judged.
* **HumanEval** (and HumanEval+): the first usable docstring example, as
  ``assert f(x) == y``, is public; the official ``check(candidate)`` (+ HumanEval+'s tests)
  is private and judged. The 14 problems without a usable example have no public test: their
  episode is one turn (there is no feedback to give).
* **CodeContests**: the public tests are public; private **and** generated tests are judged.
* **APPS**: the first test is public, the rest private and judged.

Each turn is a `Turn` (the chat before it, the answer, the code, public passed/total, the
feedback that followed). With ``candidates > 1`` a turn samples that many answers from the
same state, all of them run on the public tests, and a *chooser* picks the one the episode
continues from (multi-turn Best-of-N: `motcoder.solvers.best_of_n`); every candidate is
kept in ``Turn.candidates``.

API for rollouts (expert iteration)::

    from motcoder.solvers.multi_turn import rollout, judge_private
    trajectories = rollout(problems, model, judge, n=15, turns=3, temperature=0.7, seed=0)
    passed = judge_private(trajectories, problems, judge)   # the oracle, private tests only
    for t in trajectories:
        t.task_id, t.index, t.solved_public, t.final_code, t.private_passed
        for turn in t.turns:
            turn.messages      # the state: the chat the model was given (answer excluded)
            turn.response, turn.code, turn.public_passed, turn.public_total, turn.feedback

``rollout`` sends one batched request per turn for all open trajectories (``n`` per
problem), so the model sees candidates of many problems in one call. `MultiTurnEnv.play` is
the loop underneath (states in, ``(state, Turn)`` out as each turn finishes), for callers
that want to stream turns or resume (the Best-of-N solver does).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.models.base import GenerationRequest, LanguageModel, Output
from motcoder.problems.model import Problem
from motcoder.prompts.render import assistant_turn, render_prompt
from motcoder.prompts.templates import Templates, resolve_templates
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.verdict import TestOutcome
from motcoder.solvers.base import derive_seed, generate_checked, program_from
from motcoder.solvers.self_reflection import public_feedback, run_public

Message = dict[str, str]

#: The visibilities that decide success under the μCode protocol (never the public tests).
MUCODE_JUDGE: list[str] = ["private", "generated"]
DEFAULT_TURNS = 3


@dataclass
class Candidate:
    """One sampled answer of a turn and how its program did on the public tests."""

    response: str
    code: str
    public_passed: int | None = None   # None: the problem has no public tests
    public_total: int | None = None
    public_statuses: list[str] = field(default_factory=list)
    completion_tokens: int = 0
    finish_reason: str = "stop"
    score: float | None = None         # the verifier's score, when one was asked
    metadata: dict[str, Any] = field(default_factory=dict)
    # the public outcomes themselves (for the feedback turn); not written to records
    outcomes: list[TestOutcome] | None = field(default=None, repr=False, compare=False)

    @property
    def passes_public(self) -> bool:
        """Every public test passed (False without public tests: nothing was shown to pass)."""
        return bool(self.public_total) and self.public_passed == self.public_total

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        del data["outcomes"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Turn:
    """One turn of an episode: the state, the chosen answer, and the feedback that followed."""

    turn: int                          # 0-based
    messages: list[Message]            # the chat the model was given (answer not included)
    response: str
    code: str
    public_passed: int | None
    public_total: int | None
    feedback: str | None               # the next user turn; None when the episode ended
    prompt_tokens: int = 0
    candidates: list[Candidate] = field(default_factory=list)  # all sampled answers
    selected: int = 0                  # which candidate was chosen

    @property
    def done(self) -> bool:
        return self.feedback is None

    @property
    def chosen(self) -> Candidate:
        return self.candidates[self.selected]


@dataclass
class Trajectory:
    """One episode of one problem: its turns in order."""

    task_id: str
    index: int                         # which rollout of the problem (0 .. n-1)
    turns: list[Turn] = field(default_factory=list)
    private_passed: bool | None = None  # set by `judge_private`

    @property
    def problem_message(self) -> str:
        """The first user turn (the problem with its public tests): the verifier's input."""
        return first_user_message(self.turns[0].messages) if self.turns else ""

    @property
    def final_code(self) -> str:
        return self.turns[-1].code if self.turns else ""

    @property
    def solved_public(self) -> bool:
        return bool(self.turns) and self.turns[-1].chosen.passes_public

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (candidates without their raw outcomes)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["turns"] = [{**{f.name: getattr(t, f.name) for f in dataclasses.fields(t)},
                          "candidates": [c.to_dict() for c in t.candidates]}
                         for t in self.turns]
        return data


@dataclass
class State:
    """Where an episode stands: the next turn to play and the chat so far."""

    problem: Problem
    index: int
    turn: int
    messages: list[Message]


Chooser = Callable[[State, list[Candidate]], int]


def first_user_message(messages: Sequence[Message]) -> str:
    return next((m["content"] for m in messages if m["role"] == "user"), "")


def choose_first(state: State, candidates: list[Candidate]) -> int:
    """The chooser of plain rollouts (one candidate per turn)."""
    return 0


class MultiTurnEnv:
    """The environment: first prompt, public-test execution, feedback, episode end."""

    def __init__(
        self,
        judge: Judge,
        *,
        turns: int = DEFAULT_TURNS,
        style: str = "normal",
        templates: Templates | str | Path | None = None,
        feedback_cases: int = 2,
        show_output: bool = True,
    ) -> None:
        if turns < 1:
            raise ValueError(f"turns must be at least 1, got {turns}")
        self.judge = judge
        self.turns = turns
        self.style = style
        self.templates = resolve_templates(templates)
        self.feedback_cases = feedback_cases
        self.show_output = show_output

    # ------------------------------------------------------------------ one step
    def reset(self, problem: Problem, index: int = 0) -> State:
        """The first state: the problem with its public tests."""
        messages = render_prompt(problem, self.style, templates=self.templates, examples=True)
        return State(problem, index, 0, messages)

    def attempt(self, problem: Problem, output: Output) -> Candidate:
        """Extract the program of an answer and run it on the public tests."""
        code, metadata = program_from(problem, output.text)
        outcomes = run_public(self.judge, problem, code)
        candidate = Candidate(response=output.text, code=code, completion_tokens=output.tokens,
                              finish_reason=output.finish_reason, metadata=metadata)
        candidate.outcomes = outcomes
        if outcomes is not None:
            candidate.public_total = len(problem.public_tests)
            candidate.public_passed = sum(o.passed for o in outcomes)
            candidate.public_statuses = [o.status for o in outcomes]
        return candidate

    def ends(self, state: State, candidate: Candidate) -> bool:
        """The episode ends after this answer: it passes the public tests, it was the last
        turn, or there are no public tests to give feedback from."""
        return (candidate.passes_public or state.turn + 1 >= self.turns
                or candidate.public_total is None)

    def feedback(self, state: State, candidate: Candidate) -> str | None:
        """The next user turn after ``candidate``, or None when the episode ends."""
        if self.ends(state, candidate):
            return None
        outcomes = candidate.outcomes
        if outcomes is None:
            outcomes = run_public(self.judge, state.problem, candidate.code) or []
        return public_feedback(self.judge, state.problem, candidate.code, outcomes,
                               templates=self.templates, cases=self.feedback_cases,
                               show_output=self.show_output)

    @staticmethod
    def advance(state: State, turn: Turn) -> State:
        """The state after ``turn`` (which must not have ended the episode)."""
        assert turn.feedback is not None
        return State(state.problem, state.index, state.turn + 1,
                     [*state.messages, assistant_turn(turn.response),
                      {"role": "user", "content": turn.feedback}])

    # ------------------------------------------------------------------ the batched loop
    def play(
        self,
        states: Iterable[State],
        model: LanguageModel,
        *,
        candidates: int = 1,
        choose: Chooser = choose_first,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 512,
        seed: int | None = None,
        batch_size: int = 32,
        stop: Sequence[str] = (),
        prepare: Callable[[list[State], list[list[Candidate]]], None] | None = None,
    ) -> Iterator[tuple[State, Turn]]:
        """Play the episodes from ``states`` to their end; yield each turn as it finishes.

        Every call to the model holds up to ``batch_size`` requests (one per open episode,
        ``candidates`` answers each, seeded from ``seed``, the task, the episode index and
        the turn); episodes that go on are served first in the next call. ``prepare`` is
        called with the batch's states and candidates before choosing (e.g. to score them
        with a verifier in one batch).
        """
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        pending = list(states)
        workers = max(1, self.judge.sandbox.workers)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            while pending:
                batch, pending = pending[:batch_size], pending[batch_size:]
                requests = [
                    GenerationRequest(messages=s.messages, n=candidates,
                                      temperature=temperature, top_p=top_p,
                                      max_new_tokens=max_new_tokens, stop=list(stop),
                                      seed=derive_seed(seed, s.problem.id, s.index, s.turn))
                    for s in batch
                ]
                completions = generate_checked(model, requests)
                jobs = [(s, o) for s, c in zip(batch, completions, strict=True)
                        for o in c.outputs]
                checked = list(pool.map(lambda job: self.attempt(job[0].problem, job[1]),
                                        jobs))
                grouped = [checked[i * candidates:(i + 1) * candidates]
                           for i in range(len(batch))]
                if prepare is not None:
                    prepare(batch, grouped)
                chosen = [choose(s, group) for s, group in zip(batch, grouped, strict=True)]
                feedback = list(pool.map(
                    lambda item: self.feedback(item[0], item[1][item[2]]),
                    zip(batch, grouped, chosen, strict=True)))
                going_on: list[State] = []
                for state, completion, group, pick, text in zip(
                        batch, completions, grouped, chosen, feedback, strict=True):
                    best = group[pick]
                    turn = Turn(turn=state.turn, messages=state.messages,
                                response=best.response, code=best.code,
                                public_passed=best.public_passed,
                                public_total=best.public_total, feedback=text,
                                prompt_tokens=completion.prompt_tokens, candidates=group,
                                selected=pick)
                    yield state, turn
                    if not turn.done:
                        going_on.append(self.advance(state, turn))
                pending = going_on + pending


def rollout(
    problems: Sequence[Problem],
    model: LanguageModel,
    judge: Judge,
    *,
    n: int = 1,
    turns: int = DEFAULT_TURNS,
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_new_tokens: int = 512,
    seed: int | None = 0,
    style: str = "normal",
    templates: Templates | str | Path | None = None,
    batch_size: int = 32,
    candidates: int = 1,
    choose: Chooser = choose_first,
) -> list[Trajectory]:
    """``n`` episodes per problem in the environment; trajectories in (problem, index) order.

    Only public tests are run; call `judge_private` for the oracle's verdict on each
    trajectory's final program. ``candidates``/``choose`` turn every turn into a
    Best-of-N selection (default: one answer per turn, as the policy samples it).
    """
    env = MultiTurnEnv(judge, turns=turns, style=style, templates=templates)
    by_key: dict[tuple[str, int], Trajectory] = {}
    states = []
    for problem in problems:
        first = env.reset(problem)
        for index in range(n):
            by_key[(problem.id, index)] = Trajectory(problem.id, index)
            states.append(State(problem, index, 0, list(first.messages)))
    for state, turn in env.play(states, model, candidates=candidates, choose=choose,
                                temperature=temperature, top_p=top_p,
                                max_new_tokens=max_new_tokens, seed=seed,
                                batch_size=batch_size):
        by_key[(state.problem.id, state.index)].turns.append(turn)
    return list(by_key.values())


def judge_private(
    trajectories: Sequence[Trajectory],
    problems: Sequence[Problem],
    judge: Judge,
    *,
    visibilities: Sequence[str] = tuple(MUCODE_JUDGE),
) -> list[bool]:
    """The oracle: does each trajectory's final program pass the problem's hidden tests?

    Runs the final code on the tests of ``visibilities`` (default private + generated; a
    problem with none of them raises ``ValueError``), stopping at the first failure. Sets
    and returns ``Trajectory.private_passed``.
    """
    by_id = {p.id: p for p in problems}

    def one(trajectory: Trajectory) -> bool:
        problem = by_id[trajectory.task_id]
        tests = problem.tests_of(*visibilities)
        if not tests:
            raise ValueError(f"problem {problem.id!r} has no {'/'.join(visibilities)} tests "
                             "to judge on")
        code = trajectory.final_code
        if not code.strip():
            return False
        outcomes, _ = judge.run_tests(problem, code, tests, early_stop=True)
        return all(o.passed for o in outcomes)

    with ThreadPoolExecutor(max_workers=max(1, 2 * judge.sandbox.workers)) as pool:
        results = list(pool.map(one, trajectories))
    for trajectory, passed in zip(trajectories, results, strict=True):
        trajectory.private_passed = passed
    return results
