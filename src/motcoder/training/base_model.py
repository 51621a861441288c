"""The base model of a training run: a motcoder model spec → something ``from_pretrained`` loads.

* ``embedded`` and ``gguf:FILE`` (or ``gguf:REPO#FILE``): the GGUF file's dequantised
  conversion in the motcoder cache (`motcoder.models.gguf_cache`), written first if missing —
  training cannot start from GGUF tensors directly (transformers refuses to save such a model);
* ``hf:ID_OR_DIR``: the hub id or local checkpoint directory as it is;
* ``vllm:`` / ``openai:`` specs are inference-only and refused.
"""

from __future__ import annotations

from pathlib import Path

from motcoder.models.base import ModelError
from motcoder.training.settings import TrainingError


def _gguf_path(target: str, gguf_file: str | None) -> Path:
    local = Path(target).expanduser()
    if gguf_file is None:
        return local
    if local.is_dir():
        return local / gguf_file
    from huggingface_hub import hf_hub_download

    try:
        return Path(hf_hub_download(target, gguf_file))
    except Exception as exc:
        raise TrainingError(f"cannot fetch {gguf_file!r} from the hub repository {target!r}: "
                            f"{exc}") from exc


def _converted(gguf: Path) -> str:
    from motcoder.models.gguf_cache import cached_conversion, load_gguf

    if not gguf.is_file():
        raise TrainingError(f"no such GGUF file: {gguf}")
    cached = cached_conversion(gguf)
    if cached is not None:
        return str(cached)
    loaded = load_gguf(gguf)  # dequantise once and write the cache entry
    if loaded.directory is None:
        raise TrainingError(f"could not write the converted checkpoint of {gguf} to the "
                            "motcoder cache (MOTCODER_CACHE); training needs it on disk")
    return str(loaded.directory)


def resolve_base_model(spec: str) -> str:
    """A hub id or a local checkpoint directory for ``from_pretrained``."""
    from motcoder.models.registry import parse_spec

    try:
        parsed = parse_spec(spec)
        if parsed.backend == "embedded":
            from motcoder.models.embedded import embedded_gguf_path

            return _converted(embedded_gguf_path())
        if parsed.backend == "gguf":
            assert parsed.target is not None
            return _converted(_gguf_path(parsed.target, parsed.gguf_file))
    except ModelError as exc:
        raise TrainingError(str(exc)) from None
    if parsed.backend == "hf":
        assert parsed.target is not None
        return parsed.target
    raise TrainingError(f"model {spec!r}: training needs local weights — use embedded, "
                        f"hf:ID_OR_DIR or gguf:FILE, not a {parsed.backend}: model")
