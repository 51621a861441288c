"""Tests of pass@k, the run summary (metrics) and its tables, on hand-built verdicts."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from rich.console import Console

from motcoder.sandbox.verdict import (
    HARNESS_ERROR,
    NO_CODE,
    NOT_RUN,
    PASSED,
    RUNTIME_ERROR,
    TIMEOUT,
    TRUST_IN_CHILD,
    WRONG_ANSWER,
    Verdict,
)
from motcoder.sandbox.verdict import TestOutcome as Outcome  # not "Test*": pytest would collect it
from motcoder.scoring.metrics import MetricsError, score_problems, summarize
from motcoder.scoring.passk import mean_pass_at_k, pass_at_k, standard_ks
from motcoder.scoring.tables import format_percent, summary_markdown, summary_table

# ---------------------------------------------------------------------------------------------
# pass@k


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


CASES_BY_N = {
    **{n: [(c, k) for c in range(n + 1) for k in range(1, n + 1)] for n in range(1, 31)},
    **{
        n: [(c, k) for c in sorted({0, 1, 2, 3, n // 10, n // 3, n // 2, n - 2, n - 1, n})
            for k in sorted({1, 2, 5, 10, 20, 50, 100, n}) if k <= n]
        for n in (50, 100, 200, 1000)
    },
}


@pytest.mark.parametrize("n", list(CASES_BY_N))
def test_pass_at_k_matches_combinatorial_formula(n: int) -> None:
    wrong = []
    for c, k in CASES_BY_N[n]:
        expected = float(exact_pass_at_k(n, c, k))
        got = pass_at_k(n, c, k)
        if not math.isclose(got, expected, rel_tol=1e-12, abs_tol=1e-13):
            wrong.append((n, c, k, got, expected))
    assert not wrong
    assert len(CASES_BY_N[n]) >= min(n, 10)


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (1, 0, 1, 0.0),
        (1, 1, 1, 1.0),
        (10, 1, 1, 0.1),
        (10, 0, 10, 0.0),
        (10, 1, 10, 1.0),
        (4, 2, 2, 5 / 6),
        (5, 2, 2, 0.7),
        (200, 1, 1, 0.005),
        (3, 1, 2, 2 / 3),
    ],
)
def test_pass_at_k_known_values(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, rel=1e-15, abs=0)


@pytest.mark.parametrize(
    ("n", "c", "k", "error", "match"),
    [
        (3, 1, 5, ValueError, r"k=5 is larger than the n=3 samples"),
        (3, 4, 1, ValueError, r"c=4 correct samples out of n=3"),
        (3, -1, 1, ValueError, r"c=-1"),
        (3, 1, 0, ValueError, r"k=0"),
        (0, 0, 1, ValueError, r"n=0"),
        (3.0, 1, 1, TypeError, r"n must be an int"),
        (3, True, 1, TypeError, r"c must be an int"),
    ],
)
def test_pass_at_k_errors(n, c, k, error, match) -> None:
    with pytest.raises(error, match=match):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_uses_each_problems_own_n() -> None:
    assert mean_pass_at_k([(3, 1), (2, 2)], 2) == pytest.approx((2 / 3 + 1) / 2, rel=1e-15)
    with pytest.raises(ValueError, match="no problems"):
        mean_pass_at_k([], 1)


@pytest.mark.parametrize(
    ("n", "ks"),
    [
        (1, [1]),
        (2, [1, 2]),
        (3, [1, 2, 3]),
        (5, [1, 2, 5]),
        (7, [1, 2, 5, 7]),
        (10, [1, 2, 5, 10]),
        (15, [1, 2, 5, 10, 15]),
        (100, [1, 2, 5, 10, 20, 50, 100]),
        (150, [1, 2, 5, 10, 20, 50, 100, 150]),
        (1000, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]),
    ],
)
def test_standard_ks(n: int, ks: list[int]) -> None:
    assert standard_ks(n) == ks


# ---------------------------------------------------------------------------------------------
# Hand-built verdicts

CODES = {
    "P": PASSED, "W": WRONG_ANSWER, "R": RUNTIME_ERROR, "T": TIMEOUT, "N": NOT_RUN,
    "H": HARNESS_ERROR,
}


def V(task: str, index: int, tests: str, difficulty: str | None = None,
      status: str | None = None, trust: str = "parent") -> Verdict:
    """A verdict whose tests have the statuses spelled by ``tests`` ("PWN" ...)."""
    outcomes = [Outcome(index=i, visibility="private", status=CODES[ch])
                for i, ch in enumerate(tests)]
    passed = bool(outcomes) and all(o.passed for o in outcomes)
    if status is None:
        status = PASSED if passed else next(o.status for o in outcomes if not o.passed)
    return Verdict(task_id=task, sample_index=index, passed=passed, status=status,
                   tests=outcomes, trust=trust, difficulty=difficulty)


def problem(task: str, *samples: str, difficulty: str | None = None) -> list[Verdict]:
    return [V(task, i, tests, difficulty) for i, tests in enumerate(samples)]


UNEVEN = problem("A", "PW", "PP", "WW") + problem("B", "PP", "PP")

GROUPED = (
    problem("J1", "PP", "PW", difficulty="interview")
    + problem("I1", "P", "W", difficulty="introductory")
    + problem("X1", "P", "P")
    + problem("I2", "W", "W", difficulty="introductory")
)

SUMMARY_CASES = {
    # A: n=3, c=1, sample 0 fails; B: n=2, c=2. n = min = 2.
    "uneven n": (UNEVEN, {
        "all": {"problems": 2, "samples": 5, "passed_samples": 3,
                "pass@k": {"1": (1 / 3 + 1) / 2, "2": (2 / 3 + 1) / 2},
                "strict_accuracy": 0.5, "test_pass_rate": ((0.5 + 1 + 0) / 3 + 1) / 2},
    }),
    "per difficulty, None only in all": (GROUPED, {
        "introductory": {"problems": 2, "samples": 4, "passed_samples": 1,
                         "pass@k": {"1": 0.25, "2": 0.5},
                         "strict_accuracy": 0.5, "test_pass_rate": 0.25},
        "interview": {"problems": 1, "samples": 2, "passed_samples": 1,
                      "pass@k": {"1": 0.5, "2": 1.0},
                      "strict_accuracy": 1.0, "test_pass_rate": 0.75},
        "all": {"problems": 4, "samples": 8, "passed_samples": 4,
                "pass@k": {"1": 0.5, "2": 0.75},
                "strict_accuracy": 0.75, "test_pass_rate": (0.5 + 0 + 0.75 + 1) / 4},
    }),
    "n=5 gives k 1, 2, 5": (problem("A", "W", "P", "W", "P", "W"), {
        "all": {"problems": 1, "samples": 5, "passed_samples": 2,
                "pass@k": {"1": 0.4, "2": 0.7, "5": 1.0},
                "strict_accuracy": 0.0, "test_pass_rate": 0.4},
    }),
    "strict accuracy uses the lowest sample_index, not file order": (
        [V("A", 1, "P"), V("A", 0, "W"), V("B", 3, "P"), V("B", 2, "P")], {
            "all": {"problems": 2, "samples": 4, "passed_samples": 3,
                    "pass@k": {"1": 0.75, "2": 1.0},
                    "strict_accuracy": 0.5, "test_pass_rate": 0.75},
        }),
    "no-code and harness-error samples count as failures": (
        [V("A", 0, "PP"), V("A", 1, "", status=NO_CODE),
         V("B", 0, "", status=HARNESS_ERROR), V("B", 1, "PH")], {
            "all": {"problems": 2, "samples": 4, "passed_samples": 1,
                    "pass@k": {"1": 0.25, "2": 0.5},
                    "strict_accuracy": 0.5, "test_pass_rate": (0.5 + 0.25) / 2,
                    "harness_errors": 2},
        }),
}


@pytest.mark.parametrize("case", list(SUMMARY_CASES))
def test_summary_numbers(case: str) -> None:
    verdicts, expected = SUMMARY_CASES[case]
    summary = summarize(verdicts)
    assert list(summary["groups"]) == list(expected)
    for name, want in expected.items():
        got = summary["groups"][name]
        for key, value in want.items():
            if key == "pass@k":
                assert list(got[key]) == list(value)
                for k, v in value.items():
                    assert got[key][k] == pytest.approx(v, rel=1e-12), (name, key, k)
            elif isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), (name, key)
            else:
                assert got[key] == value, (name, key)


def test_summary_metadata_and_json() -> None:
    summary = summarize(UNEVEN)
    assert summary["ks"] == [1, 2]
    assert summary["samples_per_problem"] == {"min": 2, "max": 3}
    assert any("between 2 and 3 samples" in note for note in summary["notes"])
    assert json.loads(json.dumps(summary)) == summary
    assert summary["groups"]["all"]["statuses"] == {"passed": 3, "wrong_answer": 2}
    assert set(summary["definitions"]) == {"pass@k", "strict_accuracy", "test_pass_rate"}


def test_summary_accepts_verdict_records() -> None:
    assert summarize([v.to_dict() for v in GROUPED]) == summarize(GROUPED)
    assert summarize(json.loads(json.dumps([v.to_dict() for v in GROUPED]))) == summarize(GROUPED)


def test_difficulties_mapping_overrides_verdicts() -> None:
    summary = summarize(UNEVEN, difficulties={"A": "competition", "B": "introductory"})
    assert list(summary["groups"]) == ["introductory", "competition", "all"]
    assert summary["groups"]["competition"]["pass@k"]["1"] == pytest.approx(1 / 3)


def test_unknown_difficulties_sorted_naturally_after_known_ones() -> None:
    verdicts = [V("a", 0, "P", "10"), V("b", 0, "P", "9"), V("c", 0, "P", "easy"),
                V("d", 0, "W", "hard")]
    assert list(summarize(verdicts)["groups"]) == ["easy", "hard", "9", "10", "all"]


def test_not_run_makes_test_pass_rate_none_with_note() -> None:
    verdicts = problem("A", "PWN", "PPP", difficulty="interview") + problem("B", "PPP", "PPP")
    summary = summarize(verdicts)
    for group in summary["groups"].values():
        assert group["test_pass_rate"] is None
    assert summary["groups"]["all"]["pass@k"]["1"] == pytest.approx(0.75)
    assert summary["groups"]["all"]["strict_accuracy"] == 0.5
    assert any("not_run" in n and "evaluate with all tests" in n for n in summary["notes"])


def test_in_child_verdicts_counted_and_noted() -> None:
    verdicts = [V("A", 0, "P", trust=TRUST_IN_CHILD), V("A", 1, "W")]
    summary = summarize(verdicts)
    assert summary["groups"]["all"]["in_child_verdicts"] == 1
    assert any("untrusted process" in n for n in summary["notes"])


@pytest.mark.parametrize(
    ("verdicts", "kwargs", "match"),
    [
        # A problem with zero judged tests is an error, whether its samples "pass" or not.
        ([Verdict("EMPTY", 0, passed=False, status=WRONG_ANSWER, tests=[])], {},
         r"'EMPTY' has no judged tests"),
        ([Verdict("EMPTY", 0, passed=True, status=PASSED, tests=[]), V("B", 0, "P")], {},
         r"'EMPTY' has no judged tests"),
        # A passed verdict that did not pass all of its tests.
        ([Verdict("A", 0, passed=True, status=PASSED,
                  tests=[Outcome(0, "private", PASSED), Outcome(1, "private", NOT_RUN)])],
         {}, r"'A' sample 0: the verdict says passed but 1 of 2"),
        ([V("A", 0, "P"), V("A", 0, "W")], {}, r"'A' has two verdicts for sample_index 0"),
        ([V("A", 0, "PP"), V("A", 1, "PPP")], {}, r"different numbers of judged tests \(2, 3\)"),
        ([], {}, r"no verdicts"),
        ([V("A", 0, "P")], {"difficulties": {"A": None, "B": None}}, r"have no verdicts.*'B'"),
        ([V("A", 0, "P"), V("C", 0, "P")], {"difficulties": {"A": None}},
         r"not among the problems.*'C'"),
        ([V("A", 0, "P", "easy"), V("A", 1, "P", "hard")], {}, r"disagree on its difficulty"),
        ([V("A", 0, "P", "all")], {}, r"reserved"),
        ([V("A", 0, "P"), V("A", 1, "P")], {"ks": [1, 5]}, r"pass@5 was asked for.*only 2"),
    ],
)
def test_summary_errors(verdicts, kwargs, match) -> None:
    with pytest.raises(MetricsError, match=match):
        summarize(verdicts, **kwargs)


def test_explicit_ks() -> None:
    summary = summarize(problem("A", "W", "P", "W", "P", "W"), ks=[3, 1])
    assert summary["ks"] == [1, 3]
    assert summary["groups"]["all"]["pass@k"]["3"] == pytest.approx(float(exact_pass_at_k(5, 2, 3)))


def test_score_problems() -> None:
    scores = {s.task_id: s for s in score_problems(UNEVEN)}
    assert (scores["A"].n, scores["A"].c, scores["A"].first_passed) == (3, 1, False)
    assert (scores["B"].n, scores["B"].c, scores["B"].judged_tests) == (2, 2, 2)


# ---------------------------------------------------------------------------------------------
# Tables


@pytest.mark.parametrize(
    ("value", "text"), [(0.34671, "34.67"), (1.0, "100.00"), (0.0, "0.00"), (2 / 3, "66.67"),
                        (None, "n/a")],
)
def test_format_percent(value, text) -> None:
    assert format_percent(value) == text


def test_markdown_table_exact() -> None:
    assert summary_markdown(summarize(UNEVEN), title="APPS") == (
        "### APPS\n"
        "\n"
        "| difficulty | problems | samples | pass@1 % | pass@2 % | strict acc % "
        "| test pass rate % |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| all | 2 | 5 | 66.67 | 83.33 | 50.00 | 75.00 |\n"
        "\n"
        "* problems have between 2 and 3 samples; pass@k is reported up to k = 2 and each "
        "problem's estimate uses all of its samples\n"
    )


def test_markdown_not_run_shows_na() -> None:
    text = summary_markdown(summarize(problem("A", "PWN", "PPP")))
    assert "| all | 1 | 2 | 50.00 | 100.00 | 0.00 | n/a |" in text
    assert "not_run" in text


def test_rich_table_rows() -> None:
    console = Console(record=True, width=200, color_system=None)
    console.print(summary_table(summarize(GROUPED), title="APPS"))
    lines = console.export_text().splitlines()

    def row(name: str) -> list[str]:
        [line] = [ln for ln in lines if ln.strip("│ ").startswith(name + " ")]
        return [cell.strip() for cell in line.strip("│").split("│")]

    assert row("introductory") == ["introductory", "2", "4", "25.00", "50.00", "50.00", "25.00"]
    assert row("interview") == ["interview", "1", "2", "50.00", "100.00", "100.00", "75.00"]
    assert row("all") == ["all", "4", "8", "50.00", "75.00", "75.00", "56.25"]
    names = [ln.strip("│ ").split(" ")[0] for ln in lines]
    assert names.index("introductory") < names.index("interview") < names.index("all")
    header = next(ln for ln in lines if "difficulty" in ln)
    for column in ("problems", "samples", "pass@1 %", "pass@2 %", "strict acc %",
                   "test pass rate %"):
        assert column in header


def test_comparison_table_lines_up_runs_by_difficulty() -> None:
    from motcoder.scoring.tables import comparison_markdown, comparison_rows

    base = {"ks": [1], "groups": {"introductory": {"pass@k": {1: 0.5}},
                                  "interview": {"pass@k": {1: 0.25}}, "all": {"pass@k": {1: 0.4}}}}
    # read back from JSON: string keys; and a difficulty the base run does not have
    tuned = {"ks": [1], "groups": {"introductory": {"pass@k": {"1": 0.75}},
                                   "competition": {"pass@k": {"1": 0.1}},
                                   "all": {"pass@k": {"1": 0.5}}}}
    header, rows = comparison_rows({"base": base, "mot-ft": tuned})
    assert header == ["model", "introductory", "interview", "competition", "all"]
    assert rows == [["base", "50.00", "25.00", "n/a", "40.00"],
                    ["mot-ft", "75.00", "n/a", "10.00", "50.00"]]
    text = comparison_markdown({"base": base}, title="t")
    assert text.startswith("### t\n\n| model | introductory | interview | all |")
