"""Language models behind one protocol: transformers (CPU/GPU, GGUF), vLLM, OpenAI-compatible
servers, and the embedded default model. `load_model` builds one from a spec string
(see `motcoder.models.registry`)."""

from motcoder.models.base import (
    Completion,
    GenerationRequest,
    LanguageModel,
    ModelError,
    Output,
)
from motcoder.models.registry import ModelSpec, load_model, parse_spec

__all__ = ["Completion", "GenerationRequest", "LanguageModel", "ModelError", "ModelSpec",
           "Output", "load_model", "parse_spec"]
