"""CodeContests → APPS conversion keeps every test, its visibility, and the limits."""

from __future__ import annotations

import json

import pytest

from fixture_files import write_codecontests_fixture
from motcoder.problems.apps import load_apps
from motcoder.problems.codecontests import load_codecontests
from motcoder.problems.convert import convert_codecontests, problem_to_apps_record
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.model import Problem
from motcoder.problems.model import Test as CaseTest
from motcoder.problems.records import read_jsonl


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip_through_the_apps_loader(tmp_path, fmt):
    source = write_codecontests_fixture(tmp_path / f"cc_test.{fmt}", fmt=fmt)
    converted = tmp_path / "apps_format.jsonl"
    counts = convert_codecontests(source, converted)
    assert counts == {"problems": 2, "public": 2, "private": 4, "generated": 5,
                      "solutions": 3, "without_tests": 0}

    original = load_codecontests(source)
    again = load_apps(converted)
    assert len(again) == len(original) == 2
    for before, after in zip(original, again, strict=True):
        assert [t.to_dict() for t in after.tests] == [t.to_dict() for t in before.tests]
        for field in ("id", "source", "statement", "difficulty", "split", "time_limit",
                      "memory_limit_mb", "solutions", "judge", "entry_point"):
            assert getattr(after, field) == getattr(before, field), field


def test_converted_records_are_apps_schema(tmp_path):
    source = write_codecontests_fixture(tmp_path / "cc.jsonl")
    convert_codecontests(source, tmp_path / "out.jsonl")
    (_, record), _ = list(read_jsonl(tmp_path / "out.jsonl"))
    assert record["problem_id"] == 0
    assert record["name"] == "9001_A. Digit Sum Parity"
    assert record["difficulty"] == "A"
    assert (record["time_limit"], record["memory_limit_mb"]) == (1.0, 256)
    io = json.loads(record["input_output"])
    assert len(io["inputs"]) == len(io["outputs"]) == len(io["visibility"]) == 6
    assert "fn_name" not in io
    assert len(json.loads(record["solutions"])) == 2


def test_problem_without_tests_converts_to_empty_input_output():
    record = problem_to_apps_record(Problem(id="x", source="codecontests", statement="s"), 3)
    assert record["input_output"] == ""


def test_call_problems_are_refused():
    problem = Problem(id="x", source="apps", statement="s", entry_point="f",
                      tests=[CaseTest(kind="call", args=[1], expected=1)])
    with pytest.raises(ProblemLoadError, match="only stdin/stdout problems"):
        problem_to_apps_record(problem, 0)
