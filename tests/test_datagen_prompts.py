"""The teacher's one-shot chat, and the one-shot example itself: it must be a correct MoT
answer (and clean rewrite) whose final program passes the example's tests in the real
sandbox."""

from __future__ import annotations

import ast
import json

import pytest

from motcoder.datagen.assess import Assessor, check_structure
from motcoder.datagen.teacher_prompts import (
    example_answer,
    example_problem,
    load_teacher_prompts,
    teacher_messages,
)
from motcoder.problems.model import Problem, Test
from motcoder.problems.samples import Sample
from motcoder.prompts.mot_format import check_mot
from motcoder.prompts.templates import TemplateError


def test_one_shot_mot_example_parses_follows_mot_and_passes_its_tests(judge):
    problem = example_problem()
    check = check_mot(example_answer("mot"))
    assert check.ok, check.message
    ast.parse(check.final)
    outline = ast.parse(check.outline)
    assert len([n for n in outline.body if isinstance(n, ast.FunctionDef)]) >= 2
    # every outlined sub-module is implemented and used by the final program
    final = ast.parse(check.final)
    defined = {n.name for n in final.body if isinstance(n, ast.FunctionDef)}
    outlined = {n.name for n in outline.body if isinstance(n, ast.FunctionDef)}
    assert outlined <= defined
    called = {n.func.id for n in ast.walk(final)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert outlined <= called
    assert len(problem.tests) >= 3
    verdict = judge.judge(problem, Sample(problem.id, check.final))
    assert verdict.passed, verdict.reason
    assert verdict.passed_tests == len(problem.tests)


@pytest.mark.parametrize("style", ["mot", "clean"])
def test_one_shot_examples_are_accepted_by_the_assessment(judge, style):
    problem = example_problem()
    assessment = Assessor(judge).assess(problem, example_answer(style), style)
    assert assessment.accepted, assessment.message
    assert assessment.tests_passed == assessment.tests_total == len(problem.tests)


def test_example_reference_passes_its_tests_and_a_wrong_program_does_not(judge):
    """The example tests can fail: they tell a correct program from a near miss."""
    problem = example_problem()
    assert judge.judge(problem, Sample(problem.id, problem.solutions[0])).passed
    unsorted = problem.solutions[0].replace("sorted(d.items())", "d.items()")
    assert not judge.judge(problem, Sample(problem.id, unsorted)).passed


def test_teacher_chat_is_one_shot_with_the_reference_last():
    problem = Problem(id="p/1", source="apps", statement="Print the sum of two integers.",
                      tests=[Test("stdio", "public", "1 2\n", "3\n")],
                      solutions=["a,b=map(int,input().split());print(a+b)"])
    messages = teacher_messages(problem, problem.solutions[0], "mot")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2]["content"] == example_answer("mot")
    assert "BORROW" in messages[1]["content"]            # the example's problem
    last = messages[3]["content"]
    assert "Print the sum of two integers." in last
    assert "```python\na,b=map(int,input().split());print(a+b)\n```" in last
    assert "Step 1" in last and "Step 2" in last
    assert "standard input" in last
    clean = teacher_messages(problem, problem.solutions[0], "clean")
    assert clean[2]["content"] == example_answer("clean")
    assert "Step 1" not in clean[3]["content"]
    with pytest.raises(ValueError, match="style"):
        teacher_messages(problem, problem.solutions[0], "normal")


def test_call_based_problems_name_the_function_and_class_to_keep():
    problem = Problem(id="p/2", source="apps", statement="Return the largest sum.",
                      entry_point="maxSubArray",
                      starter_code="class Solution:\n    def maxSubArray(self, nums: List[int])"
                                   " -> int:\n        ",
                      tests=[Test("call", "public", args=[[1]], expected=1)],
                      solutions=["class Solution:\n    def maxSubArray(self, nums):\n"
                                 "        return max(nums)\n"])
    last = teacher_messages(problem, problem.solutions[0], "mot")[-1]["content"]
    assert "`maxSubArray`" in last and "class `Solution`" in last
    assert "maxSubArray(self, nums: List[int]) -> int" in last
    assert "class Solution:" in last  # the starter code is shown


def test_override_directory_replaces_files_and_checks_placeholders(tmp_path):
    (tmp_path / "teacher_system_mot.txt").write_text("Be brief.")
    prompts = load_teacher_prompts(tmp_path)
    assert prompts.templates.render("teacher_system_mot") == "Be brief."
    assert prompts.digest() != load_teacher_prompts().digest()
    (tmp_path / "teacher_user_mot.txt").write_text("Rewrite {reference} for {nonsense}.")
    with pytest.raises(TemplateError, match="nonsense"):
        load_teacher_prompts(tmp_path)
    (tmp_path / "teacher_user_mot.txt").unlink()
    (tmp_path / "example_tests.json").write_text(json.dumps({"input": "1"}))
    with pytest.raises(TemplateError, match="example_tests.json"):
        load_teacher_prompts(tmp_path)
    with pytest.raises(TemplateError, match="not found"):
        load_teacher_prompts(tmp_path / "missing")


def test_structure_of_examples_is_what_the_styles_expect():
    assert check_structure(example_answer("mot"), "mot").ok
    assert check_structure(example_answer("clean"), "clean").ok
    # the MoT answer holds two python blocks, so it is not a clean rewrite
    assert check_structure(example_answer("mot"), "clean").reason == "several_programs"
