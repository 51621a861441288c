"""ReflectionCoder training: reflection self-distillation with dynamically masked blocks.

Entry point `train_reflection(settings) -> Path` (settings: `ReflectionSettings`, from
`load_reflection_settings(config, overrides)`). One step on a batch of ReflectionSeq samples:

* **teacher view** — every row as it is; cross-entropy on the assistant text/code tokens
  (never on execution blocks or user turns);
* **student view** — the reflection rows again, with the reflection instruction and the
  blocks the mask schedule chooses removed as attention keys
  (`motcoder.training.reflection_masks`); cross-entropy on the final answer, plus
  KL(teacher ‖ student) on the final-answer tokens with the teacher's distribution detached.

``loss = CE + kl_weight · KL``, the CE one token mean over the teacher's and the student's
label tokens as in the original (``loss_normalisation: joint``), or ``teacher_weight ·
CE_teacher + student_weight · CE_student`` with a mean per view (``per_view``; see
`motcoder.training.reflection_loss`); generation rows only take part in the teacher term
(plain SFT). Both
views go through the model in one forward pass (batch = teacher rows + student rows), with a
4-D attention mask and explicit position ids. The mask is computed inside ``compute_loss``
from ``state.global_step / state.max_steps`` — the optimizer-step progress the trainer
keeps — so it is right with gradient accumulation, several dataloader workers and resumes.

The training loop, optimiser, schedule, checkpoints, mixed precision and DeepSpeed are
transformers' `Trainer` (subclassed for ``compute_loss`` and ``log`` only).

Settings are in `motcoder.training.reflection_settings`, data reading / mixing / the collator
in `motcoder.training.reflection_data`, the losses in `motcoder.training.reflection_loss`;
their public names are re-exported here.

Run directory ``OUT/``: ``sft_settings.json`` (the settings; name shared with
`motcoder.training.checkpoints`), ``base/`` (the base model + tokenizer with the marker tokens
and the chat template of the training layout — kept while training, and afterwards only with
``keep_adapter``), ``checkpoint-N/``, ``loss.jsonl`` (loss, its terms, mask stage),
``mask_schedule.jsonl`` (one record per mask-stage change), ``data_report.json``,
``adapter/`` (LoRA, with ``keep_adapter``) and ``final/`` (full model + tokenizer, loadable
with ``load_model("hf:OUT/final")``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from motcoder.training import checkpoints as ck
from motcoder.training.reflection_data import (
    ReflectionCollator,
    ReflectionDataReport,
    build_rows,
    encode_samples,
    mix_samples,
    read_samples,
)
from motcoder.training.reflection_loss import (
    DistillLosses,
    attention_kind,
    distill_losses,
    student_hidden_for,
    student_labels_of,
    two_view_losses,
)
from motcoder.training.reflection_masks import MaskSchedule, training_progress
from motcoder.training.reflection_serialize import END_MESSAGE, SPECIAL_TOKENS
from motcoder.training.reflection_settings import (
    ATTENTION,
    ReflectionSettings,
    ReflectionSource,
    load_reflection_settings,
    parse_reflection_source,
    reflection_ratio,
)
from motcoder.training.settings import TrainingError

__all__ = [
    "ATTENTION", "BASE_DIR", "MASK_LOG", "TOKENS_FILE", "DistillLosses", "ReflectionCollator",
    "ReflectionDataReport", "ReflectionSettings", "ReflectionSource", "attention_kind",
    "build_rows", "distill_losses", "encode_samples", "load_reflection_settings",
    "load_training_model", "mix_samples", "parse_reflection_source", "prepare_base",
    "read_mask_log", "read_samples", "reflection_ratio", "student_hidden_for",
    "student_labels_of", "train_reflection", "training_arguments", "trim_mask_log",
    "two_view_losses",
]

BASE_DIR = "base"
MASK_LOG = "mask_schedule.jsonl"
TOKENS_FILE = "reflection_tokens.json"


# ============================================================================= the trainer


@functools.cache
def _trainer_class() -> type:
    from transformers import Trainer

    class ReflectionDistillTrainer(Trainer):
        """transformers' `Trainer` with the two-view distillation loss (`two_view_losses`)
        and the mask schedule read from the trainer state."""

        # Our loss is a per-batch mean: the Trainer must divide it by the accumulation steps.
        # Newer transformers read this attribute; older ones (>= 4.48) divide when the model
        # "does not accept loss kwargs", which is set in __init__ (TRL does the same).
        loss_is_scaled_for_ga = False

        def __init__(self, *args: Any, schedule: MaskSchedule,
                     weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                     normalisation: str = "joint",
                     mask_log: Path | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.model_accepts_loss_kwargs = False  # see loss_is_scaled_for_ga
            self.schedule = schedule
            self.weights = weights
            self.normalisation = normalisation
            self.mask_log = mask_log
            self.last_stage: Any = _last_logged_stage(mask_log)
            self.attention = attention_kind(_unwrap(self.model))
            self._sums: dict[str, Any] = {}
            self._counts: dict[str, int] = {}

        def progress(self) -> Any:
            return training_progress(self.state.global_step, self.state.max_steps)

        def compute_loss(self, model: Any, inputs: dict[str, Any],
                         return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            progress = self.progress()
            self._note_stage(progress)
            hidden = None
            if bool(inputs["is_reflection"].any()):
                hidden = student_hidden_for(inputs, progress, self.schedule, self.args.seed,
                                            self.state.global_step)
            losses = two_view_losses(model, inputs, hidden, self.weights, self.attention,
                                     self.normalisation)
            for name in ("ce_teacher", "ce_student", "kl"):
                value = getattr(losses, name)
                if value is not None:
                    self._sums[name] = self._sums.get(name, 0.0) + value.detach()
                    self._counts[name] = self._counts.get(name, 0) + 1
            return (losses.total, {"losses": losses}) if return_outputs else losses.total

        def _note_stage(self, progress: Any) -> None:
            described = self.schedule.describe(progress)
            key = (described["stage"], tuple(described["hidden_types"]))
            if key == self.last_stage:
                return
            self.last_stage = key
            if self.mask_log is not None and self.is_world_process_zero():
                record = {"step": self.state.global_step, "max_steps": self.state.max_steps,
                          **described, "time": time.time()}
                with self.mask_log.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record) + "\n")

        def log(self, logs: dict[str, float], *args: Any, **kwargs: Any) -> None:
            if "loss" in logs:
                for name, total in self._sums.items():
                    logs[name] = round(float(total) / self._counts[name], 6)
                self._sums, self._counts = {}, {}
                described = self.schedule.describe(self.progress())
                logs["mask_progress"] = round(described["progress"], 6)
                if described["stage"] is not None:
                    logs["mask_stage"] = described["stage"]
            super().log(logs, *args, **kwargs)

    ReflectionDistillTrainer.__qualname__ = "ReflectionDistillTrainer"
    return ReflectionDistillTrainer


def __getattr__(name: str) -> Any:
    # ``ReflectionDistillTrainer`` is built on first use, so importing this module (settings,
    # data) does not import transformers.
    if name == "ReflectionDistillTrainer":
        return _trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _unwrap(model: Any) -> Any:
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def _last_logged_stage(mask_log: Path | None) -> Any:
    if mask_log is None or not mask_log.is_file():
        return None
    lines = [line for line in mask_log.read_text().splitlines() if line.strip()]
    if not lines:
        return None
    last = json.loads(lines[-1])
    return (last.get("stage"), tuple(last.get("hidden_types") or ()))


def trim_mask_log(out: Path, step: int) -> None:
    """Drop mask-stage records after ``step`` (a resumed run logs them again)."""
    path = out / MASK_LOG
    if not path.is_file() or not ck.is_main_process():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        path.write_text("".join(line + "\n" for line in kept))


def read_mask_log(out: str | Path) -> list[dict[str, Any]]:
    path = Path(out) / MASK_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ============================================================================= model


def prepare_base(base: str, dest: Path, settings: ReflectionSettings) -> Path:
    """``dest``: the base model and tokenizer with the marker tokens (embeddings initialised
    from their sub-tokens), the chat template of the training layout and ``<|endofmessage|>``
    as an end-of-turn token in the generation config. Written once (atomically); the
    training model, the LoRA merge and resumes all start from it."""
    if (dest / TOKENS_FILE).is_file():
        return dest
    from transformers import AutoModelForCausalLM

    from motcoder.models.gguf_cache import atomic_directory
    from motcoder.training.reflection_serialize import (
        add_reflection_tokens,
        install_chat_template,
    )
    from motcoder.training.sft import load_tokenizer

    tokenizer = load_tokenizer(base, settings.trust_remote_code)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            base, dtype=settings.model_dtype, trust_remote_code=settings.trust_remote_code)
    except OSError as exc:
        raise TrainingError(f"cannot load the base model {base!r}: {exc}") from None
    new = [t for t in SPECIAL_TOKENS if t not in tokenizer.get_vocab()]
    ids = add_reflection_tokens(model, tokenizer)
    install_chat_template(tokenizer)
    eos = model.generation_config.eos_token_id
    eos = [] if eos is None else ([eos] if isinstance(eos, int) else list(eos))
    model.generation_config.eos_token_id = [*eos, ids[END_MESSAGE]] \
        if ids[END_MESSAGE] not in eos else eos
    with atomic_directory(dest) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / TOKENS_FILE).write_text(json.dumps({"base": base, "ids": ids, "added": new},
                                                  indent=2) + "\n")
    return dest


def load_training_model(base_dir: Path, settings: ReflectionSettings) -> Any:
    """The model to train: full, or wrapped with LoRA (plus trainable rows for the marker
    tokens' embeddings with ``train_token_embeddings``)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        base_dir, dtype=settings.model_dtype, attn_implementation=settings.attn_implementation,
        trust_remote_code=settings.trust_remote_code)
    if settings.finetune != "lora":
        return model
    from peft import get_peft_model

    from motcoder.training.sft import lora_config

    config = lora_config(settings)  # type: ignore[arg-type]
    if settings.train_token_embeddings:
        ids = json.loads((base_dir / TOKENS_FILE).read_text())["ids"]
        config = dataclasses.replace(config, trainable_token_indices=sorted(ids.values()))
    if settings.gradient_checkpointing:
        model.enable_input_require_grads()
    return get_peft_model(model, config)


