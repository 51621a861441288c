"""`motcoder train sft` for real: LoRA on the embedded SmolLM2-135M-Instruct, on the CPU.

The data is the toy MoT set of test_training_toyset.py (hand-written answers in the exact
`check_mot` shape, prompts rendered with ``render_prompt(problem, "mot")``). The run goes
through the command line as a user types it; then the checks:

* the training loss falls (``OUT/loss.jsonl``);
* ``OUT/final`` is a plain merged checkpoint: `load_model("hf:OUT/final")` loads it and
  ``motcoder run --model hf:OUT/final`` generates and judges with it;
* on held-out problems the share of greedy answers with the MoT structure rises from the base
  model's;
* running the same command again does nothing; a run that lost its last checkpoint resumes from
  the one before and logs the same losses, none twice.

Everything is shared per module (one training run, ~1-2 minutes on 2 cores).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from motcoder.cli import app
from motcoder.datagen.toy import HELD_OUT, write_chat
from motcoder.datagen.toy import problem as toy_problem
from motcoder.problems.registry import write_problems
from motcoder.prompts.mot_format import check_mot
from motcoder.training.checkpoints import read_loss_log

pytestmark = pytest.mark.e2e

STEPS, SAVE = 12, 10
CONFIG = f"""
model: embedded
layout: one-step
max_length: 768
finetune: lora
lora: {{r: 16, alpha: 32, dropout: 0.0, target_modules: all-linear}}
learning_rate: 1.0e-3
max_steps: {STEPS}
batch_size: 1
warmup_ratio: 0.0
scheduler: constant
logging_steps: 1
save_steps: {SAVE}
seed: 0
"""
RUN = ["--style", "mot", "--max-new-tokens", "200", "--batch-size", "8", "--no-progress",
       "--workers", "2"]


def cli(*args: object):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    (root / "sft.yaml").write_text(CONFIG)
    write_chat(root / "train.jsonl")
    write_problems([toy_problem(t) for t in HELD_OUT], root / "held_out.jsonl")
    command = ["train", "sft", "--config", root / "sft.yaml", "--data", root / "train.jsonl",
               "--out", root / "out"]
    result = cli(*command)
    assert result.exit_code == 0, result.output
    return root, command, result.output


def mot_share(run_dir: Path) -> float:
    samples = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == len(HELD_OUT)
    return sum(check_mot(s["completion"]).ok for s in samples) / len(samples)


def test_training_loss_falls(trained):
    root, _, output = trained
    losses = [r for r in read_loss_log(root / "out") if "loss" in r]
    assert [r["step"] for r in losses] == list(range(1, STEPS + 1))
    first = sum(r["loss"] for r in losses[:3]) / 3
    last = sum(r["loss"] for r in losses[-3:]) / 3
    print(f"loss: first 3 steps {first:.3f}, last 3 steps {last:.3f}")
    assert last < 0.5 * first
    assert "final model:" in output


def test_run_directory_holds_checkpoints_report_adapter_and_final(trained):
    root, _, _ = trained
    out = root / "out"
    assert {p.name for p in out.glob("checkpoint-*")} == {f"checkpoint-{SAVE}",
                                                          f"checkpoint-{STEPS}"}
    report = json.loads((out / "data_report.json").read_text())
    assert report["trained"] == {str(root / "train.jsonl"): 14} and report["rows"] == 14
    assert report["loss_mask"] == "completion"
    assert (out / "adapter" / "adapter_config.json").is_file()
    final = out / "final"
    assert (final / "model.safetensors").is_file() and (final / "tokenizer.json").is_file()
    assert not (final / "adapter_config.json").exists()      # merged, not an adapter
    summary = json.loads((final / "motcoder-training.json").read_text())
    assert summary["global_step"] == STEPS and summary["last_loss"] < summary["first_loss"]


def test_final_checkpoint_loads_through_the_model_registry(trained):
    from motcoder.models.registry import load_model

    root, _, _ = trained
    model = load_model(f"hf:{root / 'out' / 'final'}", device="cpu")
    assert model.loaded_from == "pretrained"
    names = [n for n, _ in model.model.named_parameters()]
    assert names and not any("lora" in n for n in names)
    assert model.tokenizer.chat_template                       # the base model's template
    model.close()


def test_mot_structure_rises_over_the_base_model_in_motcoder_run(trained):
    root, _, _ = trained
    problems = root / "held_out.jsonl"
    base = cli("run", "--model", "embedded", "--benchmark", problems, "--out",
               root / "run-base", *RUN)
    assert base.exit_code == 0, base.output
    tuned = cli("run", "--model", f"hf:{root / 'out' / 'final'}", "--benchmark", problems,
                "--out", root / "run-tuned", *RUN)
    assert tuned.exit_code == 0, tuned.output
    assert "pass@1" in tuned.output
    summary = json.loads((root / "run-tuned" / "summary.json").read_text())
    assert summary["groups"]["all"]["problems"] == len(HELD_OUT)
    before, after = mot_share(root / "run-base"), mot_share(root / "run-tuned")
    print(f"MoT structure on held-out problems: base {before:.2f}, tuned {after:.2f}")
    assert after > before and after >= 0.5


def test_same_command_again_returns_the_finished_model(trained):
    root, command, _ = trained
    log = (root / "out" / "loss.jsonl").read_text()
    again = cli(*command)
    assert again.exit_code == 0 and "final model:" in again.output
    assert (root / "out" / "loss.jsonl").read_text() == log


def test_other_settings_in_the_same_directory_are_refused(trained):
    root, command, _ = trained
    refused = cli(*command, "--set", "learning_rate=5e-4")
    assert refused.exit_code == 2 and "learning_rate" in refused.output


def test_lost_checkpoint_resumes_from_the_one_before(trained):
    root, command, _ = trained
    copy = root / "resumed"
    shutil.copytree(root / "out", copy)
    for name in ("final", "adapter", f"checkpoint-{STEPS}"):
        shutil.rmtree(copy / name)
    result = cli(*command[:-1], copy)            # the same command, --out the copy
    assert result.exit_code == 0, result.output
    summary = json.loads((copy / "final" / "motcoder-training.json").read_text())
    assert summary["resumed_from"].endswith(f"checkpoint-{SAVE}")
    original = {r["step"]: r["loss"] for r in read_loss_log(root / "out") if "loss" in r}
    resumed = [r for r in read_loss_log(copy) if "loss" in r]
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))   # none lost or twice
    for record in resumed[SAVE:]:
        assert record["loss"] == pytest.approx(original[record["step"]], rel=1e-3, abs=1e-4)


def test_full_finetuning_saves_a_checkpoint_that_loads(trained):
    from motcoder.models.registry import load_model

    root, command, _ = trained
    out = root / "full"
    result = cli(*command[:-1], out, "--set", "finetune=full", "--set", "learning_rate=1e-5",
                 "--max-steps", 1)
    assert result.exit_code == 0, result.output
    assert not (out / "adapter").exists()
    model = load_model(f"hf:{out / 'final'}", device="cpu")
    assert model.loaded_from == "pretrained" and model.tokenizer.chat_template
    model.close()
