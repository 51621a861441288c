"""GGUF checkpoints for transformers, dequantised once and cached as a plain checkpoint.

transformers loads a ``.gguf`` file with ``from_pretrained(directory, gguf_file=name)``, but
parsing the GGUF metadata and dequantising the tensors in Python takes tens of seconds, and a
GGUF-loaded model refuses ``save_pretrained`` ("quantized with gguf and is not serializable").
`load_gguf` therefore dequantises once, drops the GGUF quantisation marker (the weights are
plain float tensors by then) and writes config, tokenizer and ``model.safetensors`` (float32,
exactly the dequantised values; tied embeddings stored once) to

    ``$MOTCODER_CACHE/models/gguf-<key>``  (default ``~/.cache/motcoder/models``)

where ``key`` hashes the GGUF file's resolved path, size and modification time, the
transformers version and this module's conversion format. Later loads read that directory in
well under a second. The directory is written under a temporary name and renamed into place,
so a killed or failed conversion never leaves a directory that looks complete; leftovers of
dead conversions are removed by the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from motcoder.models.base import ModelError

FORMAT = 1
MARKER = "motcoder-conversion.json"
REQUIRED_FILES = ("config.json", "model.safetensors", MARKER)


def cache_root() -> Path:
    """``$MOTCODER_CACHE`` or ``~/.cache/motcoder``."""
    return Path(os.environ.get("MOTCODER_CACHE") or Path.home() / ".cache" / "motcoder")


def models_cache_dir() -> Path:
    return cache_root() / "models"


def conversion_key(gguf_path: str | Path) -> str:
    """Identifies one GGUF file (path, size, mtime) under one transformers version."""
    import transformers

    path = Path(gguf_path).resolve()
    st = path.stat()
    ident = {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
             "transformers": transformers.__version__, "format": FORMAT}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def conversion_dir(gguf_path: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Where the conversion of ``gguf_path`` lives (whether or not it exists yet)."""
    base = Path(cache_dir) if cache_dir is not None else models_cache_dir()
    return base / f"gguf-{conversion_key(gguf_path)}"


def is_complete(directory: Path) -> bool:
    return directory.is_dir() and all((directory / f).is_file() for f in REQUIRED_FILES)


def cached_conversion(gguf_path: str | Path, cache_dir: str | Path | None = None) -> Path | None:
    """The finished conversion directory of ``gguf_path``, or None."""
    directory = conversion_dir(gguf_path, cache_dir)
    return directory if is_complete(directory) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(parent: Path, name: str) -> None:
    """Delete ``.tmp-<name>-<pid>-*`` directories left by conversions whose process is gone."""
    if not parent.is_dir():
        return
    for tmp in parent.glob(f".tmp-{name}-*"):
        try:
            pid = int(tmp.name[len(f".tmp-{name}-"):].split("-", 1)[0])
        except ValueError:
            pid = -1
        if pid != os.getpid() and (pid <= 0 or not _pid_alive(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(dest: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``dest``; rename it to ``dest`` when the block ends
    without an exception, delete it otherwise. If another process finished ``dest`` first, its
    copy is kept and ours discarded."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest.parent, dest.name)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-{os.getpid()}-", dir=dest.parent))
    try:
        yield tmp
        try:
            os.rename(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise
            # Lost a race against another process converting the same file: keep theirs.
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class LoadedGGUF:
    """A GGUF model ready for use: freshly dequantised (``loaded_from == "gguf"``) or read back
    from the conversion cache (``"gguf-cache"``)."""

    model: Any
    tokenizer: Any
    loaded_from: str
    directory: Path | None          # the cache directory (None when it could not be written)


def dequantize(gguf_path: Path) -> tuple[Any, Any]:
    """Load a GGUF file with transformers (slow: pure-Python parsing and dequantisation) and
    return (model, tokenizer) in float32 on the CPU, with the GGUF quantisation marker removed
    so the model can be saved."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name)
    except ImportError as exc:
        raise ModelError(f"loading GGUF files needs the `gguf` package: pip install gguf "
                         f"({exc})") from exc
    except (ValueError, KeyError, OSError) as exc:
        raise ModelError(f"transformers cannot load the GGUF file {gguf_path}: {exc}") from exc
    # The tensors are already dequantised float tensors; only the marker blocks saving.
    model.hf_quantizer = None
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config
    model.eval()
    return model, tokenizer


def write_conversion(gguf_path: Path, model: Any, tokenizer: Any,
                     cache_dir: str | Path | None = None) -> Path:
    """Save a dequantised model + tokenizer as the conversion of ``gguf_path`` (atomically)."""
    import transformers

    dest = conversion_dir(gguf_path, cache_dir)
    st = gguf_path.stat()
    with atomic_directory(dest) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        marker = {"source": str(gguf_path.resolve()), "size": st.st_size,
                  "mtime_ns": st.st_mtime_ns, "transformers": transformers.__version__,
                  "format": FORMAT, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return dest


def load_gguf(gguf_path: str | Path, cache_dir: str | Path | None = None) -> LoadedGGUF:
    """The model and tokenizer of a GGUF file, from the conversion cache when it holds them,
    otherwise dequantised now (and written to the cache for next time)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(gguf_path).expanduser()
    if not path.is_file():
        raise ModelError(f"no such GGUF file: {path}")
    cached = cached_conversion(path, cache_dir)
    if cached is not None:
        try:
            tokenizer = AutoTokenizer.from_pretrained(cached)
            model = AutoModelForCausalLM.from_pretrained(cached)
        except Exception:  # a damaged cache entry: convert again below
            shutil.rmtree(cached, ignore_errors=True)
        else:
            model.eval()
            return LoadedGGUF(model, tokenizer, "gguf-cache", cached)
    model, tokenizer = dequantize(path)
    try:
        directory: Path | None = write_conversion(path, model, tokenizer, cache_dir)
    except OSError as exc:  # read-only or full disk: still usable, just not cached
        import warnings

        warnings.warn(f"could not cache the conversion of {path}: {exc}", stacklevel=2)
        directory = None
    return LoadedGGUF(model, tokenizer, "gguf", directory)