# Arguments of the SFT mapping that belong to TRL's SFTConfig, not to TrainingArguments.
SFT_ONLY_ARGUMENTS = ("max_length", "packing", "completion_only_loss", "assistant_only_loss",
                      "model_init_kwargs")


def training_arguments(settings: ReflectionSettings, bf16: bool, fp16: bool) -> Any:
    """`TrainingArguments` from the settings: the SFT mapping (`sft_config_kwargs`, named as
    the installed transformers names them) without TRL's own arguments, plus our columns kept
    for ``compute_loss``. An argument the installed transformers does not know is an error,
    never dropped (it would silently train without, say, gradient checkpointing)."""
    import transformers
    from transformers import TrainingArguments

    from motcoder.training.sft import installed_names, sft_config_kwargs

    kwargs = installed_names(sft_config_kwargs(settings, "completion",  # type: ignore[arg-type]
                                               bf16=bf16, fp16=fp16), TrainingArguments)
    for name in SFT_ONLY_ARGUMENTS:
        kwargs.pop(name, None)
    accepted = {f.name for f in dataclasses.fields(TrainingArguments)}
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        raise TrainingError(f"the installed transformers {transformers.__version__} does not "
                            f"take the training argument(s) {', '.join(unknown)}; upgrade it "
                            "(pip install -U transformers)")
    kwargs.update(remove_unused_columns=False, label_names=["labels"])
    return TrainingArguments(**kwargs)


