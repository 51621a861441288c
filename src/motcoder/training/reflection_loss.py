"""The two-view reflection distillation loss: teacher CE over every row, student CE and
KL(teacher ‖ student) on the final answer of the reflection rows with the scheduled blocks
hidden (`two_view_losses`, `distill_losses`), and the student's hidden-key mask of a batch
(`student_hidden_for`).

How the two CE terms are put together (``normalisation``):

* ``joint`` (the original's, SenseLLM/ReflectionCoder ``CodeLLMTrainer.compute_loss``): the
  teacher and student rows go through the model as one batch and the CE is one token mean
  over all their label tokens, ``(N_t·CE_t + N_s·CE_s) / (N_t + N_s)``; plus the KL, a mean
  over the student's answer positions. A long reflection sequence thus weighs the short
  student answer down.
* ``per_view``: each CE is its own token mean, ``CE_t + CE_s + KL`` — the student term weighs
  5-8x more against the teacher than in the original, reflection samples get about twice the
  CE gradient of generation samples, and the KL's share is halved.

The weights (``teacher_weight``, ``student_weight``, ``kl_weight``; 1 in the original)
multiply the teacher's and student's token sums (``joint``) or means (``per_view``) and the KL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from motcoder.training.reflection_masks import (
    MaskSchedule,
    attention_mask_4d,
    position_ids,
    student_hidden,
)
from motcoder.training.reflection_serialize import IGNORE, PART_ANSWER
from motcoder.training.reflection_settings import ATTENTION, NORMALISATIONS
from motcoder.training.settings import TrainingError


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
                   weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                   normalisation: str = "joint") -> DistillLosses:
    """Teacher CE over ``labels``; for the reflection rows, student CE over
    ``student_labels`` (the final answer) and KL(teacher ‖ student) on the same tokens,
    the teacher's log-probabilities detached; put together as ``normalisation`` says (see
    the module docstring). The terms reported are per-token means either way."""
    import torch.nn.functional as F

    if normalisation not in NORMALISATIONS:
        raise TrainingError(f"loss_normalisation must be one of {', '.join(NORMALISATIONS)}, "
                            f"got {normalisation!r}")
    logits, targets = _shifted(teacher_logits, labels)
    sum_teacher = F.cross_entropy(logits, targets, reduction="sum")
    ce_teacher = sum_teacher / max(len(targets), 1)
    if student_logits is None:
        return DistillLosses(weights[0] * ce_teacher, ce_teacher)
    s_logits, s_targets = _shifted(student_logits, student_labels)
    t_logits, _ = _shifted(teacher_logits[reflection_rows], student_labels)
    sum_student = F.cross_entropy(s_logits, s_targets, reduction="sum")
    ce_student = sum_student / max(len(s_targets), 1)
    kl = F.kl_div(F.log_softmax(s_logits, dim=-1),
                  F.log_softmax(t_logits, dim=-1).detach(),
                  log_target=True, reduction="sum") / max(len(s_targets), 1)
    if normalisation == "joint":
        ce = (weights[0] * sum_teacher + weights[1] * sum_student) \
            / max(len(targets) + len(s_targets), 1)
    else:
        ce = weights[0] * ce_teacher + weights[1] * ce_student
    return DistillLosses(ce + weights[2] * kl, ce_teacher, ce_student, kl, len(s_targets))


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
                    attention: str = "sdpa", normalisation: str = "joint") -> DistillLosses:
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
    return distill_losses(teacher_logits, labels, student_logits, answer, reflection, weights,
                          normalisation)


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
