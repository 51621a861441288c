"""ReflectionCoder training: reflection self-distillation with dynamically masked blocks.

Entry point `train_reflection(settings) -> Path` (settings: `ReflectionSettings`, from
`load_reflection_settings(config, overrides)`). One step on a batch of ReflectionSeq samples:

* **teacher view** — every row as it is; cross-entropy on the assistant text/code tokens
  (never on execution blocks or user turns);
* **student view** — the reflection rows again, with the reflection instruction and the
  blocks the mask schedule chooses removed as attention keys
  (`motcoder.training.reflection_masks`); cross-entropy on the final answer, plus
  KL(teacher ‖ student) on the final-answer tokens with the teacher's distribution detached.

``loss = teacher_weight · CE_teacher + student_weight · CE_student + kl_weight · KL`` (each
term a per-token mean); generation rows only take part in the teacher term (plain SFT). Both
views go through the model in one forward pass (batch = teacher rows + student rows), with a
4-D attention mask and explicit position ids. The mask is computed inside ``compute_loss``
from ``state.global_step / state.max_steps`` — the optimizer-step progress the trainer
keeps — so it is right with gradient accumulation, several dataloader workers and resumes.

The training loop, optimiser, schedule, checkpoints, mixed precision and DeepSpeed are
transformers' `Trainer` (subclassed for ``compute_loss`` and ``log`` only).

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
import random
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from motcoder.training import checkpoints as ck
from motcoder.training.reflection_masks import (
    STRATEGIES,
    MaskSchedule,
    attention_mask_4d,
    parse_block_order,
    position_ids,
    student_hidden,
    training_progress,
)
from motcoder.training.reflection_serialize import (
    END_MESSAGE,
    IGNORE,
    PART_ANSWER,
    SPECIAL_TOKENS,
    ReflectionSample,
    ReflectionSerializer,
    parse_sample,
)
from motcoder.training.settings import (
    FINETUNES,
    MODEL_DTYPES,
    PRECISIONS,
    SCHEDULERS,
    LoraSettings,
    TrainingError,
    _coerce,
    _one_of,
    _yaml_value,
    parse_ratio,
    read_config_file,
)

BASE_DIR = "base"
MASK_LOG = "mask_schedule.jsonl"
TOKENS_FILE = "reflection_tokens.json"
ATTENTION = ("sdpa", "eager")

# ============================================================================= settings


@dataclass
class ReflectionSource:
    """One data file (``.jsonl`` / ``.json`` / ``.parquet``) or hub dataset (``hf:ORG/NAME``)
    of ReflectionSeq records; ``weight`` multiplies its records (0.5: a random half, 2: each
    twice)."""

    path: str
    weight: float = 1.0
    split: str = "train"


@dataclass
class ReflectionSettings:
    """One reflection self-distillation run. See ``configs/reflection/*.yaml``.

    Data: ``data`` (sources), ``reflection_ratio`` (``"R:G"``: after weighting, subsample the
    larger side so reflection : generation samples have this ratio), ``max_length`` (longer
    samples are dropped and counted, never truncated).
    Distillation: ``mask_strategy`` (block | all | none | sequential_token | random_token |
    sequential_block | random_block), ``block_order`` (``tce``: text hidden from the start,
    code from 1/3 of training, execution from 2/3), ``hide_instruction`` (the student never
    sees the reflection instruction), ``teacher_weight`` / ``student_weight`` / ``kl_weight``
    (weights of the three loss terms), ``attn_implementation`` (sdpa | eager: the attention
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

    model: str = "embedded"
    data: list[ReflectionSource] = field(default_factory=list)
    reflection_ratio: str | None = None
    max_length: int = 4096
    mask_strategy: str = "block"
    block_order: str = "tce"
    hide_instruction: bool = True
    teacher_weight: float = 1.0
    student_weight: float = 1.0
    kl_weight: float = 1.0
    attn_implementation: str = "sdpa"
    finetune: str = "lora"
    lora: LoraSettings = field(default_factory=LoraSettings)
    train_token_embeddings: bool = True
    learning_rate: float = 5e-5
    epochs: float = 2.0
    max_steps: int = -1
    batch_size: int = 1
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    precision: str = "auto"
    model_dtype: str = "float32"
    seed: int = 0
    logging_steps: int = 10
    save_steps: int = 500
    save_total_limit: int | None = 2
    deepspeed: str | None = None
    trust_remote_code: bool = False
    out: str = "runs/reflection"
    keep_adapter: bool = False

    def validate(self) -> ReflectionSettings:
        """Check values; raise `TrainingError` naming the first bad setting."""
        _one_of("mask_strategy", self.mask_strategy, STRATEGIES)
        parse_block_order(self.block_order)
        _one_of("attn_implementation", self.attn_implementation, ATTENTION)
        _one_of("finetune", self.finetune, FINETUNES)
        _one_of("precision", self.precision, PRECISIONS)
        _one_of("model_dtype", self.model_dtype, MODEL_DTYPES)
        _one_of("scheduler", self.scheduler, SCHEDULERS)
        if not self.data:
            raise TrainingError("no training data: give at least one data source (data: in "
                                "the config, or data=FILE)")
        for i, source in enumerate(self.data):
            if source.weight < 0:
                raise TrainingError(f"data[{i}].weight must be >= 0, got {source.weight}")
        if self.reflection_ratio is not None:
            reflection_ratio(self.reflection_ratio)
        positive = {"max_length": self.max_length, "batch_size": self.batch_size,
                    "grad_accum": self.grad_accum, "logging_steps": self.logging_steps,
                    "save_steps": self.save_steps, "lora.r": self.lora.r}
        for name, value in positive.items():
            if value < 1:
                raise TrainingError(f"{name} must be at least 1, got {value}")
        for name in ("teacher_weight", "student_weight", "kl_weight"):
            if getattr(self, name) < 0:
                raise TrainingError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise TrainingError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise TrainingError("set epochs > 0 or max_steps > 0")
        if not 0 <= self.warmup_ratio < 1:
            raise TrainingError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 <= self.lora.dropout < 1:
            raise TrainingError(f"lora.dropout must be in [0, 1), got {self.lora.dropout}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


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
        return _build(ReflectionSource, value, where)
    raise TrainingError(f"{where}: a data source is PATH[:WEIGHT] or a mapping with a 'path', "
                        f"got {value!r}")


def _build(cls: type, values: Any, where: str) -> Any:
    if not isinstance(values, dict):
        raise TrainingError(f"{where or 'settings'}: expected a mapping, got {values!r}")
    unknown = sorted(set(values) - set(_names(cls)))
    if unknown:
        scope = f" in {where}" if where else ""
        name = f"{where}.{unknown[0]}" if where else unknown[0]
        raise TrainingError(f"unknown setting {name!r}; "
                            f"accepted{scope}: {', '.join(_names(cls))}")
    kwargs = dict(values)
    if cls is ReflectionSource and "path" not in kwargs:
        raise TrainingError(f"{where}: a data source needs a 'path'")
    if cls is ReflectionSettings:
        if "lora" in kwargs:
            kwargs["lora"] = _build(LoraSettings, kwargs["lora"] or {}, "lora")
        if "data" in kwargs:
            data = kwargs["data"] if isinstance(kwargs["data"], list) else [kwargs["data"]]
            kwargs["data"] = [parse_reflection_source(item, f"data[{i}]")
                              for i, item in enumerate(data)]
    try:
        return _coerce(cls(**kwargs))
    except TypeError as exc:
        raise TrainingError(f"{where or 'settings'}: {exc}") from None


def apply_reflection_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``values`` with ``KEY=VALUE`` overrides applied (``lora.KEY`` for the LoRA settings)."""
    values = json.loads(json.dumps(values))
    types = {f.name: str(f.type) for f in dataclasses.fields(ReflectionSettings)}
    for item in overrides:
        key, sep, raw = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not key.strip():
            raise TrainingError(f"override {item!r} must look like KEY=VALUE")
        if parts[0] not in types:
            raise TrainingError(f"unknown setting {parts[0]!r} in override {item!r}; accepted: "
                                f"{', '.join(types)}")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] != "lora"):
            raise TrainingError(f"override {item!r}: only lora.* settings are nested")
        if len(parts) == 2 and parts[1] not in _names(LoraSettings):
            raise TrainingError(f"unknown setting 'lora.{parts[1]}'; accepted in lora: "
                                f"{', '.join(_names(LoraSettings))}")
        value = _yaml_value(raw)
        if len(parts) == 1 and types[parts[0]].startswith("str"):
            # Text keeps the text as typed (YAML reads 2:1 as a base-60 number).
            null = raw.strip() in ("null", "~") and "None" in types[parts[0]]
            value = None if null else raw
        if parts[0] == "data":
            value = value if isinstance(value, list) else [raw]
        if len(parts) == 2:
            lora = values.get("lora") if isinstance(values.get("lora"), dict) else {}
            values["lora"] = {**lora, parts[1]: value}
        else:
            values[parts[0]] = value
    return values


def load_reflection_settings(config: str | Path | None = None,
                             overrides: list[str] | None = None,
                             **fields: Any) -> ReflectionSettings:
    """Settings from a YAML/JSON file (optional), then ``KEY=VALUE`` overrides, then keyword
    ``fields`` (None skipped) — later ones win. Unknown keys are errors. Validated."""
    values = read_config_file(config) if config is not None else {}
    values = apply_reflection_overrides(values, list(overrides or []))
    for name, value in fields.items():
        if value is None:
            continue
        if name not in _names(ReflectionSettings):
            raise TrainingError(f"unknown setting {name!r}; accepted: "
                                f"{', '.join(_names(ReflectionSettings))}")
        values[name] = value
    return _build(ReflectionSettings, values, "").validate()


# ============================================================================= data


@dataclass
class ReflectionDataReport:
    """What happened to the data: per source and per kind (reflection / generation)."""

    read: dict[str, int] = field(default_factory=dict)
    after_weights: dict[str, int] = field(default_factory=dict)
    after_ratio: dict[str, int] = field(default_factory=dict)          # per kind
    dropped_overlength: dict[str, int] = field(default_factory=dict)   # per source
    dropped_marker_text: dict[str, int] = field(default_factory=dict)  # per source
    trained: dict[str, int] = field(default_factory=dict)              # per kind
    max_length: int = 0
    longest: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def read_samples(source: ReflectionSource) -> list[ReflectionSample]:
    """Every record of one source, validated (errors name ``file:line``)."""
    from motcoder.problems.errors import ProblemLoadError

    try:
        if source.path.startswith("hf:"):
            from motcoder.problems.hub import load_hub_rows

            repo = source.path[3:]
            rows = load_hub_rows(repo, split=source.split,
                                 hint="a local JSONL file of ReflectionSeq records",
                                 what=f"the training data {repo} (split {source.split})")
            records = [(f"{source.path}:row {i + 1}", row) for i, row in enumerate(rows)]
        else:
            from motcoder.problems.records import read_records

            if not Path(source.path).is_file():
                raise TrainingError(f"{source.path}: no such data file")
            records = list(read_records(source.path))
    except ProblemLoadError as exc:
        raise TrainingError(str(exc)) from None
    if not records:
        raise TrainingError(f"{source.path}: no records")
    return [parse_sample(record, where, source.path) for where, record in records]


def mix_samples(per_source: list[tuple[ReflectionSource, list[ReflectionSample]]],
                ratio: str | None, seed: int, report: ReflectionDataReport
                ) -> list[ReflectionSample]:
    """Source weights, then the reflection:generation ratio (the larger side subsampled);
    shuffled with ``seed``."""
    from motcoder.training.data import weigh

    rng = random.Random(seed)
    mixed: list[ReflectionSample] = []
    for source, samples in per_source:
        report.read[source.path] = report.read.get(source.path, 0) + len(samples)
        taken = weigh(samples, source.weight, rng)  # type: ignore[arg-type]
        report.after_weights[source.path] = report.after_weights.get(source.path, 0) + \
            len(taken)
        mixed.extend(taken)  # type: ignore[arg-type]
    if ratio is not None:
        want_r, want_g = reflection_ratio(ratio)
        refl = [s for s in mixed if s.kind == "reflection"]
        gen = [s for s in mixed if s.kind == "generation"]
        if want_g == 0 or want_r == 0:
            mixed = refl if want_g == 0 else gen
        elif not refl or not gen:
            raise TrainingError(f"reflection_ratio {ratio}: the data has {len(refl)} "
                                f"reflection and {len(gen)} generation samples")
        elif len(refl) * want_g > len(gen) * want_r:
            mixed = rng.sample(refl, round(len(gen) * want_r / want_g)) + gen
        else:
            mixed = refl + rng.sample(gen, round(len(refl) * want_g / want_r))
    report.after_ratio = dict(Counter(s.kind for s in mixed))
    rng.shuffle(mixed)
    return mixed


def encode_samples(samples: list[ReflectionSample], serializer: ReflectionSerializer,
                   max_length: int, report: ReflectionDataReport) -> list[dict[str, Any]]:
    """Trainer rows; samples over ``max_length`` tokens (or with marker text in a block) are
    dropped and counted per source."""
    rows = []
    report.max_length = max_length
    for sample in samples:
        report.dropped_overlength.setdefault(sample.source, 0)
        if serializer.has_marker_text(sample):
            report.dropped_marker_text[sample.source] = \
                report.dropped_marker_text.get(sample.source, 0) + 1
            continue
        encoded = serializer.encode(sample)
        if len(encoded) > max_length:
            report.dropped_overlength[sample.source] += 1
            continue
        report.longest = max(report.longest, len(encoded))
        rows.append({**encoded.to_row(), "index": len(rows)})
    report.trained = dict(Counter("reflection" if r["is_reflection"] else "generation"
                                  for r in rows))
    return rows


def build_rows(settings: ReflectionSettings, tokenizer: Any
               ) -> tuple[list[dict[str, Any]], ReflectionDataReport]:
    report = ReflectionDataReport()
    per_source = [(source, read_samples(source)) for source in settings.data]
    mixed = mix_samples(per_source, settings.reflection_ratio, settings.seed, report)
    rows = encode_samples(mixed, ReflectionSerializer(tokenizer), settings.max_length, report)
    if not rows:
        raise TrainingError(f"no sample left to train on (max_length={settings.max_length}: "
                            f"{sum(report.dropped_overlength.values())} over-length dropped)")
    return rows, report


@dataclass
class ReflectionCollator:
    """Right-pad rows into tensors (no masking here: masks depend on the optimizer step and
    are made in ``compute_loss``)."""

    pad_id: int

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        length = max(len(f["input_ids"]) for f in features)

        def pad(key: str, value: int) -> Any:
            return torch.tensor([list(f[key]) + [value] * (length - len(f[key]))
                                 for f in features], dtype=torch.long)

        return {"input_ids": pad("input_ids", self.pad_id), "labels": pad("labels", IGNORE),
                "attention_mask": torch.tensor(
                    [[1] * len(f["input_ids"]) + [0] * (length - len(f["input_ids"]))
                     for f in features], dtype=torch.long),
                "part": pad("part", -1), "block_id": pad("block_id", -1),
                "block_type": pad("block_type", 0),
                "is_reflection": torch.tensor([bool(f["is_reflection"]) for f in features]),
                "index": torch.tensor([int(f.get("index", i)) for i, f in enumerate(features)])}


# ============================================================================= the loss


@dataclass
class DistillLosses:
    """The loss of one batch and its terms (per-token means; None when the batch has no
    reflection row)."""

    total: Any
    ce_teacher: Any
    ce_student: Any = None
    kl: Any = None
    answer_tokens: int = 0


def _shifted(logits: Any, labels: Any) -> tuple[Any, Any]:
    """Logits at the positions that predict a labelled token, and those tokens."""
    keep = labels[:, 1:] != IGNORE
    return logits[:, :-1][keep].float(), labels[:, 1:][keep]


def distill_losses(teacher_logits: Any, labels: Any, student_logits: Any | None = None,
                   student_labels: Any | None = None, reflection_rows: Any | None = None,
                   weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> DistillLosses:
    """Teacher CE over ``labels``; for the reflection rows, student CE over
    ``student_labels`` (the final answer) and KL(teacher ‖ student) on the same tokens,
    the teacher's log-probabilities detached."""
    import torch.nn.functional as F

    logits, targets = _shifted(teacher_logits, labels)
    ce_teacher = F.cross_entropy(logits, targets)
    if student_logits is None:
        return DistillLosses(weights[0] * ce_teacher, ce_teacher)
    s_logits, s_targets = _shifted(student_logits, student_labels)
    t_logits, _ = _shifted(teacher_logits[reflection_rows], student_labels)
    ce_student = F.cross_entropy(s_logits, s_targets)
    kl = F.kl_div(F.log_softmax(s_logits, dim=-1),
                  F.log_softmax(t_logits, dim=-1).detach(),
                  log_target=True, reduction="sum") / max(len(s_targets), 1)
    total = weights[0] * ce_teacher + weights[1] * ce_student + weights[2] * kl
    return DistillLosses(total, ce_teacher, ce_student, kl, len(s_targets))


def student_labels_of(labels: Any, part: Any) -> Any:
    """The teacher labels restricted to the final answer."""
    return labels.masked_fill(part != PART_ANSWER, IGNORE)


def attention_kind(model: Any) -> str:
    """``sdpa`` (boolean 4-D mask) or ``eager`` (additive 4-D mask) — the attention kernels
    that take a custom mask; others (flash attention) are refused."""
    config = getattr(model, "config", None)
    implementation = getattr(config, "_attn_implementation", None) or "eager"
    if implementation not in ATTENTION:
        raise TrainingError(f"attention implementation {implementation!r} does not take the "
                            "4-D student masks; load the model with attn_implementation sdpa "
                            "or eager")
    return implementation


def two_view_losses(model: Any, batch: dict[str, Any], hidden: Any | None,
                    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                    attention: str = "sdpa") -> DistillLosses:
    """One forward pass over teacher rows + student rows (the reflection rows with
    ``hidden`` keys removed; ``hidden`` is ``(R, L)`` for the R reflection rows) and the
    losses. Without reflection rows it is plain SFT."""
    import torch

    input_ids, labels, padding = batch["input_ids"], batch["labels"], batch["attention_mask"]
    rows, length = input_ids.shape
    reflection = torch.nonzero(batch["is_reflection"]).flatten()
    positions = position_ids(rows, length, input_ids.device)
    if reflection.numel() == 0:
        out = model(input_ids=input_ids, attention_mask=padding, position_ids=positions,
                    use_cache=False)
        return distill_losses(out.logits, labels, weights=weights)
    dtype = next(p for p in model.parameters()).dtype
    additive = attention == "eager"
    teacher_mask = attention_mask_4d(padding, None, additive=additive, dtype=dtype)
    student_mask = attention_mask_4d(padding[reflection], hidden, additive=additive,
                                     dtype=dtype)
    out = model(input_ids=torch.cat([input_ids, input_ids[reflection]]),
                attention_mask=torch.cat([teacher_mask, student_mask]),
                position_ids=position_ids(rows + reflection.numel(), length,
                                          input_ids.device),
                use_cache=False)
    teacher_logits, student_logits = out.logits[:rows], out.logits[rows:]
    answer = student_labels_of(labels[reflection], batch["part"][reflection])
    return distill_losses(teacher_logits, labels, student_logits, answer, reflection, weights)


def student_hidden_for(batch: dict[str, Any], progress: Any, schedule: MaskSchedule,
                       seed: int = 0, step: int = 0) -> Any:
    """The hidden-key mask of the batch's reflection rows at ``progress`` (random strategies:
    one generator per row, seeded by seed, step and the sample's index — reproducible across
    resumes)."""
    import torch

    reflection = torch.nonzero(batch["is_reflection"]).flatten()
    generators = None
    if schedule.strategy.startswith("random"):
        generators = [torch.Generator().manual_seed(
            seed * 1_000_003 + step * 7919 + int(batch["index"][int(i)])) for i in reflection]
    return student_hidden(batch["part"][reflection], batch["block_id"][reflection],
                          batch["block_type"][reflection], progress, schedule, generators)


# ============================================================================= the trainer


@functools.cache
def _trainer_class() -> type:
    from transformers import Trainer

    class ReflectionDistillTrainer(Trainer):
        """transformers' `Trainer` with the two-view distillation loss (`two_view_losses`)
        and the mask schedule read from the trainer state."""

        # Our loss is a per-batch mean: the Trainer divides it by the accumulation steps.
        loss_is_scaled_for_ga = False

        def __init__(self, *args: Any, schedule: MaskSchedule,
                     weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                     mask_log: Path | None = None, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.schedule = schedule
            self.weights = weights
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
            losses = two_view_losses(model, inputs, hidden, self.weights, self.attention)
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
    from their sub-tokens), the chat template of the training layout and ``<|end_message|>``
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


def training_arguments(settings: ReflectionSettings, bf16: bool, fp16: bool) -> Any:
    """`TrainingArguments` from the settings: the SFT mapping (`sft_config_kwargs`) limited to
    what plain `TrainingArguments` accepts, plus our columns kept for ``compute_loss``."""
    from transformers import TrainingArguments

    from motcoder.training.sft import sft_config_kwargs

    accepted = {f.name for f in dataclasses.fields(TrainingArguments)}
    kwargs = {k: v for k, v in sft_config_kwargs(settings, "completion",  # type: ignore[arg-type]
                                                 bf16=bf16, fp16=fp16).items()
              if k in accepted}
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
    from motcoder.training.distributed import (
        check_deepspeed_config,
        require_deepspeed,
        resolve_precision,
    )
    from motcoder.training.sft import save_final

    settings.validate()
    started = time.time()
    state = ck.prepare_run_dir(settings)  # type: ignore[arg-type]
    if state.finished is not None:
        return state.finished
    out = state.out
    bf16, fp16 = resolve_precision(settings.precision)
    if settings.deepspeed:
        check_deepspeed_config(settings.deepspeed, settings, bf16=bf16,  # type: ignore[arg-type]
                               fp16=fp16)
        require_deepspeed()
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
        mask_log=out / MASK_LOG)
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
