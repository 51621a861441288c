"""Multi-turn Best-of-N search (μCode's inference): N candidates per turn, one selected.

In the environment of `motcoder.solvers.multi_turn` (turn 1 = problem + public tests;
feedback from the public tests; at most ``turns`` turns), every turn of a *search*:

1. samples ``candidates`` (N) answers from the current state — one request with ``n=N`` per
   open search, and the requests of all open searches of all problems batched together;
2. runs every candidate's program on the public tests;
3. selects one by the rule ``select`` (`select_candidate`):

   * ``pt``     — a candidate that passes every public test (ties, including "none passes",
     broken uniformly at random);
   * ``lv``     — the highest learned-verifier score;
   * ``pt+lv``  — the highest ``100 * [passes public tests] + score``;
   * ``random`` — uniformly at random;

   random draws come from a generator seeded by the run seed, the task, the search and the
   turn, so a search is reproducible and a resumed run selects what the first run would;
4. stops when the selected candidate passes the public tests (or after the last turn);
   otherwise the search continues from the selected answer and its feedback.

The verdict is the selected program of each turn judged on the private tests only (the run
sets ``EvalOptions.judge = MUCODE_JUDGE``), which gives accuracy after each turn; the answer
of a search is its last selected program.

Searches: ``solve(..., n=S)`` runs S independent searches per problem; search ``s`` is
``sample_index = s`` (its own seeds), so pass@1 over the S samples is the accuracy averaged
over searches (`motcoder.scoring.searches` also reports it per search).

Records and resume: one `Attempt` per (task, search, turn) holds the **selected** candidate
(``completion``, ``code``, public results, the ``feedback`` that followed, ``final``); every
candidate of that turn — answer, code, public passed/total, score — is kept in
``metadata["candidates"]`` with ``metadata["selected"]`` its position. A killed run resumes
from the attempts written: finished searches are skipped, an unfinished one continues from
its last selected attempt and its feedback; a turn in flight when the run died is sampled
again (with the same seed), nothing is written twice.

The learned verifier is any object with ``score(problem_message, response) -> float``
(`Scorer`), optionally ``score_batch(pairs) -> list[float]``; ``problem_message`` is the
first user turn (the problem with its public tests), without the history, as μCode trains
it. `load_scorer` loads one from a path through ``motcoder.training.verifier``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from motcoder.models.base import LanguageModel, ModelError
from motcoder.problems.model import Problem
from motcoder.prompts.templates import Templates
from motcoder.sandbox.judge import Judge
from motcoder.solvers.base import (
    Attempt,
    as_attempts,
    derive_seed,
    latest_attempts,
    next_round_chat,
)
from motcoder.solvers.multi_turn import (
    DEFAULT_TURNS,
    Candidate,
    MultiTurnEnv,
    State,
    Turn,
    first_user_message,
)

RULES: tuple[str, ...] = ("pt", "lv", "pt+lv", "random")
VERIFIER_RULES: tuple[str, ...] = ("lv", "pt+lv")
PUBLIC_BONUS = 100.0


@runtime_checkable
class Scorer(Protocol):
    """A learned verifier: how likely ``response`` solves the problem of ``problem_message``."""

    def score(self, problem_message: str, response: str) -> float:
        ...


@dataclass
class BestOfNSettings:
    """The search's settings in a run's config (``--candidates --turns --select --searches
    --verifier``)."""

    candidates: int = 5
    turns: int = DEFAULT_TURNS
    select: str = "pt"
    searches: int = 1
    verifier: str | None = None

    def __post_init__(self) -> None:
        if self.candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {self.candidates}")
        if self.turns < 1:
            raise ValueError(f"turns must be at least 1, got {self.turns}")
        if self.searches < 1:
            raise ValueError(f"searches must be at least 1, got {self.searches}")
        check_rule(self.select, self.verifier is not None)


def check_rule(rule: str, has_scorer: bool) -> None:
    if rule not in RULES:
        raise ValueError(f"unknown selection rule {rule!r}: choose {', '.join(RULES)}")
    if rule in VERIFIER_RULES and not has_scorer:
        raise ValueError(f"selection rule {rule!r} needs a learned verifier (--verifier PATH)")


def selection_key(candidate: Candidate, rule: str) -> float:
    """What a rule maximises for one candidate."""
    passed = 1.0 if candidate.passes_public else 0.0
    if rule == "pt":
        return passed
    if rule == "random":
        return 0.0
    if candidate.score is None:
        raise ValueError(f"rule {rule!r} needs every candidate scored by the verifier")
    if rule == "lv":
        return float(candidate.score)
    if rule == "pt+lv":
        return PUBLIC_BONUS * passed + float(candidate.score)
    raise ValueError(f"unknown selection rule {rule!r}: choose {', '.join(RULES)}")


def select_candidate(candidates: Sequence[Candidate], rule: str, rng: random.Random) -> int:
    """The position of the candidate ``rule`` selects; ties broken uniformly with ``rng``."""
    if not candidates:
        raise ValueError("no candidates to select from")
    keys = [selection_key(c, rule) for c in candidates]
    best = max(keys)
    tied = [i for i, k in enumerate(keys) if k == best]
    return tied[rng.randrange(len(tied))]


def score_candidates(scorer: Scorer, problem_messages: Sequence[str],
                     groups: Sequence[list[Candidate]]) -> None:
    """Set ``score`` on every candidate (one ``score_batch`` call when the scorer has it)."""
    pairs = [(message, c.response) for message, group in zip(problem_messages, groups,
                                                              strict=True) for c in group]
    batch = getattr(scorer, "score_batch", None)
    scores = list(batch(pairs)) if callable(batch) else [scorer.score(m, r) for m, r in pairs]
    if len(scores) != len(pairs):
        raise ModelError(f"the verifier returned {len(scores)} scores for {len(pairs)} "
                         "candidates")
    flat = iter(scores)
    for group in groups:
        for candidate in group:
            candidate.score = float(next(flat))


def load_scorer(path: str | Path) -> Scorer:
    """The learned verifier saved at ``path`` (``motcoder.training.verifier.load_verifier``)."""
    try:
        from motcoder.training.verifier import load_verifier
    except ImportError as exc:
        raise ModelError(f"cannot load the verifier {path}: motcoder.training.verifier is not "
                         f"available ({exc})") from None
    if not Path(path).exists():
        raise ModelError(f"verifier {path}: no such file or directory — pass the directory "
                         "a verifier was saved to")
    try:
        scorer = load_verifier(str(path))
    except (ValueError, OSError) as exc:   # TrainingError is a ValueError
        raise ModelError(f"cannot load the verifier {path}: {exc}") from None
    if not callable(getattr(scorer, "score", None)):
        raise ModelError(f"verifier {path}: the loaded object has no score(problem, response)")
    return scorer


class BestOfNSolver:
    """Multi-turn Best-of-N search; every selected turn is one `Attempt`."""

    name = "best_of_n"

    def __init__(
        self,
        judge: Judge,
        style: str = "normal",
        *,
        candidates: int = 5,
        turns: int = DEFAULT_TURNS,
        select: str = "pt",
        scorer: Scorer | None = None,
        templates: Templates | str | Path | None = None,
        batch_size: int = 32,
        feedback_cases: int = 2,
        show_output: bool = True,
        stop: list[str] | None = None,
    ) -> None:
        check_rule(select, scorer is not None)
        if candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {candidates}")
        self.env = MultiTurnEnv(judge, turns=turns, style=style, templates=templates,
                                feedback_cases=feedback_cases, show_output=show_output)
        self.style = style
        self.candidates = candidates
        self.select = select
        self.scorer = scorer
        self.batch_size = batch_size
        self.stop = list(stop or [])

    def _states(self, problems: list[Problem], n: int, done: list[Attempt]) -> list[State]:
        latest = latest_attempts(done)
        states: list[State] = []
        for problem in problems:
            first: State | None = None
            for index in range(n):
                last = latest.get((problem.id, index))
                if last is None:
                    first = first or self.env.reset(problem)
                    states.append(State(problem, index, 0, list(first.messages)))
                elif not last.final:
                    states.append(State(problem, index, last.round + 1, next_round_chat(last)))
        # unfinished searches first, as the loop itself would serve them
        return sorted(states, key=lambda s: s.turn == 0)

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
        """Run ``n`` searches per problem (skipping what ``done`` holds); yield each turn."""

        def choose(state: State, group: list[Candidate]) -> int:
            rng = random.Random(derive_seed(seed, "select", state.problem.id, state.index,
                                            state.turn))
            return select_candidate(group, self.select, rng)

        def prepare(states: list[State], groups: list[list[Candidate]]) -> None:
            if self.scorer is not None:
                score_candidates(self.scorer, [first_user_message(s.messages) for s in states],
                                 groups)

        states = self._states(problems, n, as_attempts(done))
        for state, turn in self.env.play(
                states, model, candidates=self.candidates, choose=choose,
                temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                seed=seed, batch_size=self.batch_size, stop=self.stop, prepare=prepare):
            yield self.attempt(state, turn)

    def attempt(self, state: State, turn: Turn) -> Attempt:
        chosen = turn.chosen
        metadata: dict[str, Any] = dict(chosen.metadata)
        metadata.update(select=self.select, selected=turn.selected,
                        candidates=[c.to_dict() for c in turn.candidates])
        if chosen.public_statuses:
            metadata["public_statuses"] = chosen.public_statuses
        return Attempt(
            task_id=state.problem.id, sample_index=state.index, round=state.turn,
            messages=state.messages, completion=turn.response, code=turn.code,
            style=self.style, solver=self.name, prompt_tokens=turn.prompt_tokens,
            completion_tokens=chosen.completion_tokens, finish_reason=chosen.finish_reason,
            public_passed=turn.public_passed, public_total=turn.public_total,
            feedback=turn.feedback, final=turn.done, metadata=metadata,
        )
