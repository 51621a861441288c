"""Shared fixtures: one real sandbox for the test session, and small hand-built problems."""

from __future__ import annotations

import pytest

from motcoder.problems.model import Problem, Test
from motcoder.sandbox.judge import Judge
from motcoder.sandbox.limits import Limits
from motcoder.sandbox.pool import Sandbox, SandboxConfig


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory):
    """Tests never read or write the user's ~/.cache/motcoder."""
    import os

    os.environ["MOTCODER_CACHE"] = str(tmp_path_factory.mktemp("motcoder-cache"))
    yield


@pytest.fixture(scope="session")
def sandbox():
    with Sandbox(SandboxConfig(workers=2)) as sb:
        yield sb


@pytest.fixture(scope="session")
def judge(sandbox):
    return Judge(sandbox, Limits(cpu_seconds=1.0, memory_mb=256, output_mb=4, wall_extra=0.5))


ADD_REFERENCE = "def add(a, b):\n    return a + b\n"
ADD_CHECK = (
    "def check(candidate):\n"
    "    assert candidate(2, 3) == 5\n"
    "    assert candidate(10, -1) == 9\n"
    "    assert candidate(123456789123456789, 1) == 123456789123456790\n"
    "check(add)\n"
)


@pytest.fixture
def add_assert_problem() -> Problem:
    """HumanEval-style: an assertion script calling the candidate."""
    return Problem(
        id="toy/add-assert", source="file", statement="Add two numbers.", entry_point="add",
        solutions=[ADD_REFERENCE], judge=["private"],
        tests=[Test(kind="assert", visibility="private", script=ADD_CHECK)],
    )


@pytest.fixture
def add_call_problem() -> Problem:
    """APPS call-based style: arguments in, expected value out."""
    return Problem(
        id="toy/add-call", source="file", statement="Add two numbers.", entry_point="add",
        solutions=[ADD_REFERENCE],
        tests=[Test(kind="call", visibility="public", args=[2, 3], expected=5),
               Test(kind="call", visibility="private", args=[10, -1], expected=9),
               Test(kind="call", visibility="private", args=[2**70, 1], expected=2**70 + 1)],
    )


@pytest.fixture
def sum_stdio_problem() -> Problem:
    """stdin/stdout style: read two integers, print their sum."""
    return Problem(
        id="toy/sum-stdio", source="file", statement="Print a+b.",
        solutions=["a, b = map(int, input().split())\nprint(a + b)\n"],
        tests=[Test(kind="stdio", visibility="public", input="2 3\n", output="5\n"),
               Test(kind="stdio", visibility="private", input="40 2\n", output="42\n"),
               Test(kind="stdio", visibility="private", input="-7 7\n", output="0\n")],
    )
