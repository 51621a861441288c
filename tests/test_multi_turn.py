"""μCode's multi-turn environment on the real embedded model and the real sandbox.

Rollouts with SmolLM2-135M (loaded once for the module, a few tokens per answer) check what
holds whatever the model writes: private and generated tests never reach a prompt or a
feedback turn (their unique markers never appear in anything the model was sent), turn 1
shows the public tests, every turn is recorded, and an episode goes on only after a turn
that failed its public tests. A small scripted model — a complete `LanguageModel` that
answers from a fixed list — then pins down the episode end and the Best-of-N resume exactly.
"""

from __future__ import annotations

import pytest

from motcoder.models.base import Completion, GenerationRequest, Output
from motcoder.problems.model import Problem, Test
from motcoder.solvers.best_of_n import BestOfNSolver
from motcoder.solvers.multi_turn import MultiTurnEnv, judge_private, rollout

MARKERS = ("PRIVMARK_stdin_7Qz", "GENMARK_stdin_k2", "PRIVMARK_assert_x9")
ADD = "def add(a, b):\n    return a + b\n"


def sum_problem() -> Problem:
    return Problem(
        id="toy/sum", source="file", statement="Read two integers a and b; print a + b.",
        solutions=["a, b = map(int, input().split())\nprint(a + b)\n"],
        tests=[Test(kind="stdio", visibility="public", input="2 3\n", output="5\n"),
               # the markers sit on a second input line a correct program never reads
               Test(kind="stdio", visibility="private", input=f"40 2\n{MARKERS[0]}\n",
                    output="42\n"),
               Test(kind="stdio", visibility="generated", input=f"1 1\n{MARKERS[1]}\n",
                    output="2\n")],
    )


def add_problem() -> Problem:
    return Problem(
        id="toy/add", source="file", statement="Write add(a, b) returning a + b.",
        entry_point="add", starter_code="def add(a, b):\n", solutions=[ADD],
        judge=["private"],
        tests=[Test(kind="assert", visibility="public", script="assert add(2, 3) == 5\n"),
               Test(kind="assert", visibility="private",
                    script=f"assert add(7, 8) == 15, '{MARKERS[2]}'\n")],
    )


class Recorded:
    """A real model whose requests are kept (to check what it was sent)."""

    def __init__(self, model) -> None:
        self.model = model
        self.name = model.name
        self.requests: list[GenerationRequest] = []

    def generate(self, requests):
        self.requests += requests
        return self.model.generate(requests)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def embedded():
    from motcoder.models.registry import load_model

    model = load_model("embedded")
    yield model
    model.close()


def test_rollouts_keep_private_tests_hidden_and_record_every_turn(embedded, judge):
    problems = [sum_problem(), add_problem()]
    model = Recorded(embedded)
    trajectories = rollout(problems, model, judge, n=2, turns=2, temperature=0.8,
                           max_new_tokens=24, seed=3)
    assert [(t.task_id, t.index) for t in trajectories] == \
        [("toy/sum", 0), ("toy/sum", 1), ("toy/add", 0), ("toy/add", 1)]
    sent = "\n".join(m["content"] for r in model.requests for m in r.messages or [])
    for marker in MARKERS:
        assert marker not in sent
    assert "2 3" in sent and "assert add(2, 3) == 5" in sent   # turn 1 shows public tests
    for t in trajectories:
        assert 1 <= len(t.turns) <= 2
        assert [turn.turn for turn in t.turns] == list(range(len(t.turns)))
        assert t.problem_message == t.turns[0].messages[-1]["content"]
        for turn in t.turns:
            text = " ".join([*(m["content"] for m in turn.messages), turn.feedback or ""])
            assert not any(marker in text for marker in MARKERS)
            assert turn.public_total == 1 and len(turn.candidates) == 1
        for before, after in zip(t.turns, t.turns[1:], strict=False):
            # going on only after failing the public tests, with that turn's feedback
            assert not before.chosen.passes_public and before.feedback
            assert after.messages == [*before.messages,
                                      {"role": "assistant", "content": before.response},
                                      {"role": "user", "content": before.feedback}]
        last = t.turns[-1]
        assert last.feedback is None
        assert last.chosen.passes_public or len(t.turns) == 2
    passed = judge_private(trajectories, problems, judge)
    assert passed == [t.private_passed for t in trajectories]
    assert all(isinstance(p, bool) for p in passed)
    record = trajectories[0].to_dict()
    assert "outcomes" not in record["turns"][0]["candidates"][0]


