"""What the student view of a reflection sample may not see, and the attention mask that hides it.

The student is the same model reading the same tokens at the same positions, but some keys
are removed from its attention: the reflection instruction (``hide_instruction``) and, as
training goes on, more and more of the reflection sequence. The schedule is a function of the
training progress ``p = optimizer step / total optimizer steps`` (a `fractions.Fraction`, so
stage boundaries are exact):

* ``block`` (default) with a block order such as ``tce``: blocks of the first type are hidden
  from the start, the second type from ``p >= 1/3``, the third from ``p >= 2/3`` (t = text,
  c = code, e = execution) — at the end the student does one-off generation;
* ``all``: every block of the reflection sequence hidden from the start;
* ``none``: no block hidden (with ``hide_instruction=False`` the student sees what the teacher
  sees — the KL term is then zero);
* ``sequential_token`` / ``random_token``: the first / a random ``ceil(p * n)`` of the ``n``
  block tokens of the reflection sequence;
* ``sequential_block`` / ``random_block``: the first / a random ``ceil(p * m)`` of its ``m``
  blocks.

The role marker and the end marker of the reflection sequence follow ``hide_instruction``
(they frame round 1, which the student does not take part in).

`attention_mask_4d` turns "hidden" into the 4-D mask the model gets: causal, padding keys
removed, hidden keys removed, and every query always attends to itself, so no row is empty
(an empty softmax row would be NaN). Queries are not removed: hidden tokens still run through
the model (their outputs carry no loss), which keeps every token at its original position —
positions are passed explicitly as ``0..L-1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from motcoder.training.reflection_serialize import (
    BLOCK_CODES,
    PART_REFLECTION_INSTRUCTION,
    PART_REFLECTION_SEQUENCE,
)
from motcoder.training.settings import TrainingError

STRATEGIES = ("block", "all", "none", "sequential_token", "random_token", "sequential_block",
              "random_block")
ORDER_LETTERS = {"t": "text", "c": "code", "e": "execution"}
STAGE_STARTS = (Fraction(0), Fraction(1, 3), Fraction(2, 3))


def parse_block_order(order: str) -> tuple[str, ...]:
    """``"tce"`` → ``("text", "code", "execution")``: 1-3 distinct letters of t, c, e."""
    letters = str(order).strip().lower()
    if not 1 <= len(letters) <= 3 or len(set(letters)) != len(letters) \
            or any(ch not in ORDER_LETTERS for ch in letters):
        raise TrainingError(f"block_order must be 1-3 distinct letters of t (text), c (code), "
                            f"e (execution), e.g. 'tce'; got {order!r}")
    return tuple(ORDER_LETTERS[ch] for ch in letters)


def as_progress(value: float | Fraction | int) -> Fraction:
    """Training progress as an exact fraction clamped to [0, 1]."""
    value = value if isinstance(value, Fraction) else Fraction(value)
    return min(max(value, Fraction(0)), Fraction(1))


def training_progress(step: int, total: int) -> Fraction:
    """``step / total`` (0 before the total is known)."""
    return as_progress(Fraction(step, total)) if total > 0 else Fraction(0)


def block_stage(progress: float | Fraction, order: tuple[str, ...]) -> int:
    """How many types of the order are hidden, minus one: 0 before 1/3, 1 before 2/3, else 2
    (capped by the length of the order)."""
    p = as_progress(progress)
    stage = sum(1 for start in STAGE_STARTS[1:] if p >= start)
    return min(stage, len(order) - 1)


@dataclass(frozen=True)
class MaskSchedule:
    """The student-mask settings of a run."""

    strategy: str = "block"
    order: tuple[str, ...] = ("text", "code", "execution")
    hide_instruction: bool = True

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise TrainingError(f"mask_strategy must be one of {', '.join(STRATEGIES)}, got "
                                f"{self.strategy!r}")

    @classmethod
    def from_text(cls, strategy: str, order: str, hide_instruction: bool = True
                  ) -> MaskSchedule:
        return cls(strategy, parse_block_order(order), hide_instruction)

    def stage(self, progress: float | Fraction) -> int | None:
        """The stage (``block`` only: 0, 1, 2); None for the other strategies."""
        return block_stage(progress, self.order) if self.strategy == "block" else None

    def hidden_types(self, progress: float | Fraction) -> tuple[str, ...]:
        """The block types hidden at ``progress`` (``block`` and ``all``)."""
        if self.strategy == "all":
            return ("text", "code", "execution")
        if self.strategy != "block":
            return ()
        return self.order[:block_stage(progress, self.order) + 1]

    def describe(self, progress: float | Fraction) -> dict[str, Any]:
        return {"strategy": self.strategy, "stage": self.stage(progress),
                "hidden_types": list(self.hidden_types(progress)),
                "progress": float(as_progress(progress)),
                "hide_instruction": self.hide_instruction}


def _ceil_share(count: Any, p: Fraction) -> Any:
    """``ceil(count * p)`` exactly, for an int or an integer tensor ``count``."""
    return -((-count * p.numerator) // p.denominator)


def student_hidden(part: Any, block_id: Any, block_type: Any, progress: float | Fraction,
                   schedule: MaskSchedule, generators: list[Any] | None = None) -> Any:
    """Which tokens the student may not see: a bool tensor like ``part`` (``(B, L)``).

    ``part``, ``block_id``, ``block_type``: the per-token structure from
    `motcoder.training.reflection_serialize` (padding: part -1 / block -1 / type 0).
    ``generators``: one `torch.Generator` per row for the random strategies.
    """
    import torch

    p = as_progress(progress)
    in_sequence = part == PART_REFLECTION_SEQUENCE
    seq_block = in_sequence & (block_id >= 0)
    hidden = torch.zeros_like(seq_block)
    if schedule.hide_instruction:
        hidden |= part == PART_REFLECTION_INSTRUCTION
        hidden |= in_sequence & (block_id < 0)
    strategy = schedule.strategy
    if strategy in ("block", "all"):
        codes = torch.tensor([BLOCK_CODES[t] for t in schedule.hidden_types(p)],
                             dtype=block_type.dtype, device=block_type.device)
        hidden |= seq_block & torch.isin(block_type, codes)
    elif strategy == "sequential_token":
        rank = torch.cumsum(seq_block.long(), dim=1)          # 1-based among block tokens
        count = seq_block.long().sum(dim=1, keepdim=True)
        hidden |= seq_block & (rank <= _ceil_share(count, p))
    elif strategy == "sequential_block":
        first = torch.where(seq_block, block_id, torch.full_like(block_id, 1 << 30)) \
            .min(dim=1, keepdim=True).values
        last = torch.where(seq_block, block_id, torch.full_like(block_id, -1)) \
            .max(dim=1, keepdim=True).values
        blocks = (last - first + 1).clamp(min=0)
        hidden |= seq_block & (block_id - first < _ceil_share(blocks, p))
    elif strategy in ("random_token", "random_block"):
        for row in range(part.shape[0]):
            gen = generators[row] if generators else None
            hidden[row] |= _random_row(seq_block[row], block_id[row], p,
                                       strategy == "random_block", gen)
    return hidden


def _random_row(seq_block: Any, block_id: Any, p: Fraction, by_block: bool, gen: Any) -> Any:
    import torch

    hidden = torch.zeros_like(seq_block)
    positions = torch.nonzero(seq_block).flatten()
    if positions.numel() == 0:
        return hidden
    if by_block:
        blocks = torch.unique(block_id[positions])
        take = _ceil_share(blocks.numel(), p)
        chosen = blocks[torch.randperm(blocks.numel(), generator=gen)[:take]]
        return seq_block & torch.isin(block_id, chosen)
    take = _ceil_share(positions.numel(), p)
    hidden[positions[torch.randperm(positions.numel(), generator=gen)[:take]]] = True
    return hidden


def attention_mask_4d(padding_mask: Any, hidden: Any | None = None, *, additive: bool = False,
                      dtype: Any = None) -> Any:
    """The ``(B, 1, L, L)`` attention mask: query ``q`` attends key ``k`` when ``k <= q``, ``k``
    is a real token (``padding_mask[b, k]``) and not hidden — and always when ``k == q``.

    Boolean (True = attend; what SDPA takes) by default; ``additive=True`` gives 0 / the
    dtype's minimum (what eager attention adds to the scores).
    """
    import torch

    batch, length = padding_mask.shape
    keys = padding_mask.bool()
    if hidden is not None:
        keys = keys & ~hidden.bool()
    positions = torch.arange(length, device=padding_mask.device)
    causal = positions[None, :] <= positions[:, None]                  # (L, L): k <= q
    allowed = causal[None] & keys[:, None, :]                          # (B, L, L)
    allowed |= torch.eye(length, dtype=torch.bool, device=padding_mask.device)[None]
    allowed = allowed[:, None]                                         # (B, 1, L, L)
    if not additive:
        return allowed
    dtype = dtype or torch.float32
    mask = torch.zeros(allowed.shape, dtype=dtype, device=padding_mask.device)
    return mask.masked_fill_(~allowed, torch.finfo(dtype).min)


def position_ids(batch: int, length: int, device: Any = None) -> Any:
    """Original positions ``0..L-1`` for every row (right-padded batches)."""
    import torch

    return torch.arange(length, device=device)[None].expand(batch, length)
