"""The reflection losses on a real model (the embedded SmolLM2-135M): marker embeddings start as
the mean of their sub-tokens (input and output; tied and untied), the student's 4-D mask is the
same as removing the hidden tokens while keeping their positions, the KL term is zero when the
student sees everything and positive when it does not, and no logit is NaN."""

from __future__ import annotations

import pytest
import torch

from motcoder.training.reflection_distill import (
    ReflectionCollator,
    distill_losses,
    student_hidden_for,
    two_view_losses,
)
from motcoder.training.reflection_masks import MaskSchedule, attention_mask_4d, position_ids
from motcoder.training.reflection_serialize import (
    PART_ANSWER,
    SPECIAL_TOKENS,
    ReflectionSerializer,
    add_reflection_tokens,
    parse_sample,
)
from test_reflection_train_fixtures import TOYS, generation_record, reflection_record


@pytest.fixture(scope="module")
def base() -> str:
    from motcoder.training.base_model import resolve_base_model

    return resolve_base_model("embedded")


@pytest.fixture(scope="module")
def extended(base):
    """The embedded model and tokenizer with the markers added (in memory)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype="float32",
                                                 attn_implementation="sdpa")
    add_reflection_tokens(model, tokenizer)
    return model.eval(), tokenizer


def expected_mean(original_tokenizer, weight: torch.Tensor, token: str) -> torch.Tensor:
    ids = original_tokenizer(token, add_special_tokens=False)["input_ids"]
    assert len(ids) > 1, token
    return weight[ids].mean(dim=0)


def test_marker_embeddings_are_sub_token_means_tied(base, extended):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer = extended
    original_tokenizer = AutoTokenizer.from_pretrained(base)
    original = AutoModelForCausalLM.from_pretrained(base, dtype="float32")
    before = original.get_input_embeddings().weight.detach()
    inputs = model.get_input_embeddings().weight.detach()
    outputs = model.get_output_embeddings().weight.detach()
    assert model.config.tie_word_embeddings
    assert inputs.shape[0] == len(original_tokenizer) + len(SPECIAL_TOKENS)
    assert torch.equal(inputs[:before.shape[0]], before)   # old rows untouched
    for token in SPECIAL_TOKENS:
        row = tokenizer.convert_tokens_to_ids(token)
        want = expected_mean(original_tokenizer, before, token)
        assert torch.allclose(inputs[row], want, atol=1e-6), token
        assert torch.allclose(outputs[row], want, atol=1e-6), token


def test_marker_embeddings_are_sub_token_means_untied(base):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    original_tokenizer = AutoTokenizer.from_pretrained(base)
    tokenizer = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
        num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False))
    old_in = model.get_input_embeddings().weight.detach().clone()
    old_out = model.get_output_embeddings().weight.detach().clone()
    assert not torch.equal(old_in, old_out)
    add_reflection_tokens(model, tokenizer)
    new_in = model.get_input_embeddings().weight.detach()
    new_out = model.get_output_embeddings().weight.detach()
    for token in SPECIAL_TOKENS:
        row = tokenizer.convert_tokens_to_ids(token)
        assert torch.allclose(new_in[row], expected_mean(original_tokenizer, old_in, token),
                              atol=1e-6)
        assert torch.allclose(new_out[row], expected_mean(original_tokenizer, old_out, token),
                              atol=1e-6)
        assert not torch.allclose(new_in[row], new_out[row])


def batch_of(tokenizer, toys=TOYS[:2], generation=TOYS[2:3]):
    serializer = ReflectionSerializer(tokenizer)
    samples = [reflection_record(t) for t in toys] + [generation_record(t) for t in generation]
    rows = [{**serializer.encode(parse_sample(s)).to_row(), "index": i}
            for i, s in enumerate(samples)]
    return ReflectionCollator(tokenizer.pad_token_id)(rows)


def test_kl_zero_when_the_student_sees_everything(extended):
    model, tokenizer = extended
    batch = batch_of(tokenizer)
    hidden = student_hidden_for(batch, 1, MaskSchedule.from_text("none", "tce", False))
    assert not hidden.any()
    with torch.no_grad():
        losses = two_view_losses(model, batch, hidden)
    assert losses.answer_tokens > 0
    assert losses.kl.item() == 0.0
    assert torch.isfinite(losses.total)


@pytest.mark.parametrize("strategy, hide, progress", [
    ("none", True, 0), ("block", True, 0), ("block", True, 1), ("all", False, 0),
    ("random_token", True, 0.5),
])
def test_kl_positive_when_the_student_is_blinded(extended, strategy, hide, progress):
    model, tokenizer = extended
    batch = batch_of(tokenizer)
    hidden = student_hidden_for(batch, progress, MaskSchedule.from_text(strategy, "tce", hide))
    assert hidden.any()
    with torch.no_grad():
        losses = two_view_losses(model, batch, hidden)
    assert losses.kl.item() > 1e-4
    assert torch.isfinite(losses.ce_student) and torch.isfinite(losses.ce_teacher)


def test_masked_student_equals_the_compacted_sequence(extended):
    """Hidden keys removed + original positions == running only the visible tokens at their
    original positions; every logit (hidden queries and padding included) is finite."""
    model, tokenizer = extended
    batch = batch_of(tokenizer, TOYS[:2], ())
    hidden = student_hidden_for(batch, 0.5, MaskSchedule.from_text("block", "tce"))
    rows, length = batch["input_ids"].shape
    with torch.no_grad():
        masked = model(input_ids=batch["input_ids"],
                       attention_mask=attention_mask_4d(batch["attention_mask"], hidden),
                       position_ids=position_ids(rows, length), use_cache=False).logits
        assert torch.isfinite(masked).all()
        for row in range(rows):
            keep = torch.nonzero(batch["attention_mask"][row].bool()
                                 & ~hidden[row]).flatten()
            # (an explicit 2-D mask: without one, transformers reads position ids with gaps
            # as several packed sequences)
            compact = model(input_ids=batch["input_ids"][row, keep][None],
                            attention_mask=torch.ones(1, len(keep), dtype=torch.long),
                            position_ids=keep[None], use_cache=False).logits[0]
            answer = (batch["part"][row, keep] == PART_ANSWER)
            assert answer.sum() > 5
            torch.testing.assert_close(masked[row, keep][answer], compact[answer],
                                       atol=2e-4, rtol=1e-4)


def test_eager_attention_gives_the_same_losses(base, extended):
    from transformers import AutoModelForCausalLM

    model, tokenizer = extended
    eager = AutoModelForCausalLM.from_pretrained(base, dtype="float32",
                                                 attn_implementation="eager").eval()
    eager.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    eager.load_state_dict(model.state_dict())
    batch = batch_of(tokenizer)
    hidden = student_hidden_for(batch, 0.8, MaskSchedule.from_text("block", "tce"))
    with torch.no_grad():
        a = two_view_losses(model, batch, hidden, attention="sdpa")
        b = two_view_losses(eager, batch, hidden, attention="eager")
    for name in ("ce_teacher", "ce_student", "kl"):
        assert getattr(a, name).item() == pytest.approx(getattr(b, name).item(), rel=1e-3)


def test_kl_gradient_reaches_only_the_student():
    torch.manual_seed(0)
    labels = torch.tensor([[-100, 5, 6, 7], [-100, -100, 3, 4]])
    teacher = torch.randn(2, 4, 10, requires_grad=True)
    student = torch.randn(1, 4, 10, requires_grad=True)
    losses = distill_losses(teacher, labels, student, labels[:1], torch.tensor([0]),
                            weights=(0.0, 0.0, 1.0))
    losses.total.backward()
    assert teacher.grad is None or not teacher.grad.any()
    assert student.grad is not None and student.grad.abs().sum() > 0
    # KL(teacher || student) by hand on the three answer positions
    t = torch.log_softmax(teacher[0, :3].detach(), -1)
    s = torch.log_softmax(student[0, :3].detach(), -1)
    assert losses.kl.item() == pytest.approx(float((t.exp() * (t - s)).sum(-1).mean()),
                                             rel=1e-5)


@pytest.mark.parametrize("normalisation", ["joint", "per_view"])
def test_loss_balance_is_the_hand_computed_formula(normalisation):
    """``joint`` is the original's: one token mean over the teacher's and the student's label
    tokens (their rows concatenated) plus the KL, a mean over the student's answer positions;
    ``per_view`` adds the two means."""
    import torch.nn.functional as F

    torch.manual_seed(1)
    labels = torch.tensor([[-100, 5, 6, 7, 8, 9], [-100, -100, 3, 4, -100, -100]])
    answer = torch.tensor([[-100, -100, -100, -100, 8, 9]])        # row 0's final answer
    teacher = torch.randn(2, 6, 12)
    student = torch.randn(1, 6, 12)
    losses = distill_losses(teacher, labels, student, answer, torch.tensor([0]),
                            normalisation=normalisation)

    def token_losses(logits, targets):
        keep = targets[:, 1:] != -100
        return F.cross_entropy(logits[:, :-1][keep], targets[:, 1:][keep], reduction="none")

    t, s = token_losses(teacher, labels), token_losses(student, answer)
    keep = answer[:, 1:] != -100
    kl = F.kl_div(F.log_softmax(student[:, :-1][keep], -1), F.softmax(teacher[:1, :-1][keep], -1),
                  reduction="batchmean")          # the original's F.kl_div(..., "batchmean")
    if normalisation == "joint":
        want = torch.cat([t, s]).mean() + kl
    else:
        want = t.mean() + s.mean() + kl
    assert len(t) == 7 and len(s) == 2
    assert losses.total.item() == pytest.approx(want.item(), rel=1e-5)
    assert losses.ce_teacher.item() == pytest.approx(t.mean().item(), rel=1e-5)
    assert losses.ce_student.item() == pytest.approx(s.mean().item(), rel=1e-5)
