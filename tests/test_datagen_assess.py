"""Assessment rules on fixed answers: each rule accepts a good case and rejects a bad one
with its reason; the tests rule runs the programs in the real sandbox."""

from __future__ import annotations

import pytest

from motcoder.datagen.assess import (
    ACCEPTED,
    REASONS,
    REJECTED,
    Assessor,
    check_clean,
    check_structure,
)
from motcoder.problems.model import Problem, Test

OUTLINE = '''\
```python
def read_pair(text):
    """Parse the input.

    Input: the text of standard input, two integers.
    Output: the two integers as a tuple.
    """


def add(a, b):
    """Return a + b. Inputs: two integers. Output: their sum."""
```
'''

FINAL = '''\
```python
import sys


def read_pair(text):
    """Parse the two integers of the input."""
    first, second = text.split()
    return int(first), int(second)


def add(a, b):
    """Return the sum of a and b."""
    return a + b


print(add(*read_pair(sys.stdin.read())))
```
'''

GOOD = f"## Step 1: outline the modules\n\n{OUTLINE}\n## Step 2: build the program\n\n{FINAL}"


def mot(step1: str = OUTLINE, step2: str = FINAL) -> str:
    return f"Step 1\n\n{step1}\nStep 2\n\n{step2}"


@pytest.fixture
def sum_problem() -> Problem:
    return Problem(
        id="toy/sum", source="apps", statement="Print a+b.",
        solutions=["a, b = map(int, input().split())\nprint(a + b)\n"],
        tests=[Test("stdio", "public", "2 3\n", "5\n"),
               Test("stdio", "private", "40 2\n", "42\n"),
               Test("stdio", "private", "-7 7\n", "0\n")])


# ----------------------------------------------------------------------------- rules 1-4


def test_a_well_formed_mot_answer_passes_the_structure_rules():
    check = check_structure(GOOD, "mot")
    assert check.ok and "print(add(" in check.program


@pytest.mark.parametrize(("answer", "reason"), [
    # rule 1: the two-step protocol
    (FINAL, "protocol"),
    (f"Step 2\n\n{FINAL}\nStep 1\n\n{OUTLINE}", "protocol"),   # steps out of order
    (f"Step 1\n\n{OUTLINE}", "protocol"),                        # no step 2
    # rule 2: step 1 outlines sub-modules and nothing else
    (mot(step1="We read the input and add the numbers.\n"), "no_submodule"),
    (mot(step1="```python\ndef add(a, b):\n    pass\n```\n"), "no_submodule"),  # no docstring
    (mot(step1=OUTLINE.replace('Output: their sum."""', 'Output: their sum."""\n    '
                               'return a + b')), "code_outside_outlines"),
    (mot(step1=OUTLINE + "```python\nprint('hello')\n```\n"), "code_outside_outlines"),
    # rule 3: exactly one final program
    (mot(step2="Now combine the modules as described.\n"), "no_final_program"),
    (mot(step2=FINAL + "\nor, shorter:\n\n```python\nprint(sum(map(int, input().split())))"
                       "\n```\n"), "several_final_programs"),
    # rule 4: the final program parses
    (mot(step2="```python\ndef add(a, b)\n    return a + b\n```\n"), "syntax"),
])
def test_each_structure_rule_rejects_with_its_reason(answer, reason):
    check = check_structure(answer, "mot")
    assert not check.ok
    assert check.reason == reason
    assert reason in REASONS


def test_clean_rule_wants_exactly_one_parseable_block():
    one = "Here it is:\n\n```python\nfirst, second = map(int, input().split())\n" \
          "print(first + second)  # the sum\n```\n"
    assert check_clean(one).ok
    assert check_clean("```\nprint(1)\n```").ok   # a block without a language counts
    assert check_clean("print(1)").reason == "no_program"
    assert check_clean("```python\nprint(1)\n").reason == "no_program"   # cut off
    assert check_clean(one + "\n```python\nprint(2)\n```").reason == "several_programs"
    assert check_clean("```python\nprint(1\n```").reason == "syntax"
    assert check_clean("```python\nprint(1)\n```\n```text\n3\n```").ok  # output, not code
    with pytest.raises(ValueError, match="style"):
        check_structure(one, "normal")


# ----------------------------------------------------------------------------- rule 5 (sandbox)


def test_a_correct_mot_rewrite_is_accepted_after_running_every_test(judge, sum_problem):
    assessment = Assessor(judge).assess(sum_problem, GOOD, "mot")
    assert assessment.status == ACCEPTED, assessment.message
    assert assessment.reason == "" and assessment.failed_test is None
    assert assessment.tests_passed == assessment.tests_total == 3


def test_a_rewrite_that_looks_right_but_fails_a_test_is_rejected(judge, sum_problem):
    """Well-formed, parses, passes the public example — and is wrong on a hidden test."""
    looks_right = GOOD.replace("return a + b", "return abs(a) + abs(b)")
    assert check_structure(looks_right, "mot").ok
    assessment = Assessor(judge).assess(sum_problem, looks_right, "mot")
    assert assessment.status == REJECTED
    assert assessment.reason == "tests_failed"
    assert assessment.failed_test["index"] == 2
    assert assessment.failed_test["visibility"] == "private"
    assert assessment.failed_test["status"] == "wrong_answer"
    assert "test 2 (private): wrong answer" in assessment.message
    assert assessment.tests_passed == 2 and assessment.tests_total == 3


def test_a_crashing_clean_rewrite_is_rejected_with_the_error(judge, sum_problem):
    crashing = "```python\nfirst, second = input().split()\nprint(first + second + 1)\n```"
    assessment = Assessor(judge).assess(sum_problem, crashing, "clean")
    assert assessment.reason == "tests_failed"
    assert assessment.failed_test["index"] == 0
    assert assessment.failed_test["status"] == "runtime_error"
    assert "TypeError" in assessment.failed_test["message"]


def test_structure_failures_never_reach_the_sandbox(judge, sum_problem):
    assessment = Assessor(judge).assess(sum_problem, FINAL, "mot")
    assert assessment.reason == "protocol" and assessment.tests_total == 0
    assert assessment.message == REASONS["protocol"]


def test_call_based_rewrites_are_judged_by_their_return_values(judge, add_call_problem):
    good = "```python\ndef add(a, b):\n    # the sum of the two arguments\n    return a + b\n```"
    assert Assessor(judge).assess(add_call_problem, good, "clean").accepted
    printing = "```python\ndef add(a, b):\n    print(a + b)\n```"
    bad = Assessor(judge).assess(add_call_problem, printing, "clean")
    assert bad.reason == "tests_failed" and bad.failed_test["status"] == "wrong_answer"
    renamed = "```python\ndef plus(a, b):\n    return a + b\n```"
    assert Assessor(judge).assess(add_call_problem, renamed, "clean").reason == "tests_failed"
