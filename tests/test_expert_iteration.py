"""Expert-iteration pieces without a model: settings, the run directory check, verifier
candidates from trajectories, and the final-turn-only row filter on real TRL-shaped rows."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from motcoder.datagen.relabel import Row, Trajectory, Turn
from motcoder.training.data import Example, to_rows
from motcoder.training.expert_iteration import (
    check_run_dir,
    final_turn_only,
    load_mucode_settings,
    verifier_candidates,
    write_rows,
)
from motcoder.training.settings import TrainingError

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "mucode"


@pytest.mark.parametrize("name", ["toy_cpu.yaml", "paper_llama8b.yaml"])
def test_shipped_configs_load(name, tmp_path):
    settings = load_mucode_settings(CONFIGS / name)
    verifier = settings.verifier_settings(tmp_path / "v", ["x.jsonl"])
    generator = settings.generator_settings(tmp_path / "g", ["x.jsonl"])
    assert verifier.model == generator.model == settings.model   # both from the base model
    assert generator.loss_mask == "completion" and generator.prompt_style == "data"
    if name == "paper_llama8b.yaml":
        assert (settings.rollouts, settings.turns, settings.rounds) == (15, 3, 2)
        assert verifier.finetune == generator.finetune == "full"
        assert verifier.deepspeed and generator.deepspeed


def test_settings_errors(tmp_path):
    config = tmp_path / "m.yaml"
    config.write_text("problems: p.jsonl\n")
    with pytest.raises(TrainingError, match="method must be one of"):
        load_mucode_settings(config, ["method=star"])
    with pytest.raises(TrainingError, match="verifier.model is set by expert iteration"):
        load_mucode_settings(config, ["verifier.model=embedded"])
    with pytest.raises(TrainingError, match="unknown setting verifier.'l3'"):
        load_mucode_settings(config, ["verifier.l3=1"])
    with pytest.raises(TrainingError, match="no training problems"):
        load_mucode_settings(None)


def test_run_dir_refuses_other_settings(tmp_path):
    config = tmp_path / "m.yaml"
    config.write_text(f"problems: p.jsonl\nout: {tmp_path / 'out'}\n")
    check_run_dir(load_mucode_settings(config))
    check_run_dir(load_mucode_settings(config, ["workers=1", "rounds=3"]))  # free to change
    with pytest.raises(TrainingError, match="other settings \\(method\\)"):
        check_run_dir(load_mucode_settings(config, ["method=rft"]))


def test_verifier_candidates_label_every_turn():
    turns = [Turn([{"role": "user", "content": "P"}], "a0", private_passed=False),
             Turn([{"role": "user", "content": "P"}, {"role": "assistant", "content": "a0"},
                   {"role": "user", "content": "fb"}], "a1", private_passed=True)]
    trajectory = Trajectory("t", 4, turns, passed=True)
    got = verifier_candidates([trajectory])
    assert [(c.prompt, c.response, c.passed, c.sample_index, c.round) for c in got] == [
        ("P", "a0", False, 4, 0), ("P", "a1", True, 4, 1)]


def test_final_turn_only_keeps_the_target_row(tmp_path):
    state = [{"role": "user", "content": "P"}, {"role": "assistant", "content": "wrong"},
             {"role": "user", "content": "fb"}]
    rows = [Row("t", state, "right", "relabeled", 0, 1, 1),
            Row("t", state[:1], "right", "relabeled", 0, 1, 0)]
    path = tmp_path / "sft.jsonl"
    write_rows(rows, path)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    trl_rows = [row for r in records for row in
                to_rows(Example(r["messages"], "normal", "x", "x"), "completion")]
    assert len(trl_rows) == 3          # TRL would also train the attempt "wrong"
    prepared = SimpleNamespace(rows=list(trl_rows), report=SimpleNamespace(rows=3))
    final_turn_only([path])(prepared)
    assert [(row["prompt"], row["completion"][0]["content"]) for row in prepared.rows] == [
        (state, "right"), (state[:1], "right")]
    assert prepared.report.rows == 2
