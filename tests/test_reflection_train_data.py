"""Serialisation of ReflectionSeq samples with the real (embedded) tokenizer: labels, parts and
blocks token by token; the chat template agrees with the training layout; schema errors; over-
length samples dropped and counted; the reflection:generation mixture; padding."""

from __future__ import annotations

import json

import pytest

from motcoder.training.reflection_distill import (
    ReflectionCollator,
    ReflectionDataReport,
    ReflectionSource,
    encode_samples,
    mix_samples,
)
from motcoder.training.reflection_serialize import (
    SPECIAL_TOKENS,
    ReflectionSerializer,
    add_marker_tokens,
    install_chat_template,
    parse_sample,
)
from motcoder.training.settings import TrainingError
from test_reflection_train_fixtures import TOYS, generation_record, reflection_record


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from motcoder.training.base_model import resolve_base_model

    tok = AutoTokenizer.from_pretrained(resolve_base_model("embedded"))
    add_marker_tokens(tok)
    install_chat_template(tok)
    return tok


def text(content: str) -> dict[str, str]:
    return {"type": "text", "content": content}


SAMPLE = {"type": "reflection", "messages": [
    {"role": "user", "content": [text("Solve and test.")]},
    {"role": "assistant", "content": [text("Plan."), {"type": "code", "content": "print(1)"},
                                      {"type": "execution", "content": "1"}]},
    {"role": "user", "content": [text("Now answer.")]},
    {"role": "assistant", "content": [text("```python\nprint(1)\n```")]},
]}

# token, carries loss, part, block id, block type (1 text, 2 code, 3 execution)
EXPECTED = [
    ("<|user|>", 0, 1, -1, 0), ("<|text|>", 0, 1, 0, 1), ("Sol", 0, 1, 0, 1),
    ("ve", 0, 1, 0, 1), ("Ġand", 0, 1, 0, 1), ("Ġtest", 0, 1, 0, 1), (".", 0, 1, 0, 1),
    ("<|endofblock|>", 0, 1, 0, 1), ("<|endofmessage|>", 0, 1, -1, 0),
    ("<|assistant|>", 0, 2, -1, 0),
    ("<|text|>", 1, 2, 1, 1), ("Plan", 1, 2, 1, 1), (".", 1, 2, 1, 1),
    ("<|endofblock|>", 1, 2, 1, 1),
    ("<|code|>", 1, 2, 2, 2), ("print", 1, 2, 2, 2), ("(", 1, 2, 2, 2), ("1", 1, 2, 2, 2),
    (")", 1, 2, 2, 2), ("<|endofblock|>", 1, 2, 2, 2),
    ("<|execution|>", 0, 2, 3, 3), ("1", 0, 2, 3, 3), ("<|endofblock|>", 0, 2, 3, 3),
    ("<|endofmessage|>", 1, 2, -1, 0),
    ("<|user|>", 0, 3, -1, 0), ("<|text|>", 0, 3, 4, 1), ("Now", 0, 3, 4, 1),
    ("Ġanswer", 0, 3, 4, 1), (".", 0, 3, 4, 1), ("<|endofblock|>", 0, 3, 4, 1),
    ("<|endofmessage|>", 0, 3, -1, 0),
    ("<|assistant|>", 0, 4, -1, 0),
    ("<|text|>", 1, 4, 5, 1), ("```", 1, 4, 5, 1), ("python", 1, 4, 5, 1), ("Ċ", 1, 4, 5, 1),
    ("print", 1, 4, 5, 1), ("(", 1, 4, 5, 1), ("1", 1, 4, 5, 1), (")", 1, 4, 5, 1),
    ("Ċ", 1, 4, 5, 1), ("```", 1, 4, 5, 1), ("<|endofblock|>", 1, 4, 5, 1),
    ("<|endofmessage|>", 1, 4, -1, 0),
]


def test_reflection_sample_token_by_token(tokenizer):
    encoded = ReflectionSerializer(tokenizer).encode(parse_sample(SAMPLE))
    tokens = tokenizer.convert_ids_to_tokens(encoded.input_ids)
    got = [(tok, int(label != -100), part, block, kind) for tok, label, part, block, kind in
           zip(tokens, encoded.labels, encoded.part, encoded.block_id, encoded.block_type,
               strict=True)]
    assert got == EXPECTED
    assert all(label in (-100, token) for label, token in
               zip(encoded.labels, encoded.input_ids, strict=True))


def test_generation_sample_labels(tokenizer):
    encoded = ReflectionSerializer(tokenizer).encode(parse_sample(generation_record(TOYS[0])))
    tokens = tokenizer.convert_ids_to_tokens(encoded.input_ids)
    answer = tokens.index("<|assistant|>")
    assert set(encoded.part[:answer]) == {3} and set(encoded.part[answer:]) == {4}
    assert all(label == -100 for label in encoded.labels[:answer + 1])
    assert all(label != -100 for label in encoded.labels[answer + 1:])
    assert encoded.to_row()["is_reflection"] is False


