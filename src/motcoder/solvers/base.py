"""What every solver produces and the protocol it follows.

A solver turns problems and a model into `Attempt` records, yielded one at a time as they are
produced so that the caller can append each to a JSONL file at once (``runs.JsonlStore``
keyed by `attempt_key`). Resuming: pass the attempts already written as ``done``; the solver
skips what they cover and, for multi-turn solvers, continues unfinished conversations from
their last recorded round — nothing is generated twice.

An attempt is one model answer: the sample ``sample_index`` of problem ``task_id`` at round
``round`` (0 = the first answer; round r > 0 answers after r feedback turns). ``messages`` is
the whole chat the model was given for it (system, user, and for later rounds the earlier
answers and feedback); the answer itself is ``completion``, and ``code`` the program
extracted from it. To score "accuracy after round r", take for every sample its latest
attempt with ``round <= r`` (`latest_attempts`) and judge its code on the private tests.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from motcoder.models.base import Completion, GenerationRequest, LanguageModel, ModelError
from motcoder.problems.model import Problem
from motcoder.prompts.extract import add_missing_context, extract_code

AttemptKey = tuple[str, int, int]


@dataclass
class Attempt:
    """One model answer for one sample of one problem, at one round."""

    task_id: str
    sample_index: int
    round: int
    messages: list[dict[str, str]]   # the chat the model was given (its answer not included)
    completion: str                  # the model's raw answer
    code: str                        # the program extracted from it ("" when none)
    style: str = "normal"
    solver: str = "direct"
    prompt_tokens: int = 0           # of the request this answer came from
    completion_tokens: int = 0
    finish_reason: str = "stop"      # "length": the answer hit max_new_tokens
    public_passed: int | None = None  # public tests passed (None: not run)
    public_total: int | None = None
    feedback: str | None = None      # the user turn that followed (multi-turn), if any
    final: bool = True               # no later round follows for this sample
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> AttemptKey:
        return (self.task_id, self.sample_index, self.round)

    @property
    def chat(self) -> list[dict[str, str]]:
        """The messages followed by the answer."""
        return [*self.messages, {"role": "assistant", "content": self.completion}]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def attempt_key(record: Mapping[str, Any] | Attempt) -> AttemptKey:
    """The resume key of an attempt or of its JSONL record: (task_id, sample_index, round)."""
    if isinstance(record, Attempt):
        return record.key
    return (str(record["task_id"]), int(record["sample_index"]), int(record.get("round", 0)))


def as_attempts(done: Iterable[Attempt | Mapping[str, Any]]) -> list[Attempt]:
    return [a if isinstance(a, Attempt) else Attempt.from_dict(a) for a in done]


def latest_attempts(
    attempts: Iterable[Attempt], upto_round: int | None = None
) -> dict[tuple[str, int], Attempt]:
    """Per (task_id, sample_index), the attempt of the highest round ``<= upto_round``.

    With a solver that stops a sample once it passes its public tests, this is the program
    one would submit after ``upto_round`` rounds of reflection.
    """
    latest: dict[tuple[str, int], Attempt] = {}
    for attempt in attempts:
        if upto_round is not None and attempt.round > upto_round:
            continue
        key = (attempt.task_id, attempt.sample_index)
        if key not in latest or attempt.round > latest[key].round:
            latest[key] = attempt
    return latest


def next_round_chat(attempt: Attempt) -> list[dict[str, str]]:
    """The chat a multi-round solver continues from after ``attempt`` (not final): its chat
    plus the feedback turn that followed it."""
    if attempt.feedback is None:
        raise ValueError(f"cannot resume {attempt.task_id!r} sample {attempt.sample_index}: "
                         f"its round {attempt.round} attempt is not final but holds no "
                         "feedback turn")
    return [*attempt.chat, {"role": "user", "content": attempt.feedback}]


def derive_seed(seed: int | None, *parts: object) -> int | None:
    """A stable per-request seed from the run seed and what the request is for (so a resumed
    run asks for the same samples with the same seeds)."""
    if seed is None:
        return None
    text = ":".join(str(p) for p in (seed, *parts))
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def generate_checked(model: LanguageModel, requests: list[GenerationRequest]) -> list[Completion]:
    """``model.generate`` with the shape of its answer checked (one completion per request,
    ``n`` outputs each) so a faulty backend fails loudly instead of losing samples."""
    if not requests:
        return []
    completions = model.generate(requests)
    name = getattr(model, "name", type(model).__name__)
    if len(completions) != len(requests):
        raise ModelError(f"model {name!r} returned {len(completions)} completions for "
                         f"{len(requests)} requests")
    for request, completion in zip(requests, completions, strict=True):
        if len(completion.outputs) != request.n:
            raise ModelError(f"model {name!r} returned {len(completion.outputs)} outputs for a "
                             f"request with n={request.n}")
    return completions


def program_from(problem: Problem, text: str) -> tuple[str, dict[str, Any]]:
    """The program in an answer: `extract_code`, then the starter code's imports and helpers
    the program needs (`add_missing_context`). The metadata says what was added."""
    code = extract_code(text, entry_point=problem.entry_point)
    code, added = add_missing_context(code, problem.starter_code)
    return code, ({"added_context": added} if added else {})


@runtime_checkable
class Solver(Protocol):
    """Problems + model -> attempts, yielded as they are produced."""

    name: str

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
        """Yield the attempts for ``n`` samples of every problem, skipping those in ``done``."""
        ...
