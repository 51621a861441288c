"""Two small judged run directories with known code and verdicts, for the analysis tests.

Nothing is executed: the verdicts are written as a judge would have written them, and
``summary.json`` is computed by the same functions evaluation uses. Each attempt in a spec
declares the number of functions its code defines (``None``: no code or unparsable), so
tests can check the analysis against the spec rather than against itself.

* ``mot`` — self-reflection, one sample, rounds 0..1;
* ``normal`` — Best-of-N, two searches (sample 0 and 1), turns 0..1.

Problems (difficulty): T/0, T/1 introductory; T/2, T/4 interview; T/3 competition.
Both runs pass T/0, T/1, T/2; only ``mot`` passes T/4; neither passes T/3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from motcoder.sandbox.verdict import PASSED, WRONG_ANSWER, TestOutcome, Verdict
from motcoder.scoring.evaluate import final_attempts
from motcoder.scoring.metrics import summarize
from motcoder.scoring.searches import search_summary

DIFFICULTY = {"T/0": "introductory", "T/1": "introductory", "T/2": "interview",
              "T/3": "competition", "T/4": "interview"}

SCRIPT = "n = int(input())\nfor i in range(n):\n    if i % 2:\n        print(i)\n"
ONE = "def solve(n):\n    return n * 2\n\n\nprint(solve(int(input())))\n"
TWO = ("def read():\n    return int(input())\n\n\ndef solve(n):\n    if n > 3:\n"
       "        return n\n    return -n\n\n\nprint(solve(read()))\n")
FOUR = ('class Solver:\n    """Solve."""\n\n    def __init__(self, n):\n        self.n = n\n\n'
        "    def run(self):\n        def helper(x):\n            return x + 1\n"
        "        return helper(self.n)\n\n\nasync def unused():\n    return None\n\n\n"
        "print(Solver(int(input())).run())\n")
SIX = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(6)) + "print(f5(1))\n"
BROKEN = "def broken(:\n    return\n"
FUNCTIONS = {SCRIPT: 0, ONE: 1, TWO: 2, FOUR: 4, SIX: 6}  # FOUR: __init__, run, helper, unused


@dataclass
class Attempt:
    """One judged attempt: its code (None: no code), verdict and per-test measurements."""

    task_id: str
    sample_index: int
    round: int
    code: str | None
    passed: bool
    cpu: list[float] = field(default_factory=lambda: [0.01])
    memory: list[float] = field(default_factory=lambda: [8.0])

    @property
    def functions(self) -> int | None:
        return FUNCTIONS.get(self.code) if self.code is not None else None

    def verdict(self) -> Verdict:
        status = PASSED if self.passed else WRONG_ANSWER
        tests = [TestOutcome(index=i, visibility="private",
                             status=PASSED if self.passed or i else WRONG_ANSWER,
                             cpu_time=c, wall_time=c, peak_memory_mb=m)
                 for i, (c, m) in enumerate(zip(self.cpu, self.memory, strict=True))]
        return Verdict(self.task_id, self.sample_index, self.passed, status, tests,
                       difficulty=DIFFICULTY[self.task_id], round=self.round)


MOT = [
    Attempt("T/0", 0, 0, ONE, False, [0.05, 0.0], [9.0, 0.0]),
    Attempt("T/0", 0, 1, TWO, True, [0.10, 0.20], [10.0, 12.0]),
    Attempt("T/1", 0, 0, FOUR, True, [0.30], [20.0]),
    Attempt("T/2", 0, 0, SCRIPT, True, [0.50, 0.25], [30.0, 31.0]),
    Attempt("T/3", 0, 0, SIX, False),
    Attempt("T/3", 0, 1, BROKEN, False),
    Attempt("T/4", 0, 0, ONE, True, [0.07], [15.0]),
]

NORMAL = [
    Attempt("T/0", 0, 0, TWO, True, [0.40, 0.60], [40.0, 44.0]),
    Attempt("T/0", 1, 0, ONE, False, [0.0, 0.0], [5.0, 5.0]),
    Attempt("T/0", 1, 1, TWO, True, [0.9, 0.9], [90.0, 90.0]),
    Attempt("T/1", 0, 0, ONE, False),
    Attempt("T/1", 0, 1, ONE, False),
    Attempt("T/1", 1, 0, ONE, True, [0.80], [25.0]),
    Attempt("T/2", 0, 0, SIX, True, [0.15, 0.15], [35.0, 50.0]),
    Attempt("T/2", 1, 0, SCRIPT, True, [0.2, 0.2], [60.0, 60.0]),
    Attempt("T/3", 0, 0, None, False),
    Attempt("T/3", 1, 0, SCRIPT, False),
    Attempt("T/4", 0, 0, SCRIPT, False),
    Attempt("T/4", 1, 0, TWO, False),
]

MOT_CONFIG = {"command": "run", "model": "hf:org/Coder-7B", "benchmark": "apps",
              "solver": "self_reflection", "style": "mot"}
NORMAL_CONFIG = {"command": "run", "model": "hf:org/Coder-7B", "benchmark": "apps",
                 "solver": "best_of_n", "style": "normal"}


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def write_run(path: Path, attempts: list[Attempt], config: dict, summary: bool = True) -> Path:
    """A run directory holding ``attempts`` as samples and verdicts."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    samples = []
    for a in attempts:
        record = {"task_id": a.task_id, "sample_index": a.sample_index, "round": a.round,
                  "completion": f"```python\n{a.code}\n```" if a.code else "no idea"}
        if a.code is not None:
            record["code"] = a.code
        samples.append(record)
    _write_jsonl(path / "samples.jsonl", samples)
    verdicts = [a.verdict() for a in attempts]
    _write_jsonl(path / "results.jsonl", [v.to_dict() for v in verdicts])
    if summary:
        difficulty = {a.task_id: DIFFICULTY[a.task_id] for a in attempts}
        result = summarize(final_attempts(verdicts), difficulty)
        rounds = sorted({v.round for v in verdicts})
        if len(rounds) > 1:
            result["rounds"] = {str(r): summarize(final_attempts(verdicts, up_to=r), difficulty)
                                for r in rounds}
        if config.get("solver") == "best_of_n":
            result["searches"] = search_summary(verdicts)
        (path / "summary.json").write_text(json.dumps(result), encoding="utf-8")
    return path


def write_fixture_runs(root: Path, summary: bool = True) -> tuple[Path, Path]:
    """``(mot run, normal run)`` under ``root``."""
    return (write_run(root / "mot", MOT, MOT_CONFIG, summary),
            write_run(root / "normal", NORMAL, NORMAL_CONFIG, summary))


def finals(attempts: list[Attempt], up_to: int | None = None) -> dict[tuple[str, int], Attempt]:
    """The last attempt (round at most ``up_to``) of every (task, sample) of a spec."""
    last: dict[tuple[str, int], Attempt] = {}
    for a in attempts:
        if up_to is not None and a.round > up_to:
            continue
        key = (a.task_id, a.sample_index)
        if key not in last or a.round > last[key].round:
            last[key] = a
    return last
