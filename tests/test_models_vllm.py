"""The vLLM request/output mapping, tested without vLLM (stand-ins with RequestOutput's
attributes)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from motcoder.models import GenerationRequest, ModelError
from motcoder.models.vllm_backend import completion_from_output, sampling_params_kwargs

CHAT = [{"role": "user", "content": "hi"}]


def test_sampled_request_maps_every_setting():
    req = GenerationRequest(messages=CHAT, n=5, temperature=0.8, top_p=0.95,
                            max_new_tokens=256, stop=["\nclass", ""], seed=7)
    assert sampling_params_kwargs(req) == {"n": 5, "temperature": 0.8, "top_p": 0.95,
                                           "max_tokens": 256, "stop": ["\nclass"], "seed": 7}


def test_greedy_request_asks_for_one_output():
    req = GenerationRequest(prompt="def f():", n=4, temperature=0, top_p=0.5,
                            max_new_tokens=32, seed=3)
    assert sampling_params_kwargs(req) == {"n": 1, "temperature": 0.0, "top_p": 1.0,
                                           "max_tokens": 32}


def _output(text, ids, reason):
    return SimpleNamespace(text=text, token_ids=ids, finish_reason=reason)


def test_outputs_map_back_with_token_counts_and_reasons():
    req = GenerationRequest(messages=CHAT, n=3, temperature=1.0)
    raw = SimpleNamespace(prompt_token_ids=[1, 2, 3, 4], outputs=[
        _output("a", [5, 6], "stop"), _output("bb", [7, 8, 9], "length"),
        _output("c", (10,), "abort")])
    completion = completion_from_output(raw, req)
    assert completion.prompt_tokens == 4
    assert completion.texts == ["a", "bb", "c"]
    assert [o.tokens for o in completion.outputs] == [2, 3, 1]
    assert [o.finish_reason for o in completion.outputs] == ["stop", "length", "stop"]
    assert completion.completion_tokens == 6


def test_greedy_output_is_repeated_n_times():
    req = GenerationRequest(prompt="x", n=3)
    raw = SimpleNamespace(prompt_token_ids=None, outputs=[_output("same", [1, 2], "length")])
    completion = completion_from_output(raw, req)
    assert completion.texts == ["same"] * 3
    assert all(o.finish_reason == "length" and o.tokens == 2 for o in completion.outputs)
    assert completion.outputs[0] is not completion.outputs[1]
    assert completion.prompt_tokens == 0


def test_empty_output_is_an_error():
    with pytest.raises(ModelError):
        completion_from_output(SimpleNamespace(prompt_token_ids=[1], outputs=[]),
                               GenerationRequest(prompt="x"))


def test_a_marker_model_is_decoded_with_its_markers_and_nothing_else():
    """ReflectionCoder checkpoints: markers kept as the original's evaluation keeps them; the
    model's other special tokens (its end of sequence) taken out of the text."""
    req = GenerationRequest(prompt="<|user|>", max_new_tokens=8,
                            stop=["<|endofblock|>", "<|endofmessage|>"])
    kwargs = sampling_params_kwargs(req, keep_markers=True)
    assert kwargs["skip_special_tokens"] is False
    assert kwargs["spaces_between_special_tokens"] is False
    assert kwargs["stop"] == ["<|endofblock|>", "<|endofmessage|>"]
    raw = SimpleNamespace(prompt_token_ids=[1], outputs=[
        _output("<|code|>x = 1<|endofblock|></s>", [5, 6, 7], "stop")])
    assert completion_from_output(raw, req, ("</s>",)).texts == ["<|code|>x = 1<|endofblock|>"]
