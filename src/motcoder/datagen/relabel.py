"""μCode trajectories and one-step relabeling: rolled-out episodes → generator training rows.

A `Trajectory` is one multi-turn episode of one problem: per turn the *state* (the chat the
generator was given: the problem message, then for later turns its earlier answers and the
public-test feedback), its response and the extracted code; then the oracle verdict of the
final program (private tests) and the learned verifier's score of the final response.

`relabel(trajectories)` is the data step of μCode's expert iteration, for the trajectories of
ONE problem:

* score of a trajectory = verifier score of its final response + 100·[final program passes
  the private tests] (`expert_score`); y* = the final response of the best-scored trajectory
  (ties: the lower rollout index);
* every prefix state of a **successful** trajectory (final program passes) → that
  trajectory's own final response;
* every prefix state of the up-to-``num_relabel`` (3) best-scored **failed** trajectories →
  y*.

Decision on "only when y* passes?": no — relabel with y* whether or not it passes. The paper's
expert is the argmax of verifier + 100·oracle, and the published μCode code relabels the top
failed trajectories with the top-scored response unconditionally: on a problem that no
trajectory solves (the unsolved case) y* is the verifier's best *failing* answer, and the top
3 failed trajectories are relabeled with it. This is where the learned verifier adds signal
beyond the oracle (oracle-only relabeling has nothing to imitate there). With
``relabel_unsolved=False`` unsolved problems give no rows instead (an ablation).

`rft_rows` is the RFT / Multi-STaR baseline: the successful trajectories only, every prefix
state → its own final response, no relabeling, no verifier.

Output rows (`Row`) are ``(state messages, target response)``: written as chat records
``{"messages": state + [assistant target], ...}`` for `motcoder train sft`; the loss is meant
for the final assistant turn only (`motcoder.training.expert_iteration` keeps only that
prompt-completion row — earlier assistant turns in a state are the generator's own attempts).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ORACLE_BONUS = 100.0
METHODS = ("mucode", "rft")

Message = dict[str, str]


@dataclass
class Turn:
    """One turn of an episode: the state the generator saw and what it answered."""

    messages: list[Message]          # the state (the chat before this answer)
    response: str                    # the generator's raw answer
    code: str = ""                   # the program extracted from it
    public_passed: int | None = None
    public_total: int | None = None
    feedback: str | None = None      # the user turn that followed (None: the episode ended)
    private_passed: bool | None = None  # this turn's program on the private tests (verifier
                                        # training labels); the final turn's = the oracle

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Turn:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Trajectory:
    """One rolled-out episode of problem ``task_id`` (rollout number ``index``)."""

    task_id: str
    index: int
    turns: list[Turn]
    passed: bool | None = None       # the oracle: final program passes the private tests
    score: float | None = None       # the learned verifier's score of the final response
    round: int = 0                   # the expert-iteration round that rolled it out
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> Turn:
        return self.turns[-1]

    @property
    def prompt(self) -> str:
        """The problem message: the first user turn of the first state (no history)."""
        return problem_message(self.turns[0].messages)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        turns = [Turn.from_dict(t) for t in data.get("turns", [])]
        names = {f.name for f in dataclasses.fields(cls)} - {"turns"}
        return cls(turns=turns, **{k: v for k, v in data.items() if k in names})


@dataclass
class Row:
    """One generator training example: ``state`` → ``target`` (the final assistant turn)."""

    task_id: str
    state: list[Message]
    target: str
    kind: str                        # "own" (its own correct answer) | "relabeled"
    trajectory: int                  # index of the trajectory the state comes from
    expert: int                      # index of the trajectory the target comes from
    turn: int                        # position of the state in its trajectory (0 = first)
    round: int = 0

    def chat_record(self) -> dict[str, Any]:
        """The chat record `motcoder train sft` reads (``style`` normal: no MoT layout)."""
        return {"messages": [*self.state, {"role": "assistant", "content": self.target}],
                "task_id": self.task_id, "style": "normal",
                "relabel": {"kind": self.kind, "trajectory": self.trajectory,
                            "expert": self.expert, "turn": self.turn, "round": self.round}}


def problem_message(messages: list[Message]) -> str:
    """The first user message of a chat (the problem, without history)."""
    for message in messages:
        if message.get("role") == "user":
            return message["content"]
    raise ValueError("the chat has no user message")


def expert_score(trajectory: Trajectory, bonus: float = ORACLE_BONUS) -> float:
    """Verifier score + ``bonus``·[passes the private tests]."""
    if trajectory.passed is None or trajectory.score is None:
        raise ValueError(f"trajectory {trajectory.index} of {trajectory.task_id!r} has no "
                         "oracle verdict or no verifier score; judge and score it first")
    return float(trajectory.score) + bonus * bool(trajectory.passed)


def _check_one_problem(trajectories: list[Trajectory]) -> None:
    ids = {t.task_id for t in trajectories}
    if len(ids) > 1:
        raise ValueError(f"relabel works on the trajectories of one problem, got {sorted(ids)}")
    for t in trajectories:
        if not t.turns:
            raise ValueError(f"trajectory {t.index} of {t.task_id!r} has no turns")


def _rows(trajectory: Trajectory, expert: Trajectory, kind: str) -> list[Row]:
    target = expert.final.response
    return [Row(trajectory.task_id, list(turn.messages), target, kind, trajectory.index,
                expert.index, position, trajectory.round)
            for position, turn in enumerate(trajectory.turns)]


def ranked(trajectories: Iterable[Trajectory], bonus: float = ORACLE_BONUS
           ) -> list[Trajectory]:
    """Best expert score first; ties keep rollout order (round, then index)."""
    items = sorted(trajectories, key=lambda t: (t.round, t.index))
    return sorted(items, key=lambda t: -expert_score(t, bonus))


def relabel(trajectories: list[Trajectory], *, num_relabel: int = 3,
            bonus: float = ORACLE_BONUS, relabel_unsolved: bool = True) -> list[Row]:
    """μCode relabeling of one problem's trajectories (see the module docstring)."""
    if not trajectories:
        return []
    _check_one_problem(trajectories)
    order = ranked(trajectories, bonus)
    expert = order[0]
    rows: list[Row] = []
    for trajectory in sorted(trajectories, key=lambda t: (t.round, t.index)):
        if trajectory.passed:
            rows.extend(_rows(trajectory, trajectory, "own"))
    solved = bool(expert.passed)
    if solved or relabel_unsolved:
        failed = [t for t in order if not t.passed][:num_relabel]
        for trajectory in failed:
            rows.extend(_rows(trajectory, expert, "relabeled"))
    return rows


