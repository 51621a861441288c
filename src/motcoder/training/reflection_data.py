"""ReflectionCoder training data: reading ReflectionSeq sources, mixing them (source
weights, reflection:generation ratio), encoding them to trainer rows (`build_rows`, with a
`ReflectionDataReport` of what was dropped and why) and padding rows into batches
(`ReflectionCollator`)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from motcoder.training.reflection_serialize import (
    IGNORE,
    ReflectionSample,
    ReflectionSerializer,
    parse_sample,
)
from motcoder.training.reflection_settings import (
    ReflectionSettings,
    ReflectionSource,
    reflection_ratio,
)
from motcoder.training.settings import TrainingError


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
