"""Precision, DeepSpeed and Accelerate: the parts of training that differ on GPU clusters.

Nothing here imports deepspeed or touches a GPU at import time; `check_deepspeed_config`
reads and checks the JSON file against the settings (batch sizes, precision, ZeRO stage)
without deepspeed installed, and `require_deepspeed` fails with an install hint only when a
run that uses it starts. `launch_command` builds the ``accelerate launch`` command line for
``motcoder train sft`` on one or several machines.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
from pathlib import Path
from typing import Any

from motcoder.training.settings import TrainerSettings, TrainingError


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def bf16_supported() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def resolve_precision(precision: str, *, cuda: bool | None = None,
                      bf16_ok: bool | None = None) -> tuple[bool, bool]:
    """``(bf16, fp16)`` for the trainer. ``auto``: bf16 on a GPU that supports it, fp16 on
    other GPUs, neither on CPU. An explicit bf16/fp16 without a GPU is an error."""
    cuda = cuda_available() if cuda is None else cuda
    bf16_ok = (bf16_supported() if cuda else False) if bf16_ok is None else bf16_ok
    if precision == "fp32":
        return False, False
    if precision == "auto":
        if not cuda:
            return False, False
        return (True, False) if bf16_ok else (False, True)
    if not cuda:
        raise TrainingError(f"precision {precision!r} needs a CUDA GPU (none is visible); use "
                            "precision 'auto' or 'fp32' on the CPU")
    if precision == "bf16" and not bf16_ok:
        raise TrainingError("precision 'bf16' is not supported by this GPU; use 'fp16' or "
                            "'auto'")
    return precision == "bf16", precision == "fp16"


def deepspeed_installed() -> bool:
    return importlib.util.find_spec("deepspeed") is not None


def require_deepspeed() -> None:
    if not deepspeed_installed():
        raise TrainingError("the settings name a DeepSpeed config, but deepspeed is not "
                            "installed: pip install 'motcoder[deepspeed]' (DeepSpeed needs "
                            "CUDA GPUs); or drop the deepspeed setting")


def _auto_or(value: Any, expected: Any, key: str, path: Path) -> None:
    if value not in (None, "auto") and value != expected:
        raise TrainingError(f"{path}: {key} is {value!r} but the settings give {expected!r}; "
                            f"write \"auto\" there so the trainer fills it in")


def check_deepspeed_config(path: str | Path, settings: TrainerSettings, *, bf16: bool,
                           fp16: bool) -> dict[str, Any]:
    """Read a DeepSpeed JSON config and check it agrees with the settings (values that are not
    ``"auto"`` must equal what the trainer will use). Returns the parsed config."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"deepspeed: no such config file {path}")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise TrainingError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise TrainingError(f"{path}: a DeepSpeed config is a JSON object")
    _auto_or(config.get("train_micro_batch_size_per_gpu"), settings.batch_size,
             "train_micro_batch_size_per_gpu", path)
    _auto_or(config.get("gradient_accumulation_steps"), settings.grad_accum,
             "gradient_accumulation_steps", path)
    _auto_or(config.get("gradient_clipping"), settings.max_grad_norm, "gradient_clipping",
             path)
    for key, on in (("bf16", bf16), ("fp16", fp16)):
        enabled = (config.get(key) or {}).get("enabled")
        _auto_or(enabled, on, f"{key}.enabled", path)
    stage = (config.get("zero_optimization") or {}).get("stage", 0)
    if stage not in (0, 1, 2, 3):
        raise TrainingError(f"{path}: zero_optimization.stage must be 0-3, got {stage!r}")
    return config


def run_precision(settings: TrainerSettings) -> tuple[bool, bool]:
    """``(bf16, fp16)`` of a training run, after checking its DeepSpeed config (when it names
    one) against the settings and that deepspeed is installed."""
    bf16, fp16 = resolve_precision(settings.precision)
    if settings.deepspeed:
        check_deepspeed_config(settings.deepspeed, settings, bf16=bf16, fp16=fp16)
        require_deepspeed()
    return bf16, fp16


def zero_stage(config: dict[str, Any]) -> int:
    return int((config.get("zero_optimization") or {}).get("stage", 0))


def launch_command(config: str | Path, *, accelerate_config: str | Path | None = None,
                   num_processes: int | None = None, num_machines: int = 1,
                   machine_rank: int = 0, main_process_ip: str | None = None,
                   main_process_port: int = 29500, extra: list[str] | None = None) -> list[str]:
    """The ``accelerate launch`` command that runs ``motcoder train sft --config CONFIG`` on
    ``num_processes`` GPUs in total over ``num_machines`` machines (run it on every machine
    with its own ``machine_rank``)."""
    if num_machines < 1 or not 0 <= machine_rank < num_machines:
        raise TrainingError(f"machine_rank must be in [0, {num_machines}), got {machine_rank}")
    if num_machines > 1 and not main_process_ip:
        raise TrainingError("a multi-node launch needs main_process_ip (the address of the "
                            "machine with rank 0)")
    command = ["accelerate", "launch"]
    if accelerate_config is not None:
        command += ["--config_file", str(accelerate_config)]
    if num_processes is not None:
        command += ["--num_processes", str(num_processes)]
    command += ["--num_machines", str(num_machines), "--machine_rank", str(machine_rank)]
    if num_machines > 1:
        command += ["--main_process_ip", str(main_process_ip),
                    "--main_process_port", str(main_process_port)]
    command += ["-m", "motcoder.cli", "train", "sft", "--config", str(config), *(extra or [])]
    return command


def format_command(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)
