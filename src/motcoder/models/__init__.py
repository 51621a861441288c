"""Language models behind one protocol: transformers (CPU/GPU, GGUF), vLLM, OpenAI-compatible
servers, and the embedded default model. `load_model` builds one from a spec string
(see `motcoder.models.registry`).

Importing this package (before torch is imported) sets ``GOMP_SPINCOUNT=1000`` unless
``GOMP_SPINCOUNT`` or ``OMP_WAIT_POLICY`` is already set: torch's CPU wheels use GNU OpenMP,
whose threads spin for a long time at every barrier. When other processes share the cores (the
execution sandbox's workers, other jobs) that spinning made CPU generation 5-40x slower in our
measurements on 2 cores; short spins cost about 10% on an idle machine. For peak speed on a
dedicated machine set ``GOMP_SPINCOUNT=300000`` (libgomp's default) yourself.

It also sets ``THP_MEM_ALLOC_ENABLE=1`` unless set: torch then backs large CPU tensors with
transparent huge pages, and fresh tensors (a batch's key/value cache, prefill activations) no
longer pay a page fault every 4 KiB — about 10% of a batched CPU generation here.
"""

import os as _os

if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "1000"
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from motcoder.models.base import (  # noqa: E402
    Completion,
    GenerationRequest,
    LanguageModel,
    ModelError,
    Output,
)
from motcoder.models.registry import ModelSpec, load_model, parse_spec  # noqa: E402

__all__ = ["Completion", "GenerationRequest", "LanguageModel", "ModelError", "ModelSpec",
           "Output", "load_model", "parse_spec"]
