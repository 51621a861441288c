"""The transformers backend: helpers, the atomic conversion cache, and end to end on the real
embedded model (SmolLM2-135M-Instruct from its GGUF file, on the CPU)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import motcoder.models  # noqa: F401  (first: it tunes OpenMP before torch loads)

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from motcoder.models import (  # noqa: E402
    GenerationRequest,
    LanguageModel,
    ModelError,
    gguf_cache,
    load_model,
)
from motcoder.models.transformers_backend import (  # noqa: E402
    TransformersModel,
    resolve_device,
    resolve_dtype,
    row_seed,
    truncate_at_stop,
)

ADD = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
HELLO = [{"role": "user", "content": "Say hello to Ada in one sentence."}]


# -- helpers -----------------------------------------------------------------------------------

def test_truncate_at_stop_cuts_at_the_earliest_stop():
    assert truncate_at_stop("a = 1\nclass X:\ndef f", ["\ndef", "\nclass"]) == ("a = 1", True)
    assert truncate_at_stop("abc", ["x", ""]) == ("abc", False)
    assert truncate_at_stop("abc", []) == ("abc", False)
    assert truncate_at_stop("stop here", ["stop"]) == ("", True)


def test_row_seeds_are_distinct_and_stable():
    seeds = {row_seed(s, j) for s in range(20) for j in range(20)}
    assert len(seeds) == 400
    assert row_seed(1, 0) == row_seed(1, 0)
    assert all(0 <= s < 2**63 for s in seeds)


def test_dtype_and_device_resolution():
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("bf16", "cpu") == torch.bfloat16
    assert resolve_dtype("float16", "cpu") == torch.float16
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ModelError, match="unknown dtype"):
        resolve_dtype("int3")
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU"):
            resolve_device("cuda")


# -- atomic conversion directory ---------------------------------------------------------------

def test_atomic_directory_publishes_only_complete_results(tmp_path):
    dest = tmp_path / "models" / "gguf-abc"
    with pytest.raises(RuntimeError), gguf_cache.atomic_directory(dest) as tmp:
        (tmp / "config.json").write_text("{}")
        raise RuntimeError("killed half-way")
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []          # the partial directory is gone

    with gguf_cache.atomic_directory(dest) as tmp:
        for name in gguf_cache.REQUIRED_FILES:
            (tmp / name).write_text("x")
    assert gguf_cache.is_complete(dest)
    assert [p.name for p in dest.parent.iterdir()] == ["gguf-abc"]


def test_leftovers_of_dead_conversions_are_removed(tmp_path):
    # A real process that has exited: its pid names a leftover temporary directory.
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = tmp_path / f".tmp-gguf-abc-{proc.stdout.strip()}-xyz"
    dead.mkdir()
    (dead / "model.safetensors").write_bytes(b"partial")
    alive = tmp_path / f".tmp-gguf-abc-{os.getppid()}-xyz"
    alive.mkdir()
    gguf_cache.remove_stale_temporaries(tmp_path, "gguf-abc")
    assert not dead.exists()
    assert alive.exists()                             # another live conversion is left alone


def test_cache_key_changes_with_the_file(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + b"\0" * 10)
    key = gguf_cache.conversion_key(f)
    assert key == gguf_cache.conversion_key(f)
    f.write_bytes(b"GGUF" + b"\0" * 11)
    assert gguf_cache.conversion_key(f) != key
    assert gguf_cache.cached_conversion(f, tmp_path) is None


# -- the real embedded model -------------------------------------------------------------------

@pytest.fixture(scope="module")
def conversions(tmp_path_factory):
    """A conversion cache of this module's own, so the first load below really converts."""
    return tmp_path_factory.mktemp("gguf-conversions")


@pytest.fixture(scope="module")
def smol(conversions):
    model = load_model("embedded", device="cpu", batch_size=8, cache_dir=str(conversions))
    yield model
    model.close()


def chat(messages, **kw) -> GenerationRequest:
    kw.setdefault("max_new_tokens", 24)
    return GenerationRequest(messages=messages, **kw)


