"""`motcoder train verifier` for real: LoRA on the embedded SmolLM2-135M-Instruct, on the CPU,
then `load_verifier` and `motcoder score` on the candidates.

Candidates are the toy problems' reference answers (passing) and two kinds of wrong answers
(failing); the run goes through the command line; checks: the Bradley–Terry loss falls, the
final directory is a one-score classifier with a pad token distinct from ``<|im_end|>``,
passing answers score above failing ones on average, ``motcoder score`` writes one record
per candidate, and running the same command again does nothing.
"""

from __future__ import annotations

import json

import pytest
from transformers.utils import logging as hf_logging
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.toy import TRAIN, normal_answer
from motcoder.datagen.toy import problem as toy_problem
from motcoder.prompts import render_prompt
from motcoder.training.checkpoints import read_loss_log

pytestmark = pytest.mark.e2e

# transformers binds its log handler to the sys.stderr of its first use: make that pytest's
# stream now, not the short-lived stream of one CliRunner invocation.
hf_logging.get_logger("transformers")

STEPS = 12
TOYS = TRAIN[:6]
CONFIG = f"""
model: embedded
loss: bt
l2: 0.01
pairs_per_problem: 2
max_length: 384
finetune: lora
lora: {{r: 8, alpha: 16, dropout: 0.0, target_modules: all-linear}}
learning_rate: 1.0e-3
max_steps: {STEPS}
batch_size: 2
warmup_ratio: 0.0
scheduler: constant
logging_steps: 1
save_steps: 100
seed: 0
"""


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def candidates() -> list[dict]:
    rows = []
    for i, toy in enumerate(TOYS):
        prompt = render_prompt(toy_problem(toy), "normal")[-1]["content"]
        other = TOYS[(i + 1) % len(TOYS)]
        rows += [
            {"task_id": toy.id, "prompt": prompt, "response": normal_answer(toy),
             "passed": True},
            {"task_id": toy.id, "prompt": prompt, "response": "I am not sure how to do this.",
             "passed": False},
            {"task_id": toy.id, "prompt": prompt, "response": normal_answer(other),
             "passed": False},
        ]
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("verifier")
    (root / "v.yaml").write_text(CONFIG)
    data = root / "cands.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in candidates()))
    command = ["train", "verifier", "--config", root / "v.yaml", "--data", data,
               "--out", root / "out"]
    result = cli(*command)
    assert result.exit_code == 0, result.output
    return root, command


def pair_loss(scores: list[float], rows: list[dict]) -> float:
    """The BT loss (no L2) over every (passing, failing) pair of a problem."""
    import torch

    from motcoder.training.verifier import bradley_terry_loss

    good, bad = [], []
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if a["task_id"] == b["task_id"] and a["passed"] and not b["passed"]:
                good.append(scores[i])
                bad.append(scores[j])
    return bradley_terry_loss(torch.tensor(good), torch.tensor(bad)).item()


def test_training_lowers_the_loss_and_load_verifier_scores(trained):
    from transformers import AutoTokenizer, set_seed

    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.verifier import (
        Verifier,
        end_of_turn_ids,
        ensure_pad_token,
        load_scoring_model,
        load_verifier,
    )

    root, _ = trained
    assert len([r for r in read_loss_log(root / "out") if "loss" in r]) == STEPS
    report = json.loads((root / "out" / "data_report.json").read_text())
    assert report["rows"] == 2 * len(TOYS) and report["dropped_too_long"] == 0
    rows = candidates()
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    # the model training started from: the base + the score head initialised with seed 0
    base = resolve_base_model("embedded")
    tokenizer = AutoTokenizer.from_pretrained(base)
    ensure_pad_token(tokenizer)
    set_seed(0)
    start = Verifier(load_scoring_model(base, tokenizer).eval(), tokenizer)
    before = pair_loss(start.score(prompts, responses), rows)
    verifier = load_verifier(root / "out")
    assert verifier.model.config.num_labels == 1
    assert verifier.tokenizer.pad_token_id not in end_of_turn_ids(verifier.tokenizer)
    scores = verifier.score(prompts, responses)
    after = pair_loss(scores, rows)
    assert after < before - 0.2, (before, after)
    good = [s for s, r in zip(scores, rows, strict=True) if r["passed"]]
    bad = [s for s, r in zip(scores, rows, strict=True) if not r["passed"]]
    assert sum(good) / len(good) > sum(bad) / len(bad)
    assert verifier.score(rows[0]["prompt"], rows[0]["response"]) == \
        pytest.approx(scores[0], abs=1e-4)


def test_score_command_and_rerun(trained):
    root, command = trained
    result = cli("score", "--verifier", root / "out", "--candidates", root / "cands.jsonl",
                 "--out", root / "scores.jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (root / "scores.jsonl").read_text().splitlines()]
    assert len(records) == 3 * len(TOYS)
    assert {"task_id", "score", "passed"} <= set(records[0])
    before = (root / "out" / "loss.jsonl").read_text()
    again = cli(*command)
    assert again.exit_code == 0, again.output
    assert (root / "out" / "loss.jsonl").read_text() == before