def test_chat_template_renders_the_training_layout(tokenizer):
    record = generation_record(TOYS[1])
    encoded = ReflectionSerializer(tokenizer).encode(parse_sample(record))
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": record["messages"][0]["content"][0]["content"]}],
        tokenize=False, add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    # The inference prompt is exactly the training sequence up to the answer's first token.
    assert prompt_ids == encoded.input_ids[:len(prompt_ids)]
    assert encoded.labels[len(prompt_ids) - 1] == -100 and encoded.labels[len(prompt_ids)] > 0
    full = tokenizer.apply_chat_template(SAMPLE["messages"], tokenize=False)
    assert tokenizer(full, add_special_tokens=False)["input_ids"] == \
        ReflectionSerializer(tokenizer).encode(parse_sample(SAMPLE)).input_ids
    system = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        tokenize=False, add_generation_prompt=True)
    assert system == "<|user|><|text|>Be brief.<|endofblock|><|text|>Hi<|endofblock|>" \
                     "<|endofmessage|><|assistant|>"


def test_markers_are_single_special_tokens(tokenizer):
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    ids = ReflectionSerializer(tokenizer).encode(parse_sample(SAMPLE)).input_ids
    decoded = tokenizer.decode(ids[ids.index(tokenizer.convert_tokens_to_ids("<|assistant|>"),
                                             30):], skip_special_tokens=True)
    assert decoded == "```python\nprint(1)\n```"


@pytest.mark.parametrize("record, message", [
    ({"type": "chat", "messages": SAMPLE["messages"]}, "'type' must be"),
    ({"type": "reflection", "messages": SAMPLE["messages"][:2]}, "4 messages"),
    ({"type": "generation", "messages": SAMPLE["messages"][:1]}, "end with the assistant"),
    ({"type": "generation", "messages": [SAMPLE["messages"][1], SAMPLE["messages"][0]]},
     "alternate"),
    ({"type": "generation", "messages": [
        SAMPLE["messages"][0],
        {"role": "assistant", "content": [{"type": "image", "content": "x"}]}]}, "block 0"),
    ({"type": "generation", "messages": [
        SAMPLE["messages"][0],
        {"role": "assistant", "content": [{"type": "execution", "content": "1"}]}]},
     "no text or code"),
    ({"type": "generation", "messages": [{"role": "system", "content": "x"}]}, "role user"),
])
def test_schema_errors_name_the_record(record, message):
    with pytest.raises(TrainingError, match=message) as info:
        parse_sample(record, "data.jsonl:7")
    assert "data.jsonl:7" in str(info.value)


def test_overlength_samples_are_dropped_and_counted_not_truncated(tokenizer):
    serializer = ReflectionSerializer(tokenizer)
    samples = [parse_sample(reflection_record(t), source="r.jsonl") for t in TOYS] + \
        [parse_sample(generation_record(t), source="g.jsonl") for t in TOYS]
    lengths = [len(serializer.encode(s)) for s in samples]
    limit = max(lengths[len(TOYS):])            # every generation sample fits, no reflection
    assert limit < min(lengths[:len(TOYS)])
    report = ReflectionDataReport()
    rows = encode_samples(samples, serializer, limit, report)
    assert report.dropped_overlength == {"r.jsonl": len(TOYS), "g.jsonl": 0}
    assert report.trained == {"generation": len(TOYS)}
    assert [len(r["input_ids"]) for r in rows] == lengths[len(TOYS):]
    assert report.longest == limit


def test_marker_text_inside_a_block_is_dropped_and_counted(tokenizer):
    record = json.loads(json.dumps(generation_record(TOYS[0])))
    record["messages"][1]["content"][0]["content"] += " <|code|>"
    report = ReflectionDataReport()
    rows = encode_samples([parse_sample(record, source="g.jsonl")],
                          ReflectionSerializer(tokenizer), 1000, report)
    assert rows == [] and report.dropped_marker_text == {"g.jsonl": 1}


def test_mixture_ratio_and_weights():
    reflection = [parse_sample(reflection_record(t), source="r") for t in TOYS]
    generation = [parse_sample(generation_record(t), source="g") for t in TOYS]
    sources = [(ReflectionSource("r", 1.0), reflection), (ReflectionSource("g", 0.5), generation)]
    report = ReflectionDataReport()
    mixed = mix_samples(sources, None, 0, report)
    assert report.after_weights == {"r": len(TOYS), "g": len(TOYS) // 2}
    assert len(mixed) == len(TOYS) + len(TOYS) // 2
    report = ReflectionDataReport()
    mixed = mix_samples([(ReflectionSource("r", 2.0), reflection),
                         (ReflectionSource("g", 1.0), generation)], "1:1", 0, report)
    assert report.after_ratio == {"reflection": len(TOYS), "generation": len(TOYS)}
    assert [s.kind for s in mixed] != sorted(s.kind for s in mixed)   # shuffled
    with pytest.raises(TrainingError, match="reflection_ratio"):
        mix_samples([(ReflectionSource("r"), reflection)], "1:1", 0, ReflectionDataReport())


def test_collator_pads_right(tokenizer):
    serializer = ReflectionSerializer(tokenizer)
    rows = [serializer.encode(parse_sample(reflection_record(TOYS[0]))).to_row(),
            serializer.encode(parse_sample(generation_record(TOYS[0]))).to_row()]
    batch = ReflectionCollator(tokenizer.pad_token_id)(rows)
    short = len(rows[1]["input_ids"])
    assert batch["input_ids"].shape == (2, len(rows[0]["input_ids"]))
    assert batch["attention_mask"][1].tolist() == [1] * short + [0] * (
        batch["input_ids"].shape[1] - short)
    assert (batch["labels"][1, short:] == -100).all() and (batch["part"][1, short:] == -1).all()
    assert batch["is_reflection"].tolist() == [True, False]
