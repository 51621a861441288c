"""`motcoder train mucode` for real at toy scale: the embedded model, two toy problems, one
round — rollouts in the multi-turn environment (sandbox, public tests) → oracle on the
private tests → verifier training → scores → relabel → generator SFT (a few LoRA steps) — then
the trained generator loads with ``load_model("hf:DIR")`` and generates.

The embedded model rarely solves a toy problem, so the verifier also gets labelled reference
answers through ``verifier_extra`` (otherwise there might be no (passing, failing) pair).
"""

from __future__ import annotations

import json

import pytest
from transformers.utils import logging as hf_logging
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.relabel import Trajectory, build_rows
from motcoder.datagen.toy import TRAIN, normal_answer
from motcoder.datagen.toy import problem as toy_problem
from motcoder.problems.registry import write_problems
from motcoder.prompts import render_prompt

pytestmark = pytest.mark.e2e

# transformers binds its log handler to the sys.stderr of its first use: make that pytest's
# stream now, not the short-lived stream of one CliRunner invocation.
hf_logging.get_logger("transformers")

TOYS = TRAIN[:2]
N, T = 3, 2
CONFIG = """
model: embedded
problems: {problems}
method: {method}
rounds: 1
rollouts: {n}
turns: {t}
temperature: 0.7
max_new_tokens: 64
batch_size: 8
workers: 2
cpu_limit: 2.0
verifier_extra: [{extra}]
verifier:
  pairs_per_problem: 4
  max_length: 512
  lora: {{r: 4, alpha: 8, dropout: 0.0, target_modules: all-linear}}
  learning_rate: 1.0e-3
  max_steps: 2
  batch_size: 2
  warmup_ratio: 0.0
  scheduler: constant
  logging_steps: 1
generator:
  max_length: 1024
  lora: {{r: 4, alpha: 8, dropout: 0.0, target_modules: all-linear}}
  learning_rate: 1.0e-3
  max_steps: 2
  batch_size: 1
  warmup_ratio: 0.0
  scheduler: constant
  logging_steps: 1
"""


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def seed_candidates() -> list[dict]:
    rows = []
    for toy in TOYS:
        prompt = render_prompt(toy_problem(toy), "normal", examples=True)[-1]["content"]
        rows += [{"task_id": f"toy/{toy.id}", "prompt": prompt, "response": normal_answer(toy),
                  "passed": True},
                 {"task_id": f"toy/{toy.id}", "prompt": prompt,
                  "response": "```python\nprint('no idea')\n```", "passed": False}]
    return rows


@pytest.fixture(scope="module")
def mucode_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("mucode")
    write_problems([toy_problem(t) for t in TOYS], root / "problems.jsonl")
    extra = root / "seed.jsonl"
    extra.write_text("".join(json.dumps(r) + "\n" for r in seed_candidates()))
    (root / "mucode.yaml").write_text(CONFIG.format(problems=root / "problems.jsonl",
                                                    method="mucode", n=N, t=T, extra=extra))
    command = ["train", "mucode", "--config", root / "mucode.yaml", "--out", root / "out"]
    result = cli(*command)
    assert result.exit_code == 0, result.output
    return root, command, result.output


def test_round_files_and_rollouts(mucode_run):
    root, _, output = mucode_run
    round0 = root / "out" / "round-0"
    records = [json.loads(line) for line in (round0 / "rollouts.jsonl").read_text()
               .splitlines()]
    assert sorted(r["task_id"] for r in records) == sorted(f"toy/{t.id}" for t in TOYS)
    trajectories = [Trajectory.from_dict(t) for r in records for t in r["trajectories"]]
    assert len(trajectories) == N * len(TOYS)
    for trajectory in trajectories:
        assert 1 <= len(trajectory.turns) <= T
        assert isinstance(trajectory.passed, bool)
        assert trajectory.passed == trajectory.final.private_passed
        problem_message = trajectory.turns[0].messages[-1]["content"]
        assert trajectory.prompt == problem_message
        problem = toy_problem(next(t for t in TOYS if f"toy/{t.id}" == trajectory.task_id))
        private_input = problem.private_tests[0].input
        assert all(private_input not in json.dumps(turn.messages)
                   for turn in trajectory.turns)       # hidden tests never shown
        for earlier, later in zip(trajectory.turns, trajectory.turns[1:], strict=False):
            assert later.messages[:len(earlier.messages)] == earlier.messages
            assert later.messages[len(earlier.messages)]["content"] == earlier.response
    assert (round0 / "verifier" / "final" / "config.json").is_file()
    assert "round 0:" in output


