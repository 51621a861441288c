"""`motcoder data reflect` end to end: the real embedded model (one instance for the module),
real sandbox execution, an interrupted run resumed without duplicates.

The command runs in-process. Its ``load_model`` is pointed at the module's embedded model
(loaded once with ``load_model("embedded")``) through `Shared`, which only forwards the
model's real answers, stops ``close`` from unloading the shared model, and can raise
KeyboardInterrupt at a chosen model call — Ctrl-C arriving mid-run. The tiny model gets
almost everything wrong; what must hold is the bookkeeping: samples that validate,
execution blocks holding what the sandbox really printed, verdicts that are right, counts
that add up, and a resume that neither loses nor repeats a sequence.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.reflection_execution import ALL_PASSED
from motcoder.datagen.reflection_loaders import load_reflection_seq
from motcoder.datagen.reflection_schema import parse_sample
from motcoder.problems.registry import load_problems
from motcoder.problems.samples import Sample

pytestmark = pytest.mark.e2e

MBPP_ROWS = [
    {"task_id": 601, "text": "Write a function to add two numbers.",
     "code": "def add(a, b):\n    return a + b\n",
     "test_list": ["assert add(2, 3) == 5", "assert add(-1, 1) == 0", "assert add(10, 5) == 15"]},
    {"task_id": 602, "text": "Write a function to return the largest number in a list.",
     "code": "def largest(xs):\n    return max(xs)\n",
     "test_list": ["assert largest([1, 5, 2]) == 5", "assert largest([-3, -1]) == -1",
                   "assert largest([7]) == 7"]},
    {"task_id": 603, "text": "Write a function to reverse a string.",
     "code": "def reverse(s):\n    return s[::-1]\n",
     "test_list": ["assert reverse('abc') == 'cba'", "assert reverse('') == ''",
                   "assert reverse('ab') == 'ba'"]},
]
SMALL = ["--max-rounds", "2", "--max-new-tokens", "48", "--workers", "2", "--no-progress"]


class Shared:
    """The module's real model, shared by several command runs (see the module docstring)."""

    def __init__(self, model) -> None:
        self.model = model
        self.name = model.name
        self.calls = 0
        self.interrupt_at: int | None = None

    def generate(self, requests):
        self.calls += 1
        if self.interrupt_at is not None and self.calls >= self.interrupt_at:
            raise KeyboardInterrupt
        return self.model.generate(requests)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def embedded(request):
    """The embedded model. Its converted weights are cached in pytest's own cache directory
    (not the user's ~/.cache, which the tests never touch), so only the first session pays
    for the GGUF conversion."""
    from motcoder.models.registry import load_model

    model = load_model("embedded", cache_dir=str(request.config.cache.mkdir("motcoder-gguf")))
    yield model
    model.close()


@pytest.fixture
def shared(embedded, monkeypatch):
    wrapper = Shared(embedded)
    monkeypatch.setattr("motcoder.models.registry.load_model", lambda spec, **kw: wrapper)
    return wrapper


def cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_execution_blocks(record: dict, sandbox) -> None:
    """Every code block is followed by what the sandbox prints for it (run again here)."""
    blocks = record["messages"][1]["content"]
    for i, block in enumerate(blocks):
        if block["type"] != "code":
            continue
        assert blocks[i + 1]["type"] == "execution", "a code block without its execution"
        execution = blocks[i + 1]["content"]
        raw = sandbox.run({"mode": "stdio", "code": block["content"], "stdin": ""}, cpu=4.0,
                          wall=8.0, mem_mb=1024, out_mb=64)
        stdout = raw.stdout.decode().strip()
        if stdout:
            assert stdout[:200] in execution
        stderr = raw.stderr.decode().strip()
        if raw.exit_code not in (0, None) and stderr:
            assert stderr.splitlines()[-1] in execution       # e.g. "AssertionError: ..."
        if raw.exit_code != 0 or raw.signal is not None:
            assert ALL_PASSED not in execution
        assert "Example tests:" in execution                  # each problem has a public test
    last = [b for b in blocks if b["type"] == "execution"]
    assert record["sequence_passed"] == bool(last and last[-1]["content"].endswith(ALL_PASSED))