# ============================================================================= the run


def train_reflection(settings: ReflectionSettings,
                     on_log: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Run (or resume, or just return) a reflection distillation run; returns ``OUT/final``.
    ``on_log`` gets every loss record."""
    from datasets import Dataset

    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.callbacks import LossLogger
    from motcoder.training.distributed import run_precision
    from motcoder.training.sft import save_final

    settings.validate()
    started = time.time()
    state = ck.prepare_run_dir(settings)  # type: ignore[arg-type]
    if state.finished is not None:
        return state.finished
    out = state.out
    bf16, fp16 = run_precision(settings)
    base = resolve_base_model(settings.model)
    from accelerate import PartialState

    # Before the TrainingArguments exist: with a ZeRO-3 config they make from_pretrained
    # partition the weights, and the embedding rows of the new tokens are set on one process.
    with PartialState().main_process_first():
        base_dir = prepare_base(base, out / BASE_DIR, settings)
    args = training_arguments(settings, bf16, fp16)   # before loading (DeepSpeed ZeRO-3)
    from motcoder.training.sft import load_tokenizer

    tokenizer = load_tokenizer(str(base_dir), settings.trust_remote_code)
    rows, report = build_rows(settings, tokenizer)
    if ck.is_main_process():
        (out / ck.DATA_REPORT).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if state.checkpoint is not None:
        ck.trim_loss_log(out, state.checkpoint_step)
        trim_mask_log(out, state.checkpoint_step)
    model = load_training_model(base_dir, settings)
    trainer = _trainer_class()(
        model=model, args=args, train_dataset=Dataset.from_list(rows),
        data_collator=ReflectionCollator(tokenizer.pad_token_id), processing_class=tokenizer,
        callbacks=[LossLogger(out / ck.LOSS_LOG, on_log)], schedule=settings.schedule,
        weights=(settings.teacher_weight, settings.student_weight, settings.kl_weight),
        normalisation=settings.loss_normalisation, mask_log=out / MASK_LOG)
    trainer.train(resume_from_checkpoint=str(state.checkpoint) if state.checkpoint else None)
    final = save_final(trainer, SimpleNamespace(settings=settings, base=str(base_dir),
                                                tokenizer=tokenizer), out)
    if trainer.is_world_process_zero():
        if not (settings.finetune == "lora" and settings.keep_adapter):
            shutil.rmtree(base_dir, ignore_errors=True)
        losses = [r["loss"] for r in ck.read_loss_log(out) if "loss" in r]
        summary = {"final": str(final), "base": base, "global_step": trainer.state.global_step,
                   "resumed_from": str(state.checkpoint or ""),
                   "first_loss": losses[0] if losses else None,
                   "last_loss": losses[-1] if losses else None,
                   "mask_stages": read_mask_log(out), "seconds": round(time.time() - started, 1),
                   "data": report.to_dict()}
        (final / ck.DONE_MARKER).write_text(json.dumps(summary, indent=2) + "\n")
    return final