def test_relabeled_rows_match_the_relabel_rule(mucode_run):
    root, _, _ = mucode_run
    round0 = root / "out" / "round-0"
    trajectories = [Trajectory.from_dict(t) for line in (round0 / "rollouts.jsonl")
                    .read_text().splitlines() for t in json.loads(line)["trajectories"]]
    scores = json.loads((round0 / "scores.json").read_text())
    assert len(scores) == N * len(TOYS)
    for t in trajectories:
        t.score = scores[f"{t.task_id}#{t.index}"]
    expected = [r.chat_record() for r in build_rows(trajectories, "mucode")]
    written = [json.loads(line) for line in (round0 / "sft.jsonl").read_text().splitlines()]
    assert written == expected and written   # every problem gives rows (relabel or own)
    report = json.loads((round0 / "generator" / "data_report.json").read_text())
    assert report["loss_mask"] == "completion"
    assert sum(report["dropped_overlength"].values()) == 0
    # one training row per relabeled state: earlier assistant turns are not trained
    counts = json.loads((round0 / "generator_rows.json").read_text())
    assistant_turns = sum(m["role"] == "assistant" for r in written for m in r["messages"])
    assert counts == {"rows_from_data": assistant_turns, "final_turn_rows": len(written)}


def test_trained_generator_loads_and_generates(mucode_run):
    from motcoder.models.base import GenerationRequest
    from motcoder.models.registry import load_model

    root, _, _ = mucode_run
    final = root / "out" / "round-0" / "generator" / "final"
    model = load_model(f"hf:{final}")
    try:
        messages = render_prompt(toy_problem(TOYS[0]), "normal", examples=True)
        [completion] = model.generate([GenerationRequest(messages=messages, max_new_tokens=16)])
        assert completion.outputs[0].text.strip()
    finally:
        model.close()
    from motcoder.training.verifier import load_verifier

    verifier = load_verifier(root / "out" / "round-0" / "verifier")
    assert isinstance(verifier.score("problem", "answer"), float)


def test_rerun_does_nothing(mucode_run):
    root, command, _ = mucode_run
    files = ["rollouts.jsonl", "scores.json", "sft.jsonl", "generator/loss.jsonl",
             "verifier/loss.jsonl"]
    before = {f: (root / "out" / "round-0" / f).read_text() for f in files}
    result = cli(*command)
    assert result.exit_code == 0, result.output
    assert {f: (root / "out" / "round-0" / f).read_text() for f in files} == before
    other = cli(*command, "--method", "rft")
    assert other.exit_code == 2 and "other settings" in other.output


def test_best_of_n_table_of_base_and_trained_generator(mucode_run):
    """The last step of the loop: Best-of-N evaluation (pt+lv with the trained verifier) of
    the base model and the trained generator, giving the paper's table."""
    root, _, _ = mucode_run
    round0 = root / "out" / "round-0"
    out = root / "table"
    result = cli("mucode", "table", "-m", "embedded", "-m", f"hf:{round0 / 'generator' / 'final'}",
                 "--benchmark", root / "problems.jsonl", "-N", 2, "--turns", 2,
                 "--select", "pt+lv", "--verifier", round0 / "verifier", "--max-new-tokens", 48,
                 "--out", out, "--no-progress", "--workers", 2)
    assert result.exit_code == 0, result.output
    table = json.loads((out / "table.json").read_text())
    assert list(table["cells"]) == ["embedded", f"hf:{round0 / 'generator' / 'final'}"]
    for cells in table["cells"].values():
        assert list(cells) == table["columns"] and len(cells) == 3
        assert all(0.0 <= value <= 1.0 for value in cells.values())
    text = (out / "table.md").read_text()
    assert all(f"{column} %" in text for column in table["columns"])
