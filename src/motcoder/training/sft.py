"""MoT instruction tuning: `train_sft(settings)` on TRL's `SFTTrainer`.

Steps: prepare (or resume) the run directory → resolve the base model to a checkpoint →
choose the loss mask the chat template allows (`motcoder.training.masking`) → build the rows
(`motcoder.training.data`; over-length samples dropped and counted) → `SFTConfig` from the
settings (`sft_config_kwargs`) → `SFTTrainer(..., peft_config=LoRA)` → ``train()`` resuming
from the last checkpoint → save ``final/``: for LoRA the adapter is merged into a fresh copy
of the base model, so ``final/`` is a plain full checkpoint + tokenizer that
``motcoder run --model hf:OUT/final`` (or any transformers / vLLM user) loads directly.

The training loop, padding, label masking, checkpointing, DeepSpeed and multi-GPU handling
are TRL's / transformers' own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.training import checkpoints as ck
from motcoder.training.settings import SFTSettings, TrainingError


@dataclass
class Prepared:
    """Everything the trainer is built from (see `prepare`)."""

    settings: SFTSettings
    base: str                   # hub id or checkpoint directory
    tokenizer: Any
    loss_mask: str              # assistant | completion
    rows: list[dict[str, Any]]
    report: Any                 # data.DataReport
    config_kwargs: dict[str, Any]


def sft_config_kwargs(settings: SFTSettings, loss_mask: str, *, bf16: bool = False,
                      fp16: bool = False) -> dict[str, Any]:
    """The `SFTConfig` arguments for ``settings`` (plain data: testable without a trainer)."""
    kwargs: dict[str, Any] = {
        "output_dir": str(settings.out),
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps if settings.max_steps > 0 else -1,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.grad_accum,
        "learning_rate": settings.learning_rate,
        "lr_scheduler_type": settings.scheduler,
        # transformers >= 5 reads a float in [0, 1) as a share of the total steps
        "warmup_steps": float(settings.warmup_ratio) if settings.warmup_ratio else 0,
        "weight_decay": settings.weight_decay,
        "max_grad_norm": settings.max_grad_norm,
        # (transformers >= 5 names gradient checkpointing "activation checkpointing")
        "activation_checkpointing": settings.gradient_checkpointing,
        "bf16": bf16,
        "fp16": fp16,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "logging_steps": settings.logging_steps,
        "logging_first_step": True,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "report_to": "none",
        # Over-length samples were dropped before; nothing reaches TRL's truncation.
        "max_length": settings.max_length,
        "packing": False,
        "completion_only_loss": True if loss_mask == "completion" else None,
        "assistant_only_loss": loss_mask == "assistant",
        "model_init_kwargs": {"dtype": settings.model_dtype,
                              "trust_remote_code": settings.trust_remote_code},
        "dataloader_num_workers": 0,
    }
    if settings.deepspeed:
        kwargs["deepspeed"] = str(settings.deepspeed)
    return kwargs


def installed_names(kwargs: dict[str, Any], config_class: type) -> dict[str, Any]:
    """``kwargs`` (transformers 5 names) renamed for an older transformers where needed:
    ``gradient_checkpointing`` before it became ``activation_checkpointing``, and
    ``warmup_ratio`` where ``warmup_steps`` only takes whole steps."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(config_class)}
    kwargs = dict(kwargs)
    if "activation_checkpointing" not in fields:
        kwargs["gradient_checkpointing"] = kwargs.pop("activation_checkpointing")
    if "warmup_ratio" in fields and isinstance(kwargs.get("warmup_steps"), float):
        kwargs["warmup_ratio"] = kwargs.pop("warmup_steps")
    return kwargs


def lora_config(settings: SFTSettings) -> Any:
    from peft import LoraConfig

    lora = settings.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM", bias="none")


