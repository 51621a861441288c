"""APPS: stdin/stdout vs call-based tests, public/private selection, extras, errors."""

from __future__ import annotations

import json

import pytest

from fixture_files import apps_rows, write_apps_fixture
from motcoder.problems.apps import load_apps, problem_from_record
from motcoder.problems.errors import ProblemLoadError


@pytest.fixture
def problems(tmp_path):
    loaded = load_apps(write_apps_fixture(tmp_path / "a.jsonl"))
    return {p.metadata["problem_id"]: p for p in loaded}


def _row(**changes):
    return {**apps_rows()[0], **changes}


def test_fields(problems):
    problem = problems[4101]
    assert problem.id == "APPS/test/4101"
    assert problem.source == "apps"
    assert problem.statement.startswith("Petya wrote down")
    assert problem.difficulty == "introductory"
    assert problem.entry_point is None and not problem.is_call_based
    assert len(problem.solutions) == 2
    assert problem.judge == ["public", "private", "generated"]
    assert problem.time_limit is None and problem.memory_limit_mb is None


def test_difficulties(problems):
    assert {i: p.difficulty for i, p in problems.items()} == {
        4101: "introductory", 1202: "interview", 3303: "competition",
        2404: "interview", 4505: "introductory",
    }


@pytest.mark.parametrize(
    ("problem_id", "visibilities"),
    [
        (4101, ["public", "public", "private", "private"]),  # both examples in the text
        (1202, ["public", "private", "private"]),
        (3303, ["public", "public", "private", "private"]),
        (2404, ["public", "public", "private", "private"]),  # nums = [..] in the text
        (4505, ["public", "public", "private", "private", "private"]),  # 16 and 942
    ],
)
def test_public_tests_are_those_in_the_statement(problems, problem_id, visibilities):
    assert [t.visibility for t in problems[problem_id].tests] == visibilities


def test_first_test_public_when_no_input_appears():
    io = {"inputs": ["7 7\n", "8 8\n"], "outputs": ["14\n", "16\n"]}
    problem = problem_from_record(_row(input_output=json.dumps(io), question="Add."))
    assert [t.visibility for t in problem.tests] == ["public", "private"]


def test_short_input_is_not_found_inside_a_longer_number():
    io = {"inputs": ["5\n"], "outputs": ["1\n"]}
    row = _row(input_output=json.dumps(io), question="n is 15 here.")
    assert problem_from_record(row).tests[0].visibility == "public"  # only as the fallback
    io = {"inputs": ["5\n", "15\n"], "outputs": ["1\n", "2\n"]}
    row = _row(input_output=json.dumps(io), question="Example: 15")
    assert [t.visibility for t in problem_from_record(row).tests] == ["private", "public"]


def test_stdio_tests_and_lists_of_lines(problems):
    tests = problems[1202].tests
    assert all(t.kind == "stdio" for t in tests)
    assert (tests[0].input, tests[0].output) == ("3\naaabb\nabc\nzzzz\n", "3\n1\n4\n")
    assert (tests[2].input, tests[2].output) == ("1\naabbbbcc", "4")


def test_call_tests(problems):
    problem = problems[2404]
    assert problem.entry_point == "maxSubArray" and problem.is_call_based
    assert [t.kind for t in problem.tests] == ["call"] * 4
    assert problem.tests[0].args == [[-2, 1, -3, 4, -1, 2, 1, -5, 4]]
    assert problem.tests[0].expected == [6]
    assert problem.metadata["call_semantics"] == "apps"
    assert problem.metadata["entry_class"] == "Solution"
    assert problem.starter_code.startswith("class Solution:")
    plain = problems[4505]
    assert plain.entry_point == "digital_root"
    assert "entry_class" not in plain.metadata
    assert plain.tests[1].args == [942] and plain.tests[1].expected == [6]


@pytest.mark.parametrize("empty", ["", None, "{}"])
def test_problem_without_tests_loads(empty):
    row = _row(input_output=empty)
    if empty is None:
        del row["input_output"]
    problem = problem_from_record(row)
    assert problem.tests == []


def test_empty_solutions_field():
    assert problem_from_record(_row(solutions="")).solutions == []


@pytest.mark.parametrize("field", ["input_output", "solutions"])
def test_malformed_json_field_names_file_line_and_field(tmp_path, field):
    path = write_apps_fixture(tmp_path / "apps.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    broken = json.loads(lines[1])
    broken[field] = broken[field][:-3]
    lines[1] = json.dumps(broken)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    says = rf"apps\.jsonl:2: field '{field}' is not valid JSON"
    with pytest.raises(ProblemLoadError, match=says):
        load_apps(path)


def test_wrong_json_type_is_an_error():
    with pytest.raises(ProblemLoadError, match="'input_output' must hold a JSON dict"):
        problem_from_record(_row(input_output="[1, 2]"), "x:1")


def test_unpaired_tests_are_counted_not_loaded():
    io = {"inputs": ["1\n", "2\n", "3\n"], "outputs": ["1\n", "2\n"]}
    problem = problem_from_record(_row(input_output=json.dumps(io)))
    assert len(problem.tests) == 2
    assert problem.metadata["unpaired_tests_dropped"] == 1


def test_converter_extras_are_honoured():
    io = {"inputs": ["1\n", "2\n", "3\n"], "outputs": ["1\n", "2\n", "3\n"],
          "visibility": ["public", "private", "generated"]}
    row = _row(input_output=json.dumps(io), time_limit=2.5, memory_limit_mb=256,
               source="codecontests", name="9001_A. X", split="valid", difficulty="A")
    problem = problem_from_record(row, split="test")
    assert [t.visibility for t in problem.tests] == ["public", "private", "generated"]
    assert (problem.time_limit, problem.memory_limit_mb) == (2.5, 256)
    assert (problem.id, problem.source, problem.split) == ("9001_A. X", "codecontests", "valid")


@pytest.mark.parametrize(
    ("visibility", "says"),
    [(["public"], "for each of the 2 tests"), (["public", "hidden"], "must list one of")],
)
def test_bad_visibility_list(visibility, says):
    io = {"inputs": ["1\n", "2\n"], "outputs": ["1\n", "2\n"], "visibility": visibility}
    with pytest.raises(ProblemLoadError, match=says):
        problem_from_record(_row(input_output=json.dumps(io)), "f:1")


def test_bad_limit():
    with pytest.raises(ProblemLoadError, match="'time_limit' must be a positive number"):
        problem_from_record(_row(time_limit="2s"), "f:1")


@pytest.mark.parametrize(
    ("name", "split", "prefix"),
    [("train.jsonl", None, "APPS/train/"), ("apps.jsonl", None, "APPS/test/"),
     ("train.jsonl", "test", "APPS/test/")],
)
def test_split_label_of_a_local_file(tmp_path, name, split, prefix):
    problems = load_apps(write_apps_fixture(tmp_path / name), split=split)
    assert all(p.id.startswith(prefix) for p in problems)
    assert {p.split for p in problems} == {prefix.split("/")[1]}
