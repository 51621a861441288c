"""Model specs: parsing (nothing loaded), errors that list the accepted forms, and backend
selection for the backends that need no model download."""

from __future__ import annotations

import pytest

from motcoder.models import ModelError, ModelSpec, load_model, parse_spec


@pytest.mark.parametrize("spec, expected", [
    (None, ModelSpec("embedded")),
    ("", ModelSpec("embedded")),
    ("embedded", ModelSpec("embedded")),
    ("  Embedded ", ModelSpec("embedded")),
    ("hf:Qwen/Qwen2.5-Coder-7B-Instruct", ModelSpec("hf", "Qwen/Qwen2.5-Coder-7B-Instruct")),
    ("hf:/data/ckpt/step-100", ModelSpec("hf", "/data/ckpt/step-100")),
    ("HF:org/name", ModelSpec("hf", "org/name")),
    ("gguf:/models/x.Q4_K_M.gguf", ModelSpec("gguf", "/models/x.Q4_K_M.gguf")),
    ("gguf:TheOrg/Repo-GGUF#repo.Q8_0.gguf",
     ModelSpec("gguf", "TheOrg/Repo-GGUF", gguf_file="repo.Q8_0.gguf")),
    ("hf:/models/x.gguf", ModelSpec("gguf", "/models/x.gguf")),
    ("hf:TheOrg/Repo-GGUF#f.gguf", ModelSpec("gguf", "TheOrg/Repo-GGUF", gguf_file="f.gguf")),
    ("vllm:meta-llama/Llama-3.1-8B-Instruct",
     ModelSpec("vllm", "meta-llama/Llama-3.1-8B-Instruct")),
    ("openai:http://127.0.0.1:8000/v1#qwen-7b",
     ModelSpec("openai", "http://127.0.0.1:8000/v1", model_name="qwen-7b")),
    ("openai:https://api.example.com/v1", ModelSpec("openai", "https://api.example.com/v1")),
    ("openai:http://localhost:8000/v1#", ModelSpec("openai", "http://localhost:8000/v1")),
    ("http://127.0.0.1:9000/v1#m", ModelSpec("openai", "http://127.0.0.1:9000/v1", "m")),
])
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec, fragment", [
    ("llama:foo", "unknown backend prefix 'llama:'"),
    ("hf:", "nothing after 'hf:'"),
    ("vllm:  ", "nothing after 'vllm:'"),
    ("gguf:/models/weights.bin", "ending in .gguf"),
    ("gguf:Org/Repo#weights.bin", "REPO_OR_DIR#FILE.gguf"),
    ("openai:localhost:8000", "http(s) URL"),
    ("openai:ftp://x/v1", "http(s) URL"),
    ("vllm:org/name#x", "takes no '#'"),
    ("embedded:foo", "write just 'embedded'"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "hf:Qwen/Qwen2.5-Coder-7B-Instruct"),
    ("/no/such/model.gguf", "no such GGUF file"),
    ("gpt2", "not a known form"),
])
def test_bad_specs_say_what_is_accepted(spec, fragment):
    with pytest.raises(ModelError) as info:
        parse_spec(spec)
    message = str(info.value)
    assert fragment in message
    assert "Accepted forms" in message and "openai:http://HOST:PORT/v1#MODEL" in message


def test_bare_local_paths(tmp_path):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF")
    assert parse_spec(str(checkpoint)) == ModelSpec("hf", str(checkpoint))
    assert parse_spec(str(gguf)) == ModelSpec("gguf", str(gguf))


def test_spec_round_trips_through_str():
    for text in ["embedded", "hf:org/name", "gguf:/m/x.gguf", "gguf:org/repo#f.gguf",
                 "vllm:org/name", "openai:http://127.0.0.1:8000/v1#m"]:
        assert str(parse_spec(text)) == text
        assert parse_spec(str(parse_spec(text))) == parse_spec(text)


def test_openai_spec_builds_the_openai_backend():
    from motcoder.models.openai_backend import OpenAIModel

    model = load_model("openai:http://127.0.0.1:9/v1#tiny", max_retries=0, device="cpu")
    try:
        assert isinstance(model, OpenAIModel)
        assert model.base_url == "http://127.0.0.1:9/v1"
        assert model.model == "tiny"
        assert model.max_retries == 0
    finally:
        model.close()


def test_unknown_option_is_an_error():
    with pytest.raises(ModelError, match="unknown model option.*devcie"):
        load_model("openai:http://127.0.0.1:9/v1#tiny", devcie="cpu")


def test_vllm_missing_says_how_to_install():
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here")
    with pytest.raises(ModelError, match=r'pip install "motcoder\[vllm\]"'):
        load_model("vllm:org/some-model", tensor_parallel_size=1)


def test_missing_local_gguf_is_a_model_error(tmp_path):
    pytest.importorskip("transformers")
    with pytest.raises(ModelError, match="no such GGUF file"):
        load_model(f"gguf:{tmp_path / 'absent.gguf'}", device="cpu")
