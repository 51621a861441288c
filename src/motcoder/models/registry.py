"""Model specs: one string chooses a backend and a model.

==============================================  ============================================
spec                                            model
==============================================  ============================================
``None``, ``""``, ``embedded``                  the embedded SmolLM2-135M-Instruct (CPU)
``hf:ORG/NAME`` or ``hf:/path/to/checkpoint``   transformers, hub id or local directory
``gguf:/path/to/model.gguf``                    transformers on a GGUF file (cached conversion)
``gguf:ORG/REPO#FILE.gguf``                     a GGUF file of a hub repository
``vllm:ORG/NAME`` or ``vllm:/path``             vLLM offline engine (extra, GPU)
``openai:http://HOST:PORT/v1#MODEL``            any OpenAI-compatible server (``#MODEL``
                                                optional: the server's first model)
==============================================  ============================================

Without a prefix, an existing local directory is read as ``hf:``, an existing ``.gguf`` file
as ``gguf:``, and an ``http(s)://`` URL as ``openai:``. ``hf:PATH.gguf`` and
``hf:REPO#FILE.gguf`` are accepted as the GGUF forms. A bare hub id is refused (a mistyped
local path must not turn into a download): write ``hf:ORG/NAME``.

`parse_spec` only parses (nothing is imported or loaded); `load_model` builds the model.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.models.base import LanguageModel, ModelError

BACKENDS = ("embedded", "hf", "gguf", "vllm", "openai")

ACCEPTED_FORMS = (
    "embedded (the default SmolLM2-135M-Instruct), "
    "hf:ORG/NAME or hf:/local/checkpoint, "
    "gguf:/path/model.gguf or gguf:ORG/REPO#FILE.gguf, "
    "vllm:ORG/NAME (GPU), "
    "openai:http://HOST:PORT/v1#MODEL"
)

TRANSFORMERS_OPTIONS = frozenset({"device", "dtype", "batch_size", "max_model_len",
                                  "trust_remote_code", "seed", "threads", "name",
                                  "cache_dir", "prefix_cache"})
VLLM_OPTIONS = frozenset({"dtype", "max_model_len", "tensor_parallel_size", "seed",
                          "gpu_memory_utilization", "trust_remote_code", "name",
                          "enforce_eager", "enable_prefix_caching", "max_num_seqs",
                          "quantization", "download_dir", "swap_space"})

_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec.

    ``backend``: "embedded" | "hf" | "gguf" | "vllm" | "openai".
    ``target``: hub id / local path (hf, vllm), GGUF file path or hub repository (gguf),
    server base URL (openai); None for embedded.
    ``model_name``: the model's name at an OpenAI-compatible server (None: ask the server).
    ``gguf_file``: the GGUF file inside a hub repository or directory (gguf only).
    """

    backend: str
    target: str | None = None
    model_name: str | None = None
    gguf_file: str | None = None

    def __str__(self) -> str:
        if self.backend == "embedded":
            return "embedded"
        text = f"{self.backend}:{self.target}"
        fragment = self.model_name if self.backend == "openai" else self.gguf_file
        return f"{text}#{fragment}" if fragment else text


def _error(spec: str, problem: str) -> ModelError:
    return ModelError(f"bad model spec {spec!r}: {problem}. Accepted forms: {ACCEPTED_FORMS}")


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://"))


def _gguf_spec(spec: str, target: str) -> ModelSpec:
    if "#" in target:
        repo, _, name = target.partition("#")
        if not repo or not name.lower().endswith(".gguf"):
            raise _error(spec, "the GGUF form is REPO_OR_DIR#FILE.gguf")
        return ModelSpec("gguf", repo, gguf_file=name)
    if not target.lower().endswith(".gguf"):
        raise _error(spec, "gguf: expects a path ending in .gguf (or REPO#FILE.gguf)")
    return ModelSpec("gguf", target)


def _openai_spec(spec: str, target: str) -> ModelSpec:
    url, _, name = target.partition("#")
    url = url.strip()
    if not _is_url(url) or len(url.split("://", 1)[1]) == 0:
        raise _error(spec, "openai: expects an http(s) URL, e.g. openai:http://127.0.0.1:8000/v1"
                           "#my-model")
    return ModelSpec("openai", url, model_name=name.strip() or None)