def rft_rows(trajectories: list[Trajectory]) -> list[Row]:
    """RFT / Multi-STaR: successful trajectories only, each state → its own final answer."""
    _check_one_problem(trajectories)
    rows: list[Row] = []
    for trajectory in sorted(trajectories, key=lambda t: (t.round, t.index)):
        if trajectory.passed is None:
            raise ValueError(f"trajectory {trajectory.index} of {trajectory.task_id!r} has no "
                             "oracle verdict")
        if trajectory.passed:
            rows.extend(_rows(trajectory, trajectory, "own"))
    return rows


def group_by_problem(trajectories: Iterable[Trajectory]) -> dict[str, list[Trajectory]]:
    groups: dict[str, list[Trajectory]] = {}
    for trajectory in trajectories:
        groups.setdefault(trajectory.task_id, []).append(trajectory)
    return groups


def build_rows(trajectories: Iterable[Trajectory], method: str = "mucode", *,
               num_relabel: int = 3, relabel_unsolved: bool = True) -> list[Row]:
    """Rows for every problem, by ``method`` (``mucode`` | ``rft``)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rows: list[Row] = []
    for group in group_by_problem(trajectories).values():
        if method == "rft":
            rows.extend(rft_rows(group))
        else:
            rows.extend(relabel(group, num_relabel=num_relabel,
                                relabel_unsolved=relabel_unsolved))
    return rows
