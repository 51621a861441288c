"""HumanEval+ and MBPP+ (EvalPlus) from local files in the hub schema: the plus test is
judged, so a program that passes the base tests but not the extra inputs fails."""

from __future__ import annotations

import json

import pytest

from motcoder.problems.model import Problem
from motcoder.problems.registry import load_problems
from motcoder.problems.samples import Sample

ASSERTION = (
    "import math\n\n"
    "def assertion(out, exp, atol):\n"
    "    if atol == 0:\n"
    "        assert out == exp, f'{out!r} != {exp!r}'\n"
    "    else:\n"
    "        assert math.isclose(out, exp, abs_tol=atol)\n\n"
)
BIG = 10**20

HUMANEVAL_PLUS = {
    "task_id": "HumanEval/0",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Add two numbers.\n    >>> add(1, 2)\n'
              '    3\n    """\n',
    "entry_point": "add",
    "canonical_solution": "    return a + b\n",
    "test": ASSERTION + "def check(candidate):\n"
            f"    inputs = [[1, 2], [0, 0], [-5, 3], [{BIG}, 1]]\n"
            f"    results = [3, 0, -2, {BIG + 1}]\n"
            "    for inp, exp in zip(inputs, results):\n"
            "        assertion(candidate(*inp), exp, 0)\n",
}

MBPP_PLUS = {
    "task_id": 11,
    "prompt": "Write a function to halve a number.",
    "code": "def halve(x):\n    return x / 2\n",
    "source_file": "fixture",
    "test_imports": [],
    "test_list": ["assert halve(4) == 2"],
    "test": ASSERTION + "inputs = [[4], [3], [-1], [0.5]]\nresults = [2.0, 1.5, -0.5, 0.25]\n"
            "for inp, exp in zip(inputs, results):\n"
            "    assertion(halve(*inp), exp, 1e-9)\n",
}

# Right on every base test, wrong on some plus input.
BASE_ONLY = {
    "humaneval-plus": "def add(a: int, b: int) -> int:\n    return a + b if a < 10**9 else 0\n",
    "mbpp-plus": "def halve(x):\n    return x // 2\n",
}


def write(path, record) -> str:
    path.write_text(json.dumps(record) + "\n")
    return str(path)


@pytest.fixture
def plus_problems(tmp_path) -> dict[str, Problem]:
    return {
        "humaneval-plus": load_problems("humaneval-plus", path=write(
            tmp_path / "HumanEvalPlus.jsonl", HUMANEVAL_PLUS))[0],
        "mbpp-plus": load_problems("mbpp-plus", path=write(
            tmp_path / "MbppPlus.jsonl", MBPP_PLUS))[0],
    }


def test_plus_records_load_with_the_plus_test_judged(plus_problems):
    he, mb = plus_problems["humaneval-plus"], plus_problems["mbpp-plus"]
    assert (he.id, he.source, he.entry_point) == ("HumanEval/0", "humaneval-plus", "add")
    assert [t.visibility for t in he.judged_tests()] == ["private"]
    assert "inputs = " in he.judged_tests()[0].script
    assert (mb.id, mb.source, mb.entry_point, mb.split) == ("Mbpp/11", "mbpp-plus", "halve",
                                                            "test")
    assert [t.visibility for t in mb.tests] == ["public", "private"]
    assert "inputs = " in mb.tests[-1].script


@pytest.mark.parametrize("name", ["humaneval-plus", "mbpp-plus"])
def test_plus_tests_catch_what_base_tests_miss(plus_problems, judge, name):
    problem = plus_problems[name]
    reference = judge.judge(problem, Sample(task_id=problem.id, code=problem.solutions[0]))
    assert reference.passed, reference
    wrong = judge.judge(problem, Sample(task_id=problem.id, code=BASE_ONLY[name]))
    assert not wrong.passed
    # ... while the same program passes the base (public / docstring) test
    public = [t for t in problem.tests if t.visibility == "public"]
    outcomes, _ = judge.run_tests(problem, BASE_ONLY[name], public)
    assert outcomes and all(o.passed for o in outcomes)


def test_mbpp_plus_file_is_detected_as_mbpp_schema(tmp_path):
    problems = load_problems(write(tmp_path / "plus.jsonl", MBPP_PLUS))
    assert problems[0].source == "mbpp-plus" and len(problems[0].tests) == 2
