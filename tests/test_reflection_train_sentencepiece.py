"""Serialisation of ReflectionSeq samples with a SentencePiece (Llama-style) tokenizer — the
kind CodeLlama uses — next to the BPE checks of `test_reflection_train_data.py`.

A tiny SentencePiece BPE model is trained here (CodeLlama's settings: byte fallback, no
normalisation, a dummy prefix, digits split), wrapped as transformers' `CodeLlamaTokenizer`,
saved with a tiny random Llama model as a base checkpoint, and prepared exactly as training
prepares a base (`prepare_base`: marker tokens, their embeddings, the chat template; then
`load_tokenizer` on the result). Our serialisation of reflection and generation samples is
then compared with the chat template's rendering, and token ids are checked to round-trip.
"""

from __future__ import annotations

import inspect
import textwrap

import pytest

from motcoder.training.reflection_distill import load_reflection_settings, prepare_base
from motcoder.training.reflection_serialize import (
    ASSISTANT,
    BLOCK_TOKEN,
    END_BLOCK,
    SPECIAL_TOKENS,
    ReflectionSerializer,
    parse_sample,
    prefix_ids,
)
from motcoder.training.sft import load_tokenizer
from test_reflection_train_fixtures import TOYS, generation_record, reflection_record


def block(kind: str, content: str) -> dict[str, str]:
    return {"type": kind, "content": content}


# Whitespace at block edges, indentation, digits, and characters the tiny vocabulary only
# has as bytes (byte fallback).
AWKWARD = {"type": "reflection", "messages": [
    {"role": "user", "content": [block("text", "  Sum 12345 numbers naïvely → fast.\n")]},
    {"role": "assistant", "content": [
        block("text", "\nFirst try:"),
        block("code", "def total(xs):\n\treturn sum(xs) - 1\nassert total([1, 2]) == 3"),
        block("execution", "AssertionError"),
        block("text", "Off by one."),
        block("code", "def total(xs):\n    return sum(xs)\nassert total([1, 2]) == 3"),
        block("execution", "(no output)"),
    ]},
    {"role": "user", "content": [block("text", "Answer once more.")]},
    {"role": "assistant", "content": [block("text", "Done: "),
                                      block("code", "    def total(xs): return sum(xs)")]},
]}
SAMPLES = {
    "reflection": reflection_record(TOYS[0]),
    "generation": generation_record(TOYS[1]),
    "awkward reflection": AWKWARD,
    "awkward generation": {"type": "generation", "messages": AWKWARD["messages"][2:]},
}


def corpus_lines() -> list[str]:
    """A few hundred lines of text and code to train the tiny model on."""
    lines = [line for line in inspect.getsource(textwrap).splitlines() if line.strip()]
    for toy in TOYS:
        lines += [toy.statement, toy.buggy, toy.fixed, toy.tests, toy.why]
    return lines


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    import sentencepiece as spm
    from transformers import CodeLlamaTokenizer, LlamaConfig, LlamaForCausalLM

    root = tmp_path_factory.mktemp("spm")
    (root / "corpus.txt").write_text("\n".join(corpus_lines()) + "\n")
    spm_dir = root / "spm"
    spm_dir.mkdir()
    spm.SentencePieceTrainer.train(
        input=str(root / "corpus.txt"), model_prefix=str(spm_dir / "tokenizer"),
        vocab_size=400, model_type="bpe", byte_fallback=True, character_coverage=1.0,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=True, split_digits=True, allow_whitespace_only_pieces=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    original = CodeLlamaTokenizer.from_pretrained(str(spm_dir))   # reads tokenizer.model
    base = root / "base"
    config = LlamaConfig(vocab_size=len(original), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(base)
    original.save_pretrained(base)
    settings = load_reflection_settings(None, ["data=unused.jsonl"])
    prepared = prepare_base(str(base), root / "prepared", settings)
    return load_tokenizer(str(prepared), settings.trust_remote_code)


def encode(tokenizer, record):
    return ReflectionSerializer(tokenizer).encode(parse_sample(record))


def test_the_tokenizer_is_sentencepiece_style_with_single_marker_tokens(tokenizer):
    assert type(tokenizer.backend_tokenizer.pre_tokenizer).__name__ == "Metaspace"
    assert prefix_ids(tokenizer) == [tokenizer.bos_token_id]
    for token in SPECIAL_TOKENS:
        assert len(tokenizer(token, add_special_tokens=False)["input_ids"]) == 1
    assert all(tokenizer.convert_tokens_to_ids(t) >= 400 for t in SPECIAL_TOKENS)  # added


@pytest.mark.parametrize("name", SAMPLES)
def test_token_ids_round_trip(tokenizer, name):
    record = SAMPLES[name]
    encoded = encode(tokenizer, record)
    ids = encoded.input_ids
    assert ids[0] == tokenizer.bos_token_id
    assert all(label in (-100, token) for label, token in
               zip(encoded.labels, ids, strict=True))
    # every block's tokens (marker to end marker) decode back to its text, but for the one
    # leading space SentencePiece's decoder drops from a piece of text decoded on its own
    blocks = [b for m in record["messages"] for b in m["content"]]
    markers = {tokenizer.convert_tokens_to_ids(t) for t in BLOCK_TOKEN.values()}
    starts = [i for i, token in enumerate(ids) if token in markers]
    end = tokenizer.convert_tokens_to_ids(END_BLOCK)
    assert len(starts) == len(blocks)
    for start, item in zip(starts, blocks, strict=True):
        stop = ids.index(end, start)
        assert tokenizer.decode(ids[start + 1:stop]) == item["content"].removeprefix(" ")
    # the whole sequence decodes to text that encodes to the same ids
    assert tokenizer(tokenizer.decode(ids), add_special_tokens=False)["input_ids"] == ids
    # the final answer, as `test_markers_are_single_special_tokens` checks it with BPE
    last = len(ids) - 1 - ids[::-1].index(tokenizer.convert_tokens_to_ids(ASSISTANT))
    answer = record["messages"][-1]["content"]
    if len(answer) == 1:
        assert tokenizer.decode(ids[last:], skip_special_tokens=True) == answer[0]["content"]


@pytest.mark.parametrize("name", SAMPLES)
def test_serialisation_is_the_chat_template_rendering(tokenizer, name):
    record = SAMPLES[name]
    encoded = encode(tokenizer, record)
    rendered = tokenizer.apply_chat_template(record["messages"], tokenize=False)
    assert rendered.startswith(tokenizer.bos_token)
    assert tokenizer.decode(encoded.input_ids) == rendered
    assert tokenizer(rendered, add_special_tokens=False)["input_ids"] == encoded.input_ids
    # the inference prompt is the training sequence up to the answer's first token
    prompt = tokenizer.apply_chat_template(record["messages"][:-1], tokenize=False,
                                           add_generation_prompt=True)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    assert prompt_ids == encoded.input_ids[:len(prompt_ids)]
    assert encoded.labels[len(prompt_ids) - 1] == -100 and encoded.labels[len(prompt_ids)] > 0
