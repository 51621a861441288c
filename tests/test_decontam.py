"""Decontamination finds planted duplicates (re-worded whitespace/case/formatting, embedded in
longer text) and keeps problems that only share boilerplate."""

from __future__ import annotations

import pytest

from motcoder.datagen.decontam import decontaminate, normalise, shingles
from motcoder.problems.model import Problem, Test

BOILER = ("The first line of the input contains a single integer n. The second line contains "
          "n integers a_1, a_2, ..., a_n. Print the answer on a single line.")

EVAL = {
    "apps/1": "Vasya has a string s of length n consisting of lowercase letters. He wants to "
              "delete the minimum number of characters so that no two adjacent characters are "
              "equal. " + BOILER,
    "apps/2": "There are n towers made of cubes. In one move you may take the top cube of a "
              "tower and put it on another tower. Find the minimum possible difference between "
              "the highest and the lowest tower after at most k moves. " + BOILER,
    "apps/3": "Petya loves lucky numbers: positive integers whose decimal record contains only "
              "the digits 4 and 7. Count how many lucky numbers are not greater than $n$. "
              + BOILER,
}


def problem(pid: str, statement: str) -> Problem:
    return Problem(id=pid, source="file", statement=statement,
                   tests=[Test(kind="stdio", input="1\n", output="1\n")])


def eval_problems() -> list[Problem]:
    return [problem(pid, text) for pid, text in EVAL.items()]


def test_normalise_ignores_case_whitespace_and_formatting():
    assert normalise("Count  the $N$\n\tnumbers!") == normalise("count the n numbers")
    assert shingles("a b", 5) == frozenset({"a b"})
    assert len(shingles("one two three four five six", 5)) == 2


def test_planted_duplicates_are_removed_and_distinct_problems_kept():
    towers = EVAL["apps/2"]
    train = [
        # the same statement, re-cased and re-wrapped
        problem("cc/dup-case", EVAL["apps/1"].upper().replace(". ", ".\n\n  ")),
        # the same statement with LaTeX formatting and an extra note at the end
        problem("cc/dup-latex", towers.replace("n towers", "$n$ towers").replace(
            "k moves", "$k$ moves") + " Note: in the first example no move is needed, "
            "since all towers already have the same height and the answer is zero."),
        # distinct problems sharing the input-format boilerplate
        problem("cc/distinct-1", "Given an array, find the length of its longest strictly "
                "increasing contiguous segment. " + BOILER),
        problem("cc/distinct-2", "Alice and Bob play a game on a grid; Alice moves first. "
                "Determine who wins if both play optimally. " + BOILER),
        # shares a topic (lucky numbers) but is a different problem
        problem("cc/distinct-3", "Petya calls a number lucky if it has only digits 4 and 7. "
                "Given a ticket of n digits, decide whether the sum of the first half equals "
                "the sum of the second half."),
    ]
    report = decontaminate(train, eval_problems())
    removed = {m.train_id: m.eval_id for m in report.removed}
    assert removed == {"cc/dup-case": "apps/1", "cc/dup-latex": "apps/2"}
    assert [p.id for p in report.kept] == ["cc/distinct-1", "cc/distinct-2", "cc/distinct-3"]
    assert all(m.similarity >= report.threshold for m in report.removed)
    assert report.to_dict()["removed"] == 2


def test_threshold_decides():
    half = " ".join(EVAL["apps/3"].split()[:20]) + " and something else entirely different " \
        "about graphs and shortest paths between all pairs of cities in the kingdom"
    train = [problem("cc/partial", half)]
    assert decontaminate(train, eval_problems(), threshold=0.9).removed == []
    assert [m.train_id for m in decontaminate(train, eval_problems(), threshold=0.3).removed] \
        == ["cc/partial"]


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"threshold": 1.5}, {"ngram": 0}])
def test_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        decontaminate([], eval_problems(), **kwargs)


def test_cli_writes_the_kept_problems_and_names_the_removed(tmp_path):
    import json

    from typer.testing import CliRunner

    from motcoder.cli import app
    from motcoder.problems.registry import load_problems, write_problems

    train = [problem("cc/dup", "  " + EVAL["apps/1"].lower()),
             problem("cc/other", "Print the number of distinct values among n integers. "
                     "Integers may repeat; output a single number.")]
    write_problems(train, tmp_path / "train.jsonl")
    write_problems(eval_problems(), tmp_path / "eval.jsonl")
    result = CliRunner().invoke(app, [
        "data", "decontaminate", "--benchmark", str(tmp_path / "train.jsonl"),
        "--eval", str(tmp_path / "eval.jsonl"), "--out", str(tmp_path / "clean.jsonl"),
        "--report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert "removed cc/dup" in result.output and "1 of 2" in result.output
    assert [p.id for p in load_problems(str(tmp_path / "clean.jsonl"))] == ["cc/other"]
    assert json.loads((tmp_path / "report.json").read_text())["matches"][0]["eval_id"] == \
        "apps/1"
    missing = CliRunner().invoke(app, ["data", "decontaminate", "--benchmark", str(
        tmp_path / "nope.jsonl"), "--eval", "apps", "--out", str(tmp_path / "x.jsonl")])
    assert missing.exit_code == 2 and "nope.jsonl" in missing.output
