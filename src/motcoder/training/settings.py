"""`SFTSettings`: everything one supervised fine-tuning run needs, from a YAML/JSON file plus
command-line overrides.

A config file is a mapping whose keys are the fields below (nested ``lora:`` and ``data:``
entries included). Overrides are ``KEY=VALUE`` strings with dotted keys for nested fields
(``lora.r=8``) and YAML values (``learning_rate=1e-4``, ``gradient_checkpointing=true``,
``lora.target_modules=[q_proj,v_proj]``). An unknown key — in the file or in an override —
is an error naming the key and the accepted ones, so a typo never silently falls back to a
default.

Data sources (``data:``) are mappings ``{path, weight, format, split, style}`` or plain
strings ``PATH`` / ``PATH:WEIGHT`` (e.g. ``mot.jsonl:2``, ``hf:ORG/NAME:0.5``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYOUTS = ("one-step", "two-step")
PROMPT_STYLES = ("auto", "mot", "normal", "data")
LOSS_MASKS = ("auto", "completion", "assistant")
FINETUNES = ("lora", "full")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
MODEL_DTYPES = ("float32", "bfloat16", "float16")
FORMATS = ("auto", "chat", "alpaca")
STYLES = ("mot", "clean", "normal")
SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau",
              "cosine_with_min_lr", "warmup_stable_decay")

# The two user turns of the two-step layout (MoT answers only): the first follows the
# original MoT request and asks for the design alone; the second asks for the build.
OUTLINE_REQUEST = (
    "Give only Step 1 now: the outlines of the sub-modules (function headers with "
    "docstrings, no bodies) in a ```python block. You will be asked for Step 2 next.")
BUILD_REQUEST = (
    "Now Step 2: implement every function you outlined and combine them into the final "
    "program. Give the complete program in one ```python block.")


class TrainingError(ValueError):
    """A problem with a training run the user can fix (settings, data, model, resume)."""


@dataclass
class DataSource:
    """One training data file (or hub dataset) and its share of the mixture.

    ``path``: a local ``.jsonl``/``.json``/``.parquet`` file, or ``hf:ORG/NAME`` for a hub
    dataset (e.g. ``hf:JingyaoLi/MoTCode-Data``). ``weight``: multiplies the number of
    records taken from this source (0.5 = a random half, 2 = every record twice, 2.5 = twice
    plus a random half). ``format``: ``chat`` (``messages``), ``alpaca`` (``instruction`` /
    ``input`` / ``output``) or ``auto`` (from each record's fields). ``split``: the split of a
    hub dataset. ``style``: force the style of every record (``mot`` | ``clean`` |
    ``normal``); by default a chat record's own ``style`` field is used, else the answer is
    checked for the MoT structure.
    """

    path: str
    weight: float = 1.0
    format: str = "auto"
    split: str = "train"
    style: str | None = None

    @property
    def is_hub(self) -> bool:
        return self.path.startswith("hf:")


@dataclass
class LoraSettings:
    """LoRA adapter settings (PEFT). ``target_modules``: a list of module names or
    ``all-linear`` (every linear layer but the output head)."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"


@dataclass
class TrainerSettings:
    """The settings every training run shares (SFT, reflection distillation, verifier): the
    base model, the fine-tuning method and the optimiser / trainer hyperparameters.
    Subclasses override a field to change its default and call `check_training` from their
    ``validate``.

      ``model``           base model spec: ``embedded``, ``hf:ID_OR_DIR``, ``gguf:FILE``.
      ``max_length``      longest sample in tokens; longer samples are dropped and counted.
      ``finetune``        ``lora`` or ``full``; ``lora`` holds r / alpha / dropout / modules.
      ``learning_rate``, ``epochs``, ``max_steps`` (> 0 overrides epochs), ``batch_size`` (per
      device), ``grad_accum``, ``warmup_ratio``, ``scheduler``, ``weight_decay``,
      ``max_grad_norm``, ``gradient_checkpointing``, ``precision`` (``auto``: bf16 on GPUs that
      support it, else fp16 on GPU, fp32 on CPU), ``model_dtype`` (weights as loaded),
      ``seed``, ``logging_steps``, ``save_steps``, ``save_total_limit``, ``deepspeed`` (a
      DeepSpeed JSON config, e.g. ``configs/deepspeed/zero3.json``), ``trust_remote_code``.
      ``out``             the run directory; ``keep_adapter`` with LoRA, also keep the adapter.
    """

    model: str = "embedded"
    max_length: int = 2048
    finetune: str = "lora"
    lora: LoraSettings = field(default_factory=LoraSettings)
    learning_rate: float = 2e-5
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 1
    grad_accum: int = 1
    warmup_ratio: float = 0.03
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
    out: str = "runs/train"
    keep_adapter: bool = True

    @classmethod
    def convert_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Hook for `build_settings`: turn raw config values (e.g. ``data`` entries) into the
        field types before the dataclass is made. The default leaves them as they are."""
        return values

    def check_training(self) -> None:
        """Check the shared settings; raise `TrainingError` naming the first bad one."""
        one_of("finetune", self.finetune, FINETUNES)
        one_of("precision", self.precision, PRECISIONS)
        one_of("model_dtype", self.model_dtype, MODEL_DTYPES)
        one_of("scheduler", self.scheduler, SCHEDULERS)
        positive = {"max_length": self.max_length, "batch_size": self.batch_size,
                    "grad_accum": self.grad_accum, "logging_steps": self.logging_steps,
                    "save_steps": self.save_steps, "lora.r": self.lora.r}
        for name, value in positive.items():
            if value < 1:
                raise TrainingError(f"{name} must be at least 1, got {value}")
        if self.learning_rate <= 0:
            raise TrainingError(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise TrainingError("set epochs > 0 or max_steps > 0")
        if not 0 <= self.warmup_ratio < 1:
            raise TrainingError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 <= self.lora.dropout < 1:
            raise TrainingError(f"lora.dropout must be in [0, 1), got {self.lora.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class SFTSettings(TrainerSettings):
    """One MoT instruction-tuning run. See ``configs/sft/*.yaml`` for annotated examples.

    Model and data:
      ``model``           base model spec: ``embedded``, ``hf:ID_OR_DIR``, ``gguf:FILE``.
      ``data``            data sources with mixture weights (see `DataSource`).
      ``mot_ratio``       ``"MOT:NORMAL"`` (e.g. ``"1:1"``): after weighting, subsample the larger
                          side so MoT answers and the others (normal + clean) have this ratio.
      ``prompt_style``    system prompt of samples that have none: ``auto`` (the sample's own
                          style: MoT → our MoT system prompt, else the normal one), ``mot``,
                          ``normal``, or ``data`` (keep the data as it is, add nothing).
      ``layout``          ``one-step`` (outline and program in one assistant turn) or
                          ``two-step`` (user asks for the outline → outline; user asks to
                          implement → program; both assistant turns trained). Non-MoT answers
                          stay one turn.
      ``outline_request`` / ``build_request``  the two user turns added by ``two-step``.
      ``loss_mask``       how the loss is limited to the responses: ``completion`` (TRL
                          prompt-completion pairs, any chat template), ``assistant`` (TRL's
                          ``assistant_only_loss``, needs a template with generation markers or
                          one TRL can patch), ``auto`` (assistant when possible).
      ``max_length``      longest sample in tokens; longer samples are dropped and counted.
    Fine-tuning: the `TrainerSettings` fields (``finetune``, ``lora``, ``learning_rate``,
      ``epochs``, ... ``deepspeed``, ``trust_remote_code``).
    Output:
      ``out``             run directory: checkpoints, ``loss.jsonl``, ``data_report.json``,
                          ``final/`` (the merged full model + tokenizer) and ``adapter/``.
      ``keep_adapter``    with LoRA, also keep the adapter in ``out/adapter``.
    """

    data: list[DataSource] = field(default_factory=list)
    mot_ratio: str | None = None
    prompt_style: str = "auto"
    layout: str = "one-step"
    outline_request: str = OUTLINE_REQUEST
    build_request: str = BUILD_REQUEST
    loss_mask: str = "auto"
    out: str = "runs/sft"

    @classmethod
    def convert_values(cls, values: dict[str, Any]) -> dict[str, Any]:
        if "data" in values:
            data = values["data"] if isinstance(values["data"], list) else [values["data"]]
            values["data"] = [parse_source(item, f"data[{i}]") for i, item in enumerate(data)]
        return values

    def validate(self) -> SFTSettings:
        """Check values; raise `TrainingError` naming the first bad setting."""
        one_of("prompt_style", self.prompt_style, PROMPT_STYLES)
        one_of("layout", self.layout, LAYOUTS)
        one_of("loss_mask", self.loss_mask, LOSS_MASKS)
        if not self.data:
            raise TrainingError("no training data: give at least one data source (data: in "
                                "the config, or --data FILE)")
        for i, source in enumerate(self.data):
            one_of(f"data[{i}].format", source.format, FORMATS)
            if source.style is not None:
                one_of(f"data[{i}].style", source.style, STYLES)
            if source.weight < 0:
                raise TrainingError(f"data[{i}].weight must be >= 0, got {source.weight}")
        if self.mot_ratio is not None:
            parse_ratio(self.mot_ratio)
        self.check_training()
        return self


def one_of(name: str, value: Any, choices: tuple[str, ...]) -> None:
    """Raise `TrainingError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise TrainingError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def parse_ratio(text: str) -> tuple[float, float]:
    """``"3:1"`` → ``(3.0, 1.0)``; both parts >= 0 and not both 0."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*:\s*([0-9.]+)\s*", str(text))
    try:
        mot, normal = (float(match.group(1)), float(match.group(2))) if match else (-1, -1)
    except ValueError:
        mot, normal = -1, -1
    if mot < 0 or normal < 0 or mot + normal == 0:
        raise TrainingError(f"mot_ratio must look like MOT:NORMAL, e.g. '1:1' or '3:1', got "
                            f"{text!r} (quote it in YAML: mot_ratio: \"3:1\" — unquoted, YAML "
                            "reads 3:1 as a base-60 number)")
    return mot, normal


# ----------------------------------------------------------------------------- building


def parse_source(value: Any, where: str = "data") -> DataSource:
    """A data source from a mapping or a ``PATH[:WEIGHT]`` string."""
    if isinstance(value, DataSource):
        return value
    if isinstance(value, str):
        path, weight = value, 1.0
        head, sep, tail = value.rpartition(":")
        if sep and head and re.fullmatch(r"[0-9]*\.?[0-9]+", tail):
            path, weight = head, float(tail)
        return DataSource(path=path, weight=weight)
    if isinstance(value, dict):
        if "path" not in value:
            raise TrainingError(f"{where}: a data source needs a 'path'")
        return build_settings(DataSource, value, where)
    raise TrainingError(f"{where}: a data source is PATH[:WEIGHT] or a mapping with a 'path', "
                        f"got {value!r}")


def field_names(cls: type) -> list[str]:
    """The field names of a settings dataclass, in order."""
    return [f.name for f in dataclasses.fields(cls)]


def _nested_classes(cls: type) -> dict[str, type]:
    """Fields of ``cls`` whose default is itself a dataclass (``lora``), by name."""
    nested = {}
    for f in dataclasses.fields(cls):
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
            if dataclasses.is_dataclass(default):
                nested[f.name] = type(default)
    return nested


def _qualified(where: str, name: str) -> str:
    # ``where`` is a path ("lora", "data[0]" → 'lora.r') or a prefix ("verifier." → verifier.'r')
    if where.endswith("."):
        return f"{where}{name!r}"
    return repr(f"{where}.{name}" if where else name)


def build_settings(cls: type, values: Any, where: str = "") -> Any:
    """A settings dataclass from a mapping: unknown keys are errors naming the accepted ones,
    nested dataclass fields (``lora``) are built from mappings, the class's
    ``convert_values`` hook runs, and scalars are coerced to the declared types."""
    if not isinstance(values, dict):
        raise TrainingError(f"{where or 'settings'}: expected a mapping, got {values!r}")
    names = field_names(cls)
    unknown = sorted(set(values) - set(names))
    if unknown:
        scope = f" in {where.rstrip('.')}" if where else ""
        raise TrainingError(f"unknown setting {_qualified(where, unknown[0])}; "
                            f"accepted{scope}: {', '.join(names)}")
    kwargs = dict(values)
    prefix = where if where.endswith(".") else ""
    for name, nested in _nested_classes(cls).items():
        if name in kwargs and not dataclasses.is_dataclass(kwargs[name]):
            kwargs[name] = build_settings(nested, kwargs[name] or {}, prefix + name)
    convert = getattr(cls, "convert_values", None)
    if convert is not None:
        kwargs = convert(kwargs)
    try:
        return coerce_types(cls(**kwargs))
    except TypeError as exc:
        raise TrainingError(f"{where or 'settings'}: {exc}") from None


def coerce_types(obj: Any) -> Any:
    """Convert YAML-parsed values to the declared scalar types (``"2e-5"`` → 2e-05, ``1`` →
    1.0), with an error naming the field when a value has the wrong type."""
    hints = {f.name: f.type for f in dataclasses.fields(obj)}
    for name, hint in hints.items():
        value = getattr(obj, name)
        text = str(hint)
        if value is None:
            if "None" not in text:
                raise TrainingError(f"setting {name!r} may not be empty")
            continue
        try:
            if text.startswith("float"):
                setattr(obj, name, float(value))
            elif text.startswith("int") and not isinstance(value, bool):
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                setattr(obj, name, int(value))
            elif text == "bool":
                if not isinstance(value, bool):
                    raise ValueError
            elif text.startswith("str") and not isinstance(value, str):
                if isinstance(value, (dict, list)):
                    raise ValueError
                setattr(obj, name, str(value))
        except (TypeError, ValueError):
            raise TrainingError(f"setting {name!r} has a value of the wrong type: {value!r} "
                                f"(expected {text})") from None
    return obj


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML or JSON config file."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"{path}: no such config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            import yaml

            values = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
        raise TrainingError(f"{path}: not valid YAML/JSON: {exc}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise TrainingError(f"{path}: a config file holds a mapping of settings, got "
                            f"{type(values).__name__}")
    return values


def yaml_value(text: str) -> Any:
    """The value of a ``KEY=VALUE`` override's text, read as YAML (the text itself if it is
    not valid YAML)."""
    import yaml

    try:
        return yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        return text


def apply_overrides(values: dict[str, Any], overrides: list[str],
                    cls: type | None = None) -> dict[str, Any]:
    """``values`` with ``KEY=VALUE`` overrides applied, checked against the fields of the
    settings class ``cls`` (default `SFTSettings`); dotted keys for its nested dataclass
    fields (``lora.r=8``)."""
    cls = SFTSettings if cls is None else cls
    names = field_names(cls)
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    nested = _nested_classes(cls)
    values = json.loads(json.dumps(values))  # a deep copy of plain data
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainingError(f"override {item!r} must look like KEY=VALUE")
        parts = key.split(".")
        if parts[0] not in names:
            raise TrainingError(f"unknown setting {parts[0]!r} in override {item!r}; accepted: "
                                f"{', '.join(names)}")
        if len(parts) > 2 or (len(parts) == 2 and parts[0] not in nested):
            raise TrainingError(f"override {item!r}: only "
                                f"{', '.join(n + '.*' for n in nested)} settings are nested")
        if len(parts) == 2 and parts[1] not in field_names(nested[parts[0]]):
            raise TrainingError(f"unknown setting '{parts[0]}.{parts[1]}'; accepted in "
                                f"{parts[0]}: {', '.join(field_names(nested[parts[0]]))}")
        value = yaml_value(raw)
        if len(parts) == 1 and types[parts[0]].startswith("str"):
            # Text settings keep the text as typed: YAML would read "3:1" as the number 181
            # (base 60) and "null" as nothing.
            value = None if raw.strip() in ("null", "~") and "None" in types[parts[0]] else raw
        if parts[0] == "data":
            value = value if isinstance(value, list) else [raw]
        if len(parts) == 2:
            inner = values.get(parts[0]) if isinstance(values.get(parts[0]), dict) else {}
            values[parts[0]] = {**inner, parts[1]: value}
        else:
            values[parts[0]] = value
    return values


def apply_dotted(values: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` overrides (YAML values; dotted keys for nested mappings, any depth)
    applied to a copy of ``values``, unchecked (`build_settings` checks the keys)."""
    values = json.loads(json.dumps(values))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise TrainingError(f"override {item!r} must look like KEY=VALUE")
        parts = key.strip().split(".")
        target = values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise TrainingError(f"override {item!r}: {part} is not a mapping")
        target[parts[-1]] = yaml_value(raw)
    return values


def load_settings_of(cls: type, config: str | Path | None = None,
                     overrides: list[str] | None = None, **fields: Any) -> Any:
    """Settings of class ``cls`` from a config file (optional), then ``overrides``
    (``KEY=VALUE``), then the keyword ``fields`` (``None`` values skipped) — later ones win.
    Validated."""
    values = read_config_file(config) if config is not None else {}
    values = apply_overrides(values, list(overrides or []), cls)
    for name, value in fields.items():
        if value is None:
            continue
        if name not in field_names(cls):
            raise TrainingError(f"unknown setting {name!r}; accepted: "
                                f"{', '.join(field_names(cls))}")
        values[name] = value
    return build_settings(cls, values, "").validate()


def load_settings(config: str | Path | None = None, overrides: list[str] | None = None,
                  **fields: Any) -> SFTSettings:
    """`SFTSettings` from a config file (optional), then ``overrides`` (``KEY=VALUE``), then
    the keyword ``fields`` (``None`` values skipped) — later ones win. Validated."""
    return load_settings_of(SFTSettings, config, overrides, **fields)


def settings_from_dict(values: dict[str, Any]) -> SFTSettings:
    """Settings from a plain mapping (as written by `SFTSettings.to_dict`)."""
    return build_settings(SFTSettings, values, "").validate()
