"""``motcoder evaluate`` against programs that attack the evaluation itself, run for real.

* Text UTF-8 cannot encode: a program whose error message holds a lone surrogate (on a
  function-call test and on an assertion test, or printed to stderr) is judged, its verdict
  written, read back, resumed and reported — the run never dies on it.
* ``PYTHONOPTIMIZE=1`` in the harness's environment: the assertion scripts replayed in the
  harness keep their asserts, so a program returning a constant still fails HumanEval.
* Verdicts judged inside the untrusted process (an MBPP test passing a lambda, which cannot
  be recorded) can be forged by the program: by default they are recorded as they are but
  not counted as passes, and counted in the summary, the printed table and report.md;
  ``--trust-in-child`` counts them and is kept on ``--resume``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from evaluate_helpers import (
    completion,
    evaluate,
    motcoder_command,
    outcome,
    run_cli,
    summary,
    verdicts,
    write_jsonl,
)
from fixture_files import mbpp_rows, write_apps_fixture
from motcoder.problems.registry import load_problems

WORKERS = ("--workers", "2")


@pytest.fixture(scope="module")
def humaneval():
    return {p.id: p for p in load_problems("humaneval")}


# --- text UTF-8 cannot encode ----------------------------------------------------------------

# Each program makes the lone surrogate itself (the samples file holds only ASCII escapes).
RAISE_SURROGATE = "    raise ValueError('\\ud800')\n"
STDERR_SURROGATE = ("    import sys\n    print('\\udcff', file=sys.stderr)\n"
                    "    raise ValueError('bad \\udcff')\n")


def _surrogate_humaneval(tmp_path: Path, humaneval) -> tuple[Path, tuple[str, ...]]:
    """Assertion tests: two programs with a surrogate in their error text, one correct."""
    return write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "HumanEval/0", "completion": RAISE_SURROGATE},
        {"task_id": "HumanEval/1", "completion": STDERR_SURROGATE},
        {"task_id": "HumanEval/2", "completion": completion(humaneval["HumanEval/2"])},
    ]), ()


def _surrogate_apps_call(tmp_path: Path, humaneval) -> tuple[Path, tuple[str, ...]]:
    """Function-call tests (APPS call-based): a raising program and a correct one."""
    data = write_apps_fixture(tmp_path / "apps.jsonl")
    return write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "APPS/test/4505", "sample_index": 0,
         "code": "def digital_root(n):\n    raise ValueError('\\ud800')\n"},
        {"task_id": "APPS/test/4505", "sample_index": 1,
         "code": "def digital_root(n):\n    return 0 if n == 0 else 1 + (n - 1) % 9\n"},
    ]), ("--benchmark", "apps", "--data", data, "--ids", "APPS/test/4505")


@pytest.mark.parametrize("make", [_surrogate_humaneval, _surrogate_apps_call],
                         ids=["assertion", "function-call"])
def test_lone_surrogates_in_messages_are_written_resumed_and_reported(tmp_path: Path,
                                                                      humaneval, make) -> None:
    samples, options = make(tmp_path, humaneval)
    out = tmp_path / "run"
    evaluate(samples, out, *options, *WORKERS)

    results = out / "results.jsonl"
    results.read_bytes().decode("utf-8")  # valid UTF-8, strictly
    found = verdicts(out)
    assert sum(r["passed"] for r in found.values()) == 1
    messages = [t["message"] for r in found.values() for t in r["tests"]]
    assert any("\ud800" in m or "\udcff" in m for m in messages), messages  # read back as is

    # A run killed before its last verdicts were written resumes and ends the same.
    lines = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(b"".join(lines[:1]))
    before = summary(out)
    evaluate(samples, out, *options, *WORKERS, "--resume")
    assert {k: outcome(r) for k, r in verdicts(out).items()} == {
        k: outcome(r) for k, r in found.items()}
    assert summary(out)["groups"] == before["groups"]  # (the isolation layers may differ)

    report = run_cli("report", out)
    assert report.exit_code == 0, report.output
    for name in ("report.md", "report.html"):  # the message, shown escaped
        assert "ValueError: \\ud800" in (out / name).read_text(encoding="utf-8"), name


# --- the harness's optimize level --------------------------------------------------------------

def test_checks_keep_their_asserts_when_the_harness_runs_with_pythonoptimize(
        tmp_path: Path, humaneval) -> None:
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "HumanEval/0", "completion": "    return 42\n"},
        {"task_id": "HumanEval/2", "completion": completion(humaneval["HumanEval/2"])},
    ])
    out = tmp_path / "run"
    done = subprocess.run(
        [*motcoder_command(), "evaluate", "--samples", str(samples), "--out", str(out),
         "--no-progress", *WORKERS], env={**os.environ, "PYTHONOPTIMIZE": "1"},
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    found = verdicts(out)
    assert not found[("HumanEval/0", 0)]["passed"], found[("HumanEval/0", 0)]
    assert found[("HumanEval/0", 0)]["status"] == "wrong_answer"
    assert found[("HumanEval/2", 0)]["passed"]
    assert summary(out)["groups"]["all"]["passed_samples"] == 1


# --- verdicts judged inside the untrusted process ------------------------------------------------

# An MBPP-style problem whose tests pass a lambda: its calls cannot be recorded, so the
# script runs inside the child (trust "in-child").
APPLY_TWICE = {
    "task_id": 250, "text": "Write a function that applies f to x twice.",
    "code": "def apply_twice(f, x):\n    return f(f(x))",
    "test_setup_code": "", "challenge_test_list": [],
    "test_list": ["assert apply_twice(lambda v: v + 1, 0) == 2",
                  "assert apply_twice(lambda v: v * 3, 1) == 9",
                  "assert apply_twice(str.upper, 'a') == 'A'"],
}
# Writes the runner's "passed" line itself and exits before the check runs.
FORGER = "import os\nos.write(3, b'[\"passed\"]\\n')\nos._exit(0)\n"
IN_CHILD, RECORDED = "Mbpp/250", "Mbpp/17"


def _in_child_samples(tmp_path: Path) -> tuple[Path, Path]:
    """The MBPP fixture plus `APPLY_TWICE`; a forger, a right and a wrong program for it
    and for a problem whose calls are recorded (judged in the harness)."""
    data = write_jsonl(tmp_path / "mbpp.jsonl", [*mbpp_rows(), APPLY_TWICE])
    right = {IN_CHILD: APPLY_TWICE["code"] + "\n",
             RECORDED: "import math\ndef circle_area(r):\n    return math.pi * r * r\n"}
    wrong = {IN_CHILD: "def apply_twice(f, x):\n    return f(x)\n",
             RECORDED: "def circle_area(r):\n    return 3.14 * r * r\n"}
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": task, "code": code, "sample_index": i}
        for task in (IN_CHILD, RECORDED)
        for i, code in enumerate([FORGER, right[task], wrong[task]])])
    return data, samples


def _table_row(output: str, name: str, start: str) -> list[str]:
    """The cells of the row ``name`` of a table drawn with ``start`` as its border."""
    line = next(line for line in output.splitlines()
                if line.startswith(f"{start} {name} "))
    return [cell.strip() for cell in line.strip(start).split(start)]


def test_in_child_verdicts_count_as_passes_only_when_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the whole table on one line per row
    data, samples = _in_child_samples(tmp_path)
    options = ("--benchmark", "mbpp", "--data", data, *WORKERS)
    out, trusted = tmp_path / "default", tmp_path / "trusted"

    printed = evaluate(samples, out, *options).stdout
    found = verdicts(out)
    # The records say what happened in the child: the forger and the right program passed.
    assert [(found[(IN_CHILD, i)]["passed"], found[(IN_CHILD, i)]["trust"])
            for i in range(3)] == [(True, "in-child"), (True, "in-child"), (False, "in-child")]
    assert [(found[(RECORDED, i)]["passed"], found[(RECORDED, i)]["trust"])
            for i in range(3)] == [(False, "parent"), (True, "parent"), (False, "parent")]
    everything = summary(out)["groups"]["all"]
    assert everything["passed_samples"] == 1  # the recorded problem's right program only
    assert everything["pass@k"]["1"] == pytest.approx((0 / 3 + 1 / 3) / 2)
    assert (everything["in_child_verdicts"], everything["in_child_passed"]) == (3, 2)
    assert summary(out)["trust_in_child"] is False
    assert "in-child" in printed and "passed in child" in printed
    assert _table_row(printed, "all", "│")[-2:] == ["3", "2"]
    assert "2 passed there but count as failures" in " ".join(printed.split())

    assert run_cli("report", out).exit_code == 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| in-child | passed in child |" in report
    assert _table_row(report, "all", "|")[-2:] == ["3", "2"]

    evaluate(samples, trusted, *options, "--trust-in-child")
    assert {k: outcome(r) for k, r in verdicts(trusted).items()} == {
        k: outcome(r) for k, r in found.items()}
    counted = summary(trusted)["groups"]["all"]
    assert summary(trusted)["trust_in_child"] is True
    assert (counted["passed_samples"], counted["in_child_verdicts"],
            counted["in_child_passed"]) == (3, 3, 2)
    assert counted["pass@k"]["1"] == pytest.approx((2 / 3 + 1 / 3) / 2)

    # The setting is part of the run: a resume keeps it, and cannot drop it.
    config = json.loads((trusted / "config.json").read_text(encoding="utf-8"))
    assert config["options"]["trust_in_child"] is True
    refused = run_cli("evaluate", "--samples", samples, "--out", trusted, "--no-progress",
                      *options, "--resume")
    assert refused.exit_code == 2 and "trust_in_child" in refused.stderr, refused.output
    before = summary(trusted)
    evaluate(samples, trusted, *options, "--trust-in-child", "--resume")
    assert (summary(trusted)["trust_in_child"], summary(trusted)["groups"]) == (
        True, before["groups"])
