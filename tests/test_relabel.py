"""μCode relabeling and the RFT baseline on hand-built trajectories: exact (state, target) rows.

Each trajectory is written as a compact spec ``(index, turns, passed, score)``; the states of
turn k of trajectory i are ``[user P, assistant "i.0", user "fb i.0", ...]`` and the response
of turn k is ``"i.k"``, so an expected row is just ``(trajectory, turn, target)``.
"""

from __future__ import annotations

import pytest

from motcoder.datagen.relabel import (
    Trajectory,
    Turn,
    build_rows,
    expert_score,
    ranked,
    relabel,
    rft_rows,
)

PROBLEM = "Write f."


def traj(index: int, turns: int, passed: bool, score: float, task: str = "p") -> Trajectory:
    built: list[Turn] = []
    state = [{"role": "user", "content": PROBLEM}]
    for k in range(turns):
        response = f"{index}.{k}"
        last = k == turns - 1
        built.append(Turn(messages=list(state), response=response, code=f"code {response}",
                          feedback=None if last else f"fb {response}"))
        state = [*state, {"role": "assistant", "content": response},
                 {"role": "user", "content": f"fb {response}"}]
    return Trajectory(task_id=task, index=index, turns=built, passed=passed, score=score)


def expected_state(index: int, turn: int) -> list[dict[str, str]]:
    state = [{"role": "user", "content": PROBLEM}]
    for k in range(turn):
        state += [{"role": "assistant", "content": f"{index}.{k}"},
                  {"role": "user", "content": f"fb {index}.{k}"}]
    return state


def as_triples(rows):
    return [(r.trajectory, r.turn, r.target, r.kind) for r in rows]


CASES = {
    # one success (index 1, two turns); four failures ranked by score: 3 (0.9) > 0 (0.5)
    # > 4 (0.2) > 2 (-1.0); y* = 1's final answer "1.1" (score 0.1 + 100).
    "solved": (
        [traj(0, 3, False, 0.5), traj(1, 2, True, 0.1), traj(2, 1, False, -1.0),
         traj(3, 3, False, 0.9), traj(4, 2, False, 0.2)],
        [(1, 0, "1.1", "own"), (1, 1, "1.1", "own"),
         (3, 0, "1.1", "relabeled"), (3, 1, "1.1", "relabeled"), (3, 2, "1.1", "relabeled"),
         (0, 0, "1.1", "relabeled"), (0, 1, "1.1", "relabeled"), (0, 2, "1.1", "relabeled"),
         (4, 0, "1.1", "relabeled"), (4, 1, "1.1", "relabeled")],
    ),
    # two successes: the better-scored one (2: 0.7 + 100) is y*; each success keeps its own.
    "two successes": (
        [traj(0, 1, True, 0.3), traj(1, 2, False, 5.0), traj(2, 1, True, 0.7)],
        [(0, 0, "0.0", "own"), (2, 0, "2.0", "own"),
         (1, 0, "2.0", "relabeled"), (1, 1, "2.0", "relabeled")],
    ),
    # unsolved: y* = the verifier's best failing answer (1: 2.0 → "1.1"); the top 3 failed
    # trajectories (1, 3, 0) get it, 2 (lowest) gets nothing; no "own" rows.
    "unsolved": (
        [traj(0, 1, False, -0.5), traj(1, 2, False, 2.0), traj(2, 1, False, -3.0),
         traj(3, 1, False, 1.0)],
        [(1, 0, "1.1", "relabeled"), (1, 1, "1.1", "relabeled"),
         (3, 0, "1.1", "relabeled"), (0, 0, "1.1", "relabeled")],
    ),
    # all succeed: nothing to relabel
    "all pass": (
        [traj(0, 1, True, 0.0), traj(1, 2, True, 1.0)],
        [(0, 0, "0.0", "own"), (1, 0, "1.1", "own"), (1, 1, "1.1", "own")],
    ),
    # score ties: the lower rollout index ranks first
    "ties": (
        [traj(0, 1, False, 0.0), traj(1, 1, False, 0.0), traj(2, 1, False, 0.0),
         traj(3, 1, False, 0.0)],
        [(0, 0, "0.0", "relabeled"), (1, 0, "0.0", "relabeled"), (2, 0, "0.0", "relabeled")],
    ),
}

RFT = {
    "solved": [(1, 0, "1.1", "own"), (1, 1, "1.1", "own")],
    "two successes": [(0, 0, "0.0", "own"), (2, 0, "2.0", "own")],
    "unsolved": [],
    "all pass": [(0, 0, "0.0", "own"), (1, 0, "1.1", "own"), (1, 1, "1.1", "own")],
    "ties": [],
}


@pytest.mark.parametrize("name", list(CASES))
def test_relabel_rows_exactly(name):
    trajectories, expected = CASES[name]
    rows = relabel(trajectories)
    assert as_triples(rows) == expected
    for row in rows:
        assert row.state == expected_state(row.trajectory, row.turn)
        assert row.chat_record()["messages"][-1] == {"role": "assistant",
                                                      "content": row.target}
        assert row.chat_record()["messages"][:-1] == row.state


@pytest.mark.parametrize("name", list(CASES))
def test_rft_baseline_rows_exactly(name):
    trajectories, _ = CASES[name]
    assert as_triples(rft_rows(trajectories)) == RFT[name]
    assert as_triples(build_rows(trajectories, "rft")) == RFT[name]


def test_unsolved_can_be_skipped():
    trajectories, _ = CASES["unsolved"]
    assert relabel(trajectories, relabel_unsolved=False) == []


def test_num_relabel_limits_failed_trajectories():
    trajectories, _ = CASES["solved"]
    rows = relabel(trajectories, num_relabel=1)
    assert {r.trajectory for r in rows if r.kind == "relabeled"} == {3}


def test_expert_score_and_ranking():
    trajectories, _ = CASES["solved"]
    assert expert_score(trajectories[1]) == pytest.approx(100.1)
    assert expert_score(trajectories[3]) == pytest.approx(0.9)
    assert [t.index for t in ranked(trajectories)] == [1, 3, 0, 4, 2]


def test_build_rows_groups_problems_and_round_trips():
    a, _ = CASES["two successes"]
    b = [traj(0, 1, False, 0.0, task="q"), traj(1, 1, True, -9.0, task="q")]
    rows = build_rows([*a, *b], "mucode")
    assert {r.task_id for r in rows} == {"p", "q"}
    assert [(r.trajectory, r.target) for r in rows if r.task_id == "q"] == [(1, "1.0"),
                                                                              (0, "1.0")]
    again = Trajectory.from_dict(a[1].to_dict())
    assert again == a[1]


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="one problem"):
        relabel([traj(0, 1, True, 0.0, "p"), traj(1, 1, True, 0.0, "q")])
    unscored = traj(0, 1, True, 0.0)
    unscored.score = None
    with pytest.raises(ValueError, match="no oracle verdict or no verifier score"):
        relabel([unscored])
    with pytest.raises(ValueError, match="method"):
        build_rows([], "star")
