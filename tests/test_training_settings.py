"""`SFTSettings` from config files and overrides: values, types and errors that name the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.training.settings import (
    DataSource,
    TrainingError,
    apply_overrides,
    load_settings,
    parse_source,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(tmp_path: Path, text: str, name: str = "sft.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_config_with_nested_lora_and_data(tmp_path):
    config = write(tmp_path, """
model: hf:/some/dir
data:
  - path: a.jsonl
    weight: 2
  - b.jsonl:0.5
  - hf:JingyaoLi/MoTCode-Data
mot_ratio: "3:1"
learning_rate: 2e-6        # PyYAML reads this as a string; it must become a float
epochs: 1
lora: {r: 8, alpha: 16, target_modules: [q_proj, v_proj]}
layout: two-step
""")
    s = load_settings(config)
    assert s.model == "hf:/some/dir" and s.layout == "two-step"
    assert s.learning_rate == pytest.approx(2e-6) and isinstance(s.learning_rate, float)
    assert isinstance(s.epochs, float)
    assert s.data == [DataSource("a.jsonl", 2.0), DataSource("b.jsonl", 0.5),
                      DataSource("hf:JingyaoLi/MoTCode-Data", 1.0)]
    assert s.data[2].is_hub and not s.data[0].is_hub
    assert s.lora.r == 8 and s.lora.alpha == 16 and s.lora.target_modules == ["q_proj", "v_proj"]
    assert s.mot_ratio == "3:1"


def test_json_config_and_keyword_fields_win(tmp_path):
    config = write(tmp_path, json.dumps({"data": ["x.jsonl"], "batch_size": 4}), "sft.json")
    s = load_settings(config, ["batch_size=8"], out="elsewhere")
    assert s.batch_size == 8 and s.out == "elsewhere"


@pytest.mark.parametrize("text, key", [
    ("data: [a.jsonl]\nlearning_rat: 1e-4\n", "learning_rat"),
    ("data: [a.jsonl]\nlora: {rank: 4}\n", "lora.'rank'"),
    ("data: [{path: a.jsonl, wieght: 2}]\n", "data[0].'wieght'"),
])
def test_unknown_keys_in_the_file_are_named(tmp_path, text, key):
    with pytest.raises(TrainingError, match="unknown setting") as err:
        load_settings(write(tmp_path, text))
    assert key.replace("'", "") in str(err.value).replace("'", "")


@pytest.mark.parametrize("override, needle", [
    ("learning_rat=1", "unknown setting 'learning_rat'"),
    ("lora.rank=4", "unknown setting 'lora.rank'"),
    ("data.path=x", "only lora.* settings are nested"),
    ("no_equals_sign", "KEY=VALUE"),
])
def test_bad_overrides_are_named(override, needle):
    with pytest.raises(TrainingError) as err:
        load_settings(None, ["data=a.jsonl", override])
    assert needle in str(err.value)


def test_overrides_parse_values_and_keep_text_as_typed():
    values = apply_overrides({}, ["learning_rate=1e-4", "lora.r=8", "gradient_checkpointing=true",
                                 "mot_ratio=3:1", "model=hf:org/name", "data=a.jsonl:2",
                                 "save_total_limit=null"])
    assert values["mot_ratio"] == "3:1"   # YAML would have read 181 (base 60)
    assert values["model"] == "hf:org/name" and values["data"] == ["a.jsonl:2"]
    s = load_settings(None, ["data=a.jsonl:2", "learning_rate=1e-4", "lora.r=8",
                             "gradient_checkpointing=true", "mot_ratio=3:1",
                             "save_total_limit=null"])
    assert s.learning_rate == 1e-4 and s.lora.r == 8 and s.gradient_checkpointing is True
    assert s.data == [DataSource("a.jsonl", 2.0)] and s.save_total_limit is None


@pytest.mark.parametrize("override, needle", [
    ("batch_size=abc", "'batch_size' has a value of the wrong type"),
    ("gradient_checkpointing=maybe", "'gradient_checkpointing'"),
    ("layout=three-step", "layout must be one of one-step, two-step"),
    ("mot_ratio=lots", "mot_ratio must look like MOT:NORMAL"),
    ("batch_size=0", "batch_size must be at least 1"),
    ("precision=fp8", "precision must be one of"),
    ("loss_mask=everything", "loss_mask must be one of"),
])
def test_bad_values_are_named(override, needle):
    with pytest.raises(TrainingError) as err:
        load_settings(None, ["data=a.jsonl", override])
    assert needle in str(err.value)


def test_unquoted_ratio_in_yaml_gets_a_hint(tmp_path):
    with pytest.raises(TrainingError, match="quote it in YAML"):
        load_settings(write(tmp_path, "data: [a.jsonl]\nmot_ratio: 3:1\n"))


def test_no_data_is_an_error():
    with pytest.raises(TrainingError, match="no training data"):
        load_settings(None, [])


def test_data_source_strings():
    assert parse_source("a.jsonl") == DataSource("a.jsonl", 1.0)
    assert parse_source("hf:org/name:0.25") == DataSource("hf:org/name", 0.25)
    assert parse_source("dir/with:colon.jsonl") == DataSource("dir/with:colon.jsonl", 1.0)


@pytest.mark.parametrize("name", sorted(p.name for p in (CONFIGS / "sft").glob("*.yaml")))
def test_shipped_configs_load(name):
    s = load_settings(CONFIGS / "sft" / name, ["data=x.jsonl"] if name.startswith("embedded")
                      else [])
    assert s.data


def test_paper_recipe_config():
    s = load_settings(CONFIGS / "sft" / "motcoder_qwen7b_paper.yaml")
    assert s.model == "hf:Qwen/Qwen2.5-Coder-7B-Instruct" and s.finetune == "full"
    assert (s.learning_rate, s.epochs, s.scheduler, s.warmup_ratio, s.max_length) == \
        (2e-6, 1.0, "cosine", 0.03, 2048)
    assert (s.batch_size, s.grad_accum) == (16, 4)
    assert s.deepspeed == "configs/deepspeed/zero3.json"
    assert s.data[0].path == "hf:JingyaoLi/MoTCode-Data"


# ----------------------------------------------------------------------------- the CLI


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def test_cli_unknown_key_exits_2_naming_it(tmp_path):
    config = write(tmp_path, "data: [a.jsonl]\nwarmup: 3\n")
    result = cli("train", "sft", "--config", config, "--out", tmp_path / "run")
    assert result.exit_code == 2 and "warmup" in result.output


def test_cli_bad_override_and_missing_data_file(tmp_path):
    result = cli("train", "sft", "--data", tmp_path / "a.jsonl", "--set", "lora.rank=2",
                 "--out", tmp_path / "run")
    assert result.exit_code == 2 and "lora.rank" in result.output
    result = cli("train", "sft", "--data", tmp_path / "missing.jsonl", "--out",
                 tmp_path / "run", "--dry-run")
    assert result.exit_code == 2 and "missing.jsonl: no such data file" in result.output


# ----------------------------------------------------------------------------- run directory


def test_run_directory_resume_rules(tmp_path):
    from motcoder.training.checkpoints import prepare_run_dir, record_settings, trim_loss_log

    out = tmp_path / "run"
    first = load_settings(None, ["data=a.jsonl", f"out={out}"])
    assert prepare_run_dir(first, record=False).checkpoint is None
    assert not out.exists()
    record_settings(first)
    # No checkpoint yet (e.g. the data was wrong): other settings may start over.
    other = load_settings(None, ["data=b.jsonl", f"out={out}", "learning_rate=1e-4"])
    assert prepare_run_dir(other, record=False).checkpoint is None
    (out / "checkpoint-5").mkdir()
    with pytest.raises(TrainingError, match="learning_rate") as err:
        prepare_run_dir(other)
    assert "data" in str(err.value)
    relogged = load_settings(None, ["data=a.jsonl", f"out={out}", "logging_steps=1"])
    state = prepare_run_dir(relogged)      # logging settings may change on resume
    assert state.checkpoint == out / "checkpoint-5" and state.checkpoint_step == 5
    (out / "loss.jsonl").write_text("".join(json.dumps({"step": s, "loss": 1.0}) + "\n"
                                            for s in range(1, 8)))
    assert trim_loss_log(out, 5) == 2
    assert [json.loads(line)["step"] for line in (out / "loss.jsonl").read_text().splitlines()] == \
        [1, 2, 3, 4, 5]
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(TrainingError, match="not empty"):
        prepare_run_dir(load_settings(None, ["data=a.jsonl", f"out={stranger}"]))
