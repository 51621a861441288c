"""Student masks on a hand-built sequence: for each strategy and training progress exactly the
expected positions are hidden; the 4-D attention mask is causal, drops padding and hidden keys,
and never leaves a query row empty. No model here (see test_reflection_train_model.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import torch

from motcoder.training.reflection_masks import (
    MaskSchedule,
    attention_mask_4d,
    block_stage,
    parse_block_order,
    position_ids,
    student_hidden,
    training_progress,
)
from motcoder.training.reflection_serialize import BLOCK_CODES
from motcoder.training.settings import TrainingError

# One reflection sample, token by token: (part, block id, block type) per position.
#   0 BOS | 1-5 reflection instruction (role, text block 0 at 2-4, end) |
#   6 <|assistant|> | 7-8 text b1 | 9-11 code b2 | 12-13 exec b3 | 14-15 text b4 |
#   16-17 code b5 | 18 exec b6 | 19 end of the sequence |
#   20-23 re-answer instruction (text b7 at 21-22) | 24-28 final answer (text b8 at 25-27)
PREFIX, RI, RS, INS, ANS = 0, 1, 2, 3, 4
T, C, E = BLOCK_CODES["text"], BLOCK_CODES["code"], BLOCK_CODES["execution"]
LAYOUT = (
    [(PREFIX, -1, 0)]
    + [(RI, -1, 0)] + [(RI, 0, T)] * 3 + [(RI, -1, 0)]
    + [(RS, -1, 0)] + [(RS, 1, T)] * 2 + [(RS, 2, C)] * 3 + [(RS, 3, E)] * 2
    + [(RS, 4, T)] * 2 + [(RS, 5, C)] * 2 + [(RS, 6, E)] + [(RS, -1, 0)]
    + [(INS, -1, 0)] + [(INS, 7, T)] * 2 + [(INS, -1, 0)]
    + [(ANS, -1, 0)] + [(ANS, 8, T)] * 3 + [(ANS, -1, 0)]
)
LENGTH = len(LAYOUT)   # 29

ROUND_ONE = {1, 2, 3, 4, 5, 6, 19}   # instruction + the sequence's own markers
TEXT = {7, 8, 14, 15}
CODE = {9, 10, 11, 16, 17}
EXEC = {12, 13, 18}
SEQUENCE_TOKENS = [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]
BLOCK_SPANS = {1: {7, 8}, 2: {9, 10, 11}, 3: {12, 13}, 4: {14, 15}, 5: {16, 17}, 6: {18}}


def structure(pad: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = LAYOUT + [(-1, -1, 0)] * pad
    part, block, kind = (torch.tensor([[r[i] for r in rows]]) for i in range(3))
    return part, block, kind


def hidden_positions(progress, schedule: MaskSchedule, pad: int = 0, seed: int = 0
                     ) -> set[int]:
    part, block, kind = structure(pad)
    gens = [torch.Generator().manual_seed(seed)]
    hidden = student_hidden(part, block, kind, progress, schedule, gens)
    return set(torch.nonzero(hidden[0]).flatten().tolist())


BEFORE_THIRD = Fraction(1, 3) - Fraction(1, 10**6)
AFTER_THIRD = Fraction(1, 3) + Fraction(1, 10**6)
BEFORE_TWO_THIRDS = Fraction(2, 3) - Fraction(1, 10**6)
AFTER_TWO_THIRDS = Fraction(2, 3) + Fraction(1, 10**6)


@pytest.mark.parametrize("progress, expected", [
    (0, ROUND_ONE | TEXT),
    (BEFORE_THIRD, ROUND_ONE | TEXT),
    (Fraction(1, 3), ROUND_ONE | TEXT | CODE),
    (AFTER_THIRD, ROUND_ONE | TEXT | CODE),
    (BEFORE_TWO_THIRDS, ROUND_ONE | TEXT | CODE),
    (Fraction(2, 3), ROUND_ONE | TEXT | CODE | EXEC),
    (AFTER_TWO_THIRDS, ROUND_ONE | TEXT | CODE | EXEC),
    (1.0, ROUND_ONE | TEXT | CODE | EXEC),
])
def test_block_schedule_tce(progress, expected):
    assert hidden_positions(progress, MaskSchedule.from_text("block", "tce")) == expected


@pytest.mark.parametrize("progress, expected", [
    (0, ROUND_ONE | EXEC),
    (BEFORE_THIRD, ROUND_ONE | EXEC),
    (AFTER_THIRD, ROUND_ONE | EXEC | CODE),
    (AFTER_TWO_THIRDS, ROUND_ONE | EXEC | CODE | TEXT),
])
def test_block_schedule_other_order(progress, expected):
    assert hidden_positions(progress, MaskSchedule.from_text("block", "ect")) == expected


def test_the_answer_and_the_reanswer_instruction_are_never_hidden():
    always_visible = {0, 20, 21, 22, 23, 24, 25, 26, 27, 28}
    for strategy in ("block", "all", "sequential_token", "random_token", "sequential_block",
                     "random_block", "none"):
        for progress in (0, Fraction(1, 2), 1):
            hidden = hidden_positions(progress, MaskSchedule.from_text(strategy, "tce"))
            assert not hidden & always_visible, (strategy, progress)


@pytest.mark.parametrize("progress", [0, Fraction(1, 2), 1])
def test_all_and_none(progress):
    assert hidden_positions(progress, MaskSchedule.from_text("all", "tce")) == \
        ROUND_ONE | TEXT | CODE | EXEC
    assert hidden_positions(progress, MaskSchedule.from_text("none", "tce")) == ROUND_ONE
    assert hidden_positions(progress, MaskSchedule.from_text("none", "tce", False)) == set()


@pytest.mark.parametrize("progress, count", [
    (0, 0), (Fraction(1, 12), 1), (BEFORE_THIRD, 4), (Fraction(1, 3), 4), (AFTER_THIRD, 5),
    (Fraction(1, 2), 6), (1, 12),
])
def test_sequential_token(progress, count):
    expected = ROUND_ONE | set(SEQUENCE_TOKENS[:count])
    assert hidden_positions(progress, MaskSchedule.from_text("sequential_token", "tce")) == \
        expected


@pytest.mark.parametrize("progress, blocks", [
    (0, []), (Fraction(1, 6), [1]), (AFTER_THIRD, [1, 2, 3]), (Fraction(1, 2), [1, 2, 3]),
    (1, [1, 2, 3, 4, 5, 6]),
])
def test_sequential_block(progress, blocks):
    expected = ROUND_ONE.union(*(BLOCK_SPANS[b] for b in blocks))
    assert hidden_positions(progress, MaskSchedule.from_text("sequential_block", "tce")) == \
        expected


def test_random_token_hides_the_share_and_depends_on_the_seed():
    schedule = MaskSchedule.from_text("random_token", "tce")
    draws = [hidden_positions(Fraction(1, 2), schedule, seed=seed) - ROUND_ONE
             for seed in range(6)]
    for drawn in draws:
        assert len(drawn) == 6 and drawn <= set(SEQUENCE_TOKENS)
    assert len({frozenset(d) for d in draws}) > 1
    assert hidden_positions(Fraction(1, 2), schedule, seed=3) == \
        hidden_positions(Fraction(1, 2), schedule, seed=3)
    assert hidden_positions(0, schedule) == ROUND_ONE
    assert hidden_positions(1, schedule) == ROUND_ONE | set(SEQUENCE_TOKENS)


def test_random_block_hides_whole_blocks():
    schedule = MaskSchedule.from_text("random_block", "tce")
    seen = set()
    for seed in range(6):
        drawn = hidden_positions(Fraction(1, 2), schedule, seed=seed) - ROUND_ONE
        chosen = [b for b, span in BLOCK_SPANS.items() if span <= drawn]
        assert len(chosen) == 3
        assert drawn == set().union(*(BLOCK_SPANS[b] for b in chosen))
        seen.add(tuple(chosen))
    assert len(seen) > 1


def test_padding_is_never_hidden():
    for strategy in ("block", "all", "sequential_token", "random_block"):
        hidden = hidden_positions(1, MaskSchedule.from_text(strategy, "tce"), pad=4)
        assert max(hidden) < LENGTH


def test_generation_rows_have_nothing_to_hide():
    part = torch.tensor([[0, 3, 3, 3, 4, 4, 4]])
    block = torch.tensor([[-1, -1, 0, -1, -1, 1, -1]])
    kind = torch.tensor([[0, 0, T, 0, 0, T, 0]])
    for strategy in ("block", "all", "sequential_token", "sequential_block"):
        hidden = student_hidden(part, block, kind, 1, MaskSchedule.from_text(strategy, "tce"))
        assert not hidden.any()


# ----------------------------------------------------------------------------- progress


@pytest.mark.parametrize("step, total, stage", [
    (0, 30, 0), (9, 30, 0), (10, 30, 1), (19, 30, 1), (20, 30, 2), (29, 30, 2), (30, 30, 2),
    (0, 0, 0),
])
def test_stage_from_optimizer_steps(step, total, stage):
    progress = training_progress(step, total)
    assert block_stage(progress, parse_block_order("tce")) == stage


def test_short_orders_stop_at_their_last_type():
    order = parse_block_order("t")
    assert block_stage(1, order) == 0
    assert hidden_positions(1, MaskSchedule.from_text("block", "t")) == ROUND_ONE | TEXT


@pytest.mark.parametrize("order", ["", "tcex", "ttc", "tx", "code"])
def test_bad_block_orders(order):
    with pytest.raises(TrainingError, match="block_order"):
        parse_block_order(order)


def test_unknown_strategy():
    with pytest.raises(TrainingError, match="mask_strategy"):
        MaskSchedule.from_text("blocks", "tce")


# ----------------------------------------------------------------------------- 4-D mask


def test_attention_mask_exact():
    padding = torch.tensor([[1, 1, 1, 1, 1, 0]])
    hidden = torch.tensor([[False, True, True, False, False, False]])
    mask = attention_mask_4d(padding, hidden)[0, 0]
    expected = torch.tensor([
        [1, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],   # a hidden query sees the visible past and itself
        [1, 0, 1, 0, 0, 0],
        [1, 0, 0, 1, 0, 0],   # visible queries skip the hidden keys 1, 2
        [1, 0, 0, 1, 1, 0],
        [1, 0, 0, 1, 1, 1],   # the padded query sees itself (no empty row), never a pad key
    ], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_attention_mask_no_empty_rows_and_causal():
    part, block, kind = structure(pad=3)
    padding = (part >= 0).long()
    for strategy in ("block", "all", "random_token"):
        hidden = student_hidden(part, block, kind, 1, MaskSchedule.from_text(strategy, "tce"),
                                [torch.Generator().manual_seed(0)])
        mask = attention_mask_4d(padding, hidden)
        assert mask.shape == (1, 1, LENGTH + 3, LENGTH + 3)
        assert mask.any(dim=-1).all()
        assert not torch.triu(mask[0, 0].long(), diagonal=1).any()
        visible = set(range(LENGTH)) - set(torch.nonzero(hidden[0]).flatten().tolist())
        for q in (24, 27, 28):   # final-answer queries see exactly the visible past
            assert set(torch.nonzero(mask[0, 0, q]).flatten().tolist()) == \
                {k for k in visible if k <= q}


def test_additive_mask_matches_the_boolean_one():
    padding = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]])
    hidden = torch.tensor([[False, True, False, False], [True, False, False, False]])
    allowed = attention_mask_4d(padding, hidden)
    additive = attention_mask_4d(padding, hidden, additive=True, dtype=torch.bfloat16)
    assert additive.dtype == torch.bfloat16
    assert torch.equal(additive == 0, allowed)
    assert (additive[~allowed] == torch.finfo(torch.bfloat16).min).all()


def test_positions_are_the_original_ones():
    assert position_ids(2, 5).tolist() == [[0, 1, 2, 3, 4]] * 2
