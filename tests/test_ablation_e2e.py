"""`motcoder experiment mot-ablation` end to end at toy scale: the embedded model, real LoRA
training of both arms on the CPU, real generation and sandbox judging of all three models,
and the Table 2 shape out. Then a resume that redoes nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.toy import write_toy_set
from motcoder.prompts.mot_format import check_mot

pytestmark = pytest.mark.e2e

CONFIG = """
model: embedded
normal_data: [{normal}]
mot_data: [{mot}]
train:
  finetune: lora
  lora: {{r: 16, alpha: 32, dropout: 0.0}}
  learning_rate: 1.0e-3
  max_steps: 8
  warmup_ratio: 0.0
  scheduler: constant
  max_length: 1024
  logging_steps: 1
  save_steps: 4
eval:
  benchmark: {problems}
  max_new_tokens: 160
  ks: [1]
"""


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_mot_ablation_trains_two_arms_and_compares_three_models(tmp_path):
    paths = write_toy_set(tmp_path / "toy")
    config = tmp_path / "ablation.yaml"
    config.write_text(CONFIG.format(normal=paths["normal"], mot=paths["mot"],
                                    problems=paths["eval_problems"]))
    out = tmp_path / "exp"
    command = ("experiment", "mot-ablation", "--config", config, "--out", out,
               "--no-progress", "--workers", 2)
    result = cli(*command)
    assert result.exit_code == 0, result.output

    # the comparison: one row per model, pass@1 per difficulty and over all problems
    table = (out / "ablation.md").read_text()
    assert "| model | introductory | interview | all |" in table
    for arm in ("base", "normal-ft", "mot-ft"):
        assert f"| {arm} |" in table and arm in result.output
    saved = json.loads((out / "ablation.json").read_text())
    assert saved["models"]["mot-ft"] == f"hf:{out / 'mot-ft' / 'final'}"
    for arm, summary in saved["summaries"].items():
        assert summary["groups"]["all"]["problems"] == 6, arm

    # both arms really trained (loss logged), and each model answered in its own style
    for arm in ("normal-ft", "mot-ft"):
        assert len(records(out / arm / "loss.jsonl")) >= 8
    follows = {arm: sum(check_mot(s["completion"]).ok for s in records(
        out / f"eval-{arm}" / "samples.jsonl")) for arm in ("base", "normal-ft", "mot-ft")}
    assert follows["mot-ft"] > follows["base"], follows
    assert follows["mot-ft"] > follows["normal-ft"], follows

    # the same directory again: refused without --resume; with it nothing is redone
    assert cli(*command).exit_code == 2
    before = {arm: (out / arm / "loss.jsonl").read_text() for arm in ("normal-ft", "mot-ft")}
    samples_before = (out / "eval-mot-ft" / "samples.jsonl").read_text()
    again = cli(*command, "--resume")
    assert again.exit_code == 0, again.output
    assert {arm: (out / arm / "loss.jsonl").read_text() for arm in before} == before
    assert (out / "eval-mot-ft" / "samples.jsonl").read_text() == samples_before
    assert (out / "ablation.md").read_text() == table


def test_bad_config_names_the_setting(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("model: embedded\nnormal_data: [a.jsonl]\nmot_data: [b.jsonl]\n"
                      "eval: {benchmark: apps, temprature: 0.2}\n")
    result = cli("experiment", "mot-ablation", "--config", config, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "temprature" in result.output
    config.write_text("model: embedded\nmot_data: [b.jsonl]\n")
    result = cli("experiment", "mot-ablation", "--config", config, "--out", tmp_path / "x")
    assert result.exit_code == 2 and "normal_data" in result.output
