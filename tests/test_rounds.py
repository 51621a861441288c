"""Multi-round samples: per-round verdicts, accuracy after each round, resume by round."""

from __future__ import annotations

from motcoder.problems.samples import Sample
from motcoder.runs import RunDir
from motcoder.scoring.evaluate import EvalOptions, evaluate
from motcoder.scoring.tables import rounds_rows

WRONG = "print(0)\n"


def test_accuracy_after_each_round(sum_stdio_problem, add_call_problem, tmp_path):
    stdio, call = sum_stdio_problem, add_call_problem
    right_stdio, right_call = stdio.solutions[0], call.solutions[0]
    samples = [
        # stdio: sample 0 fixed in round 1; sample 1 right at once (stops after round 0)
        Sample(stdio.id, WRONG, 0, round=0), Sample(stdio.id, right_stdio, 0, round=1),
        Sample(stdio.id, right_stdio, 1, round=0),
        # call: sample 0 never fixed; sample 1 fixed in round 2
        Sample(call.id, "def add(a, b):\n    return 0\n", 0, round=0),
        Sample(call.id, "def add(a, b):\n    return 1\n", 0, round=1),
        Sample(call.id, "def add(a, b):\n    return 2\n", 0, round=2),
        Sample(call.id, "def add(a, b):\n    return 0\n", 1, round=0),
        Sample(call.id, "def add(a, b):\n    return a\n", 1, round=1),
        Sample(call.id, right_call, 1, round=2),
    ]
    summary = evaluate([stdio, call], samples, RunDir(tmp_path), EvalOptions())
    by_round = {r: s["groups"]["all"]["pass@k"]["1"] for r, s in summary["rounds"].items()}
    assert by_round == {"0": 0.25, "1": 0.5, "2": 0.75}
    assert summary["groups"]["all"]["pass@k"]["1"] == 0.75  # the final answers
    header, rows = rounds_rows(summary)
    assert header[0] == "after round" and [r[1] for r in rows] == ["25.00", "50.00", "75.00"]
    results = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(results) == len(samples)  # every round's attempt was judged once
