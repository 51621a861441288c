"""Loss only on the responses, checked in the dataset TRL's `SFTTrainer` really trains on.

With the embedded model's real tokenizer and chat template (SmolLM2's, which has no generation
markers → prompt-completion rows), and with the same tokenizer given TRL's Qwen2.5 template
(which TRL knows how to patch → ``assistant_only_loss``): every prompt token — system, user,
the generation prompt — has label -100, and the trained tokens decode to exactly the assistant
turns with their end-of-turn token. Also: over-length samples are dropped and counted, never
truncated.
"""

from __future__ import annotations

import copy

import pytest

from motcoder.datagen.toy import TRAIN, mot_answer, write_chat
from motcoder.prompts.mot_format import check_mot
from motcoder.training.base_model import resolve_base_model
from motcoder.training.masking import resolve_loss_mask
from motcoder.training.settings import TrainingError, load_settings
from motcoder.training.sft import build_trainer, load_tokenizer, prepare

END = "<|im_end|>\n"


@pytest.fixture(scope="module")
def base() -> str:
    return resolve_base_model("embedded")   # the cached conversion of the GGUF file


@pytest.fixture(scope="module")
def tokenizer(base):
    return load_tokenizer(base)


def settings(tmp_path, *overrides: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = write_chat(tmp_path / "mot.jsonl", TRAIN[:3])
    return load_settings(None, [f"data={data}", f"out={tmp_path / 'run'}", "max_length=1024",
                                *overrides])


def trained_text(tokenizer, row) -> str:
    return tokenizer.decode([t for t, label in zip(row["input_ids"], row["labels"],
                                                   strict=True) if label != -100])


def masked_prefix(row) -> int:
    """How many leading tokens are masked (prompt)."""
    return next(i for i, label in enumerate(row["labels"]) if label != -100)


def test_embedded_template_has_no_markers_so_auto_uses_prompt_completion(tokenizer):
    assert resolve_loss_mask(tokenizer, "auto") == ("completion", None)
    with pytest.raises(TrainingError, match="generation"):
        resolve_loss_mask(tokenizer, "assistant")


def test_one_step_labels_cover_only_the_answer(tmp_path, tokenizer):
    prepared = prepare(settings(tmp_path))
    assert prepared.loss_mask == "completion"
    dataset = build_trainer(prepared).train_dataset
    assert len(dataset) == 3
    for i, row in enumerate(dataset):
        prompt = prepared.rows[i]["prompt"]
        prompt_ids = tokenizer.apply_chat_template(prompt, tokenize=True, return_dict=True,
                                                   add_generation_prompt=True)["input_ids"]
        assert masked_prefix(row) == len(prompt_ids)          # every prompt token is -100
        assert row["input_ids"][:len(prompt_ids)] == prompt_ids
        assert all(label != -100 for label in row["labels"][len(prompt_ids):])
        assert trained_text(tokenizer, row) == prepared.rows[i]["completion"][0]["content"] + END


def test_two_step_trains_both_assistant_turns(tmp_path, tokenizer):
    prepared = prepare(settings(tmp_path, "layout=two-step"))
    dataset = build_trainer(prepared).train_dataset
    assert len(dataset) == 6                       # 3 conversations x 2 assistant turns
    by_task: dict[str, list[str]] = {}
    for row, source in zip(dataset, prepared.rows, strict=True):
        text = trained_text(tokenizer, row)
        assert text == source["completion"][0]["content"] + END
        # The prompt (system, user turns, and the outline when it is context) is never trained.
        assert tokenizer.decode(row["input_ids"][:masked_prefix(row)]).endswith(
            "<|im_start|>assistant\n")
        by_task.setdefault(source["prompt"][1]["content"], []).append(text)
    for outline, build in by_task.values():
        assert outline.startswith("Step 1") and build.startswith("Step 2")
        assert check_mot(outline.removesuffix(END) + "\n" + build.removesuffix(END)).ok


def test_assistant_only_loss_with_a_template_trl_can_patch(tmp_path, tokenizer, monkeypatch):
    from trl.chat_template_utils import qwen2_5_chat_template

    qwen_like = copy.deepcopy(tokenizer)   # SmolLM2 has the same <|im_start|>/<|im_end|> tokens
    qwen_like.chat_template = qwen2_5_chat_template
    mode, template = resolve_loss_mask(qwen_like, "auto")
    assert mode == "assistant" and "{% generation %}" in template.replace("{%-", "{%")

    import motcoder.training.sft as sft

    monkeypatch.setattr(sft, "load_tokenizer", lambda base, trust=False: qwen_like)
    prepared = prepare(settings(tmp_path, "layout=two-step"))
    assert prepared.loss_mask == "assistant"
    dataset = build_trainer(prepared).train_dataset
    assert len(dataset) == 3                       # one sequence per conversation
    for row, source in zip(dataset, prepared.rows, strict=True):
        turns = [m["content"] for m in source["messages"] if m["role"] == "assistant"]
        assert len(turns) == 2
        # TRL's Qwen2.5 training template opens the generation span at the newline after
        # "<|im_start|>assistant", so that newline is trained too.
        assert trained_text(qwen_like, row) == "\n" + turns[0] + END + "\n" + turns[1] + END
        text = qwen_like.decode(row["input_ids"])
        assert source["messages"][1]["content"] in text        # the user turn is there ...
        assert source["messages"][1]["content"] not in trained_text(qwen_like, row)  # untrained


def test_overlength_samples_are_dropped_and_counted_not_truncated(tmp_path, tokenizer):
    full = prepare(settings(tmp_path / "a"))
    lengths = sorted(len(tokenizer.apply_chat_template(r["prompt"] + r["completion"],
                                                       tokenize=True, return_dict=True)
                         ["input_ids"]) for r in full.rows)
    assert len(set(lengths)) == 3
    cut = lengths[1]                                # keeps the two shortest samples
    short = prepare(settings(tmp_path / "b", f"max_length={cut}"))
    source = str(tmp_path / "b" / "mot.jsonl")
    assert short.report.dropped_overlength == {source: 1}
    assert short.report.trained == {source: 2} and short.report.longest == cut
    dataset = build_trainer(short).train_dataset
    assert sorted(len(r["input_ids"]) for r in dataset) == lengths[:2]   # whole, not cut
    none_fit = settings(tmp_path / "c", "max_length=50")
    with pytest.raises(TrainingError, match="every sample is longer than max_length=50"):
        prepare(none_fit)


def test_alpaca_answers_are_the_trained_part(tmp_path, tokenizer):
    from motcoder.datagen.toy import write_alpaca

    data = write_alpaca(tmp_path / "alpaca.jsonl", TRAIN[:2])
    prepared = prepare(load_settings(None, [f"data={data}", f"out={tmp_path / 'run'}"]))
    dataset = build_trainer(prepared).train_dataset
    texts = sorted(trained_text(tokenizer, row) for row in dataset)
    assert texts == sorted(mot_answer(t) + END for t in TRAIN[:2])
