"""CodeContests: difficulty names, limits, test groups, Python 3 solutions, file formats."""

from __future__ import annotations

import pytest

from fixture_files import codecontests_rows, write_codecontests_fixture
from motcoder.problems.codecontests import (
    DIFFICULTY_NAMES,
    difficulty_name,
    load_codecontests,
    memory_limit_mb,
    problem_from_record,
    time_limit_seconds,
)
from motcoder.problems.errors import ProblemLoadError


@pytest.mark.parametrize(
    ("value", "name"),
    [(0, "UNKNOWN_DIFFICULTY"), (1, "EASY"), (2, "MEDIUM"), (3, "HARD"), (4, "HARDER"),
     (5, "HARDEST"), (6, "EXTERNAL"), (7, "A"), (8, "B"), (17, "K"), (18, "L"), (28, "V"),
     ("medium", "MEDIUM"), ("B", "B"), (None, "UNKNOWN_DIFFICULTY")],
)
def test_difficulty_name(value, name):
    assert difficulty_name(value) == name


def test_difficulty_labels_are_the_hub_class_label():
    assert len(DIFFICULTY_NAMES) == 29


@pytest.mark.parametrize("value", [29, -1, "Z", True])
def test_unknown_difficulty(value):
    with pytest.raises(ProblemLoadError, match="cc.jsonl:3: field 'difficulty'"):
        difficulty_name(value, "cc.jsonl:3")


@pytest.mark.parametrize(
    ("value", "seconds"),
    [({"seconds": 2, "nanos": 0}, 2.0), ({"seconds": 1, "nanos": 500000000}, 1.5),
     ({"seconds": 0, "nanos": 0}, None), (None, None), (3, 3.0)],
)
def test_time_limit_seconds(value, seconds):
    assert time_limit_seconds(value) == seconds


@pytest.mark.parametrize(
    ("value", "mb"),
    [(256000000, 256), (268435456, 256), (64 * 2**20, 64), (512000000, 512), (0, None),
     (None, None)],
)
def test_memory_limit_mb(value, mb):
    assert memory_limit_mb(value) == mb


@pytest.fixture(params=["jsonl", "parquet"])
def problems(request, tmp_path):
    path = write_codecontests_fixture(tmp_path / f"cc.{request.param}", fmt=request.param)
    return load_codecontests(path)


def test_fields(problems):
    first, second = problems
    assert (first.id, second.id) == ("9001_A. Digit Sum Parity", "9001_B. Ordinary Numbers")
    assert {p.source for p in problems} == {"codecontests"}
    assert (first.difficulty, second.difficulty) == ("A", "B")
    assert (first.time_limit, second.time_limit) == (1.0, 2.5)
    assert (first.memory_limit_mb, second.memory_limit_mb) == (256, 256)
    assert first.statement.startswith("You are given t integers.")
    assert first.entry_point is None
    assert first.judge == ["public", "private", "generated"]
    assert first.metadata["site"] == "CODEFORCES"
    assert first.metadata["cf_rating"] == 800
    assert first.metadata["cf_tags"] == ["implementation", "math"]


def test_test_groups_keep_their_visibility(problems):
    for problem, row in zip(problems, codecontests_rows(), strict=True):
        assert all(t.kind == "stdio" for t in problem.tests)
        for group, visibility in [("public_tests", "public"), ("private_tests", "private"),
                                  ("generated_tests", "generated")]:
            tests = problem.tests_of(visibility)
            assert [t.input for t in tests] == row[group]["input"]
            assert [t.output for t in tests] == row[group]["output"]


def test_only_python3_solutions(problems):
    rows = codecontests_rows()
    for problem, row in zip(problems, rows, strict=True):
        languages = row["solutions"]["language"]
        programs = row["solutions"]["solution"]
        assert problem.solutions == [s for lang, s in zip(languages, programs, strict=True)
                                     if lang == 3]
    assert len(problems[0].solutions) == 2
    assert not any("raw_input" in s or "#include" in s for p in problems for s in p.solutions)


def test_jsonl_and_parquet_give_the_same_problems(tmp_path):
    jsonl = load_codecontests(write_codecontests_fixture(tmp_path / "cc.jsonl"))
    parquet = load_codecontests(write_codecontests_fixture(tmp_path / "cc.parquet", "parquet"))
    assert [p.to_dict() for p in jsonl] == [p.to_dict() for p in parquet]


def test_json_array_file(tmp_path):
    import json

    path = tmp_path / "cc.json"
    path.write_text(json.dumps(codecontests_rows()), encoding="utf-8")
    assert [p.id for p in load_codecontests(path)] == ["9001_A. Digit Sum Parity",
                                                        "9001_B. Ordinary Numbers"]


def test_names_of_difficulties_and_languages_are_accepted():
    row = codecontests_rows()[0]
    row = {**row, "difficulty": "HARD", "time_limit": None,
           "solutions": {"language": ["PYTHON3", "CPP"], "solution": ["print(1)", "int main;"]}}
    problem = problem_from_record(row)
    assert problem.difficulty == "HARD" and problem.time_limit is None
    assert problem.solutions == ["print(1)"]


def test_split_label(tmp_path):
    path = write_codecontests_fixture(tmp_path / "code_contests_valid.jsonl")
    assert {p.split for p in load_codecontests(path)} == {"valid"}
    assert {p.split for p in load_codecontests(path, split="train")} == {"train"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"public_tests": {"input": ["1\n"], "output": []}}, "has 1 inputs but 0 outputs"),
        ({"public_tests": [1, 2]}, "must be {'input': \\[...\\], 'output': \\[...\\]}"),
        ({"name": ""}, "needs a text 'name'"),
        ({"time_limit": "1s"}, "'time_limit' must be"),
        ({"solutions": {"language": [9], "solution": ["x"]}}, "solutions.language"),
    ],
)
def test_bad_record_names_where(change, says):
    with pytest.raises(ProblemLoadError, match=f"cc.jsonl:2: .*{says}"):
        problem_from_record({**codecontests_rows()[0], **change}, "cc.jsonl:2")