@pytest.mark.e2e
def test_first_load_dequantizes_and_caches(smol, conversions):
    assert isinstance(smol, TransformersModel) and isinstance(smol, LanguageModel)
    assert smol.name == "SmolLM2-135M-Instruct"
    assert smol.loaded_from == "gguf"
    assert smol.conversion_dir is not None and smol.conversion_dir.parent == conversions
    assert gguf_cache.is_complete(smol.conversion_dir)
    assert not any(p.name.startswith(".tmp-") for p in conversions.iterdir())


@pytest.mark.e2e
def test_greedy_chat_is_deterministic(smol):
    request = chat(ADD, max_new_tokens=16)
    first, again = smol.generate([request]), smol.generate([request])
    out = first[0].outputs[0]
    assert out.text.strip()
    assert first[0].texts == again[0].texts
    assert first[0].prompt_tokens > 10
    assert 0 < out.tokens <= 16


@pytest.mark.e2e
def test_greedy_n_repeats_one_output(smol):
    [completion] = smol.generate([chat(HELLO, n=3, max_new_tokens=12)])
    assert len(completion.outputs) == 3 and len(set(completion.texts)) == 1


@pytest.mark.e2e
def test_sampling_n_with_seed_is_reproducible_however_batched(smol):
    req = chat(HELLO, n=3, temperature=0.8, seed=1234, max_new_tokens=16)
    [alone] = smol.generate([req])
    assert len(alone.outputs) == 3 and all(o.tokens > 0 for o in alone.outputs)
    assert len(set(alone.texts)) > 1                  # three different samples
    # Same request again, now batched with other requests: same samples.
    _, again, _ = smol.generate([chat(ADD, max_new_tokens=16), req,
                                 chat(HELLO, n=2, temperature=1.0, max_new_tokens=8)])
    assert again.texts == alone.texts
    [other] = smol.generate([chat(HELLO, n=3, temperature=0.8, seed=99, max_new_tokens=16)])
    assert other.texts != alone.texts


@pytest.mark.e2e
def test_stop_strings_truncate_and_end_early(smol):
    [full] = smol.generate([chat(ADD, max_new_tokens=24)])
    text = full.outputs[0].text
    assert "return" in text
    [cut] = smol.generate([chat(ADD, max_new_tokens=24, stop=["return"])])
    out = cut.outputs[0]
    assert out.text == text[:text.index("return")]
    assert out.finish_reason == "stop"
    assert out.tokens < full.outputs[0].tokens       # generation stopped early


@pytest.mark.e2e
def test_batched_greedy_equals_one_by_one(smol):
    requests = [chat(ADD, max_new_tokens=16), chat(HELLO, max_new_tokens=16),
                GenerationRequest(prompt="def fibonacci(n):", max_new_tokens=16),
                chat([{"role": "user", "content": "What is 2+2?"}], max_new_tokens=16)]
    batched = smol.generate(requests)
    singles = [smol.generate([r])[0] for r in requests]
    assert [c.texts for c in batched] == [c.texts for c in singles]
    assert [c.prompt_tokens for c in batched] == [c.prompt_tokens for c in singles]


@pytest.mark.e2e
def test_raw_prompt_and_length_limit(smol):
    [completion] = smol.generate([GenerationRequest(prompt="def fibonacci(n):",
                                                    max_new_tokens=8)])
    out = completion.outputs[0]
    assert out.text
    assert out.tokens == 8 and out.finish_reason == "length"
    assert 0 < completion.prompt_tokens < 10


@pytest.mark.e2e
def test_cached_conversion_is_reused_and_matches_the_gguf_model(smol, conversions,
                                                                monkeypatch):
    def no_dequantizing(path):
        raise AssertionError("the GGUF file was dequantized again")

    monkeypatch.setattr(gguf_cache, "dequantize", no_dequantizing)
    again = load_model("embedded", device="cpu", cache_dir=str(conversions))
    try:
        assert again.loaded_from == "gguf-cache"
        assert again.conversion_dir == smol.conversion_dir
        # The weights read back are exactly the dequantized ones, and generate the same.
        reloaded = again.model.state_dict()
        for name, tensor in smol.model.state_dict().items():
            assert torch.equal(tensor, reloaded[name]), name
        request = chat(ADD, max_new_tokens=16)
        assert again.generate([request])[0].texts == smol.generate([request])[0].texts
    finally:
        again.close()
