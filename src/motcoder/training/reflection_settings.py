"""`ReflectionSettings`: one reflection self-distillation run, from a YAML/JSON file
(``configs/reflection/*.yaml``) plus ``KEY=VALUE`` overrides (`load_reflection_settings`).

The optimiser / trainer fields are `motcoder.training.settings.TrainerSettings`; this module
adds the data sources, the reflection:generation ratio and the distillation settings (mask
schedule, loss weights, attention kernel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.training.reflection_masks import STRATEGIES, MaskSchedule, parse_block_order
from motcoder.training.settings import (
    TrainerSettings,
    TrainingError,
    build_settings,
    load_settings_of,
    one_of,
    parse_ratio,
)

ATTENTION = ("sdpa", "eager")
NORMALISATIONS = ("joint", "per_view")  # see motcoder.training.reflection_loss


@dataclass
class ReflectionSource:
    """One data file (``.jsonl`` / ``.json`` / ``.parquet``) or hub dataset (``hf:ORG/NAME``)
    of ReflectionSeq records; ``weight`` multiplies its records (0.5: a random half, 2: each
    twice)."""

    path: str
    weight: float = 1.0
    split: str = "train"



@dataclass
class ReflectionSettings(TrainerSettings):
    """One reflection self-distillation run. See ``configs/reflection/*.yaml``.

    Data: ``data`` (sources), ``reflection_ratio`` (``"R:G"``: after weighting, subsample the
    larger side so reflection : generation samples have this ratio), ``max_length`` (longer
    samples are dropped and counted, never truncated).
    Distillation: ``mask_strategy`` (block | all | none | sequential_token | random_token |
    sequential_block | random_block), ``block_order`` (``tce``: text hidden from the start,
    code from 1/3 of training, execution from 2/3), ``hide_instruction`` (the student never
    sees the reflection instruction), ``teacher_weight`` / ``student_weight`` / ``kl_weight``
    (weights of the three loss terms), ``loss_normalisation`` (``joint``: the original's one
    token mean over teacher and student rows; ``per_view``: a mean per view, see
    `motcoder.training.reflection_loss`), ``attn_implementation`` (sdpa | eager: the attention
    kernels that take a custom 4-D mask).
    Fine-tuning (as `motcoder.training.settings.SFTSettings`): ``finetune`` (lora | full),
    ``lora``, ``train_token_embeddings`` (LoRA: also train the marker tokens' embedding
    rows), ``learning_rate``, ``epochs``, ``max_steps``, ``batch_size``, ``grad_accum``,
    ``warmup_ratio``, ``scheduler``, ``weight_decay``, ``max_grad_norm``,
    ``gradient_checkpointing``, ``precision``, ``model_dtype``, ``seed``, ``logging_steps``,
    ``save_steps``, ``save_total_limit``, ``deepspeed``, ``trust_remote_code``.
    Output: ``out``, ``keep_adapter`` (LoRA: keep ``adapter/`` and the ``base/`` it applies
    to).
    """

    data: list[ReflectionSource] = field(default_factory=list)
    reflection_ratio: str | None = None
    max_length: int = 4096
    mask_strategy: str = "block"
    block_order: str = "tce"
    hide_instruction: bool = True
    teacher_weight: float = 1.0
    student_weight: float = 1.0
    kl_weight: float = 1.0
    loss_normalisation: str = "joint"
    attn_implementation: str = "sdpa"
    train_token_embeddings: bool = True
    learning_rate: float = 5e-5
    epochs: float = 2.0
    warmup_ratio: float = 0.05
    out: str = "runs/reflection"
    keep_adapter: bool = False

    @classmethod
    def convert_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "data" in values:
            data = values["data"] if isinstance(values["data"], list) else [values["data"]]
            values["data"] = [parse_reflection_source(item, f"data[{i}]")
                              for i, item in enumerate(data)]
        return values

    def validate(self) -> ReflectionSettings:
        """Check values; raise `TrainingError` naming the first bad setting."""
        one_of("mask_strategy", self.mask_strategy, STRATEGIES)
        parse_block_order(self.block_order)
        one_of("attn_implementation", self.attn_implementation, ATTENTION)
        one_of("loss_normalisation", self.loss_normalisation, NORMALISATIONS)
        if not self.data:
            raise TrainingError("no training data: give at least one data source (data: in "
                                "the config, or data=FILE)")
        for i, source in enumerate(self.data):
            if source.weight < 0:
                raise TrainingError(f"data[{i}].weight must be >= 0, got {source.weight}")
        if self.reflection_ratio is not None:
            reflection_ratio(self.reflection_ratio)
        for name in ("teacher_weight", "student_weight", "kl_weight"):
            if getattr(self, name) < 0:
                raise TrainingError(f"{name} must be >= 0, got {getattr(self, name)}")
        self.check_training()
        return self

    @property
    def schedule(self) -> MaskSchedule:
        return MaskSchedule.from_text(self.mask_strategy, self.block_order,
                                      self.hide_instruction)


def reflection_ratio(text: str) -> tuple[float, float]:
    """``"2:1"`` → ``(2.0, 1.0)`` (reflection : generation)."""
    try:
        return parse_ratio(text)
    except TrainingError:
        raise TrainingError(f"reflection_ratio must look like REFLECTION:GENERATION, e.g. "
                            f"'2:1', got {text!r} (quote it in YAML)") from None


def parse_reflection_source(value: Any, where: str = "data") -> ReflectionSource:
    """A data source from a mapping or a ``PATH[:WEIGHT]`` string."""
    if isinstance(value, ReflectionSource):
        return value
    if isinstance(value, str):
        head, sep, tail = value.rpartition(":")
        if sep and head and re.fullmatch(r"[0-9]*\.?[0-9]+", tail):
            return ReflectionSource(head, float(tail))
        return ReflectionSource(value)
    if isinstance(value, dict):
        if "path" not in value:
            raise TrainingError(f"{where}: a data source needs a 'path'")
        return build_settings(ReflectionSource, value, where)
    raise TrainingError(f"{where}: a data source is PATH[:WEIGHT] or a mapping with a 'path', "
                        f"got {value!r}")


def load_reflection_settings(config: str | Path | None = None,
                             overrides: list[str] | None = None,
                             **fields: Any) -> ReflectionSettings:
    """Settings from a YAML/JSON file (optional), then ``KEY=VALUE`` overrides, then keyword
    ``fields`` (None skipped) — later ones win. Unknown keys are errors. Validated."""
    return load_settings_of(ReflectionSettings, config, overrides, **fields)
