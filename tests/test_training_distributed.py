"""DeepSpeed / Accelerate / precision: config building and argument mapping, on a CPU without
deepspeed installed. (Actually running ZeRO-3 needs GPUs and is not tested here.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from motcoder.training.distributed import (
    check_deepspeed_config,
    deepspeed_installed,
    launch_command,
    resolve_precision,
    zero_stage,
)
from motcoder.training.settings import TrainingError, load_settings
from motcoder.training.sft import sft_config_kwargs

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
ZERO3 = CONFIGS / "deepspeed" / "zero3.json"
PAPER = CONFIGS / "sft" / "motcoder_qwen7b_paper.yaml"


def test_precision_auto_is_off_on_cpu_and_explicit_gpu_precision_is_refused():
    assert resolve_precision("auto", cuda=False) == (False, False)
    assert resolve_precision("fp32", cuda=True, bf16_ok=True) == (False, False)
    assert resolve_precision("auto", cuda=True, bf16_ok=True) == (True, False)
    assert resolve_precision("auto", cuda=True, bf16_ok=False) == (False, True)
    assert resolve_precision("fp16", cuda=True, bf16_ok=True) == (False, True)
    with pytest.raises(TrainingError, match="needs a CUDA GPU"):
        resolve_precision("bf16", cuda=False)
    with pytest.raises(TrainingError, match="not supported by this GPU"):
        resolve_precision("bf16", cuda=True, bf16_ok=False)
    assert resolve_precision("auto") == (False, False)   # this machine: CPU only


def test_shipped_zero3_config_is_the_papers_and_agrees_with_the_recipe():
    settings = load_settings(PAPER)
    config = check_deepspeed_config(ZERO3, settings, bf16=True, fp16=False)
    zero = config["zero_optimization"]
    assert zero_stage(config) == 3
    assert zero["overlap_comm"] and zero["contiguous_gradients"]
    assert zero["sub_group_size"] == zero["stage3_max_live_parameters"] == \
        zero["stage3_max_reuse_distance"] == 1e9
    assert zero["stage3_gather_16bit_weights_on_model_save"] is True
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
                "gradient_clipping", "train_batch_size"):
        assert config[key] == "auto"   # filled in by the trainer from the settings
    offload = json.loads((CONFIGS / "deepspeed" / "zero3_offload.json").read_text())
    assert zero_stage(offload) == 3 and offload["zero_optimization"]["offload_param"]


def test_fixed_deepspeed_values_must_match_the_settings(tmp_path):
    settings = load_settings(PAPER)
    config = json.loads(ZERO3.read_text())
    config["train_micro_batch_size_per_gpu"] = 4
    bad = tmp_path / "ds.json"
    bad.write_text(json.dumps(config))
    with pytest.raises(TrainingError, match="train_micro_batch_size_per_gpu is 4 but the "
                                            "settings give 16"):
        check_deepspeed_config(bad, settings, bf16=True, fp16=False)
    config["train_micro_batch_size_per_gpu"] = 16
    config["bf16"] = {"enabled": False}
    bad.write_text(json.dumps(config))
    with pytest.raises(TrainingError, match="bf16.enabled"):
        check_deepspeed_config(bad, settings, bf16=True, fp16=False)
    with pytest.raises(TrainingError, match="no such config file"):
        check_deepspeed_config(tmp_path / "nope.json", settings, bf16=True, fp16=False)


def test_paper_recipe_maps_onto_sft_config():
    from trl import SFTConfig

    settings = load_settings(PAPER, ["deepspeed=null"])  # deepspeed itself needs GPUs
    kwargs = sft_config_kwargs(settings, "assistant", bf16=False, fp16=False)
    config = SFTConfig(**kwargs)
    assert config.learning_rate == 2e-6 and config.num_train_epochs == 1
    assert config.lr_scheduler_type == "cosine" and config.warmup_steps == pytest.approx(0.03)
    assert config.per_device_train_batch_size == 16 and config.gradient_accumulation_steps == 4
    assert config.max_length == 2048 and config.assistant_only_loss is True
    assert config.activation_checkpointing is True and config.bf16 is False   # CPU here
    assert config.model_init_kwargs["dtype"] == "bfloat16"
    with_ds = sft_config_kwargs(load_settings(PAPER), "assistant", bf16=True)
    assert with_ds["deepspeed"] == "configs/deepspeed/zero3.json" and with_ds["bf16"] is True


@pytest.mark.skipif(deepspeed_installed(), reason="deepspeed is installed here")
def test_a_run_with_deepspeed_but_without_it_installed_fails_clearly(tmp_path):
    from motcoder.training.sft import prepare

    settings = load_settings(None, ["data=x.jsonl", f"deepspeed={ZERO3}",
                                    f"out={tmp_path}"])
    with pytest.raises(TrainingError, match=r"pip install 'motcoder\[deepspeed\]'"):
        prepare(settings)


def test_accelerate_launch_commands():
    single = launch_command("configs/sft/x.yaml",
                            accelerate_config="configs/accelerate/multi_gpu.yaml",
                            num_processes=8)
    assert single == ["accelerate", "launch", "--config_file",
                      "configs/accelerate/multi_gpu.yaml", "--num_processes", "8",
                      "--num_machines", "1", "--machine_rank", "0", "-m", "motcoder.cli",
                      "train", "sft", "--config", "configs/sft/x.yaml"]
    node1 = launch_command("c.yaml", num_processes=16, num_machines=2, machine_rank=1,
                           main_process_ip="10.0.0.1", extra=["--out", "runs/x"])
    assert node1[node1.index("--machine_rank") + 1] == "1"
    assert node1[node1.index("--main_process_ip") + 1] == "10.0.0.1"
    assert node1[-2:] == ["--out", "runs/x"]
    with pytest.raises(TrainingError, match="main_process_ip"):
        launch_command("c.yaml", num_machines=2)
    with pytest.raises(TrainingError, match="machine_rank"):
        launch_command("c.yaml", num_machines=2, machine_rank=2, main_process_ip="h")


def test_accelerate_configs_load_with_accelerate_itself():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import launch_command_parser

    for name in ("multi_gpu.yaml", "multi_node.yaml"):
        path = CONFIGS / "accelerate" / name
        raw = yaml.safe_load(path.read_text())
        config = load_config_from_file(str(path))
        assert config.num_processes % config.num_machines == 0
        assert raw["mixed_precision"] == "no"   # precision comes from the training settings
    assert load_config_from_file(str(CONFIGS / "accelerate" / "multi_node.yaml")
                                 ).num_machines == 2
    # Our command line is one accelerate's own parser accepts.
    args = launch_command_parser().parse_args(
        launch_command("configs/sft/x.yaml", accelerate_config="a.yaml", num_processes=8)[2:])
    assert args.module and args.training_script == "motcoder.cli"
    assert args.training_script_args == ["train", "sft", "--config", "configs/sft/x.yaml"]
    assert args.num_processes == 8 and args.config_file == "a.yaml"