def load_tokenizer(base: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise TrainingError(f"cannot load the tokenizer of {base!r} (not a local checkpoint, "
                            f"and not reachable on the Hugging Face hub): {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def prepare(settings: SFTSettings) -> Prepared:
    """Base model, tokenizer, loss mask, rows and trainer arguments — no training yet."""
    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.data import load_examples, new_report, tokenized_rows
    from motcoder.training.distributed import run_precision
    from motcoder.training.masking import resolve_loss_mask

    bf16, fp16 = run_precision(settings)
    report = new_report(settings)
    examples = load_examples(settings, report)  # data errors show before any model loads
    base = resolve_base_model(settings.model)
    tokenizer = load_tokenizer(base, settings.trust_remote_code)
    loss_mask, template = resolve_loss_mask(tokenizer, settings.loss_mask)
    rows = tokenized_rows(examples, report, settings, tokenizer, loss_mask, template)
    return Prepared(settings, base, tokenizer, loss_mask, rows, report,
                    sft_config_kwargs(settings, loss_mask, bf16=bf16, fp16=fp16))


def build_trainer(prepared: Prepared, callbacks: list[Any] | None = None) -> Any:
    """The `SFTTrainer` of a prepared run (the base model is loaded here, by TRL, after the
    arguments exist — as DeepSpeed ZeRO-3 needs)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    settings = prepared.settings
    args = SFTConfig(**installed_names(prepared.config_kwargs, SFTConfig))
    try:
        return SFTTrainer(
            model=prepared.base, args=args, train_dataset=Dataset.from_list(prepared.rows),
            processing_class=prepared.tokenizer,
            peft_config=lora_config(settings) if settings.finetune == "lora" else None,
            callbacks=callbacks or [])
    except OSError as exc:
        raise TrainingError(f"cannot load the base model {prepared.base!r}: {exc}") from None


# ----------------------------------------------------------------------------- saving


def merge_lora(base: str, adapter: Path, dest: Path, tokenizer: Any,
               trust_remote_code: bool = False) -> None:
    """Merge a LoRA adapter into a fresh copy of the base model and save model + tokenizer.

    A fresh CPU copy (not the trained, possibly sharded model) keeps this the same under
    DeepSpeed ZeRO-3, where the trainer's weights are partitioned across GPUs.
    """
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, trust_remote_code=trust_remote_code)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def save_final(trainer: Any, prepared: Prepared, out: Path) -> Path:
    """Write ``out/final`` (and ``out/adapter`` for LoRA) atomically; returns ``out/final``."""
    import shutil

    from motcoder.models.gguf_cache import atomic_directory

    settings = prepared.settings
    final = ck.final_dir(out)
    if settings.finetune == "lora":
        adapter = out / ck.ADAPTER
        trainer.save_model(str(adapter))  # gathers ZeRO-3 shards; writes on rank 0
        if not trainer.is_world_process_zero():
            return final
        if final.exists():
            shutil.rmtree(final)
        with atomic_directory(final) as tmp:
            merge_lora(prepared.base, adapter, tmp, prepared.tokenizer,
                       settings.trust_remote_code)
        if not settings.keep_adapter:
            shutil.rmtree(adapter, ignore_errors=True)
    else:
        trainer.save_model(str(out / ".final-partial"))
        if not trainer.is_world_process_zero():
            return final
        prepared.tokenizer.save_pretrained(out / ".final-partial")
        if final.exists():
            shutil.rmtree(final)
        (out / ".final-partial").rename(final)
    return final


# ----------------------------------------------------------------------------- the run


def _summary(prepared: Prepared, trainer: Any, started: float, resumed: Path | None,
             final: Path) -> dict[str, Any]:
    losses = [r["loss"] for r in ck.read_loss_log(prepared.settings.out) if "loss" in r]
    return {"final": str(final), "base": prepared.base, "loss_mask": prepared.loss_mask,
            "global_step": trainer.state.global_step, "resumed_from": str(resumed or ""),
            "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None,
            "seconds": round(time.time() - started, 1), "data": prepared.report.to_dict()}


def train_sft(settings: SFTSettings,
              on_log: Callable[[dict[str, Any]], None] | None = None,
              on_prepared: Callable[[Prepared], None] | None = None) -> Path:
    """Run (or resume, or just return) the fine-tuning of ``settings``; returns the final
    checkpoint directory ``OUT/final``. ``on_log`` gets every loss record; ``on_prepared``
    the prepared run (data report, loss mask) before training starts."""
    from motcoder.training.callbacks import LossLogger

    settings.validate()
    started = time.time()
    state = ck.prepare_run_dir(settings, record=False)
    if state.finished is not None:
        return state.finished
    out = state.out
    prepared = prepare(settings)
    ck.record_settings(settings)
    if ck.is_main_process():
        (out / ck.DATA_REPORT).write_text(json.dumps(prepared.report.to_dict(), indent=2)
                                          + "\n")
    if on_prepared is not None:
        on_prepared(prepared)
    if state.checkpoint is not None:
        ck.trim_loss_log(out, state.checkpoint_step)
    trainer = build_trainer(prepared, [LossLogger(out / ck.LOSS_LOG, on_log)])
    trainer.train(resume_from_checkpoint=str(state.checkpoint) if state.checkpoint else None)
    final = save_final(trainer, prepared, out)
    if trainer.is_world_process_zero():
        summary = _summary(prepared, trainer, started, state.checkpoint, final)
        (final / ck.DONE_MARKER).write_text(json.dumps(summary, indent=2) + "\n")
    return final
