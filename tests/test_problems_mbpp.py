"""MBPP: original and sanitized schemas, splits by task id, one test per assert."""

from __future__ import annotations

import pytest

from fixture_files import mbpp_rows, write_mbpp_fixture
from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.mbpp import (
    EXAMPLE_HEADER,
    entry_point_of,
    load_mbpp,
    problem_from_record,
    split_of,
)


@pytest.fixture(params=[False, True], ids=["full", "sanitized"])
def problems(request, tmp_path):
    name = "sanitized-mbpp.json" if request.param else "mbpp.jsonl"
    return {p.id: p for p in load_mbpp(write_mbpp_fixture(tmp_path / name, request.param))}


@pytest.mark.parametrize(
    ("task_id", "split"),
    [(1, "prompt"), (10, "prompt"), (11, "test"), (510, "test"), (511, "validation"),
     (600, "validation"), (601, "train"), (974, "train")],
)
def test_split_of(task_id, split):
    assert split_of(task_id) == split


@pytest.mark.parametrize(
    ("test", "code", "entry_point"),
    [
        ("assert f(1) == 2", "", "f"),
        ("assert set(shared(a, b)) == set((1,))", "def shared(a, b): pass", "shared"),
        ("assert set(shared(a, b)) == set((1,))", "", "shared"),
        ("assert math.isclose(area(1), 3.14)", "", "area"),
        ("assert sorted(helper(g(1))) == [1]", "def g(x): pass\ndef helper(x): pass", "helper"),
        ("assert len([]) == 0", "", None),
        ("assert (", "", None),
    ],
)
def test_entry_point_of(test, code, entry_point):
    assert entry_point_of(test, code) == entry_point


def test_ids_splits_and_entry_points(problems):
    assert {i: (p.split, p.entry_point) for i, p in problems.items()} == {
        "Mbpp/3": ("prompt", "shared_elements"),
        "Mbpp/17": ("test", "circle_area"),
        "Mbpp/120": ("test", "reverse_words"),
        "Mbpp/530": ("validation", "count_vowels"),
        "Mbpp/700": ("train", "triangular"),
    }
    assert {p.source for p in problems.values()} == {"mbpp"}


def test_each_assert_is_a_test_first_public(problems):
    for row in mbpp_rows():
        problem = problems[f"Mbpp/{row['task_id']}"]
        assert [t.kind for t in problem.tests] == ["assert"] * len(row["test_list"])
        assert [t.script for t in problem.tests] == row["test_list"]
        assert [t.visibility for t in problem.tests] == ["public", "private", "private"]
        assert problem.judge == ["public", "private", "generated"]


def test_statement_shows_the_first_test_only(problems):
    for row in mbpp_rows():
        problem = problems[f"Mbpp/{row['task_id']}"]
        assert problem.statement.startswith(row["text"])
        assert f"{EXAMPLE_HEADER}\n{row['test_list'][0]}" in problem.statement
        for private in row["test_list"][1:]:
            assert private not in problem.statement


def test_setup_code_and_solutions(problems):
    assert problems["Mbpp/17"].setup_code == "import math"
    assert problems["Mbpp/3"].setup_code == ""
    assert problems["Mbpp/3"].solutions == [
        "def shared_elements(a, b):\n    return tuple(sorted(set(a) & set(b)))"
    ]  # CRLF of the original file normalised


def test_challenge_tests_kept_apart_in_metadata(tmp_path):
    problems = load_mbpp(write_mbpp_fixture(tmp_path / "mbpp.jsonl"))
    reverse = next(p for p in problems if p.id == "Mbpp/120")
    assert reverse.metadata["challenge_test_list"] == [
        'assert reverse_words("  spaced   out  ") == "out spaced"'
    ]
    assert all("spaced" not in t.script for t in reverse.tests)
    assert reverse.metadata["config"] == "full"


def test_sanitized_config_is_recorded(tmp_path):
    problems = load_mbpp(write_mbpp_fixture(tmp_path / "s.json", sanitized=True))
    assert {p.metadata["config"] for p in problems} == {"sanitized"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"task_id": "3"}, "integer 'task_id'"),
        ({"test_list": "assert f(1) == 1"}, "'test_list' must be a list of strings"),
        ({"code": 3}, "'code' must be text"),
    ],
)
def test_bad_record_names_where(change, says):
    record = {**mbpp_rows()[0], **change}
    with pytest.raises(ProblemLoadError, match=f"mbpp.jsonl:4: .*{says}"):
        problem_from_record(record, "mbpp.jsonl:4")
