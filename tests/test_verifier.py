"""The learned verifier: losses and pairs on fixed numbers, inputs and padding on the embedded
model's real tokenizer, candidates from files and run directories, settings."""

from __future__ import annotations

import json
import math

import pytest

from motcoder.training.settings import TrainingError
from motcoder.training.verifier import (
    PAD_TOKEN,
    Candidate,
    PairCollator,
    VerifierSettings,
    bce_loss,
    bradley_terry_loss,
    end_of_turn_ids,
    ensure_pad_token,
    load_verifier_settings,
    read_candidates,
    sample_pairs,
)


def sp(x: float) -> float:
    """softplus = −log σ(−x)"""
    return math.log1p(math.exp(x))


def test_bradley_terry_loss_exact():
    import torch

    chosen = torch.tensor([2.0, 0.0, -1.0])
    rejected = torch.tensor([0.0, 0.0, 1.0])
    expected = (sp(-2.0) + sp(0.0) + sp(2.0)) / 3
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(expected, abs=1e-6)
    l2 = (4 + 0 + 1 + 0 + 0 + 1) / 6
    assert bradley_terry_loss(chosen, rejected, 0.1).item() == pytest.approx(
        expected + 0.1 * l2, abs=1e-6)
    # the loss falls as the margin grows, and is log 2 at zero margin
    assert bradley_terry_loss(torch.tensor([0.0]), torch.tensor([0.0])).item() == \
        pytest.approx(math.log(2), abs=1e-6)


def test_bce_loss_exact():
    import torch

    scores = torch.tensor([1.0, -2.0])
    labels = torch.tensor([1.0, 0.0])
    expected = (sp(-1.0) + sp(-2.0)) / 2
    assert bce_loss(scores, labels).item() == pytest.approx(expected, abs=1e-6)
    assert bce_loss(scores, labels, 0.5).item() == pytest.approx(expected + 0.5 * 2.5,
                                                                 abs=1e-6)


def cand(task: str, name: str, passed: bool | None) -> Candidate:
    return Candidate(task, f"problem {task}", name, passed)


def test_sample_pairs_all_when_few():
    cands = [cand("b", "b+", True), cand("a", "a+", True), cand("a", "a-1", False),
             cand("a", "a-2", False), cand("b", "b-", False), cand("c", "c+", True),
             cand("d", "d-", False), cand("a", "a?", None)]
    pairs = sample_pairs(cands, per_problem=10, seed=0)
    assert [(g.response, b.response) for g, b in pairs] == [
        ("a+", "a-1"), ("a+", "a-2"), ("b+", "b-")]


def test_sample_pairs_limit_is_seeded_and_within_problem():
    cands = [cand("a", f"a+{i}", True) for i in range(4)] + \
        [cand("a", f"a-{i}", False) for i in range(5)] + [cand("b", "b+", True),
                                                          cand("b", "b-", False)]
    first = sample_pairs(cands, per_problem=3, seed=7)
    again = sample_pairs(cands, per_problem=3, seed=7)
    other = sample_pairs(cands, per_problem=3, seed=8)
    assert [(g.response, b.response) for g, b in first] == \
        [(g.response, b.response) for g, b in again]
    assert len(first) == 4 and len(set(map(id, (g for g, _ in first)))) >= 1
    assert sum(g.task_id == "a" for g, _ in first) == 3
    for good, bad in first:
        assert good.passed and bad.passed is False and good.task_id == bad.task_id
    assert len({(g.response, b.response) for g, b in first}) == 4   # no pair twice
    assert [(g.response, b.response) for g, b in other] != \
        [(g.response, b.response) for g, b in first]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from motcoder.training.base_model import resolve_base_model

    tok = AutoTokenizer.from_pretrained(resolve_base_model("embedded"))
    assert tok.pad_token_id == tok.eos_token_id   # SmolLM2 pads with <|im_end|>
    return tok