def test_reflect_end_to_end_interrupt_and_resume(shared, tmp_path, sandbox, judge):
    data = tmp_path / "mbpp.jsonl"
    data.write_text("".join(json.dumps({**r, "test_setup_code": "",
                                        "challenge_test_list": []}) + "\n" for r in MBPP_ROWS))
    run = tmp_path / "run"
    args = ["--benchmark", "mbpp", "--data", data, "--out", run, "--keep-failed", *SMALL]

    # Ctrl-C at the 4th model call: with 2 dialogues in flight, the first two problems
    # (at most 2 code rounds + the re-answer each) are finished and stored by then.
    shared.interrupt_at = 4
    stopped = cli("data", "reflect", *args, "--batch-size", 2)
    assert stopped.exit_code == 130, stopped.output
    assert "--resume" in stopped.output
    before = lines(run / "sequences.jsonl")
    assert sorted(r["task_id"] for r in before) == ["Mbpp/601", "Mbpp/602"]
    assert not (run / "summary.json").exists()

    # not overwritten without --resume; a setting that changes the data is refused
    refused = cli("data", "reflect", *args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    changed = cli("data", "reflect", *args, "--resume", "--max-new-tokens", 49)
    assert changed.exit_code == 2 and "max_new_tokens" in changed.output

    shared.interrupt_at, shared.calls = None, 0
    resumed = cli("data", "reflect", *args, "--resume", "--batch-size", 3)
    assert resumed.exit_code == 0, resumed.output
    assert 1 <= shared.calls <= 3                    # only the third problem was asked
    records = lines(run / "sequences.jsonl")
    assert records[:2] == before                     # nothing lost or rewritten
    assert sorted(r["task_id"] for r in records) == ["Mbpp/601", "Mbpp/602", "Mbpp/603"]

    problems = {p.id: p for p in load_problems("mbpp", path=data, split="train")}
    usable = [r for r in records if r["usable"]]   # an empty final answer is never exported
    for record in records:
        if not record["usable"]:
            assert not record["final_passed"] and not record["final_code"].strip()
            continue
        sample = parse_sample(record, record["task_id"])            # the schema holds
        assert sample.type == "reflection" and 1 <= record["rounds"] <= 2
        codes = [b for b in sample.sequence if b.type == "code"]
        assert record["executions"] == len(codes)
        assert record["rounds"] == 2 or record["sequence_passed"]  # stops only on a pass
        check_execution_blocks(record, sandbox)
        assert problems[record["task_id"]].statement in sample.messages[2].content[0].content
        verdict = judge.judge(problems[record["task_id"]],
                              Sample(task_id=record["task_id"], code=record["final_code"]))
        assert verdict.passed == record["final_passed"]              # judged on all tests
        assert record["prompt_tokens"] > 0 and record["completion_tokens"] > 0

    summary = json.loads((run / "summary.json").read_text())
    passed = sum(r["final_passed"] for r in records)
    assert summary["built"] == 3 and summary["passed"] == passed
    assert summary["failed"] == 3 - passed
    assert summary["failed_kept"] == len(usable) - passed
    assert summary["failed_dropped"] == 3 - len(usable)
    assert summary["exported"] == len(usable)
    assert sum(summary["rounds_histogram"].values()) == 3
    assert summary["rounds_histogram"] == {
        str(n): sum(r["rounds"] == n for r in records)
        for n in sorted({r["rounds"] for r in records})}
    exported = load_reflection_seq(run / "reflection.jsonl")
    assert [s.to_dict() for s in exported] == [parse_sample(r).to_dict() for r in usable]
    assert "built" in resumed.output and f"{run}/reflection.jsonl" in resumed.output

    # a finished run asks nothing; --drop-failed only changes the training file
    shared.calls = 0
    dropped = cli("data", "reflect", *args[:-len(SMALL) - 1], "--drop-failed", *SMALL,
                  "--resume")
    assert dropped.exit_code == 0, dropped.output
    assert shared.calls == 0 and lines(run / "sequences.jsonl") == records
    summary = json.loads((run / "summary.json").read_text())
    assert summary["failed_dropped"] == 3 - passed and summary["exported"] == passed
    assert summary["failed_kept"] == 0
    assert len(lines(run / "reflection.jsonl")) == passed


def test_reflect_user_errors(tmp_path):
    missing = cli("data", "reflect", "--benchmark", "mbpp", "--data", tmp_path / "no.jsonl",
                  "--out", tmp_path / "run")
    assert missing.exit_code == 2 and "no such file" in missing.output
    notests = tmp_path / "problems.jsonl"
    notests.write_text(json.dumps({"id": "p1", "source": "file", "statement": "Do it.",
                                   "tests": []}) + "\n")
    empty = cli("data", "reflect", "--benchmark", notests, "--out", tmp_path / "run2",
                "--model", "openai:http://127.0.0.1:9/v1#m", "--no-progress")
    assert empty.exit_code == 2 and "tests to judge" in empty.output
