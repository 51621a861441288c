"""`motcoder data transform` → `stats` → `export` end to end, with the embedded SmolLM2 model
as the teacher behind a real `motcoder serve` on loopback, and the real sandbox.

The tiny model rejects almost everything; what must hold is the bookkeeping: every answer
stored once with its assessment, every rejection with a reason, counts that add up, only
accepted rewrites exported, and a killed run that resumes without losing or repeating
anything. To stay fast (prompt length dominates the CPU time of the model), the problems are
tiny and the teacher prompts are replaced (``--teacher-prompts``) by short instructions and
a short one-shot example; the shipped prompts and example are checked in
test_datagen_prompts.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.assess import REASONS

pytestmark = pytest.mark.e2e

SHORT_PROMPTS = {
    "teacher_system_mot.txt": "Rewrite solutions as modules.",
    "teacher_system_clean.txt": "Rewrite solutions with clear names.",
    "teacher_user_mot.txt": "{statement}\n{starter_section}\nReference:\n```python\n{reference}"
                            "\n```\n{target_note}\nAnswer with `Step 1` (function outlines "
                            "with docstrings), then `Step 2` (one final ```python program).",
    "teacher_user_clean.txt": "{statement}\n{starter_section}\nReference:\n```python\n"
                              "{reference}\n```\n{target_note}\nRewrite it with clear names "
                              "and comments, in one ```python block.",
    "example_problem.txt": "Read an integer n and print n squared.",
    "example_reference.txt": "print(int(input())**2)\n",
    "example_mot_answer.txt": (
        "Step 1\n\n```python\ndef square(n):\n    \"\"\"Return n squared. Input: an integer."
        " Output: n * n.\"\"\"\n```\n\nStep 2\n\n```python\ndef square(n):\n"
        "    \"\"\"Return n squared.\"\"\"\n    return n * n\n\n\nprint(square(int(input())))\n"
        "```\n"),
    "example_clean_answer.txt": "```python\nnumber = int(input())  # the value to square\n"
                                "print(number * number)\n```\n",
    "example_tests.json": json.dumps([{"input": "3\n", "output": "9\n"}]),
}


def apps_row(pid: int, question: str, solutions: list[str], inputs: list, outputs: list,
             fn_name: str | None = None, starter: str = "") -> dict:
    io = {"inputs": inputs, "outputs": outputs, **({"fn_name": fn_name} if fn_name else {})}
    return {"problem_id": pid, "question": question, "solutions": json.dumps(solutions),
            "input_output": json.dumps(io), "difficulty": "introductory", "url": "",
            "starter_code": starter}


ROWS = [
    apps_row(1, "Read two integers and print their sum.",
             ["a, b = map(int, input().split())\nprint(a + b)\n",
              "print(sum(map(int, input().split())))\n"],
             ["1 2\n", "5 7\n"], ["3\n", "12\n"]),
    apps_row(2, "Read a word and print it reversed.", ["print(input()[::-1])\n"],
             ["abc\n", "x\n"], ["cba\n", "x\n"]),
    apps_row(3, "Return twice x.", ["def double(x):\n    return 2 * x\n"],
             [[1], [5]], [[2], [10]], fn_name="double", starter="def double(x):\n    "),
    apps_row(4, "A problem nobody solved.", [], ["1\n"], ["1\n"]),
]
ITEMS = 3   # reference solutions of the rows above, with --max-solutions 1
SMALL = ["--max-solutions", "1", "--max-new-tokens", "32", "--no-progress", "--workers", "2"]


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def teacher():
    from motcoder.models.registry import load_model
    from motcoder.models.serve import ServerThread

    model = load_model("embedded")
    with ServerThread(model, batch_window=0.01) as server:
        yield f"openai:{server.base_url}"
    model.close()


@pytest.fixture
def inputs(tmp_path) -> tuple[Path, Path]:
    data = tmp_path / "train_problems.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    prompts = tmp_path / "teacher_prompts"
    prompts.mkdir()
    for name, text in SHORT_PROMPTS.items():
        (prompts / name).write_text(text)
    return data, prompts


def check_run(run: Path, rounds: int) -> list[dict]:
    """The invariants of a finished run; returns its rewrites."""
    rows = records(run / "rewrites.jsonl")
    keys = [(r["task_id"], r["solution_index"], r["round"]) for r in rows]
    assert len(keys) == len(set(keys)), "a rewrite was stored twice"
    by_ref: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        by_ref.setdefault((r["task_id"], r["solution_index"]), []).append(r)
    assert len(by_ref) == ITEMS
    for answers in by_ref.values():
        answers.sort(key=lambda r: r["round"])
        assert [a["round"] for a in answers] == list(range(len(answers)))
        assert all(a["status"] == "rejected" for a in answers[:-1])   # retried only if rejected
        assert answers[-1]["status"] == "accepted" or len(answers) == rounds
    for r in rows:
        assert r["status"] in ("accepted", "rejected")
        assert r["answer"] and r["completion_tokens"] > 0 and r["prompt_tokens"] > 0
        if r["status"] == "rejected":
            assert r["reason"] in REASONS and r["message"]
            if r["reason"] == "tests_failed":
                assert r["failed_test"]["status"] != "passed"
        else:
            assert r["reason"] == "" and r["tests_passed"] == r["tests_total"] > 0
        if r["round"] > 0:
            assert r["temperature"] == 0.8
    summary = json.loads((run / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["pre_filter"] == len(rows)
    assert counts["pre_filter"] == counts["post_filter"] + sum(counts["rejected"].values())
    assert counts["post_filter"] == sum(r["status"] == "accepted" for r in rows)
    assert summary["items"] == summary["items_finished"] == ITEMS
    assert summary["skipped_problems"]["no_solutions"] == ["APPS/train/4"]
    assert summary["tokens"]["prompt"] == sum(r["prompt_tokens"] for r in rows)
    return rows


def test_transform_kill_resume_stats_and_export(teacher, inputs, tmp_path):
    data, prompts = inputs
    run = tmp_path / "mot"
    args = ["--model", teacher, "--benchmark", "apps", "--data", data, "--split", "train",
            "--style", "mot", "--rounds", 2, "--teacher-prompts", prompts,
            "--price-in", 1000, "--price-out", 2000, *SMALL]

    # kill a run midway (after its first stored rewrite) ...
    command = [str(Path(sys.executable).with_name("motcoder")), "data", "transform", "--out",
               str(run), "--concurrency", "1", *map(str, args)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    stored = run / "rewrites.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if stored.exists() and stored.read_text().count("\n") >= 1:
            break
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()!r}")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = records(stored)
    assert len(before) >= 1 and not (run / "summary.json").exists()

    # ... it is not overwritten without --resume, and --resume completes it
    refused = cli("data", "transform", "--out", run, *args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    changed = cli("data", "transform", "--out", run, "--resume", *args, "--max-new-tokens", 33)
    assert changed.exit_code == 2 and "max_new_tokens" in changed.output
    resumed = cli("data", "transform", "--out", run, "--resume", "--concurrency", 4, *args)
    assert resumed.exit_code == 0, resumed.output
    rows = check_run(run, rounds=2)
    assert rows[:len(before)] == before                      # nothing lost or rewritten
    summary = json.loads((run / "summary.json").read_text())
    tokens = summary["tokens"]
    assert summary["cost_usd"] == pytest.approx(
        (tokens["prompt"] * 1000 + tokens["completion"] * 2000) / 1e6)
    assert "pre-filter" in resumed.output and "estimated cost" in resumed.output
    assert cli("data", "transform", "--out", run, "--resume", *args).exit_code == 0
    assert records(stored) == rows                            # a finished run asks nothing

    # a clean-style run of the same problems; stats over both runs
    clean = tmp_path / "clean"
    result = cli("data", "transform", "--out", clean, "--model", teacher, "--data", data,
                 "--split", "train", "--style", "clean", "--concurrency", 4,
                 "--teacher-prompts", prompts, *SMALL)
    assert result.exit_code == 0, result.output
    clean_rows = check_run(clean, rounds=1)
    stats = json.loads(cli("data", "stats", run, clean, "--json").output)
    groups = {g["style"]: g for g in stats["groups"]}
    assert groups["mot"]["pre_filter"] == len(rows)
    assert groups["clean"]["pre_filter"] == len(clean_rows) == ITEMS
    for group in (*groups.values(), stats["total"]):
        assert group["pre_filter"] == group["post_filter"] + sum(group["rejected"].values())

    # export: only accepted rewrites; the reference export is loadable training data
    out = tmp_path / "mot_chat.jsonl"
    exported = cli("data", "export", run, clean, "--out", out)
    assert exported.exit_code == 0, exported.output
    accepted = [r for r in rows + clean_rows if r["status"] == "accepted"]
    lines = records(out)
    assert len(lines) == len(accepted)
    assert sorted(line["task_id"] for line in lines) == sorted(r["task_id"] for r in accepted)
    import datasets

    if lines:
        assert datasets.load_dataset("json", data_files=str(out),
                                     split="train").num_rows == len(lines)
    refs = tmp_path / "normal_chat.jsonl"
    assert cli("data", "export", "--from-references", "--data", data, "--split", "train",
               "--max-solutions", 1, "--out", refs).exit_code == 0
    loaded = datasets.load_dataset("json", data_files=str(refs), split="train")
    assert loaded.num_rows == ITEMS and set(loaded["style"]) == {"normal"}


def test_bad_inputs_are_one_clear_message(inputs, tmp_path):
    data, _ = inputs
    base = ["--out", tmp_path / "run", "--model", "openai:http://127.0.0.1:9/v1#none",
            "--max-retries", 0, *SMALL]
    result = cli("data", "transform", *base, "--data", tmp_path / "missing.jsonl")
    assert result.exit_code == 2 and "missing.jsonl" in result.output
    unsolved = tmp_path / "unsolved.jsonl"
    unsolved.write_text(json.dumps(ROWS[-1]) + "\n")
    result = cli("data", "transform", *base, "--benchmark", unsolved)
    assert result.exit_code == 2
    assert "unsolved.jsonl" in result.output and "'solutions'" in result.output
    result = cli("data", "transform", *base, "--benchmark", data)
    assert result.exit_code == 2
    assert "cannot reach" in result.output and "127.0.0.1:9" in result.output
    result = cli("data", "transform", *base, "--benchmark", data, "--style", "fancy")
    assert result.exit_code == 2 and "--style" in result.output
