"""What a transformation asks for: the items of a plan, and what is left on resume."""

from __future__ import annotations

import pytest

from motcoder.datagen.records import Rewrite
from motcoder.datagen.transform import (
    DatagenError,
    Item,
    TransformSettings,
    cost_usd,
    pending_work,
    plan_items,
)
from motcoder.problems.model import Problem, Test


def problem(pid: str, solutions: list[str], tests: bool = True) -> Problem:
    return Problem(id=pid, source="apps", statement="s", solutions=solutions,
                   tests=[Test("stdio", "public", "1\n", "1\n")] if tests else [])


def rewrite(task: str, sol: int, rnd: int, status: str) -> Rewrite:
    return Rewrite(task_id=task, solution_index=sol, round=rnd, source="apps", style="mot",
                   status=status, reason="" if status == "accepted" else "protocol")


def test_plan_takes_up_to_max_solutions_and_skips_unusable_problems():
    problems = [problem("a", ["x", "", "y", "z"]), problem("b", []),
                problem("c", ["w"], tests=False)]
    plan = plan_items(problems, TransformSettings(max_solutions=2))
    assert [i.key for i in plan.items] == [("a", 0), ("a", 2)]   # empty solutions skipped
    assert plan.no_solutions == ["b"] and plan.no_tests == ["c"]
    with pytest.raises(DatagenError, match="'solutions'"):
        plan_items([problem("b", [])], TransformSettings(), where="f.jsonl")
    with pytest.raises(DatagenError, match="no problems selected"):
        plan_items([], TransformSettings())


def test_bad_settings_are_refused():
    for bad in ({"style": "normal"}, {"max_solutions": 0}, {"rounds": 0}):
        with pytest.raises(DatagenError):
            TransformSettings(**bad)
    settings = TransformSettings(temperature=0.0, retry_temperature=0.7)
    assert settings.temperature_for(0) == 0.0 and settings.temperature_for(2) == 0.7


def test_resume_asks_for_missing_items_and_next_rounds_only():
    p = problem("a", ["r0", "r1", "r2", "r3", "r4"])
    items = [Item(p, i) for i in range(5)]
    done = [
        rewrite("a", 0, 0, "accepted"),                                # finished
        rewrite("a", 1, 0, "rejected"),                                # -> round 1
        rewrite("a", 2, 0, "rejected"), rewrite("a", 2, 1, "rejected"),  # -> round 2
        rewrite("a", 3, 0, "rejected"), rewrite("a", 3, 1, "rejected"),
        rewrite("a", 3, 2, "rejected"),                                # rounds used up
    ]                                                                  # 4: not asked yet
    todo, finished = pending_work(items, done, rounds=3)
    assert [(w.item.solution_index, w.round) for w in todo] == [(1, 1), (2, 2), (4, 0)]
    assert finished == 2
    todo, finished = pending_work(items, done, rounds=1)
    assert [(w.item.solution_index, w.round) for w in todo] == [(4, 0)] and finished == 4


def test_cost_is_per_million_tokens():
    assert cost_usd(2_000_000, 500_000, price_in=0.5, price_out=2.0) == pytest.approx(2.0)
    assert cost_usd(123, 456, 0.0, 0.0) == 0.0
