"""Programs run in the sandbox as they would run on their own.

The harness compiles each program once and the child runs the marshalled code; the
arguments of calls arrive already decoded. None of that may change what a program sees.
"""

from __future__ import annotations

from motcoder.problems.model import Problem, Test
from motcoder.problems.samples import Sample
from motcoder.sandbox.pool import precompile
from motcoder.sandbox.verdict import PASSED, RUNTIME_ERROR

ANNOTATED = (
    "def f(x: int) -> int:\n"
    "    return x\n"
)


def judged(judge, problem: Problem, code: str):
    return judge.judge(problem, Sample(problem.id, code))


def test_annotations_are_evaluated_as_in_plain_python(judge) -> None:
    """No ``from __future__`` flag of the harness leaks into the program: its annotations
    are objects, not strings (stdin/stdout and function calls alike)."""
    stdio = Problem(id="toy/annotations-stdio", source="file", statement="",
                    tests=[Test(kind="stdio", input="", output="True\n")])
    verdict = judged(judge, stdio, ANNOTATED + "print(f.__annotations__['x'] is int)\n")
    assert verdict.status == PASSED, verdict
    call = Problem(id="toy/annotations-call", source="file", statement="", entry_point="g",
                   tests=[Test(kind="call", args=[], expected="int")])
    verdict = judged(judge, call, ANNOTATED + "def g():\n    return type(f.__annotations__['x'])"
                                              ".__name__ == 'type' and 'int'\n")
    assert verdict.status == PASSED, verdict


def test_a_program_that_does_not_compile_is_a_runtime_error_naming_the_syntax_error(
        judge) -> None:
    broken = "def add(a, b)\n    return a + b\n"
    assert precompile(broken) is None
    assert precompile("def add(a, b):\n    return a + b\n") is not None
    for problem in (
        Problem(id="toy/syntax-stdio", source="file", statement="",
                tests=[Test(kind="stdio", input="", output="")]),
        Problem(id="toy/syntax-call", source="file", statement="", entry_point="add",
                tests=[Test(kind="call", args=[1, 2], expected=3)]),
    ):
        verdict = judged(judge, problem, broken)
        assert verdict.status == RUNTIME_ERROR, verdict
        assert "SyntaxError" in verdict.tests[0].message, verdict


def test_each_recorded_call_gets_its_own_arguments(judge) -> None:
    """A check calls the candidate twice with equal lists; a candidate that appends to its
    argument must see a fresh list each time, as it would under the check itself."""
    reference = "def grow(xs):\n    xs.append(0)\n    return len(xs)\n"
    check = ("def check(candidate):\n"
             "    assert candidate([1]) == 2\n"
             "    assert candidate([1]) == 2\n"
             "check(grow)\n")
    problem = Problem(id="toy/grow", source="file", statement="", entry_point="grow",
                      solutions=[reference],
                      tests=[Test(kind="assert", visibility="private", script=check)])
    assert judged(judge, problem, reference).status == PASSED
    keeps = "_seen = []\ndef grow(xs):\n    _seen.append(xs)\n    _seen[0].append(0)\n" \
            "    return len(xs)\n"
    assert not judged(judge, problem, keeps).passed  # aliasing on its own side still counts
