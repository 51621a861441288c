"""HumanEval: the embedded 164 problems, their tests, and docstring example parsing."""

from __future__ import annotations

import ast
import gzip
import json

import pytest

from motcoder.problems.errors import ProblemLoadError
from motcoder.problems.humaneval import (
    embedded_path,
    extract_example,
    load_humaneval,
    problem_from_record,
)


@pytest.fixture(scope="module")
def problems():
    return load_humaneval()


@pytest.fixture(scope="module")
def records():
    with gzip.open(embedded_path(), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_all_164_problems_load_in_order(problems):
    assert len(problems) == 164
    assert [p.id for p in problems] == [f"HumanEval/{i}" for i in range(164)]
    assert {p.source for p in problems} == {"humaneval"}
    assert {p.split for p in problems} == {"test"}


def test_fields_follow_the_official_record(problems, records):
    for problem, record in zip(problems, records, strict=True):
        assert problem.statement == record["prompt"] == problem.starter_code
        assert problem.entry_point == record["entry_point"]
        assert problem.solutions == [record["prompt"] + record["canonical_solution"]]
        assert problem.judge == ["private"]
        (private,) = problem.private_tests
        assert private.kind == "assert"
        assert private.script == record["test"] + f"\ncheck({record['entry_point']})\n"
        assert problem.generated_tests == []


@pytest.mark.parametrize(
    ("task", "entry_point"),
    [(0, "has_close_elements"), (2, "truncate_number"), (38, "decode_cyclic"),
     (106, "f"), (163, "generate_integers")],
)
def test_entry_points(problems, task, entry_point):
    assert problems[task].entry_point == entry_point


def test_public_examples_parse_and_call_the_entry_point(problems):
    with_example = [p for p in problems if p.public_tests]
    print(f"\nHumanEval problems with a public docstring example: {len(with_example)} / 164")
    assert len(with_example) >= 120
    for problem in with_example:
        (test,) = problem.public_tests
        assert test.kind == "assert"
        node = ast.parse(test.script).body[0]
        assert isinstance(node, ast.Assert)
        compare = node.test
        assert isinstance(compare, ast.Compare) and isinstance(compare.ops[0], ast.Eq)
        call = compare.left
        assert isinstance(call, ast.Call) and call.func.id == problem.entry_point
        ast.literal_eval(compare.comparators[0])
        for arg in call.args:
            ast.literal_eval(arg)


@pytest.mark.parametrize(
    ("task", "script"),
    [
        (0, "assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False\n"),  # >>> + next line
        (10, "assert make_palindrome('') == ''\n"),
        (63, "assert fibfib(0) == 0\n"),  # f(x) == y
        (72, "assert will_it_fly([1, 2], 5) == False\n"),  # ➞
        (76, "assert is_simple_power(1, 4) == True\n"),  # => true
        (78, "assert hex_key('AB') == 1\n"),  # For num = "AB" the output should be 1.
        (86, "assert anti_shuffle('Hi') == 'Hi'\n"),  # returns
        (95, "assert check_dict_case({'a': 'apple', 'b': 'banana'}) == True\n"),  # should return
        (102, "assert choose_num(12, 15) == 14\n"),  # f(x) = y
        (120, "assert maximum([-3, -4, 5], 3) == [-4, -3, 5]\n"),  # Input: / Output:
        (122, "assert add_elements([111, 21, 3, 4000, 5, 6, 7, 8, 9], 4) == 24\n"),  # comment
        (130, "assert tri(3) == [1, 3, 2, 8]\n"),  # skips the recurrence "tri(1) = 3"
        (151, "assert double_the_difference([-1, -2, 0]) == 0\n"),  # first is not a literal
    ],
)
def test_public_example_of(problems, task, script):
    assert problems[task].public_tests[0].script == script


@pytest.mark.parametrize("task", [38, 116])  # no example; examples contradicting the solution
def test_no_public_test_when_no_usable_example(problems, task):
    assert problems[task].public_tests == []
    assert len(problems[task].tests) == 1


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ('def f(x):\n    """Twice.\n    >>> f(2)\n    4\n    """\n', ("f(2)", "4")),
        # "2 and f(2) -> 4" is no literal; the second example on the line is taken
        ('def f(x):\n    """f(1) == 2 and f(2) -> 4"""\n', ("f(2)", "4")),
        ('def f(s):\n    """f("a)b") ➞ "b"\n    """\n', ('f("a)b")', '"b"')),
        ('def f(x):\n    """f(y) == 1\n    f(3) => [3]\n    """\n', ("f(3)", "[3]")),
        ('def f(x):\n    """g(1) == 2"""\n', None),
        ('def f(x):\n    """f(1) == something"""\n', None),
        ('def f(a, b):\n    """For b = 2, a = 1 the output should be 3."""\n', ("f(1, 2)", "3")),
        ('def f(x):\n    """\n    Input: [1]\n    Output: 1\n    """\n', ("f([1])", "1")),
    ],
)
def test_extract_example_forms(prompt, expected):
    assert extract_example(prompt, "f") == expected


def test_local_jsonl_in_the_same_schema(tmp_path, records):
    path = tmp_path / "HumanEval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records[:3]), encoding="utf-8")
    assert [p.to_dict() for p in load_humaneval(path)] == [
        p.to_dict() for p in load_humaneval()[:3]
    ]


def test_record_without_a_field_is_a_clear_error(records):
    record = dict(records[0])
    del record["entry_point"]
    with pytest.raises(ProblemLoadError, match=r"he\.jsonl:7: .*'entry_point'"):
        problem_from_record(record, "he.jsonl:7")