def parse_spec(spec: str | None) -> ModelSpec:
    """Parse a model spec (see the module docstring) without loading anything."""
    if spec is None:
        return ModelSpec("embedded")
    if not isinstance(spec, str):
        raise ModelError(f"a model spec is a string, got {type(spec).__name__}")
    text = spec.strip()
    if text.lower() in ("", "embedded", "default"):
        return ModelSpec("embedded")
    if _is_url(text):
        return _openai_spec(spec, text)
    match = _PREFIX.match(text)
    if match and not Path(text).exists():
        prefix, target = match.group(1).lower(), match.group(2).strip()
        if prefix not in BACKENDS:
            raise _error(spec, f"unknown backend prefix {prefix + ':'!r}")
        if not target:
            raise _error(spec, f"nothing after {prefix + ':'!r}")
        if prefix == "embedded":
            raise _error(spec, "write just 'embedded'")
        if prefix == "openai":
            return _openai_spec(spec, target)
        if prefix == "gguf":
            return _gguf_spec(spec, target)
        if prefix == "hf" and ("#" in target or target.lower().endswith(".gguf")):
            return _gguf_spec(spec, target)
        if "#" in target:
            raise _error(spec, f"{prefix}: takes no '#' fragment")
        return ModelSpec(prefix, target)
    path = Path(text).expanduser()
    if path.is_dir():
        return ModelSpec("hf", text)
    if text.lower().endswith(".gguf"):
        if path.is_file():
            return ModelSpec("gguf", text)
        raise _error(spec, f"no such GGUF file: {path}")
    if "/" in text and not text.startswith((".", "/", "~")):
        raise _error(spec, f"no local directory {text!r}; for a Hugging Face hub model write "
                           f"hf:{text}")
    raise _error(spec, "not a known form, and no such local directory or .gguf file")


def _openai_options() -> frozenset[str]:
    from motcoder.models.openai_backend import OpenAIModel

    params = inspect.signature(OpenAIModel.__init__).parameters
    return frozenset(p for p in params if p not in ("self", "base_url", "model"))


def _select(spec: ModelSpec, options: dict[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """The options this backend takes. Options no backend knows are an error (a typo); options
    meant for other backends (e.g. ``device`` for a server) are ignored."""
    known = TRANSFORMERS_OPTIONS | VLLM_OPTIONS | allowed
    if any(k not in known for k in options):
        known = known | _openai_options()
    unknown = sorted(k for k in options if k not in known)
    if unknown:
        raise ModelError(f"unknown model option(s) {', '.join(unknown)} for {spec}; "
                         f"{spec.backend} takes: {', '.join(sorted(allowed))}")
    return {k: v for k, v in options.items() if k in allowed}


def load_model(spec: str | ModelSpec | None = None, **options: Any) -> LanguageModel:
    """Build the model a spec names. Options whose value is None are dropped.

    transformers (embedded, hf, gguf): device ("auto" | "cpu" | "cuda"), dtype ("auto" |
    "float32" | "bfloat16" | "float16"), batch_size, max_model_len, trust_remote_code, seed,
    threads, name, cache_dir (GGUF conversions), prefix_cache. vLLM: dtype, max_model_len,
    tensor_parallel_size, seed, gpu_memory_utilization, ... openai: the keyword arguments
    of `OpenAIModel` (api_key, max_concurrency, timeout, max_retries, ...).
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    options = {k: v for k, v in options.items() if v is not None}
    if parsed.backend == "embedded":
        from motcoder.models.embedded import load_embedded

        return load_embedded(**_select(parsed, options, TRANSFORMERS_OPTIONS))
    if parsed.backend in ("hf", "gguf"):
        from motcoder.models.transformers_backend import TransformersModel

        assert parsed.target is not None
        return TransformersModel(parsed.target, gguf_file=parsed.gguf_file,
                                 **_select(parsed, options, TRANSFORMERS_OPTIONS))
    if parsed.backend == "vllm":
        from motcoder.models.vllm_backend import VLLMModel

        assert parsed.target is not None
        return VLLMModel(parsed.target, **_select(parsed, options, VLLM_OPTIONS))
    if parsed.backend == "openai":
        from motcoder.models.openai_backend import OpenAIModel

        assert parsed.target is not None
        return OpenAIModel(parsed.target, parsed.model_name,
                           **_select(parsed, options, _openai_options()))
    raise ModelError(f"unknown backend {parsed.backend!r}; accepted forms: {ACCEPTED_FORMS}")