# ---------------------------------------------------------------- exact behaviour, scripted
def fenced(code: str) -> str:
    return f"```python\n{code}```"


WRONG = fenced("a, b = map(int, input().split())\nprint(a - b)\n")
RIGHT = fenced("a, b = map(int, input().split())\nprint(a + b)\n")


class Scripted:
    """Answer ``script(turn, j)`` for candidate j of a chat at turn ``turn``."""

    name = "scripted"

    def __init__(self, script) -> None:
        self.script = script
        self.requests: list[GenerationRequest] = []

    def generate(self, requests):
        self.requests += requests
        out = []
        for r in requests:
            turn = sum(m["role"] == "assistant" for m in r.messages or [])
            out.append(Completion([Output(self.script(turn, j), tokens=5)
                                   for j in range(r.n)], prompt_tokens=10))
        return out

    def close(self) -> None:
        pass


def test_an_episode_ends_at_the_first_public_pass_and_is_judged_on_private_tests(judge):
    model = Scripted(lambda turn, j: WRONG if turn == 0 else RIGHT)
    [t] = rollout([sum_problem()], model, judge, n=1, turns=3, max_new_tokens=8)
    assert len(t.turns) == 2 and t.solved_public
    first = t.turns[0]
    assert (first.public_passed, first.public_total) == (0, 1)
    assert "2 3" in first.feedback and "-1" in first.feedback   # the public case, and "got"
    assert not any(marker in first.feedback for marker in MARKERS)
    assert judge_private([t], [sum_problem()], judge) == [True]
    # never passing: exactly `turns` turns
    [never] = rollout([sum_problem()], Scripted(lambda turn, j: WRONG), judge, turns=3)
    assert len(never.turns) == 3 and not never.solved_public
    assert judge_private([never], [sum_problem()], judge) == [False]


def test_env_rejects_zero_turns(judge):
    with pytest.raises(ValueError, match="turns"):
        MultiTurnEnv(judge, turns=0)


def test_best_of_n_selects_the_public_pass_and_resumes_without_duplicates(judge):
    # candidate 1 of turn 0 passes: `pt` must take it and stop the search there
    solver = BestOfNSolver(judge, candidates=3, turns=3, select="pt")
    attempts = list(solver.solve([sum_problem()], Scripted(
        lambda turn, j: RIGHT if j == 1 else WRONG), n=2, seed=1))
    assert [(a.sample_index, a.round, a.final) for a in attempts] == [(0, 0, True),
                                                                      (1, 0, True)]
    for a in attempts:
        assert a.metadata["selected"] == 1 and a.public_passed == 1
        assert len(a.metadata["candidates"]) == 3
        assert [c["public_passed"] for c in a.metadata["candidates"]] == [0, 1, 0]

    # never passing: 2 searches x 3 turns; drop the last records as a kill would, resume
    always_wrong = Scripted(lambda turn, j: WRONG)
    full = list(BestOfNSolver(judge, candidates=2, turns=3, select="random").solve(
        [sum_problem()], always_wrong, n=2, seed=5))
    assert sorted(a.key for a in full) == [("toy/sum", s, r) for s in (0, 1) for r in range(3)]
    kept = full[:3]
    more = list(BestOfNSolver(judge, candidates=2, turns=3, select="random").solve(
        [sum_problem()], always_wrong, n=2, seed=5, done=kept))
    keys = [a.key for a in kept + more]
    assert len(keys) == len(set(keys)) and set(keys) == {a.key for a in full}
    # the same seeded selections as the uninterrupted run
    assert {a.key: a.metadata["selected"] for a in more} == \
        {a.key: a.metadata["selected"] for a in full if a.key in set(a.key for a in more)}