def test_pad_token_is_added_and_differs_from_end_of_turn(tokenizer):
    from motcoder.training.verifier import encode, render_input

    eot = end_of_turn_ids(tokenizer)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in eot
    assert ensure_pad_token(tokenizer) is True
    assert tokenizer.pad_token == PAD_TOKEN and tokenizer.pad_token_id not in eot
    assert tokenizer.padding_side == "right"
    assert ensure_pad_token(tokenizer) is False   # already fine: nothing added twice
    ids = encode(tokenizer, "Add.", "```python\nprint(1)\n```")
    assert ids[-1] in eot                          # the scored token is the end of turn
    assert render_input(tokenizer, "Add.", "x").endswith("<|im_end|>")
    batch = PairCollator(tokenizer)([{"chosen_ids": [5, 6, 7], "rejected_ids": [8]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8] + [tokenizer.pad_token_id] * 2]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_score_does_not_change_when_padded(tokenizer):
    """Right padding, score at the last real token: a short candidate batched with a long one
    (so it is padded) scores as it does alone; so does a long one."""
    from motcoder.training.base_model import resolve_base_model
    from motcoder.training.verifier import Verifier, load_scoring_model

    ensure_pad_token(tokenizer)
    model = load_scoring_model(resolve_base_model("embedded"), tokenizer).eval()
    assert model.config.pad_token_id == tokenizer.pad_token_id
    verifier = Verifier(model, tokenizer, batch_size=4)
    short = ("Print 1.", "```python\nprint(1)\n```")
    long = ("Print the sum of many numbers. " * 10, "```python\n" + "x = 1\n" * 40 + "```")
    alone = verifier.score(*short)
    together = verifier.score([short[0], long[0]], [short[1], long[1]])
    assert together[0] == pytest.approx(alone, abs=1e-4)
    assert together[1] == pytest.approx(verifier.score(*long), abs=1e-4)
    assert verifier.score_batch([short, long]) == pytest.approx(together, abs=1e-5)
    # the padded position really is ignored: a different score at another position exists
    assert abs(together[0] - together[1]) > 1e-6


def test_candidates_from_files_and_run_directories(tmp_path):
    path = tmp_path / "cands.jsonl"
    path.write_text(json.dumps({"task_id": "t", "prompt": "P", "response": "R",
                                "passed": True}) + "\n")
    assert read_candidates([path]) == [Candidate("t", "P", "R", True)]
    run = tmp_path / "run"
    run.mkdir()
    samples = [{"task_id": "t", "sample_index": i, "round": r,
                "messages": [{"role": "system", "content": "S"},
                             {"role": "user", "content": "Problem"}],
                "completion": f"answer {i}.{r}"} for i in range(2) for r in range(2)]
    results = [{"task_id": "t", "sample_index": i, "round": r, "passed": i == 1 and r == 1}
               for i in range(2) for r in range(2) if (i, r) != (0, 1)]
    (run / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    got = read_candidates([run])
    assert [(c.response, c.passed, c.prompt) for c in got] == [
        ("answer 0.0", False, "Problem"), ("answer 1.0", False, "Problem"),
        ("answer 1.1", True, "Problem")]
    unjudged = read_candidates([run], require_verdicts=False)
    assert len(unjudged) == 4 and unjudged[1].passed is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": "t", "prompt": "P"}) + "\n")
    with pytest.raises(TrainingError, match=r"bad.jsonl:1: .*missing response"):
        read_candidates([bad])
    with pytest.raises(TrainingError, match="no such candidate"):
        read_candidates([tmp_path / "nope"])


def test_settings_file_overrides_and_errors(tmp_path):
    config = tmp_path / "v.yaml"
    config.write_text("model: embedded\ndata: [a.jsonl]\nloss: bt\nl2: 0.05\n"
                      "lora: {r: 4}\n")
    settings = load_verifier_settings(config, ["lora.alpha=8", "learning_rate=1e-4"])
    assert isinstance(settings, VerifierSettings)
    assert (settings.l2, settings.lora.r, settings.lora.alpha, settings.learning_rate) == \
        (0.05, 4, 8, 1e-4)
    with pytest.raises(TrainingError, match="unknown setting 'l3'"):
        load_verifier_settings(config, ["l3=1"])
    with pytest.raises(TrainingError, match="loss must be one of"):
        load_verifier_settings(config, ["loss=hinge"])
    with pytest.raises(TrainingError, match="no verifier training data"):
        load_verifier_settings(None)
